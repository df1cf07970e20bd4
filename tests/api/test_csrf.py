"""A page on another origin cannot make a signed-in browser change anything, nor sign it in.

The attack of issue 11: a page on another port of 127.0.0.1 (the same *site*, so the
SameSite=Lax cookie went along) imported data as the signed-in administrator.
"""

from __future__ import annotations

import json

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from geo_service.api.deps import SESSION_COOKIE
from tests.accounts import make_user

PASSWORD = "correct-horse-battery"
SITES = json.dumps(
    {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"code": "CSRF-01", "name": "forged", "kind": "road"},
                "geometry": {
                    "type": "LineString",
                    "coordinates": [[120.16, 30.27], [120.17, 30.27]],
                },
            }
        ],
    }
).encode()
UPLOAD = "/api/imports/sites?crs=EPSG:4326"
OTHER_PORT = {"Origin": "http://127.0.0.1:9999", "Sec-Fetch-Site": "same-site"}
OWN_PAGE = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}


def _browser(app: FastAPI, district: Engine) -> TestClient:
    """An administrator's browser, signed in on the service's own form."""
    make_user(district, "boss", "admin", password=PASSWORD)
    browser = TestClient(app, follow_redirects=False)
    signed_in = browser.post(
        "/login", data={"username": "boss", "password": PASSWORD}, headers=OWN_PAGE
    )
    assert signed_in.status_code == 303 and SESSION_COOKIE in browser.cookies
    return browser


def _import(browser: TestClient, headers: dict[str, str]) -> int:
    files = {"file": ("s.geojson", SITES, "application/geo+json")}
    return browser.post(UPLOAD, files=files, headers=headers).status_code


def test_another_origin_cannot_change_anything_with_the_session_cookie(
    client: TestClient, app: FastAPI, district: Engine
) -> None:
    browser = _browser(app, district)
    files = {"file": ("s.geojson", SITES, "application/geo+json")}
    forged = browser.post(UPLOAD, files=files, headers=OTHER_PORT)
    assert forged.status_code == 403 and "own pages" in forged.json()["detail"]
    assert _import(browser, {"Origin": "http://127.0.0.1:9999"}) == 403  # no Fetch Metadata
    assert _import(browser, {}) == 403  # neither header: refused too
    settings = browser.put(
        "/api/sites/AZF-2024-01/impact-settings",
        json={"bands_m": [100]},
        headers={**OTHER_PORT, "If-Match": "*"},
    )
    assert settings.status_code == 403
    with district.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM sites WHERE code = 'CSRF-01'")).scalar() == 0
    # Reading stays open to the cookie, and the same change from the service's own page works.
    assert browser.get("/api/sites", headers=OTHER_PORT).status_code == 200
    assert _import(browser, OWN_PAGE) == 201


def test_another_site_cannot_sign_a_browser_in(
    client: TestClient, app: FastAPI, district: Engine
) -> None:
    """Login CSRF: a hidden form on another site posting the attacker's name and password."""
    make_user(district, "attacker", "planner", password=PASSWORD)
    browser = TestClient(app, follow_redirects=False)
    forged = browser.post(
        "/login",
        data={"username": "attacker", "password": PASSWORD},
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert forged.status_code == 403
    assert SESSION_COOKIE not in browser.cookies
    with district.connect() as conn:
        logins = conn.execute(text("SELECT count(*) FROM audit_log WHERE action = 'login'"))
        assert logins.scalar() == 0

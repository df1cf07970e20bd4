"""Security headers: a browser is told what it may load, frame, sniff and keep."""

from __future__ import annotations

import secrets

from fastapi.testclient import TestClient

from geo_service.main import create_app
from geo_service.settings import AuthSettings, DatabaseSettings, MapSettings, ServerSettings


def test_every_answer_carries_the_security_headers(client: TestClient, homes: object) -> None:
    for path in ("/", "/ogc/collections", "/maps/overview", "/api/sites", "/docs", "/redoc"):
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp, path
        assert "default-src 'self'" in csp and "https://" not in csp.split("img-src")[0]
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "same-origin"
        assert "Strict-Transport-Security" not in headers  # development: plain HTTP
        # eval only where the vendored leaflet-measure needs it: the map pages.
        scripts = csp.split("script-src ")[1].split(";")[0].split()
        assert ("'unsafe-eval'" in scripts) == path.startswith("/maps/"), path
        # No inline script runs but a page's own, allowed by hash (maps, API docs).
        assert "'unsafe-inline'" not in scripts, path
        hashes = [s for s in scripts if s.startswith("'sha256-")]
        assert bool(hashes) == path.startswith(("/maps/", "/docs")), path


def test_answers_with_personal_data_are_never_cached(client: TestClient, homes: object) -> None:
    for path in (
        "/api/sites/AZF-2024-01/households",
        "/api/sites/AZF-2024-01/households?format=csv",
        "/api/audit",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-store", path
    # OGC answers keep their own, per-user revalidation.
    assert client.get("/ogc/collections").headers["Cache-Control"].startswith("private")


def test_production_adds_hsts_and_the_configured_basemaps_may_load_tiles(
    service_database_url: str,
) -> None:
    app = create_app(
        DatabaseSettings(database_url=service_database_url),
        auth=AuthSettings(secret_key=secrets.token_urlsafe(48)),
        server=ServerSettings(environment="production"),
        map_settings=MapSettings(tianditu_key="k"),
    )
    with TestClient(app) as client:
        headers = client.get("/").headers
    assert headers["Strict-Transport-Security"].startswith("max-age=31536000")
    img = headers["Content-Security-Policy"].split("img-src")[1].split(";")[0]
    assert "https://*.tianditu.gov.cn" in img and "https://*.is.autonavi.com" in img


def test_a_forged_host_is_refused_and_never_reaches_a_link(client: TestClient) -> None:
    forged = client.get("/ogc/collections", headers={"Host": "evil.example"})
    assert forged.status_code == 400
    assert "evil.example" not in forged.text


def test_links_are_built_on_the_public_url_whatever_the_host_header(
    service_database_url: str,
) -> None:
    server = ServerSettings(public_url="https://gis.example.cn/geo")
    app = create_app(DatabaseSettings(database_url=service_database_url), server=server)
    with TestClient(app) as client:
        landing = client.get("/ogc?f=json", headers={"Host": "evil.example"})
    assert landing.status_code == 200
    hrefs = [link["href"] for link in landing.json()["links"]]
    assert hrefs and all(h.startswith("https://gis.example.cn/geo/") for h in hrefs), hrefs

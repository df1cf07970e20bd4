"""``/healthz``: versions when the database answers, a 503 that says why when it does not."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import make_url

TOKEN = {"Authorization": "Bearer gst_any-token"}


def test_healthz_reports_versions_and_the_database(
    client: TestClient, service_database_url: str
) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    health = response.json()
    assert health["status"] == "ok"
    assert re.match(r"\d+\.\d+", health["postgresql"])
    assert re.match(r"3\.\d+", health["postgis"])
    assert health["schema_revision"] not in ("", "None")
    assert health["database"] == make_url(service_database_url).render_as_string(hide_password=True)
    cache = health["tile_cache"]
    assert cache["limit_megabytes"] == 128 and cache["tiles"] == 0


def test_healthz_shows_the_tile_cache_at_work(client: TestClient) -> None:
    for _ in range(100):  # the listener connects a moment after start-up
        if client.get("/healthz").json()["tile_cache"]["listening"]:
            break
        time.sleep(0.05)
    for _ in range(3):
        client.get("/ogc/tiles/WebMercatorQuad/15/27321/13490")

    cache = client.get("/healthz").json()["tile_cache"]

    assert cache["listening"] is True
    assert (cache["tiles"], cache["hits"], cache["misses"]) == (1, 2, 1)


def test_healthz_without_database_is_503_with_a_message(
    client_for: Callable[[str], TestClient],
) -> None:
    # Nothing listens on port 1 of the loopback: the connection is refused at once.
    down = "postgresql+psycopg2://nobody:secret@127.0.0.1:1/nowhere"
    with client_for(down) as client:
        response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["error"] == "DatabaseUnavailable"
    assert "database is unavailable" in body["detail"]
    assert "secret" not in response.text


def test_every_database_route_answers_503_when_the_database_is_down(
    client_for: Callable[[str], TestClient],
) -> None:
    # A token is checked in the database, so a signed-in request reaches it too.
    with client_for("postgresql+psycopg2://nobody@127.0.0.1:1/nowhere") as client:
        statuses = {
            path: client.get(path, headers=TOKEN).status_code for path in ("/", "/api/sites")
        }

    assert statuses == {"/": 503, "/api/sites": 503}


def test_unmigrated_database_is_503_saying_how_to_fix_it(
    client_for: Callable[[str], TestClient], unmigrated_database_url: str
) -> None:
    with client_for(unmigrated_database_url) as client:
        health = client.get("/healthz")
        sites = client.get("/api/sites", headers=TOKEN)

    assert health.status_code == sites.status_code == 503
    assert health.json()["error"] == sites.json()["error"] == "SchemaNotMigrated"
    assert "geo-service db up" in health.json()["detail"]
    assert "api_tokens" in sites.json()["detail"]


def test_healthz_shows_where_the_database_is_to_administrators_only(
    client_for: Callable[[str], TestClient],
    client_as: Callable[..., TestClient],
    service_database_url: str,
) -> None:
    with client_for(service_database_url) as anonymous:
        seen = anonymous.get("/healthz").json()
    assert seen["status"] == "ok" and seen["database"] is None
    assert "geo_service_app" not in str(seen) and "127.0.0.1" not in str(seen)
    assert client_as("planner").get("/healthz").json()["database"] is None

"""``/maps/...`` over HTTP: the basemaps are those of the settings the app was given."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from geo_service.main import create_app
from geo_service.settings import DatabaseSettings, MapSettings
from tests.accounts import bearer, issue_token

OSM = "tile.openstreetmap.org"


def test_the_basemap_comes_from_the_map_settings_given_to_the_app(
    client: TestClient, district: Engine
) -> None:
    url = district.url.render_as_string(hide_password=False)
    app = create_app(DatabaseSettings(database_url=url), map_settings=MapSettings(basemap="osm"))
    with TestClient(app, headers=bearer(issue_token(district, "planner"))) as planner:
        osm = planner.get("/maps/overview")
        none = planner.get("/maps/overview", params={"basemap": "none"})

    assert osm.status_code == 200 and OSM in osm.text
    assert none.status_code == 200 and OSM not in none.text
    assert OSM not in client.get("/maps/overview").text  # the default: no basemap at all


def test_a_basemap_the_settings_cannot_serve_is_refused_by_name(client: TestClient) -> None:
    keyless = client.get("/maps/overview", params={"basemap": "tianditu"})
    unknown = client.get("/maps/overview", params={"basemap": "bing"})

    assert keyless.status_code == 400 and "GEO_SERVICE_MAP_TIANDITU_KEY" in keyless.text
    assert unknown.status_code == 400 and "unknown basemap 'bing'" in unknown.text

"""Vector tiles: per collection and the map's several layers; households aggregated low."""

from __future__ import annotations

import morecantile
from fastapi.testclient import TestClient
from sqlalchemy import Engine

TMS = morecantile.tms.get("WebMercatorQuad")


def _tile(z: int, lon: float = 120.159, lat: float = 30.267) -> str:
    t = TMS.tile(lon, lat, z)
    return f"{z}/{t.x}/{t.y}"


def test_collection_tile_holds_features(client: TestClient) -> None:
    answer = client.get(f"/ogc/collections/parcels/tiles/WebMercatorQuad/{_tile(15)}")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    assert b"parcels" in answer.content and b"XC1003-R21-02" in answer.content


def test_map_tile_has_its_layers(client: TestClient) -> None:
    data = client.get(f"/ogc/tiles/WebMercatorQuad/{_tile(15)}").content
    for layer in (b"parcels", b"sites", b"impact_zones"):
        assert layer in data


def test_households_are_counts_below_zoom_15(
    client: TestClient, district_households: Engine
) -> None:
    low = client.get(
        f"/ogc/collections/households/tiles/WebMercatorQuad/{_tile(14, 120.1557, 30.2686)}"
    ).content
    high = client.get(
        f"/ogc/collections/households/tiles/WebMercatorQuad/{_tile(16, 120.1557, 30.2686)}"
    ).content
    assert b"count" in low and b"unit_label" not in low
    assert b"unit_label" in high and b"count" not in high
    meta = client.get("/ogc/collections/households/tiles/WebMercatorQuad").json()
    contents = {z["zoom"]: z["content"] for z in meta["x-zoomContents"]}
    assert contents[14] == "aggregate" and contents[15] == "all features"


def test_tilejson_and_bad_tiles(client: TestClient) -> None:
    tj = client.get("/ogc/tiles/WebMercatorQuad/tilejson.json").json()
    assert tj["tiles"][0].endswith("/ogc/tiles/WebMercatorQuad/{z}/{x}/{y}")
    assert client.get("/ogc/tiles/WebMercatorQuad/3/9/0").status_code == 404
    assert client.get("/ogc/tiles/WebMercatorQuad/a/0/0").status_code == 400

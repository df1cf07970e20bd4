"""``/maps/basemap/{z}/{x}/{y}.{format}``: the tiles of the service's own basemap, and the
maps that draw it by default."""

from __future__ import annotations

import gzip
import io
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import Engine, text

from geo_service.main import create_app
from geo_service.settings import DatabaseSettings, MapSettings
from tests.accounts import bearer, issue_token
from tests.basemaps import (
    colour,
    district_tiles,
    write_mbtiles,
    write_pmtiles,
    write_vector_mbtiles,
)

Client = Callable[..., TestClient]


@pytest.fixture
def served(district: Engine, service_database_url: str) -> Iterator[Client]:
    """``served(path, role="planner")``: a client of an app serving the package at ``path``."""
    opened: list[TestClient] = []

    def make(path: Path, role: str | None = "planner", **settings: object) -> TestClient:
        app = create_app(
            DatabaseSettings(database_url=service_database_url),
            map_settings=MapSettings(basemap_file=path, **settings),
        )
        headers = bearer(issue_token(district, role)) if role else {}
        client = TestClient(app, headers=headers).__enter__()
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def mbtiles(tmp_path: Path) -> Path:
    return write_mbtiles(tmp_path / "district.mbtiles")


def _version(client: TestClient) -> str:
    return client.app.state.basemap_package.info.version


@pytest.mark.parametrize("kind", ["mbtiles", "pmtiles"])
def test_a_tile_is_the_stored_xyz_tile_as_png(
    kind: str, served: Client, mbtiles: Path, tmp_path: Path
) -> None:
    path = mbtiles if kind == "mbtiles" else write_pmtiles(tmp_path / "d.pmtiles", mbtiles)
    client = served(path)
    z, x, y = district_tiles()[-1]
    tile = client.get(f"/maps/basemap/{z}/{x}/{y}.png")
    assert tile.status_code == 200
    assert tile.headers["content-type"] == "image/png"
    assert "content-encoding" not in tile.headers
    # XYZ row y, stored as TMS row 2**z-1-y: the colour the test gave XYZ tile z/x/y.
    assert Image.open(io.BytesIO(tile.content)).getpixel((5, 5)) == colour(z, x, y)
    assert colour(z, x, y) != colour(z, x, 2**z - 1 - y)


def test_etag_304_and_a_year_in_the_browser_cache_for_the_maps_versioned_urls(
    served: Client, mbtiles: Path
) -> None:
    client = served(mbtiles)
    z, x, y = district_tiles()[0]
    url = f"/maps/basemap/{z}/{x}/{y}.png"
    versioned = client.get(url, params={"v": _version(client)})
    plain = client.get(url)
    assert versioned.headers["cache-control"] == "private, max-age=31536000, immutable"
    assert plain.headers["cache-control"] == "private, no-cache"  # a GIS tool's template
    assert versioned.headers["etag"] == plain.headers["etag"]
    again = client.get(url, headers={"If-None-Match": plain.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


def test_a_tile_the_package_lacks_is_204_and_a_tile_off_the_grid_is_a_clear_4xx(
    served: Client, mbtiles: Path
) -> None:
    client = served(mbtiles)
    z, x, y = district_tiles()[0]
    assert client.get("/maps/basemap/15/0/0.png").status_code == 204  # outside the district
    assert client.get(f"/maps/basemap/{z - 1}/{x // 2}/{y // 2}.png").status_code == 204
    off = client.get("/maps/basemap/3/8/1.png")
    assert off.status_code == 400 and "at zoom 3 x and y are 0..7" in off.json()["detail"]
    deep = client.get("/maps/basemap/31/0/0.png")
    assert deep.status_code == 422 and "z" in deep.text
    negative = client.get("/maps/basemap/3/-1/0.png")
    assert negative.status_code == 422
    wrong = client.get(f"/maps/basemap/{z}/{x}/{y}.jpg")
    assert wrong.status_code == 404
    assert f"the basemap's tiles are .png: /maps/basemap/{z}/{x}/{y}.png" in wrong.text


def test_whoever_may_open_a_map_may_read_the_basemap_and_nobody_else(
    served: Client, mbtiles: Path
) -> None:
    z, x, y = district_tiles()[0]
    url = f"/maps/basemap/{z}/{x}/{y}.png"
    assert served(mbtiles, role="liaison").get(url).status_code == 200
    assert served(mbtiles, role=None).get(url).status_code == 401


def test_without_a_file_the_basemap_url_says_what_to_set(client: TestClient) -> None:
    answer = client.get("/maps/basemap/12/3413/1677.png")
    assert answer.status_code == 404
    assert "GEO_SERVICE_MAP_BASEMAP_FILE is not set" in answer.text
    refused = client.get("/maps/overview", params={"basemap": "local"})
    assert refused.status_code == 400 and "GEO_SERVICE_MAP_BASEMAP_FILE" in refused.text


def test_every_map_draws_the_local_basemap_by_default_with_its_zooms_bounds_and_credit(
    served: Client, mbtiles: Path, district: Engine
) -> None:
    client = served(mbtiles)
    tiles = f"/maps/basemap/{{z}}/{{x}}/{{y}}.png?v={_version(client)}"
    with district.connect() as conn:
        community = conn.execute(text("SELECT min(id) FROM communities")).scalar_one()
    for path in ("/maps/overview", "/maps/sites/AZF-2024-01", f"/maps/communities/{community}"):
        page = client.get(path).text
        options = re.sub(r"\s", "", page)
        assert f'"{tiles}"' in page
        assert '"minZoom":12,"maxZoom":20,"maxNativeZoom":15' in options
        assert '"bounds":[[30.23,120.12,],[30.31,120.21,],]' in options
        assert json.dumps("© 杭州市测绘院") in page and "example.cn" not in page
        assert "tile.openstreetmap.org" not in page
    remote = client.get("/maps/overview", params={"basemap": "osm"}).text
    assert "tile.openstreetmap.org" in remote and "/maps/basemap/" not in remote
    assert "/maps/basemap/" not in client.get("/maps/overview", params={"basemap": "none"}).text


def test_an_explicit_default_basemap_still_wins_over_the_file(
    served: Client, mbtiles: Path
) -> None:
    client = served(mbtiles, basemap="osm")
    assert "tile.openstreetmap.org" in client.get("/maps/overview").text
    assert "/maps/basemap/" in client.get("/maps/overview", params={"basemap": "local"}).text


def test_vector_tiles_keep_their_gzip_and_the_map_draws_them_with_vectorgrid(
    served: Client, tmp_path: Path
) -> None:
    import mapbox_vector_tile

    client = served(write_vector_mbtiles(tmp_path / "vector.mbtiles"))
    z, x, y = district_tiles()[0]
    url = f"/maps/basemap/{z}/{x}/{y}.pbf"
    tile = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert tile.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    assert tile.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in tile.headers["vary"]
    assert "water" in mapbox_vector_tile.decode(tile.content)  # httpx undid the gzip
    raw = client.get(url, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in raw.headers
    assert "water" in mapbox_vector_tile.decode(raw.content)
    assert gzip.decompress(client.app.state.basemap_package.tile(z, x, y)) == raw.content
    page = client.get("/maps/overview").text
    assert "GeoService.basemap(" in page and ".pbf?v=" in page

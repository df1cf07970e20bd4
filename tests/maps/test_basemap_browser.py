"""The service's own basemap in Chromium: every map draws it by default, from the service's
URL alone, on a desk and on a phone."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import Engine

from geo_service.devserver import running_server
from tests.accounts import issue_token
from tests.basemaps import WATER, colour, district_tiles, write_mbtiles, write_vector_mbtiles
from tests.maps.conftest import ARTIFACTS, _page

TILE_COLOURS = {colour(*t) for t in district_tiles()}


def _serving(demo_db: Engine, folder: Path, package: Path) -> Iterator[str]:
    env = {"GEO_SERVICE_HOME": str(folder), "GEO_SERVICE_MAP_BASEMAP_FILE": str(package)}
    with running_server(demo_db.url.render_as_string(hide_password=False), env=env) as base:
        yield base


@pytest.fixture(scope="module")
def server(demo_db: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo district's server with a raster MBTiles basemap (the ``page`` and ``phone``
    fixtures open it)."""
    folder = tmp_path_factory.mktemp("basemap")
    yield from _serving(demo_db, folder, write_mbtiles(folder / "district.mbtiles"))


@pytest.fixture
def tile_requests(page, phone) -> list[str]:
    """Every basemap tile either browser asked for."""
    asked: list[str] = []
    for pg in (page, phone):
        pg.on("request", lambda r: asked.append(r.url) if "/basemap/" in r.url else None)
    return asked


def _open_and_shoot(page, path: str, name: str) -> Image.Image:
    """The page once its basemap tiles are in, as a screenshot (also in test-artifacts/)."""
    page.goto(page.base + path, wait_until="networkidle")
    page.wait_for_function("document.querySelectorAll('img.leaflet-tile-loaded').length > 0")
    page.wait_for_timeout(500)
    ARTIFACTS.mkdir(exist_ok=True)
    shot = page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    return Image.open(io.BytesIO(shot)).convert("RGB")


def _share_of(image: Image.Image, colours: set[tuple[int, int, int]]) -> float:
    pixels = list(image.get_flattened_data())
    return sum(1 for p in pixels if p in colours) / len(pixels)


@pytest.mark.parametrize(
    ("who", "path"),
    [("page", "/maps/overview"), ("page", "/maps/sites/HF-01"), ("phone", "/maps/sites/HF-01")],
)
def test_maps_draw_the_services_own_basemap_by_default(
    who: str, path: str, request: pytest.FixtureRequest, tile_requests: list[str]
) -> None:
    pg = request.getfixturevalue(who)
    name = f"basemap-{who}-{path.strip('/').replace('/', '-')}"
    shot = _open_and_shoot(pg, path, name)
    assert tile_requests, "no basemap tile was asked for"
    assert all(u.startswith(pg.base + "/maps/basemap/") and "?v=" in u for u in tile_requests)
    # Where no overlay covers it, the screenshot shows the tiles' own colours.
    assert _share_of(shot, TILE_COLOURS) > 0.02
    credit = pg.inner_text(".leaflet-control-attribution")
    assert "© 杭州市测绘院" in credit
    assert pg.visit.outside == [] and pg.visit.errors == [], (pg.visit.outside, pg.visit.errors)


def test_a_vector_basemap_is_drawn_in_plain_greys(
    browser, demo_db: Engine, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("vector")
    for base in _serving(demo_db, folder, write_vector_mbtiles(folder / "vector.mbtiles")):
        token = issue_token(demo_db, "planner")
        context, pg = _page(browser, base, token, viewport={"width": 1440, "height": 900})
        pg.goto(base + "/maps/overview?basemap=local", wait_until="networkidle")
        pg.wait_for_function("document.querySelectorAll('.leaflet-tile-pane canvas').length > 0")
        pg.wait_for_timeout(800)
        shot = Image.open(io.BytesIO(pg.screenshot(path=str(ARTIFACTS / "basemap-vector.png"))))
        water = tuple(int(WATER[i : i + 2], 16) for i in (1, 3, 5))
        assert _share_of(shot.convert("RGB"), {water}) > 0.02
        assert pg.visit.outside == [] and pg.visit.errors == [], pg.visit.errors
        context.close()

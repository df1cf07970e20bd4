"""Vector tiles: per collection and the map's several layers; households aggregated low."""

from __future__ import annotations

import time

import mapbox_vector_tile
import morecantile
import numpy as np
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pyproj import Transformer
from sqlalchemy import Engine, text

from geo_service.tilecache import TileCache

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
    # The district's data (parcels, impact zones, sites), not the world.
    west, south, east, north = tj["bounds"]
    assert 120.14 < west < east < 120.18 and 30.25 < south < north < 30.28
    assert client.get("/ogc/tiles/WebMercatorQuad/3/9/0").status_code == 404
    assert client.get("/ogc/tiles/WebMercatorQuad/a/0/0").status_code == 400


def _scatter(engine: Engine, points: np.ndarray, label: str) -> None:
    """Households at ``points`` (lon, lat) in building 1, unit labels ``label-<n>``."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO households (building_id, unit_label, geom) "
                "SELECT 1, :label || '-' || n, ST_SetSRID(ST_MakePoint(x, y), 4326) "
                "FROM unnest(CAST(:xs AS float8[]), CAST(:ys AS float8[])) "
                "WITH ORDINALITY AS p(x, y, n)"
            ),
            {"label": label, "xs": points[:, 0].tolist(), "ys": points[:, 1].tolist()},
        )


def _decoded(client: TestClient, path: str) -> dict:
    answer = client.get(path)
    assert answer.status_code == 200, answer.text
    return mapbox_vector_tile.decode(answer.content, default_options={"y_coord_down": True})


def test_a_household_grid_tile_counts_every_household_once_where_it_lies(
    client: TestClient, district_households: Engine
) -> None:
    z, tile = 13, TMS.tile(120.1557, 30.2686, 13)
    box = TMS.bounds(tile)
    rng = np.random.default_rng(5)
    inside = np.column_stack(
        [
            rng.uniform(box.left, box.right, 3000),
            rng.uniform(box.bottom, box.top, 3000),
        ]
    )
    far = inside[:200].copy()  # well east of the tile, beyond its buffer
    far[:, 0] += (box.right - box.left) * 1.1
    _scatter(district_households, np.vstack([inside, far]), "G")
    with district_households.connect() as conn:
        in_tile = conn.execute(
            text(
                "SELECT ST_X(geom), ST_Y(geom) FROM households "
                "WHERE geom && ST_MakeEnvelope(:w, :s, :e, :n, 4326)"
            ),
            {"w": box.left, "s": box.bottom, "e": box.right, "n": box.top},
        ).all()

    layer = _decoded(
        client, f"/ogc/collections/households/tiles/WebMercatorQuad/{z}/{tile.x}/{tile.y}"
    )
    got = sorted(
        (f["geometry"]["coordinates"][0], f["geometry"]["coordinates"][1], f["properties"]["count"])
        for f in layer["households"]["features"]
    )

    # The same grid from pyproj's Web Mercator, cell means in tile units.
    xy = TMS.xy_bounds(tile)
    mx, my = Transformer.from_crs(4326, 3857, always_xy=True).transform(*np.array(in_tile).T)
    size = (xy.right - xy.left) / 64
    cells: dict[tuple[int, int], list[tuple[float, float]]] = {}
    for x, y in zip(mx, my, strict=True):
        cells.setdefault((int(x // size), int(y // size)), []).append((x, y))
    expected = sorted(
        (
            round((np.mean([p[0] for p in pts]) - xy.left) / (xy.right - xy.left) * 4096),
            round((xy.top - np.mean([p[1] for p in pts])) / (xy.top - xy.bottom) * 4096),
            len(pts),
        )
        for pts in cells.values()
    )
    assert sum(c for _, _, c in got) == len(in_tile) == 3000 + 3  # the fixture's three too
    assert len(got) == len(expected)
    for (gx, gy, gc), (ex, ey, ec) in zip(got, expected, strict=True):
        assert gc == ec and abs(gx - ex) <= 1 and abs(gy - ey) <= 1


def test_a_crowded_tile_holds_every_household_not_the_first_ten_thousand(
    client: TestClient, district_households: Engine
) -> None:
    tile = TMS.tile(120.1557, 30.2686, 16)
    box = TMS.bounds(tile)
    rng = np.random.default_rng(6)
    crowd = np.column_stack(
        [
            rng.uniform(box.left, box.right, 12_000),
            rng.uniform(box.bottom, box.top, 12_000),
        ]
    )
    _scatter(district_households, crowd, "C")

    layer = _decoded(
        client, f"/ogc/collections/households/tiles/WebMercatorQuad/16/{tile.x}/{tile.y}"
    )
    features = layer["households"]["features"]

    labels = {f["properties"]["unit_label"] for f in features}
    assert {f"C-{n}" for n in range(1, 12_001)} <= labels
    assert len({f["id"] for f in features}) == len(features)
    for f in features:
        assert not {"contact_name", "phone", "elderly"} & set(f["properties"])


# -- the tile cache ----------------------------------------------------------------------------
def _until(check, seconds: float = 5.0):
    """``check()`` once it is truthy (the cache hears of a commit a moment later)."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def _listening(app: FastAPI) -> None:
    assert _until(lambda: app.state.tile_cache.active), "the tile cache never started listening"


def test_a_tile_is_built_once_then_served_from_the_cache_to_every_reader(
    app: FastAPI, client: TestClient, client_as
) -> None:
    _listening(app)
    url = f"/ogc/collections/parcels/tiles/WebMercatorQuad/{_tile(15)}"

    first = client.get(url)
    again = client.get(url)
    planner = client_as("planner").get(url)

    assert [a.headers["x-tile-cache"] for a in (first, again, planner)] == ["miss", "hit", "hit"]
    assert first.content == again.content == planner.content
    assert b"XC1003-R21-02" in first.content


def test_a_committed_change_reaches_the_next_tile_and_a_rolled_back_one_never_does(
    app: FastAPI, client: TestClient, district: Engine
) -> None:
    _listening(app)
    url = f"/ogc/collections/parcels/tiles/WebMercatorQuad/{_tile(15)}"
    assert b"XC1003-R21-02" in client.get(url).content
    generation = app.state.tile_cache.generation

    with district.connect() as conn:  # a rolled-back rename: nothing to hear
        tx = conn.begin()
        conn.execute(text("UPDATE parcels SET code = 'XC1003-R22-09' WHERE id = 1"))
        tx.rollback()
    time.sleep(0.3)
    kept = client.get(url)
    unchanged = app.state.tile_cache.generation == generation
    with district.begin() as conn:
        conn.execute(text("UPDATE parcels SET code = 'XC1003-R22-09' WHERE id = 1"))
    renamed = _until(lambda: b"XC1003-R22-09" in client.get(url).content)

    assert kept.headers["x-tile-cache"] == "hit" and b"XC1003-R21-02" in kept.content
    assert unchanged
    assert renamed, "the tile still shows the old code after the commit"


def test_a_large_import_is_one_change(
    app: FastAPI, client: TestClient, district_households: Engine
) -> None:
    _listening(app)
    url = f"/ogc/collections/households/tiles/WebMercatorQuad/{_tile(14, 120.1557, 30.2686)}"
    before = client.get(url)
    generation = app.state.tile_cache.generation

    _scatter(district_households, np.full((5000, 2), [120.1557, 30.2687]), "B")

    assert _until(lambda: app.state.tile_cache.generation == generation + 1)
    time.sleep(0.3)
    assert app.state.tile_cache.generation == generation + 1
    counts = _decoded(client, url)["households"]["features"]
    assert sum(f["properties"]["count"] for f in counts) == 5003
    assert before.headers["x-tile-cache"] == "miss"


def test_the_cache_keeps_within_its_size_dropping_the_least_recently_used() -> None:
    cache = TileCache(max_bytes=10)
    cache.set_listening(True)
    g = cache.generation
    cache.put(g, "a", b"aaaa")
    cache.put(g, "b", b"bbbb")
    assert cache.get("a")[1] == b"aaaa"  # a is now the most recent
    cache.put(g, "c", b"cccc")
    cache.put(g, "huge", b"x" * 11)
    cache.put(g - 1, "old", b"o")  # built from data that has changed since

    assert cache.get("b")[1] is None
    assert cache.get("a")[1] == b"aaaa" and cache.get("c")[1] == b"cccc"
    assert cache.get("huge")[1] is None and cache.get("old")[1] is None
    assert cache.size_bytes == 8
    cache.set_listening(False)  # deaf: a change could go unheard, so nothing is served
    assert cache.get("a")[1] is None


def test_a_moved_parcel_is_drawn_where_it_now_lies(
    app: FastAPI, client: TestClient, district: Engine
) -> None:
    """Tiles draw the stored Web Mercator copy of a polygon; it follows every edit."""
    _listening(app)
    here = f"/ogc/collections/parcels/tiles/WebMercatorQuad/{_tile(15)}"
    there = f"/ogc/collections/parcels/tiles/WebMercatorQuad/{_tile(15, 120.30, 30.40)}"
    assert b"XC1003-R21-02" in client.get(here).content

    with district.begin() as conn:
        conn.execute(
            text(
                "UPDATE parcels SET geom = ST_Multi(ST_Translate(geom, 0.141, 0.133)) "
                "WHERE code = 'XC1003-R21-02'"
            )
        )

    assert _until(lambda: b"XC1003-R21-02" not in client.get(here).content)
    moved = _decoded(client, there)["parcels"]["features"]
    assert [f["properties"]["code"] for f in moved] == ["XC1003-R21-02"]
    # Its west edge (lon 120.158 + 0.141) where pyproj puts it in the tile, to a pixel.
    tile = TMS.tile(120.30, 30.40, 15)
    xy = TMS.xy_bounds(tile)
    west, _ = Transformer.from_crs(4326, 3857, always_xy=True).transform(120.299, 30.40)
    xs = [x for ring in moved[0]["geometry"]["coordinates"] for x, _ in ring]
    assert abs(min(xs) - (west - xy.left) / (xy.right - xy.left) * 4096) <= 1


def test_every_tile_property_is_declared(client: TestClient, homes: Engine) -> None:
    """What a feature of a tile carries is in its TileJSON fields and its tile set's schema;
    a parcel's id is its code, so it is not sent twice."""
    for collection in ("parcels", "sites", "impact_zones", "buildings"):
        base = f"/ogc/collections/{collection}/tiles/WebMercatorQuad"
        fields = client.get(f"{base}/tilejson.json").json()["vector_layers"][0]["fields"]
        schema = client.get(base).json()["layers"][0]["propertiesSchema"]["properties"]
        tile = _decoded(client, f"{base}/{_tile(16, 120.1595, 30.2670)}")
        carried = {
            k for f in tile.get(collection, {"features": []})["features"] for k in f["properties"]
        }
        assert carried and carried <= set(fields) and carried <= set(schema), collection
    parcel = _decoded(client, f"/ogc/collections/parcels/tiles/WebMercatorQuad/{_tile(16)}")
    assert "fid" not in parcel["parcels"]["features"][0]["properties"]

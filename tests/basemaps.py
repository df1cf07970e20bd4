"""Small basemap packages the tests write: solid-colour tiles over the demo district.

Every tile has a colour of its own (``colour``), so a test can tell which stored tile the
service answered, and a screenshot which pixels are basemap.
"""

from __future__ import annotations

import gzip
import io
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import morecantile
from PIL import Image
from pmtiles.convert import mbtiles_to_pmtiles

DISTRICT = (120.12, 30.23, 120.21, 30.31)  # west, south, east, north: the demo district
ZOOMS = (12, 13, 14, 15)
Tile = tuple[int, int, int]


def district_tiles() -> list[Tile]:
    """The XYZ tiles over the district at ``ZOOMS``."""
    tms = morecantile.tms.get("WebMercatorQuad")
    return [(t.z, t.x, t.y) for t in tms.tiles(*DISTRICT, zooms=list(ZOOMS))]


def colour(z: int, x: int, y: int) -> tuple[int, int, int]:
    """A colour of this tile alone among the district's (a saturated one, unlike the
    overlays' pale fills, so a screenshot's basemap pixels are easy to tell)."""
    return (200 + (z - 12) * 15, (x * 37) % 200, (y * 53) % 200)


def png(rgb: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (256, 256), rgb).save(out, "PNG")
    return out.getvalue()


def write_mbtiles(
    path: Path,
    tile: Callable[[int, int, int], bytes] = lambda z, x, y: png(colour(z, x, y)),
    tiles: list[Tile] | None = None,
    **metadata: str,
) -> Path:
    """An MBTiles 1.3 file: TMS rows (XYZ row y stored as 2**z - 1 - y), the metadata table."""
    tiles = district_tiles() if tiles is None else tiles
    meta = {
        "name": "测绘院底图 test",
        "format": "png",
        "bounds": ",".join(map(str, DISTRICT)),
        "center": "120.165,30.27,14",
        "minzoom": str(min(ZOOMS)),
        "maxzoom": str(max(ZOOMS)),
        "attribution": '<a href="https://example.cn">© 杭州市测绘院</a>',
        **metadata,
    }
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE metadata (name text, value text)")
        db.execute(
            "CREATE TABLE tiles (zoom_level integer, tile_column integer, tile_row integer, "
            "tile_data blob)"
        )
        db.execute("CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row)")
        db.executemany("INSERT INTO metadata VALUES (?, ?)", meta.items())
        db.executemany(
            "INSERT INTO tiles VALUES (?, ?, ?, ?)",
            [(z, x, (1 << z) - 1 - y, tile(z, x, y)) for z, x, y in tiles],
        )
    return path


def write_pmtiles(path: Path, mbtiles: Path) -> Path:
    """The same package as PMTiles, written by Protomaps' own converter."""
    mbtiles_to_pmtiles(str(mbtiles), str(path), None)
    return path


WATER = "#cdd5db"  # maps.js's plain style for a vector basemap's water layer


def vector_tile(z: int, x: int, y: int) -> bytes:
    """A gzip-compressed Mapbox Vector Tile that is all water, as tippecanoe stores them."""
    import mapbox_vector_tile

    square = "POLYGON ((0 0, 4096 0, 4096 4096, 0 4096, 0 0))"
    layer = {"name": "water", "features": [{"geometry": square, "properties": {}}]}
    return gzip.compress(mapbox_vector_tile.encode([layer]))


def write_vector_mbtiles(path: Path) -> Path:
    layers = {"vector_layers": [{"id": "water", "fields": {}}]}
    return write_mbtiles(path, vector_tile, format="pbf", json=json.dumps(layers))

"""Mapbox vector tiles from PostGIS (``ST_AsMVT``), tile math from morecantile.

A tile is never silently truncated: it holds every feature of the layer that meets it,
or, for households below ``AGGREGATE_BELOW_ZOOM``, a grid of counts (one point per cell,
``count`` households), and the tile set metadata says which, zoom by zoom.
"""

from __future__ import annotations

from typing import Any

import morecantile
from sqlalchemy import Connection, text

from geo_service.errors import InvalidQuery, NotFound
from geo_service.ogc.collections import Collection, quote

TMS = morecantile.tms.get("WebMercatorQuad")
TMS_ID = "WebMercatorQuad"
TMS_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
TILE_CRS = "http://www.opengis.net/def/crs/EPSG/0/3857"
MIN_ZOOM, MAX_ZOOM = 0, 22
EXTENT, BUFFER = 4096, 64
# Layers drawn as a grid of counts below this zoom (points too many to draw one by one).
AGGREGATE_BELOW_ZOOM: dict[str, int] = {"households": 15}
GRID_CELLS = 64  # cells across a tile for an aggregate
MERCATOR_RADIUS = 6378137.0  # EPSG:3857's sphere, metres
WORLD = [-180, -85.0511, 180, 85.0511]  # TileJSON's default bounds: Web Mercator's world
# The layers of the multi-layer map tile, drawn bottom to top.
MAP_LAYERS = ("parcels", "impact_zones", "buildings", "sites")


def tile_bounds(z: int, x: int, y: int) -> tuple[morecantile.BoundingBox, morecantile.BoundingBox]:
    """The tile's bounds in EPSG:3857 and in lon/lat, or 404 when there is no such tile."""
    if not MIN_ZOOM <= z <= MAX_ZOOM:
        raise NotFound(f"zoom {z} is outside {MIN_ZOOM}..{MAX_ZOOM}")
    matrix = TMS.matrix(z)
    if not (0 <= x < matrix.matrixWidth and 0 <= y < matrix.matrixHeight):
        raise NotFound(f"tile {z}/{x}/{y} does not exist in {TMS_ID}")
    tile = morecantile.Tile(x, y, z)
    return TMS.xy_bounds(tile), TMS.bounds(tile)


def is_aggregate(col: Collection, z: int) -> bool:
    return z < AGGREGATE_BELOW_ZOOM.get(col.id, -1)


def _layer_sql(col: Collection, z: int) -> str:
    """SQL for one MVT layer of the tile (bound parameters :xmin.. in 3857, :lon0.. in 4326)."""
    bbox4326 = "ST_MakeEnvelope(:lon0, :lat0, :lon1, :lat1, 4326)"
    env = "ST_MakeEnvelope(:xmin, :ymin, :xmax, :ymax, 3857)"
    name = f"'{col.id}'"
    if is_aggregate(col, z):
        # Web Mercator by formula rather than ST_Transform: the grid needs two numbers per
        # point, not a geometry, and this reads a 45,000-household tile in 40 % of the time.
        cell = f"((:xmax - :xmin) / {GRID_CELLS})"
        lat = "LEAST(GREATEST(ST_Y(m.geom), -85.05112878), 85.05112878)"
        return (
            f"SELECT ST_AsMVT(t, {name}, {EXTENT}, 'geom') FROM ("
            "SELECT ST_AsMVTGeom(ST_SetSRID(ST_MakePoint(avg(mx), avg(my)), 3857), "
            f"{env}, {EXTENT}, {BUFFER}, true) AS geom, count(*)::int AS count FROM ("
            f"SELECT ST_X(m.geom) * {MERCATOR_RADIUS} * pi() / 180 AS mx, "
            f"{MERCATOR_RADIUS} * ln(tan(pi() / 4 + {lat} * pi() / 360)) AS my "
            f"FROM {quote(col.layer.table)} m WHERE m.geom && {bbox4326}) p "
            f"GROUP BY floor(mx / {cell}), floor(my / {cell})) t"
        )
    props = ", ".join(f"{col.expr(f.name)} AS {quote(f.name)}" for f in col.fields)
    # MVT ids are integers; another feature id travels as a property (``fid_property``).
    name_of_fid = fid_property(col)
    fid = f", {col.fid} AS {quote(name_of_fid)}" if name_of_fid else ""
    mvt_id = ", 'id'" if col.fid_is_integer else ""
    ident = f", {col.fid} AS id" if col.fid_is_integer else ""
    mercator = (
        f"m.{quote(col.layer.mercator)}" if col.layer.mercator else "ST_Transform(m.geom, 3857)"
    )
    rows = col.narrow_select(
        f"ST_AsMVTGeom({mercator}, {env}, {EXTENT}, {BUFFER}, true) AS geom{ident}{fid}, {props}",
        col.box_filter(bbox4326),
    )
    # OFFSET 0 keeps the subquery whole: flattened, PostgreSQL would clip every geometry
    # twice (once for the filter, once for the row), a third of a tile's time.
    return (
        f"SELECT ST_AsMVT(t, {name}, {EXTENT}, 'geom'{mvt_id}) "
        f"FROM ({rows} OFFSET 0) t WHERE t.geom IS NOT NULL"
    )


def fid_property(col: Collection) -> str | None:
    """The property that carries a feature id MVT cannot (ids are integers there): none for
    integer ids or when the id is a field already (a parcel's ``code``), else ``fid`` (an
    impact zone's ``AZF-2024-01:day:2``), declared in the tile set and the TileJSON."""
    if col.fid_is_integer or col.layer.feature_id in col.field_names:
        return None
    return "fid"


def layer_fields(col: Collection) -> dict[str, str]:
    """A tile layer's properties and what each is (TileJSON ``fields``)."""
    fields = {f.name: f.heading("en") for f in col.fields}
    if fid_property(col):
        fields["fid"] = "Feature id (the id of the feature in the OGC API items)"
    if col.id in AGGREGATE_BELOW_ZOOM:
        fields["count"] = f"Households in the cell (below zoom {AGGREGATE_BELOW_ZOOM[col.id]})"
    return fields


def tile(conn: Connection, cols: list[Collection], z: int, x: int, y: int) -> bytes:
    """One MVT tile holding a layer per collection (empty layers are left out)."""
    xy, ll = tile_bounds(z, x, y)
    # A margin of the MVT buffer, in degrees, so features just outside still draw edges.
    margin_x = (ll.right - ll.left) * BUFFER / EXTENT
    margin_y = (ll.top - ll.bottom) * BUFFER / EXTENT
    params = {
        "xmin": xy.left,
        "ymin": xy.bottom,
        "xmax": xy.right,
        "ymax": xy.top,
        "lon0": ll.left - margin_x,
        "lat0": ll.bottom - margin_y,
        "lon1": ll.right + margin_x,
        "lat1": ll.top + margin_y,
    }
    parts = [f"({_layer_sql(col, z)})" for col in cols]
    sql = "SELECT " + " || ".join(f"coalesce({p}, ''::bytea)" for p in parts)
    # A tile is a few milliseconds of work; starting a parallel worker alone costs about
    # ten, and the planner, pricing ST_AsMVTGeom high, would often start one.
    conn.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
    return bytes(conn.execute(text(sql), params).scalar_one())


def parse_tile(z: str, x: str, y: str) -> tuple[int, int, int]:
    try:
        return int(z), int(x), int(y)
    except ValueError:
        raise InvalidQuery(f"tile {z}/{x}/{y}: zoom, column and row are integers") from None


def zoom_contents(col: Collection) -> list[dict[str, Any]]:
    """What a tile holds at each zoom: every feature, or an aggregate (and of what)."""
    out = []
    for z in range(MIN_ZOOM, MAX_ZOOM + 1):
        if is_aggregate(col, z):
            out.append(
                {
                    "zoom": z,
                    "content": "aggregate",
                    "aggregate": "grid count",
                    "gridCellsPerTile": GRID_CELLS,
                    "properties": ["count"],
                }
            )
        else:
            out.append({"zoom": z, "content": "all features"})
    return out


def tileset(col: Collection, base: str, extent: list[float] | None) -> dict[str, Any]:
    """OGC API - Tiles tile set metadata for one collection."""
    url = f"{base}/collections/{col.id}/tiles/{TMS_ID}"
    return {
        "title": f"{col.layer.title_en} vector tiles",
        "dataType": "vector",
        "crs": TILE_CRS,
        "tileMatrixSetURI": TMS_URI,
        "tileMatrixSetLimits": [
            {
                "tileMatrix": str(z),
                "minTileRow": 0,
                "maxTileRow": 2**z - 1,
                "minTileCol": 0,
                "maxTileCol": 2**z - 1,
            }
            for z in range(MIN_ZOOM, MAX_ZOOM + 1)
        ],
        "layers": [
            {
                "id": col.id,
                "dataType": "vector",
                "geometryType": "points" if is_aggregate(col, 0) else _geometry_kind(col),
                "minTileMatrix": str(MIN_ZOOM),
                "maxTileMatrix": str(MAX_ZOOM),
                "propertiesSchema": _tile_schema(col),
            }
        ],
        "x-zoomContents": zoom_contents(col),
        "boundingBox": {
            "lowerLeft": extent[:2],
            "upperRight": extent[2:],
            "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
        }
        if extent
        else None,
        "links": [
            {"rel": "self", "type": "application/json", "href": url},
            {
                "rel": "item",
                "type": "application/vnd.mapbox-vector-tile",
                "href": url + "/{tileMatrix}/{tileCol}/{tileRow}",
                "templated": True,
            },
            {
                "rel": "alternate",
                "type": "application/json",
                "title": "TileJSON",
                "href": url + "/tilejson.json",
            },
            {
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme",
                "type": "application/json",
                "href": f"{base}/tileMatrixSets/{TMS_ID}",
            },
        ],
    }


def _tile_schema(col: Collection) -> dict[str, Any]:
    """The JSON Schema of a tile feature's properties: the collection's, with ``fid``."""
    schema = col.schema()
    if fid_property(col):
        schema["properties"]["fid"] = {"title": "Feature id", "type": "string"}
    return schema


def _geometry_kind(col: Collection) -> str:
    kinds = " ".join(col.layer.geometry_types).lower()
    return "points" if "point" in kinds else "curves" if "polygon" not in kinds else "surfaces"


def union(extents: list[list[float] | None]) -> list[float] | None:
    """The box around the layers' boxes (None: no layer has data)."""
    boxes = [e for e in extents if e]
    if not boxes:
        return None
    return [
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    ]


def tilejson(cols: list[Collection], tiles_url: str, bounds: list[float] | None) -> dict:
    return {
        "tilejson": "3.0.0",
        "name": ", ".join(c.id for c in cols),
        "tiles": [tiles_url],
        "minzoom": MIN_ZOOM,
        "maxzoom": MAX_ZOOM,
        "bounds": bounds or WORLD,
        "vector_layers": [
            {
                "id": c.id,
                "fields": layer_fields(c),
                "minzoom": MIN_ZOOM,
                "maxzoom": MAX_ZOOM,
                "description": c.layer.description,
            }
            for c in cols
        ],
    }

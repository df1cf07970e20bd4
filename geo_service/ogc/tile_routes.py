"""The OGC API - Tiles routes: a collection's tile sets, the map tile set, and the tiles.

Tiles are built by PostGIS (``tiles``) and kept in the tile cache until their data changes;
who may read which collection, and the answers' ETags, are ``answers``' as for the features.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy import Engine

from geo_service.access import Principal
from geo_service.api.deps import CollectionReader, EngineDep, Public
from geo_service.errors import Forbidden
from geo_service.ogc import tiles
from geo_service.ogc.answers import (
    JSON,
    answer,
    base_url,
    json_answer,
    readable_collection,
    route,
)
from geo_service.ogc.collections import Collection
from geo_service.tilecache import TileCache
from layers import COLLECTIONS

router = APIRouter(prefix="/ogc", tags=["OGC API"])

MVT = "application/vnd.mapbox-vector-tile"


def _map_layers(principal: Principal) -> list[Collection]:
    cols = [Collection(COLLECTIONS[c]) for c in tiles.MAP_LAYERS if principal.can_read_layer(c)]
    if not cols:
        principal.require_signed_in()
        raise Forbidden(f"the {principal.role} role may not read the map layers")
    return cols


def _with_extent(
    principal: Principal, collection_id: str, engine: Engine
) -> tuple[Collection, list[float] | None]:
    """The collection and its bounding box, which its tile set and its TileJSON both state."""
    col = readable_collection(principal, collection_id)
    with engine.connect() as conn:
        return col, col.extent(conn)


@route(
    router, "/collections/{collection_id}/tiles", "collectionTilesets", "Tile sets of a collection"
)
def collection_tilesets(
    request: Request, collection_id: str, principal: CollectionReader
) -> Response:
    col = readable_collection(principal, collection_id)
    url = f"{base_url(request)}/collections/{col.id}/tiles/{tiles.TMS_ID}"
    return json_answer(
        request,
        {
            "tilesets": [
                {
                    "title": col.layer.title_en,
                    "dataType": "vector",
                    "crs": tiles.TILE_CRS,
                    "tileMatrixSetURI": tiles.TMS_URI,
                    "links": [{"rel": "self", "type": JSON, "href": url}],
                }
            ]
        },
    )


@route(
    router,
    "/collections/{collection_id}/tiles/WebMercatorQuad",
    "collectionTileset",
    "Tile set metadata",
)
def collection_tileset(
    request: Request, collection_id: str, principal: CollectionReader, engine: EngineDep
) -> Response:
    col, extent = _with_extent(principal, collection_id, engine)
    return json_answer(request, tiles.tileset(col, base_url(request), extent))


@route(
    router, "/collections/{collection_id}/tiles/WebMercatorQuad/tilejson.json", "collectionTileJSON"
)
def collection_tilejson(
    request: Request, collection_id: str, principal: CollectionReader, engine: EngineDep
) -> Response:
    col, extent = _with_extent(principal, collection_id, engine)
    url = f"{base_url(request)}/collections/{col.id}/tiles/{tiles.TMS_ID}/{{z}}/{{x}}/{{y}}"
    return json_answer(request, tiles.tilejson([col], url, extent))


@route(router, "/collections/{collection_id}/tiles/WebMercatorQuad/{z}/{x}/{y}", "collectionTile")
async def collection_tile(
    request: Request,
    collection_id: str,
    z: str,
    x: str,
    y: str,
    principal: CollectionReader,
    engine: EngineDep,
) -> Response:
    col = readable_collection(principal, collection_id)
    return await _tile(request, engine, [col], tiles.parse_tile(z, x, y))


@route(router, "/tiles/WebMercatorQuad", "mapTileset", "The map tile set (several layers)")
def map_tileset(request: Request, principal: CollectionReader) -> Response:
    cols = _map_layers(principal)
    url = f"{base_url(request)}/tiles/{tiles.TMS_ID}"
    doc = {
        "title": "Map: " + ", ".join(c.id for c in cols),
        "dataType": "vector",
        "crs": tiles.TILE_CRS,
        "tileMatrixSetURI": tiles.TMS_URI,
        "layers": [
            {"id": c.id, "dataType": "vector", "x-zoomContents": tiles.zoom_contents(c)}
            for c in cols
        ],
        "links": [
            {"rel": "self", "type": JSON, "href": url},
            {
                "rel": "item",
                "type": MVT,
                "templated": True,
                "href": url + "/{tileMatrix}/{tileCol}/{tileRow}",
            },
            {"rel": "alternate", "type": JSON, "title": "TileJSON", "href": url + "/tilejson.json"},
        ],
    }
    return json_answer(request, doc)


@route(router, "/tiles/WebMercatorQuad/tilejson.json", "mapTileJSON", "TileJSON of the map tiles")
def map_tilejson(request: Request, principal: CollectionReader, engine: EngineDep) -> Response:
    """Bounded by the data of its layers, as a collection's TileJSON is (a viewer zooms there)."""
    cols = _map_layers(principal)
    url = f"{base_url(request)}/tiles/{tiles.TMS_ID}/{{z}}/{{x}}/{{y}}"
    with engine.connect() as conn:
        bounds = tiles.union([c.extent(conn) for c in cols])
    return json_answer(request, tiles.tilejson(cols, url, bounds))


@route(router, "/tiles/WebMercatorQuad/{z}/{x}/{y}", "mapTile", "A map tile (several layers)")
async def map_tile(
    request: Request, z: str, x: str, y: str, principal: CollectionReader, engine: EngineDep
) -> Response:
    cols = _map_layers(principal)
    return await _tile(request, engine, cols, tiles.parse_tile(z, x, y))


async def _tile(
    request: Request, engine: Engine, cols: list[Collection], zxy: tuple[int, int, int]
) -> Response:
    """The tile from the cache, else built by PostGIS (and kept until its data changes).

    Tiles hold public fields only, so one cached tile serves every reader of its layers.
    A cached tile is answered on the event loop; only building one goes to a worker thread.
    """
    cache: TileCache = request.app.state.tile_cache
    key = (tuple(c.id for c in cols), *zxy)
    generation, data = cache.get(key)
    state = "hit"
    if data is None:
        data = await run_in_threadpool(_build_tile, engine, cols, zxy)
        cache.put(generation, key, data)
        state = "miss" if cache.active else "off"
    return answer(request, data, MVT, {"X-Tile-Cache": state})


def _build_tile(engine: Engine, cols: list[Collection], zxy: tuple[int, int, int]) -> bytes:
    with engine.connect() as conn:
        return tiles.tile(conn, cols, *zxy)


@route(router, "/tileMatrixSets/WebMercatorQuad", "tileMatrixSet", "The tile matrix set")
def tile_matrix_set(request: Request, _: Public) -> Response:
    return answer(request, tiles.TMS.model_dump_json(exclude_none=True), JSON)


__all__ = ["router"]

"""The OGC API router: landing, conformance, collections, items, queryables, tiles.

Thin: parameters are parsed by ``params``, SQL is built by ``collections``, ``filters`` and
``tiles``; this module checks who may read what and shapes the answers (links, headers,
ETag and 304). Pages for people come from the ``ogc_*.html`` templates.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy import Engine

from geo_service.access import Principal
from geo_service.api.deps import CollectionReader, EngineDep, Public
from geo_service.api.pages import render
from geo_service.errors import Forbidden, InvalidQuery, NotFound
from geo_service.ogc import params, tiles
from geo_service.ogc.collections import (
    Collection,
    Page,
    PageText,
    Where,
    feature_json,
    feature_rows,
    features_json,
    number_matched,
    property_condition,
)
from geo_service.ogc.crs import CRS84, offered_uris
from geo_service.ogc.filters import filter_condition, parse_filter
from geo_service.ogc.openapi import openapi_document
from geo_service.tilecache import TileCache
from layers import COLLECTIONS
from maps.assets import local_url

router = APIRouter(prefix="/ogc", tags=["OGC API"])

GEOJSON = "application/geo+json"
JSON = "application/json"
MVT = "application/vnd.mapbox-vector-tile"
HTML = "text/html; charset=utf-8"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/arithmetic",
    "http://www.opengis.net/spec/ogcapi-features-5/1.0/conf/schemas",
    "http://www.opengis.net/spec/ogcapi-features-8/1.0/conf/sorting",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
]
# Answers depend on who asks, so caches keep them per user and revalidate with the ETag.
CACHE_CONTROL = "private, max-age=60"


# -- helpers ----------------------------------------------------------------------------------
def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/ogc"


def _readable(principal: Principal) -> list[Collection]:
    return [
        Collection(layer) for lid, layer in COLLECTIONS.items() if principal.can_read_layer(lid)
    ]


def _collection(principal: Principal, collection_id: str) -> Collection:
    """The collection if this principal may read it: 401 to ask for sign-in, 403, 404."""
    if collection_id not in COLLECTIONS:
        raise NotFound(
            f"no collection {collection_id!r}; collections are: {', '.join(COLLECTIONS)}"
        )
    if not principal.can_read_layer(collection_id):
        principal.require_signed_in()
        raise Forbidden(f"the {principal.role} role may not read {collection_id}")
    return Collection(COLLECTIONS[collection_id])


def _answer(
    request: Request,
    body: bytes | str,
    media_type: str,
    headers: dict[str, str] | None = None,
    *,
    volatile: str = "",
) -> Response:
    """Bytes with an ETag (a hash of them), Cache-Control, and 304 when the client has them.

    ``volatile`` is a part of the body that changes without the data changing (a page's
    timeStamp); it is left out of the hash so that the ETag names the data.
    """
    data = body.encode() if isinstance(body, str) else body
    stable = data.replace(volatile.encode(), b"") if volatile else data
    etag = '"' + hashlib.blake2b(stable, digest_size=16).hexdigest() + '"'
    common = {"ETag": etag, "Cache-Control": CACHE_CONTROL, "Vary": "Authorization, Cookie"}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=common)
    return Response(data, media_type=media_type, headers={**common, **(headers or {})})


def _json(request: Request, doc: Any, media_type: str = JSON) -> Response:
    return _answer(request, json.dumps(doc, ensure_ascii=False), media_type)


def _html(
    request: Request,
    template: str,
    title: str,
    *,
    features: list[dict] | None = None,
    media_type: str = HTML,
    volatile: str = "",
    **context: Any,
) -> Response:
    """A page for a person, from its template; with ``features`` (GeoJSON features in CRS84)
    a map of them, for which the page names the vendored Leaflet."""
    assets: dict[str, list[str | None]] = {}
    if features is not None:
        assets = {"stylesheets": [local_url("leaflet_css")], "scripts": [local_url("leaflet")]}
    page = render(template, lang="en", title=title, features=features, **assets, **context)
    return _answer(request, page, media_type, volatile=volatile)


def _maybe_html(request: Request, f: str | None, title: str, doc: dict) -> Response | None:
    if params.parse_format(f, request.headers.get("accept", "")) != "html":
        return None
    rest = {k: v for k, v in doc.items() if k != "links"}
    return _html(
        request,
        "ogc_document.html",
        title,
        links=doc.get("links", []),
        document=json.dumps(rest, ensure_ascii=False, indent=1),
    )


# -- landing, conformance, OpenAPI -------------------------------------------------------------
@router.get("", summary="OGC API landing page")
def landing(request: Request, _: Public, f: str | None = None) -> Response:
    base = _base(request)
    doc = {
        "title": "Site-impact service: OGC API - Features and Tiles",
        "description": "Parcels, construction sites, communities, buildings, households "
        "(public fields only) and impact zones.",
        "links": [
            {"rel": "self", "type": JSON, "title": "This document", "href": base},
            {"rel": "alternate", "type": "text/html", "title": "As HTML", "href": base + "?f=html"},
            {
                "rel": "service-desc",
                "type": "application/vnd.oai.openapi+json;version=3.0",
                "title": "OpenAPI definition",
                "href": base + "/api",
            },
            {
                "rel": "service-doc",
                "type": "text/html",
                "title": "API documentation",
                "href": str(request.base_url).rstrip("/") + "/docs",
            },
            {
                "rel": "conformance",
                "type": JSON,
                "title": "Conformance",
                "href": base + "/conformance",
            },
            {"rel": "data", "type": JSON, "title": "Collections", "href": base + "/collections"},
            {
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector",
                "type": JSON,
                "title": "Map tiles (parcels, impact zones, buildings, sites)",
                "href": base + "/tiles/WebMercatorQuad",
            },
        ],
    }
    return _maybe_html(request, f, doc["title"], doc) or _json(request, doc)


@router.get("/conformance", summary="Conformance classes implemented")
def conformance(request: Request, _: Public, f: str | None = None) -> Response:
    doc = {"conformsTo": CONFORMANCE}
    return _maybe_html(request, f, "Conformance", doc) or _json(request, doc)


@router.get("/api", summary="OpenAPI 3 definition of the OGC API")
def api(request: Request, _: Public) -> Response:
    return _json(
        request,
        openapi_document(_base(request), list(COLLECTIONS)),
        "application/vnd.oai.openapi+json;version=3.0",
    )


# -- collections ------------------------------------------------------------------------------
def _collection_doc(col: Collection, base: str, engine: Engine) -> dict:
    url = f"{base}/collections/{col.id}"
    with engine.connect() as conn:
        bbox = col.extent(conn)
        interval = col.time_extent(conn)
    doc: dict[str, Any] = {
        "id": col.id,
        "title": col.layer.title_en,
        "description": f"{col.layer.title_zh}: {col.layer.description}",
        "itemType": "feature",
        "crs": offered_uris(),
        "storageCrs": CRS84,
        "links": [
            {"rel": "self", "type": JSON, "href": url},
            {"rel": "items", "type": GEOJSON, "title": "Features", "href": url + "/items"},
            {"rel": "items", "type": "text/html", "href": url + "/items?f=html"},
            {"rel": "items", "type": "text/csv", "href": url + "/items?f=csv"},
            {
                "rel": "items",
                "type": "application/geo+json-seq",
                "href": url + "/items?f=geojsonseq",
            },
            {
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                "type": "application/schema+json",
                "href": url + "/queryables",
            },
            {
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/schema",
                "type": "application/schema+json",
                "href": url + "/schema",
            },
            {
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector",
                "type": JSON,
                "href": url + "/tiles",
            },
        ],
    }
    extent: dict[str, Any] = {}
    if bbox:
        extent["spatial"] = {"bbox": [bbox], "crs": CRS84}
    if interval:
        extent["temporal"] = {
            "interval": [interval],
            "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian",
        }
    if extent:
        doc["extent"] = extent
    return doc


@router.get("/collections", summary="The collections you may read")
def collections(
    request: Request, principal: CollectionReader, engine: EngineDep, f: str | None = None
) -> Response:
    cols = _readable(principal)
    if not cols:
        principal.require_signed_in()
    base = _base(request)
    doc = {
        "links": [{"rel": "self", "type": JSON, "href": base + "/collections"}],
        "collections": [_collection_doc(c, base, engine) for c in cols],
    }
    if params.parse_format(f, request.headers.get("accept", "")) == "html":
        return _html(
            request,
            "ogc_collections.html",
            "Collections",
            media_type="text/html",
            base=base,
            collections=doc["collections"],
        )
    return _json(request, doc)


@router.get("/collections/{collection_id}", summary="One collection")
def collection(
    request: Request,
    collection_id: str,
    principal: CollectionReader,
    engine: EngineDep,
    f: str | None = None,
) -> Response:
    col = _collection(principal, collection_id)
    doc = _collection_doc(col, _base(request), engine)
    return _maybe_html(request, f, doc["title"], doc) or _json(request, doc)


@router.get("/collections/{collection_id}/queryables", summary="Properties a filter may use")
def queryables(request: Request, collection_id: str, principal: CollectionReader) -> Response:
    col = _collection(principal, collection_id)
    doc = col.schema() | {"$id": f"{_base(request)}/collections/{col.id}/queryables"}
    return _json(request, doc, "application/schema+json")


@router.get("/collections/{collection_id}/schema", summary="The features' JSON Schema")
def schema(request: Request, collection_id: str, principal: CollectionReader) -> Response:
    col = _collection(principal, collection_id)
    doc = col.schema() | {"$id": f"{_base(request)}/collections/{col.id}/schema"}
    return _json(request, doc, "application/schema+json")


# -- items ------------------------------------------------------------------------------------
def _where(request: Request, col: Collection) -> Where:
    q = request.query_params
    where = Where()
    params.bbox_condition(col, where, q.get("bbox"), q.get("bbox-crs"))
    params.datetime_condition(col, where, q.get("datetime"))
    for name, value in q.multi_items():
        if name in params.RESERVED:
            continue
        try:
            col.field(name)
        except InvalidQuery:
            raise InvalidQuery(
                f"unknown parameter {name!r}: not an OGC parameter nor a queryable of "
                f"{col.id} ({', '.join(f.name for f in col.fields)})"
            ) from None
        property_condition(col, where, name, value)
    if q.get("filter"):
        lang = params.parse_filter_lang(q.get("filter-lang"))
        node = parse_filter(q["filter"], lang)
        filter_crs = params.parse_filter_crs(q.get("filter-crs"))
        filter_condition(col, where, node, filter_crs)
    elif q.get("filter-lang"):
        params.parse_filter_lang(q.get("filter-lang"))
    return where


def _page_links(request: Request, fmt_type: str, page: Page, found: PageText) -> list:
    """self, next and prev; next carries a cursor (``after``) when the page is in id order,
    so a client reading a whole collection never makes the server count past an offset."""
    url = request.url.remove_query_params("after")
    links = [{"rel": "self", "type": fmt_type, "href": str(request.url)}]
    offset, limit = page.offset, page.limit
    if found.more:
        following = {"offset": offset + limit, "limit": limit}
        if not page.sortby and found.last_fid is not None:
            following["after"] = found.last_fid
        links.append(
            {
                "rel": "next",
                "type": fmt_type,
                "href": str(url.include_query_params(**following)),
            }
        )
    if offset > 0:
        links.append(
            {
                "rel": "prev",
                "type": fmt_type,
                "href": str(url.include_query_params(offset=max(0, offset - limit), limit=limit)),
            }
        )
    alt = "text/html" if fmt_type != "text/html" else GEOJSON
    links.append(
        {
            "rel": "alternate",
            "type": alt,
            "href": str(url.include_query_params(f="html" if alt == "text/html" else "json")),
        }
    )
    return links


@router.get("/collections/{collection_id}/items", summary="Features, a page at a time")
def items(
    request: Request, collection_id: str, principal: CollectionReader, engine: EngineDep
) -> Response:
    col = _collection(principal, collection_id)
    q = request.query_params
    fmt = params.parse_format(q.get("f"), request.headers.get("accept", ""))
    crs = params.parse_output_crs(q.get("crs"))
    page = Page(
        limit=params.parse_limit(q.get("limit")),
        offset=params.parse_offset(q.get("offset")),
        where=_where(request, col),
        sortby=params.parse_sortby(col, q.get("sortby")),
        properties=params.parse_properties(col, q.get("properties")),
        crs=crs,
    )
    page.after = params.parse_after(col, q.get("after"), page.sortby)
    headers = {"Content-Crs": f"<{crs.uri}>"}
    with engine.connect() as conn:
        if fmt == "csv":
            names, rows = feature_rows(conn, col, page)
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(names)
            writer.writerows(
                [";".join(v) if isinstance(v, list) else v for v in row] for row in rows
            )
            return _answer(request, out.getvalue(), "text/csv; charset=utf-8", headers)
        sep = "\n\x1e" if fmt == "geojsonseq" else ","
        found = features_json(conn, col, page, sep)
        if fmt == "geojsonseq":
            body = ("\x1e" + found.features + "\n") if found.features else ""
            return _answer(request, body, "application/geo+json-seq", headers)
        matched, exact = number_matched(conn, col, page.where)
    fmt_type = "text/html" if fmt == "html" else GEOJSON
    head: dict[str, Any] = {"type": "FeatureCollection"}
    if exact:
        head["numberMatched"] = matched
    else:
        head["numberMatchedEstimate"] = matched
        head["note"] = (
            "numberMatched is left out: more than "
            f"{matched:,} features match, so only the planner's estimate is given"
        )
    stamp = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    head |= {
        "numberReturned": found.returned,
        "timeStamp": stamp,
        "links": _page_links(request, fmt_type, page, found),
    }
    if fmt == "html":
        return _items_html(request, col, head, found.features, crs.uri == CRS84, stamp)
    prefix = json.dumps(head, ensure_ascii=False)[:-1]
    body = prefix + ',"features":[' + found.features + "]}"
    return _answer(request, body, GEOJSON, headers, volatile=stamp)


def _items_html(
    request: Request, col: Collection, head: dict, features: str, lon_lat: bool, stamp: str
) -> Response:
    """The page as a table, on a map when its coordinates are lon/lat."""
    rows = json.loads("[" + features + "]")
    names = list(rows[0]["properties"]) if rows else [f.name for f in col.fields]
    return _html(
        request,
        "ogc_items.html",
        col.layer.title_en,
        features=rows if lon_lat else None,
        volatile=stamp,
        head=head,
        names=names,
        rows=rows,
    )


# ``:path``: parcel codes with compound land uses hold a slash (GS0201-R21/B1-05).
@router.get("/collections/{collection_id}/items/{feature_id:path}", summary="One feature")
def item(
    request: Request,
    collection_id: str,
    feature_id: str,
    principal: CollectionReader,
    engine: EngineDep,
) -> Response:
    col = _collection(principal, collection_id)
    crs = params.parse_output_crs(request.query_params.get("crs"))
    with engine.connect() as conn:
        body = feature_json(conn, col, feature_id, crs)
    if body is None:
        raise NotFound(f"{col.id} has no feature {feature_id!r}")
    url = f"{_base(request)}/collections/{col.id}"
    links = [
        {"rel": "self", "type": GEOJSON, "href": f"{url}/items/{feature_id}"},
        {"rel": "collection", "type": JSON, "href": url},
    ]
    fmt = params.parse_format(request.query_params.get("f"), request.headers.get("accept", ""))
    if fmt == "html":
        feature = json.loads(body)
        return _html(
            request,
            "ogc_feature.html",
            f"{col.layer.title_en} {feature_id}",
            features=[feature] if crs.uri == CRS84 else None,
            links=links,
            properties=feature["properties"],
        )
    if fmt not in ("json",):
        raise InvalidQuery(f"f={fmt}: one feature is given as json or html")
    body = body[:-1] + ',"links":' + json.dumps(links) + "}"
    return _answer(request, body, GEOJSON, {"Content-Crs": f"<{crs.uri}>"})


# -- tiles ------------------------------------------------------------------------------------
def _map_layers(principal: Principal) -> list[Collection]:
    cols = [Collection(COLLECTIONS[c]) for c in tiles.MAP_LAYERS if principal.can_read_layer(c)]
    if not cols:
        principal.require_signed_in()
        raise Forbidden(f"the {principal.role} role may not read the map layers")
    return cols


@router.get("/collections/{collection_id}/tiles", summary="Tile sets of a collection")
def collection_tilesets(
    request: Request, collection_id: str, principal: CollectionReader
) -> Response:
    col = _collection(principal, collection_id)
    url = f"{_base(request)}/collections/{col.id}/tiles/{tiles.TMS_ID}"
    return _json(
        request,
        {
            "tilesets": [
                {
                    "title": col.layer.title_en,
                    "dataType": "vector",
                    "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
                    "tileMatrixSetURI": "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad",
                    "links": [{"rel": "self", "type": JSON, "href": url}],
                }
            ]
        },
    )


@router.get("/collections/{collection_id}/tiles/WebMercatorQuad", summary="Tile set metadata")
def collection_tileset(
    request: Request, collection_id: str, principal: CollectionReader, engine: EngineDep
) -> Response:
    col = _collection(principal, collection_id)
    with engine.connect() as conn:
        extent = col.extent(conn)
    return _json(request, tiles.tileset(col, _base(request), extent))


@router.get("/collections/{collection_id}/tiles/WebMercatorQuad/tilejson.json")
def collection_tilejson(
    request: Request, collection_id: str, principal: CollectionReader, engine: EngineDep
) -> Response:
    col = _collection(principal, collection_id)
    with engine.connect() as conn:
        extent = col.extent(conn)
    url = f"{_base(request)}/collections/{col.id}/tiles/{tiles.TMS_ID}/{{z}}/{{x}}/{{y}}"
    return _json(request, tiles.tilejson([col], url, extent))


@router.get("/collections/{collection_id}/tiles/WebMercatorQuad/{z}/{x}/{y}")
async def collection_tile(
    request: Request,
    collection_id: str,
    z: str,
    x: str,
    y: str,
    principal: CollectionReader,
    engine: EngineDep,
) -> Response:
    col = _collection(principal, collection_id)
    return await _tile(request, engine, [col], tiles.parse_tile(z, x, y))


@router.get("/tiles/WebMercatorQuad", summary="The map tile set (several layers)")
def map_tileset(request: Request, principal: CollectionReader) -> Response:
    cols = _map_layers(principal)
    base = _base(request)
    url = f"{base}/tiles/{tiles.TMS_ID}"
    doc = {
        "title": "Map: " + ", ".join(c.id for c in cols),
        "dataType": "vector",
        "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
        "tileMatrixSetURI": "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad",
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
    return _json(request, doc)


@router.get("/tiles/WebMercatorQuad/tilejson.json", summary="TileJSON of the map tiles")
def map_tilejson(request: Request, principal: CollectionReader) -> Response:
    cols = _map_layers(principal)
    url = f"{_base(request)}/tiles/{tiles.TMS_ID}/{{z}}/{{x}}/{{y}}"
    return _json(request, tiles.tilejson(cols, url, None))


@router.get("/tiles/WebMercatorQuad/{z}/{x}/{y}", summary="A map tile (several layers)")
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
    return _answer(request, data, MVT, {"X-Tile-Cache": state})


def _build_tile(engine: Engine, cols: list[Collection], zxy: tuple[int, int, int]) -> bytes:
    with engine.connect() as conn:
        return tiles.tile(conn, cols, *zxy)


@router.get("/tileMatrixSets/WebMercatorQuad", summary="The tile matrix set")
def tile_matrix_set(request: Request, _: Public) -> Response:
    return _answer(request, tiles.TMS.model_dump_json(exclude_none=True), JSON)


__all__ = ["router"]

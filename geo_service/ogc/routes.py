"""The OGC API - Features router: landing, conformance, OpenAPI, collections, items, queryables.

Thin: parameters are parsed by ``params``, SQL is built by ``collections`` and ``filters``;
this module shapes the documents (links, headers, paging), and ``answers`` checks who may
read what and answers with an ETag and 304. The tiles are ``tile_routes``', the pages for
people ``pages``'.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import Connection, Engine

from geo_service import formats
from geo_service.api.deps import CollectionReader, EngineDep, Public, Visitor
from geo_service.errors import InvalidQuery, NotFound
from geo_service.ogc import pages, params
from geo_service.ogc.answers import JSON, route
from geo_service.ogc.answers import answer as _answer
from geo_service.ogc.answers import base_url as _base
from geo_service.ogc.answers import json_answer as _json
from geo_service.ogc.answers import readable as _readable
from geo_service.ogc.answers import readable_collection as _collection
from geo_service.ogc.collections import (
    Collection,
    Page,
    PageText,
    feature_json,
    feature_rows,
    features_json,
    number_matched,
)
from geo_service.ogc.crs import CRS84, offered_uris
from geo_service.ogc.openapi import openapi_document

router = APIRouter(prefix="/ogc", tags=["OGC API"])

GEOJSON = formats.GEOJSON.media_type
SCHEMA = "application/schema+json"
QUERYABLES = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
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


# -- landing, conformance, OpenAPI -------------------------------------------------------------
@route(router, "/", "landing", include_in_schema=False)  # the same page, not a redirect to it
@route(router, "", "landing", "OGC API landing page")
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
    page = pages.document_page(request, f, doc["title"], doc, pages.LANDING)
    return page or _json(request, doc)


@route(router, "/conformance", "conformance", "Conformance classes implemented")
def conformance(request: Request, _: Public, f: str | None = None) -> Response:
    doc = {"conformsTo": CONFORMANCE}
    page = pages.document_page(request, f, "Conformance", doc, pages.CONFORMANCE)
    return page or _json(request, doc)


@route(router, "/api", "api", "OpenAPI 3 definition of the OGC API")
def api(request: Request, principal: Visitor) -> Response:
    """Open to all; it names only the collections the reader may read."""
    return _json(
        request,
        openapi_document(_base(request), _readable(principal)),
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
            *_items_links(url + "/items"),
            {"rel": QUERYABLES, "type": SCHEMA, "href": url + "/queryables"},
            # The rel GDAL looks for before it sends a filter to the server.
            {"rel": "queryables", "type": SCHEMA, "href": url + "/queryables"},
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


def _items_links(items: str) -> list[dict[str, str]]:
    """An items link per format offered; the default (json, GeoJSON) needs no ``f``."""
    return [
        {"rel": "items", "type": GEOJSON, "title": "Features", "href": items},
        *(
            {"rel": "items", "type": fmt.essence, "href": f"{items}?f={name}"}
            for name, fmt in formats.OGC_ITEMS.formats.items()
            if name != "json"
        ),
    ]


@route(router, "/collections", "collections", "The collections you may read")
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
        return pages.page(
            request,
            "ogc_collections.html",
            "Collections",
            trail=pages.COLLECTIONS,
            base=base,
            collections=doc["collections"],
        )
    return _json(request, doc)


@route(router, "/collections/{collection_id}", "collection", "One collection")
def collection(
    request: Request,
    collection_id: str,
    principal: CollectionReader,
    engine: EngineDep,
    f: str | None = None,
) -> Response:
    col = _collection(principal, collection_id)
    doc = _collection_doc(col, _base(request), engine)
    page = pages.document_page(request, f, doc["title"], doc, pages.collection_trail(col))
    return page or _json(request, doc)


@route(
    router, "/collections/{collection_id}/queryables", "queryables", "Properties a filter may use"
)
def queryables(request: Request, collection_id: str, principal: CollectionReader) -> Response:
    col = _collection(principal, collection_id)
    doc = col.schema() | {"$id": f"{_base(request)}/collections/{col.id}/queryables"}
    return _json(request, doc, _schema_media(request))


@route(router, "/collections/{collection_id}/schema", "schema", "The features' JSON Schema")
def schema(request: Request, collection_id: str, principal: CollectionReader) -> Response:
    col = _collection(principal, collection_id)
    doc = col.schema() | {"$id": f"{_base(request)}/collections/{col.id}/schema"}
    return _json(request, doc, _schema_media(request))


def _schema_media(request: Request) -> str:
    """application/schema+json, unless the client accepts JSON but not that: GDAL 3.6 asks
    for the queryables as GeoJSON or JSON and refuses any other answer."""
    accept = request.headers.get("accept", "")
    return JSON if JSON in accept and SCHEMA not in accept else SCHEMA


# -- items ------------------------------------------------------------------------------------
def _page_links(request: Request, col: Collection, fmt: str, page: Page, found: PageText) -> list:
    """The paging links (``params.page_links``), the page in the other format (json or
    html: a person reading the table can fetch the data, a program can show it), the
    collection and its queryables (OGC 19-079r2 ``/req/queryables/get-queryables-uris``)."""
    url = request.url.remove_query_params("after")
    other = "json" if fmt == "html" else "html"
    alternate = {
        "rel": "alternate",
        "type": formats.OGC_ITEMS[other].essence,
        "href": str(url.include_query_params(f=other)),
    }
    collection = f"{_base(request)}/collections/{col.id}"
    return [
        *params.page_links(request.url, formats.OGC_ITEMS[fmt].essence, page, found),
        alternate,
        {"rel": "collection", "type": JSON, "href": collection},
        {"rel": QUERYABLES, "type": SCHEMA, "href": collection + "/queryables"},
    ]


@route(router, "/collections/{collection_id}/items", "items", "Features, a page at a time")
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
        where=params.where(col, q),
        sortby=params.parse_sortby(col, q.get("sortby")),
        properties=params.parse_properties(col, q.get("properties")),
        crs=crs,
    )
    page.after = params.parse_after(col, q.get("after"), page.sortby)
    headers = {"Content-Crs": f"<{crs.uri}>"}
    chosen = formats.OGC_ITEMS[fmt]
    with engine.connect() as conn:
        if fmt in _FEATURE_STREAMS:
            body = _FEATURE_STREAMS[fmt](conn, col, page)
            return _answer(request, body, chosen.media_type, headers)
        found = features_json(conn, col, page, ",")
        matched, exact = number_matched(conn, col, page.where)
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
        "links": _page_links(request, col, fmt, page, found),
    }
    if fmt == "html":
        readable = {c.id for c in _readable(principal)}
        return pages.items_page(
            request, col, head, found.features, crs.uri == CRS84, stamp, readable
        )
    prefix = json.dumps(head, ensure_ascii=False)[:-1]
    body = prefix + ',"features":[' + found.features + "]}"
    return _answer(request, body, chosen.media_type, headers, volatile=stamp, links=head["links"])


def _items_csv(conn: Connection, col: Collection, page: Page) -> str:
    """One row per feature, geometry as WKT; many-valued references joined by ``;``."""
    names, rows = feature_rows(conn, col, page)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(names)
    writer.writerows(
        [formats.spreadsheet_text(";".join(v) if isinstance(v, list) else v) for v in row]
        for row in rows
    )
    return out.getvalue()


def _items_seq(conn: Connection, col: Collection, page: Page) -> str:
    """RFC 8142: each feature after a record separator, for clients that read as they go."""
    found = features_json(conn, col, page, "\n\x1e")
    return ("\x1e" + found.features + "\n") if found.features else ""


# The item formats written as features alone, without the page's links and counts; the
# other formats of ``formats.OGC_ITEMS`` (json, html) are a FeatureCollection page.
_FEATURE_STREAMS: dict[str, Callable[[Connection, Collection, Page], str]] = {
    "csv": _items_csv,
    "geojsonseq": _items_seq,
}


# ``:path``: parcel codes with compound land uses hold a slash (GS0201-R21/B1-05).
@route(router, "/collections/{collection_id}/items/{feature_id:path}", "item", "One feature")
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
        readable = {c.id for c in _readable(principal)}
        return pages.feature_page(request, col, feature_id, body, crs.uri == CRS84, links, readable)
    if fmt not in formats.OGC_FEATURE:
        raise InvalidQuery(f"f={fmt}: one feature is given as {formats.OGC_FEATURE.spoken()}")
    body = body[:-1] + ',"links":' + json.dumps(links) + "}"
    media_type = formats.OGC_FEATURE[fmt].media_type
    return _answer(request, body, media_type, {"Content-Crs": f"<{crs.uri}>"}, links=links)


__all__ = ["router"]

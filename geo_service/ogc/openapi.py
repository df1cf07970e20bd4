"""The OpenAPI 3 document of the OGC endpoints (``/ogc/api``, the landing's service-desc).

GDAL and QGIS read ``components.parameters.limit`` (default and maximum) from here to size
their pages, so the limits are stated once, in ``params``, and referenced by the items paths.
"""

from __future__ import annotations

from typing import Any

from geo_service.ogc.crs import offered_uris
from geo_service.ogc.params import DEFAULT_LIMIT, FILTER_LANGS, FORMATS, MAX_LIMIT


def _param(name: str, description: str, schema: dict, style: str | None = None) -> dict:
    p: dict[str, Any] = {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }
    if style:
        p |= {"style": style, "explode": False}
    return p


def _ok(media: str) -> dict:
    return {
        "200": {"description": "OK", "content": {media: {}}},
        "400": {"description": "A parameter that cannot be used, named in the answer"},
        "401": {"description": "Sign in (Basic with a token as password, or Bearer)"},
        "404": {"description": "No such collection or feature"},
    }


def openapi_document(base: str, collection_ids: list[str]) -> dict[str, Any]:
    ref = lambda name: {"$ref": f"#/components/parameters/{name}"}  # noqa: E731
    collection_id = {
        "name": "collectionId",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": collection_ids},
    }
    items_params = [
        collection_id,
        *(
            ref(n)
            for n in (
                "limit",
                "offset",
                "after",
                "bbox",
                "datetime",
                "bbox-crs",
                "crs",
                "sortby",
                "properties",
                "filter",
                "filter-lang",
                "filter-crs",
                "f",
            )
        ),
    ]
    return {
        "openapi": "3.0.3",
        "info": {"title": "Site-impact service: OGC API - Features and Tiles", "version": "1.0"},
        "servers": [{"url": base}],
        "paths": {
            "/": {"get": {"operationId": "landing", "responses": _ok("application/json")}},
            "/conformance": {
                "get": {"operationId": "conformance", "responses": _ok("application/json")}
            },
            "/collections": {
                "get": {"operationId": "collections", "responses": _ok("application/json")}
            },
            "/collections/{collectionId}": {
                "get": {
                    "operationId": "collection",
                    "parameters": [collection_id],
                    "responses": _ok("application/json"),
                }
            },
            "/collections/{collectionId}/items": {
                "get": {
                    "operationId": "items",
                    "parameters": items_params,
                    "responses": _ok("application/geo+json"),
                }
            },
            "/collections/{collectionId}/items/{featureId}": {
                "get": {
                    "operationId": "item",
                    "parameters": [
                        collection_id,
                        {
                            "name": "featureId",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                        ref("crs"),
                    ],
                    "responses": _ok("application/geo+json"),
                }
            },
            "/collections/{collectionId}/queryables": {
                "get": {
                    "operationId": "queryables",
                    "parameters": [collection_id],
                    "responses": _ok("application/schema+json"),
                }
            },
            "/collections/{collectionId}/tiles/WebMercatorQuad/{tileMatrix}/{tileCol}/{tileRow}": {
                "get": {
                    "operationId": "collectionTile",
                    "parameters": [collection_id],
                    "responses": _ok("application/vnd.mapbox-vector-tile"),
                }
            },
            "/tiles/WebMercatorQuad/{tileMatrix}/{tileCol}/{tileRow}": {
                "get": {
                    "operationId": "mapTile",
                    "responses": _ok("application/vnd.mapbox-vector-tile"),
                }
            },
        },
        "components": {
            "parameters": {
                "limit": _param(
                    "limit",
                    f"Features per page: default {DEFAULT_LIMIT}, at most {MAX_LIMIT}.",
                    {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": MAX_LIMIT,
                        "default": DEFAULT_LIMIT,
                    },
                ),
                "offset": _param(
                    "offset", "Features to skip.", {"type": "integer", "minimum": 0, "default": 0}
                ),
                "after": _param(
                    "after",
                    "The cursor a next link carries: the features after this feature id, in "
                    "id order (offset then only numbers the page). Not with sortby.",
                    {"type": "string"},
                ),
                "datetime": _param(
                    "datetime",
                    "Features whose dates overlap a date, a time, or an interval start/end "
                    "('..' for an open end), e.g. 2025-01-01/2025-06-30. Collections with "
                    "time: sites (start_date to end_date; a missing date leaves that end open).",
                    {"type": "string"},
                ),
                "bbox": _param(
                    "bbox",
                    "minx,miny,maxx,maxy in bbox-crs (default CRS84).",
                    {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
                    style="form",
                ),
                "bbox-crs": _param(
                    "bbox-crs",
                    "CRS of bbox.",
                    {"type": "string", "format": "uri", "enum": offered_uris()},
                ),
                "crs": _param(
                    "crs",
                    "CRS of the answer (Content-Crs says which).",
                    {"type": "string", "format": "uri", "enum": offered_uris()},
                ),
                "sortby": _param(
                    "sortby",
                    "+field or -field, comma-separated.",
                    {"type": "array", "items": {"type": "string"}},
                    style="form",
                ),
                "properties": _param(
                    "properties",
                    "Properties to return.",
                    {"type": "array", "items": {"type": "string"}},
                    style="form",
                ),
                "filter": _param("filter", "A CQL2 filter on the queryables.", {"type": "string"}),
                "filter-lang": _param(
                    "filter-lang",
                    "cql2-text (default) or cql2-json.",
                    {"type": "string", "enum": list(FILTER_LANGS), "default": "cql2-text"},
                ),
                "filter-crs": _param(
                    "filter-crs",
                    "CRS of geometries in the filter.",
                    {"type": "string", "format": "uri", "enum": offered_uris()},
                ),
                "f": _param(
                    "f",
                    "Format of the answer.",
                    {"type": "string", "enum": list(FORMATS), "default": "json"},
                ),
            },
        },
    }

"""The OpenAPI 3 document of the OGC endpoints (``/ogc/api``, the landing's service-desc).

The query parameters come from their declarations (``params.PARAMETERS``): each is stated
once under ``components.parameters`` and referenced by the operations that take it. GDAL
and QGIS read ``components.parameters.limit`` (default and maximum) from here to size their
pages. Path parameters follow from the path templates, so none is left undeclared.

A collection's own items path (``/collections/parcels/items``, with its queryables as
parameters, which GDAL needs before it sends ``field=value`` or a filter) is one more
entry of ``paths`` built by ``_operation`` with ``_query("items")`` plus those parameters;
only the collections the reader may read are named.
"""

from __future__ import annotations

import re
from typing import Any

from geo_service.ogc.collections import Collection
from geo_service.ogc.params import PARAMETERS, Parameter, declared

JSON = "application/json"
GEOJSON = "application/geo+json"
MVT = "application/vnd.mapbox-vector-tile"
TILE = "/tiles/WebMercatorQuad/{tileMatrix}/{tileCol}/{tileRow}"
SCHEMA = "application/schema+json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
# (path, operationId, media type of the answer), in the order of the routes; every route of
# ``routes`` and ``tile_routes`` names its operationId, which says its query parameters.
OPERATIONS = (
    ("/", "landing", JSON),
    ("/conformance", "conformance", JSON),
    ("/api", "api", OPENAPI),
    ("/collections", "collections", JSON),
    ("/collections/{collectionId}", "collection", JSON),
    ("/collections/{collectionId}/items", "items", GEOJSON),
    ("/collections/{collectionId}/items/{featureId}", "item", GEOJSON),
    ("/collections/{collectionId}/queryables", "queryables", SCHEMA),
    ("/collections/{collectionId}/schema", "schema", SCHEMA),
    ("/collections/{collectionId}/tiles", "collectionTilesets", JSON),
    ("/collections/{collectionId}/tiles/WebMercatorQuad", "collectionTileset", JSON),
    ("/collections/{collectionId}/tiles/WebMercatorQuad/tilejson.json", "collectionTileJSON", JSON),
    ("/collections/{collectionId}" + TILE, "collectionTile", MVT),
    ("/tiles/WebMercatorQuad", "mapTileset", JSON),
    ("/tiles/WebMercatorQuad/tilejson.json", "mapTileJSON", JSON),
    (TILE, "mapTile", MVT),
    ("/tileMatrixSets/WebMercatorQuad", "tileMatrixSet", JSON),
)


def _component(p: Parameter) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": p.name,
        "in": "query",
        "required": False,
        "description": p.description,
        "schema": p.schema,
    }
    if p.schema.get("type") == "array":  # comma-separated, as OGC API - Features has it
        doc |= {"style": "form", "explode": False}
    return doc


def _path_parameters(path: str, collection_ids: list[str]) -> list[dict[str, Any]]:
    """One declaration per ``{name}`` of the path template (OpenAPI requires each)."""
    collection: dict[str, Any] = {"type": "string"}
    if collection_ids:
        collection["enum"] = collection_ids
    schemas = {
        "collectionId": collection,
        "featureId": {"type": "string"},
        "tileMatrix": {"type": "string"},
        "tileCol": {"type": "integer", "minimum": 0},
        "tileRow": {"type": "integer", "minimum": 0},
    }
    return [
        {"name": name, "in": "path", "required": True, "schema": schemas[name]}
        for name in re.findall(r"\{(\w+)\}", path)
    ]


def _queryable_parameters(col: Collection) -> list[dict[str, Any]]:
    """``field=value`` for each queryable: equal to the value (a list field: holding it)."""
    properties = col.schema()["properties"]
    out = []
    for f in col.fields:
        schema = {k: v for k, v in properties[f.name].items() if k not in ("title", "description")}
        if schema.get("type") == "array":
            schema = schema["items"]
        out.append(
            {
                "name": f.name,
                "in": "query",
                "required": False,
                "description": (
                    f"{f.heading('en')}: the features whose {f.name} is (holds) this value."
                ),
                "schema": schema,
            }
        )
    return out


def _query(operation_id: str) -> list[dict[str, str]]:
    return [{"$ref": f"#/components/parameters/{p.name}"} for p in declared(operation_id)]


def _ok(media: str) -> dict:
    return {
        "200": {"description": "OK", "content": {media: {}}},
        "400": {"description": "A parameter that cannot be used, named in the answer"},
        "401": {"description": "Sign in (Basic with a token as password, or Bearer)"},
        "404": {"description": "No such collection or feature"},
    }


def _operation(operation_id: str, media: str, parameters: list[dict]) -> dict[str, Any]:
    get: dict[str, Any] = {"operationId": operation_id, "responses": _ok(media)}
    if parameters:
        get["parameters"] = parameters
    return {"get": get}


def openapi_document(base: str, cols: list[Collection]) -> dict[str, Any]:
    """The document for a reader of ``cols`` (the collections they may read; no others are
    named). Beside the template paths, each collection's own items path with its
    queryables: GDAL sends ``field=value`` only for a parameter declared there."""
    ids = [c.id for c in cols]
    paths = {
        path: _operation(op, media, _path_parameters(path, ids) + _query(op))
        for path, op, media in OPERATIONS
    }
    for col in cols:
        parameters = _query("items") + _queryable_parameters(col)
        paths[f"/collections/{col.id}/items"] = _operation(f"items_{col.id}", GEOJSON, parameters)
    return {
        "openapi": "3.0.3",
        "info": {"title": "Site-impact service: OGC API - Features and Tiles", "version": "1.0"},
        "servers": [{"url": base}],
        "paths": paths,
        "components": {"parameters": {p.name: _component(p) for p in PARAMETERS}},
    }

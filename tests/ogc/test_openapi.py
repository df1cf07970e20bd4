"""The OGC API's OpenAPI document (``/ogc/api``): valid, and saying what the routes read."""

from __future__ import annotations

import re

import schemathesis
from fastapi.testclient import TestClient

from geo_service.ogc.params import RESERVED


def _document(client: TestClient) -> dict:
    answer = client.get("/ogc/api")
    assert answer.headers["content-type"] == "application/vnd.oai.openapi+json;version=3.0"
    return answer.json()


def test_the_document_is_valid_openapi_3(client: TestClient) -> None:
    doc = _document(client)
    schemathesis.openapi.from_dict(doc).validate()  # the OpenAPI 3.0 meta-schema
    for path, item in doc["paths"].items():
        declared = {p["name"] for p in item["get"].get("parameters", []) if "name" in p}
        assert set(re.findall(r"\{(\w+)\}", path)) <= declared, f"{path}: undeclared variable"


def test_items_take_every_parameter_the_route_reserves(client: TestClient) -> None:
    """A name the items route treats as its own, not as a property filter, is documented."""
    doc = _document(client)
    items = doc["paths"]["/collections/{collectionId}/items"]["get"]["parameters"]
    refs = {p["$ref"].rsplit("/", 1)[1] for p in items if "$ref" in p}
    assert refs == RESERVED
    assert refs <= set(doc["components"]["parameters"])


def test_a_page_format_is_documented_where_it_is_read(client: TestClient) -> None:
    doc = _document(client)
    f = {"$ref": "#/components/parameters/f"}
    for path in ("/", "/collections", "/collections/{collectionId}/items/{featureId}"):
        assert f in doc["paths"][path]["get"]["parameters"], path
    assert client.get("/ogc/conformance?f=html").headers["content-type"].startswith("text/html")


def test_each_collection_has_its_own_items_path_with_its_queryables(client: TestClient) -> None:
    """GDAL reads the collection's own path: filter-lang naming cql-text (then it sends a
    -where as a filter) and a parameter per queryable (then it may send field=value)."""
    doc = _document(client)
    parcels = doc["paths"]["/collections/parcels/items"]["get"]
    names = {p.get("name") for p in parcels["parameters"]}
    refs = {p["$ref"].rsplit("/", 1)[1] for p in parcels["parameters"] if "$ref" in p}

    assert {"code", "unit_code", "land_use", "land_use_en"} <= names
    assert refs == RESERVED
    lang = doc["components"]["parameters"]["filter-lang"]["schema"]["enum"]
    assert "cql-text" in lang and lang[0] == "cql2-text"
    land_use = next(p for p in parcels["parameters"] if p.get("name") == "land_use")
    assert land_use["schema"]["type"] == "string"  # one land use, held by the parcel

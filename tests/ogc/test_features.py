"""OGC API - Features as a client sees it: links, paging, filters, CRS, access."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from pyproj import Transformer
from sqlalchemy import Engine

BASE = "/ogc"
QGIS_NEEDS = [
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
]


def test_landing_links(client: TestClient) -> None:
    doc = client.get(BASE).json()
    rels = {link["rel"]: link["href"] for link in doc["links"]}
    assert {"self", "service-desc", "service-doc", "conformance", "data"} <= set(rels)
    api = client.get(rels["service-desc"]).json()
    limit = api["components"]["parameters"]["limit"]["schema"]
    assert (limit["default"], limit["maximum"]) == (100, 10_000)
    items = api["paths"]["/collections/{collectionId}/items"]["get"]["parameters"]
    assert {"$ref": "#/components/parameters/limit"} in items


def test_conformance_has_what_qgis_needs_for_filters(client: TestClient) -> None:
    conforms = client.get(f"{BASE}/conformance").json()["conformsTo"]
    assert set(QGIS_NEEDS) <= set(conforms)


def test_collections_with_extent_and_crs(client: TestClient) -> None:
    doc = client.get(f"{BASE}/collections").json()
    ids = [c["id"] for c in doc["collections"]]
    assert {"parcels", "sites", "communities", "buildings", "households", "impact_zones"} <= set(
        ids
    )
    parcels = client.get(f"{BASE}/collections/parcels").json()
    assert parcels["extent"]["spatial"]["bbox"][0] == pytest.approx(
        [120.158, 30.266, 120.164, 30.268]
    )
    assert "http://www.opengis.net/def/crs/EPSG/0/4549" in parcels["crs"]
    assert parcels["itemType"] == "feature"


def test_feature_ids_are_codes(client: TestClient) -> None:
    doc = client.get(f"{BASE}/collections/parcels/items").json()
    assert [f["id"] for f in doc["features"]] == ["GS0201-R21/B1-05", "XC1003-R21-02"]
    one = client.get(f"{BASE}/collections/sites/items/AZF-2024-01").json()
    assert one["properties"]["name"] == "西溪安置房一期"
    assert one["properties"]["parcels"] == ["XC1003-R21-02"]
    assert client.get(f"{BASE}/collections/sites/items/NOPE").status_code == 404
    # A compound land use puts a slash in the id; both spellings reach the parcel.
    for href in ("GS0201-R21/B1-05", "GS0201-R21%2FB1-05"):
        compound = client.get(f"{BASE}/collections/parcels/items/{href}")
        assert compound.status_code == 200, href
        assert compound.json()["id"] == "GS0201-R21/B1-05"


def test_paging_edges(client: TestClient) -> None:
    first = client.get(f"{BASE}/collections/parcels/items?limit=1").json()
    assert first["numberMatched"] == 2 and first["numberReturned"] == 1
    nxt = next(link["href"] for link in first["links"] if link["rel"] == "next")
    last = client.get(nxt).json()
    assert last["numberReturned"] == 1
    assert "next" not in {link["rel"] for link in last["links"]}
    assert "prev" in {link["rel"] for link in last["links"]}
    past = client.get(f"{BASE}/collections/parcels/items?offset=50").json()
    assert past["features"] == [] and past["numberReturned"] == 0


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("bbox=1,2,3", "bbox"),
        ("bbox=a,b,c,d", "bbox"),
        ("crs=EPSG:9999", "crs"),
        ("limit=0", "limit"),
        ("limit=100001", "limit"),
        ("limit=ten", "limit"),
        ("sortby=-nope", "sortby"),
        ("filter=code%20%3D%3D", "filter"),
        ("filter=phone%20%3D%20'1'", "phone"),
        ("nope=1", "nope"),
        ("f=xml", "f="),
    ],
)
def test_bad_parameters_are_400_naming_the_problem(
    client: TestClient, query: str, words: str
) -> None:
    answer = client.get(f"{BASE}/collections/parcels/items?{query}")
    assert answer.status_code == 400, answer.text
    assert words in answer.json()["detail"]


def test_filters_sort_and_properties(client: TestClient) -> None:
    url = f"{BASE}/collections/parcels/items"
    got = client.get(url, params={"filter": "unit_code = 'XC1003'"}).json()
    assert [f["id"] for f in got["features"]] == ["XC1003-R21-02"]
    got = client.get(
        url,
        params={
            "filter": '{"op":"like","args":[{"property":"code"},"GS%"]}',
            "filter-lang": "cql2-json",
        },
    ).json()
    assert [f["id"] for f in got["features"]] == ["GS0201-R21/B1-05"]
    got = client.get(url, params={"filter": "S_INTERSECTS(geometry, POINT(120.159 30.267))"})
    assert [f["id"] for f in got.json()["features"]] == ["XC1003-R21-02"]
    got = client.get(url, params={"sortby": "-code", "properties": "code"}).json()
    assert [f["id"] for f in got["features"]] == ["XC1003-R21-02", "GS0201-R21/B1-05"]
    assert list(got["features"][0]["properties"]) == ["code"]
    got = client.get(url, params={"land_use": "B1"}).json()
    assert [f["id"] for f in got["features"]] == ["GS0201-R21/B1-05"]
    got = client.get(url, params={"bbox": "120.1575,30.2655,120.1612,30.2685"}).json()
    assert [f["id"] for f in got["features"]] == ["XC1003-R21-02"]
    got = client.get(
        url,
        params={
            "bbox": "30.2655,120.1575,30.2685,120.1612",
            "bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/4326",
        },
    )
    assert [f["id"] for f in got.json()["features"]] == ["XC1003-R21-02"]


def test_crs_output(client: TestClient) -> None:
    url = f"{BASE}/collections/parcels/items/XC1003-R21-02"
    wgs = client.get(url, params={"crs": "http://www.opengis.net/def/crs/EPSG/0/4326"})
    assert wgs.headers["content-crs"] == "<http://www.opengis.net/def/crs/EPSG/0/4326>"
    lat, lon = wgs.json()["geometry"]["coordinates"][0][0][0]
    assert (lon, lat) == pytest.approx((120.158, 30.266))
    gk = client.get(url, params={"crs": "EPSG:4549"}).json()
    north, east = gk["geometry"]["coordinates"][0][0][0]
    expected = Transformer.from_crs(4326, 4549).transform(30.266, 120.158)  # (N, E)
    assert (north, east) == pytest.approx(expected, abs=0.01)


def test_formats_and_caching(client: TestClient) -> None:
    url = f"{BASE}/collections/parcels/items"
    assert client.get(url, params={"f": "csv"}).text.splitlines()[0].startswith("id,code,")
    seq = client.get(url, params={"f": "geojsonseq"}).text
    assert seq.count("\x1e") == 2
    assert "<table>" in client.get(url, params={"f": "html"}).text
    first = client.get(url)
    time.sleep(1.1)  # a new timeStamp in the body; the data, and so the ETag, are the same
    again = client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304


def test_households_never_carry_personal_fields(
    client: TestClient, district_households: Engine
) -> None:
    doc = client.get(f"{BASE}/collections/households/items").json()
    assert doc["numberReturned"] == 3
    for feature in doc["features"]:
        assert set(feature["properties"]) == {"building", "unit_label", "residents"}
    assert "张三" not in client.get(f"{BASE}/collections/households/items?f=csv").text
    queryables = client.get(f"{BASE}/collections/households/queryables").json()
    assert "phone" not in queryables["properties"]
    bad = client.get(f"{BASE}/collections/households/items", params={"sortby": "phone"})
    assert bad.status_code == 400


def test_who_sees_what(anonymous: TestClient, client_as) -> None:
    assert anonymous.get(BASE).status_code == 200
    assert anonymous.get(f"{BASE}/collections").status_code == 401
    assert anonymous.get(f"{BASE}/collections/parcels/items").status_code == 401
    gis = client_as("gis")
    ids = {c["id"] for c in gis.get(f"{BASE}/collections").json()["collections"]}
    assert "households" not in ids and "parcels" in ids
    assert gis.get(f"{BASE}/collections/households/items").status_code == 403
    planner = client_as("planner")
    assert planner.get(f"{BASE}/collections/households/items").status_code == 200


def test_impact_zones_collection(client: TestClient) -> None:
    doc = client.get(f"{BASE}/collections/impact_zones/items?limit=1000").json()
    assert doc["numberReturned"] > 0
    assert {f["properties"]["site_code"] for f in doc["features"]} <= {
        "AZF-2024-01",
        "ROAD-2024-07",
    }

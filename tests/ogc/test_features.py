"""OGC API - Features as a client sees it: links, paging, filters, CRS, access."""

from __future__ import annotations

import time
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient
from pyproj import Transformer
from shapely.geometry import box as shp_box
from shapely.geometry import shape
from sqlalchemy import Engine, text

from geo_service import formats
from layers import COLLECTIONS, WORKFLOW_LAYERS
from tests.ogc.conftest import case_work

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


@pytest.mark.parametrize(
    "path",
    [
        "",
        "/",
        "/conformance",
        "/api",
        "/collections",
        "/collections/parcels",
        "/collections/parcels/items",
        "/collections/parcels/items/XC1003-R21-02",
        "/collections/parcels/queryables",
        "/collections/parcels/tiles/WebMercatorQuad",
        "/tiles/WebMercatorQuad",
    ],
)
def test_head_answers_what_get_would_without_the_body(client: TestClient, path: str) -> None:
    """HTTP requires HEAD wherever GET is; the headers are GET's, the size included."""
    got = client.get(f"{BASE}{path}", headers={"Accept-Encoding": "identity"})
    head = client.head(f"{BASE}{path}", headers={"Accept-Encoding": "identity"})

    assert (got.status_code, head.status_code) == (200, 200), path
    assert head.content == b""
    for name in ("content-type", "content-length", "etag"):
        assert head.headers[name] == got.headers[name], name


def test_the_landing_page_with_a_slash_is_the_landing_page(client: TestClient) -> None:
    answer = client.get(f"{BASE}/", follow_redirects=False)
    assert answer.status_code == 200
    assert answer.json() == client.get(BASE).json()


def test_a_byte_range_of_an_answer(client: TestClient) -> None:
    """What GDAL's /vsicurl/ asks for (pyogrio reading an items URL reads it in ranges)."""
    url = f"{BASE}/collections/parcels/items?f=csv"
    whole = client.get(url).content
    etag = client.get(url).headers["etag"]

    part = client.get(url, headers={"Range": "bytes=3-12"})
    tail = client.get(url, headers={"Range": "bytes=-5"})
    stale = client.get(url, headers={"Range": "bytes=3-12", "If-Range": '"other"'})
    beyond = client.get(url, headers={"Range": f"bytes={len(whole)}-"})
    fresh = client.get(url, headers={"Range": "bytes=0-0", "If-Range": etag})

    assert part.status_code == 206 and part.content == whole[3:13]
    assert part.headers["content-range"] == f"bytes 3-12/{len(whole)}"
    assert tail.status_code == 206 and tail.content == whole[-5:]
    assert stale.status_code == 200 and stale.content == whole
    assert beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{len(whole)}"
    assert fresh.status_code == 206 and fresh.content == whole[:1]
    assert client.get(url).headers["accept-ranges"] == "bytes"


@pytest.mark.parametrize(
    "path",
    [
        "",
        "/conformance",
        "/api",
        "/collections",
        "/collections/parcels",
        "/collections/parcels/items/XC1003-R21-02",
        "/collections/parcels/queryables",
        "/collections/parcels/schema",
        "/collections/parcels/tiles",
        "/collections/parcels/tiles/WebMercatorQuad",
        "/collections/parcels/tiles/WebMercatorQuad/tilejson.json",
        "/collections/parcels/tiles/WebMercatorQuad/15/27319/13460",
        "/tiles/WebMercatorQuad",
        "/tiles/WebMercatorQuad/tilejson.json",
        "/tiles/WebMercatorQuad/15/27319/13460",
        "/tileMatrixSets/WebMercatorQuad",
    ],
)
def test_an_unknown_parameter_is_400_on_every_route(client: TestClient, path: str) -> None:
    """OGC 17-069r4 /req/core/query-param-unknown, with the names the route takes."""
    answer = client.get(f"{BASE}{path}", params={"ooga": "booga"})
    assert answer.status_code == 400, answer.text
    assert "'ooga'" in answer.json()["detail"]


def test_declared_parameters_are_taken_where_declared(client: TestClient) -> None:
    for path in ("", "/conformance", "/collections", "/collections/parcels"):
        assert client.get(f"{BASE}{path}", params={"f": "json"}).status_code == 200, path
    one = client.get(f"{BASE}/collections/parcels/items/XC1003-R21-02", params={"crs": "EPSG:4549"})
    assert one.status_code == 200
    refused = client.get(f"{BASE}/conformance", params={"crs": "EPSG:4549"})
    assert refused.status_code == 400 and "it takes f" in refused.json()["detail"]


def test_a_bbox_across_the_antimeridian(client: TestClient, district: Engine) -> None:
    """West east of east (OGC 17-069r4 7.15.3): the box from 170 E across 180 to 170 W."""
    with district.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO parcels (code, unit_code, land_use, parcel_index, land_use_zh, "
            "land_use_en, geom) SELECT c, 'FJ', '{G1}', '01', '绿地', 'Green', "
            "ST_Multi(ST_Buffer(ST_SetSRID(ST_MakePoint(x, -17), 4326), 0.1)) "
            "FROM (VALUES ('FJ01-G1-01', 179.5), ('FJ02-G1-01', -179.5), ('FJ03-G1-01', 0.0)) "
            "v(c, x)"
        )
    url = f"{BASE}/collections/parcels/items"

    across = _ids(client, url, bbox="170,-20,-170,-10")
    lat_first = _ids(
        client,
        url,
        bbox="-20,170,-10,-170",
        **{"bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/4326"},
    )
    projected = client.get(url, params={"bbox": "20000000,0,10000000,10", "bbox-crs": "EPSG:3857"})

    assert across == lat_first == ["FJ01-G1-01", "FJ02-G1-01"]
    assert client.get(url, params={"bbox": "170,-20,-170,-10"}).json()["numberMatched"] == 2
    assert projected.status_code == 400 and "lower corner" in projected.json()["detail"]


def test_links_are_also_link_headers(client: TestClient) -> None:
    """RFC 8288 Link headers, so a HEAD request finds the next page and the queryables."""
    page = client.head(f"{BASE}/collections/parcels/items", params={"limit": 1})
    links = page.headers["link"].split(", ")

    assert (
        f'<http://testserver{BASE}/collections/parcels/items?limit=1>; rel="self"; '
        'type="application/geo+json"' in links
    )
    assert any('rel="next"' in link and "after=" in link for link in links)
    assert any('rel="alternate"; type="text/html"' in link for link in links)
    queryables = f"<http://testserver{BASE}/collections/parcels/queryables>"
    assert (
        f'{queryables}; rel="http://www.opengis.net/def/rel/ogc/1.0/queryables"; '
        'type="application/schema+json"' in links
    )
    landing = client.head(BASE).headers["link"]
    assert f'<http://testserver{BASE}/conformance>; rel="conformance"' in landing
    boxed = client.get(f"{BASE}/collections/parcels/items", params={"bbox": "1,2,3,4"})
    assert "bbox=1%2C2%2C3%2C4" in boxed.headers["link"]  # a comma would split the header


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


def test_a_limit_above_the_maximum_gives_the_maximum(
    client: TestClient, district_households: Engine
) -> None:
    """OGC 17-069r4 /req/core/fc-limit-response-1 C: not an error; the page is the maximum."""
    _more_households(district_households, 10_001)
    url = f"{BASE}/collections/households/items"

    doc = client.get(url, params={"limit": "20000", "properties": "residents"}).json()

    assert doc["numberReturned"] == 10_000 and doc["numberMatched"] == 10_004
    assert "limit=10000" in _link(doc, "next")


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
        ("limit=ten", "limit"),
        ("sortby=-nope", "sortby"),
        ("filter=code%20%3D%3D", "filter"),
        ("filter=phone%20%3D%20'1'", "phone"),
        ("filter=S_INTERSECTS(geometry,%20BBOX(1,2,3))", "BBOX takes 4 or 6 numbers"),
        (
            'filter-lang=cql2-json&filter={"op":"s_intersects","args":[{"property":"geometry"},'
            '{"bbox":[1,2,"x",4]}]}',
            "BBOX takes 4 or 6 numbers",
        ),
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


@pytest.mark.parametrize(
    ("cql", "expected"),
    [
        ("start_date >= '2024-01-01T'", ["AZF-2024-01"]),  # as GDAL writes a date
        ("start_date BETWEEN '2024-01-01' AND '2024-03-01T10:00:00Z'", ["AZF-2024-01"]),
        ("start_date IN ('2024-03-01', '2025-01-01')", ["AZF-2024-01"]),
        ("end_date < DATE('2026-01-01')", []),
    ],
)
def test_a_date_property_compared_with_text_or_dates(
    client: TestClient, cql: str, expected: list[str]
) -> None:
    url = f"{BASE}/collections/sites/items"
    for lang in ("cql2-text", "cql-text"):  # the draft name GDAL sends
        answer = client.get(url, params={"filter": cql, "filter-lang": lang})
        assert answer.status_code == 200, answer.text
        assert [f["id"] for f in answer.json()["features"]] == expected


def test_a_date_that_is_not_one_is_400(client: TestClient) -> None:
    answer = client.get(
        f"{BASE}/collections/sites/items", params={"filter": "start_date >= '2024-13-01'"}
    )
    assert answer.status_code == 400
    assert "start_date: '2024-13-01' is not a date" in answer.json()["detail"]


def test_queryables_as_plain_json_for_a_client_that_asks_so(client: TestClient) -> None:
    """GDAL 3.6 asks for the queryables as GeoJSON or JSON and refuses schema+json."""
    url = f"{BASE}/collections/parcels/queryables"
    plain = client.get(url, headers={"Accept": "application/geo+json, application/json"})
    schema = client.get(url, headers={"Accept": "application/schema+json"})
    assert plain.headers["content-type"] == "application/json"
    assert schema.headers["content-type"] == "application/schema+json"
    assert plain.json() == schema.json()


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


@pytest.mark.parametrize("fmt", formats.OGC_ITEMS.names)
def test_every_item_format_answers_with_its_media_type(client: TestClient, fmt: str) -> None:
    answer = client.get(f"{BASE}/collections/parcels/items", params={"f": fmt})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == formats.OGC_ITEMS[fmt].media_type


def test_one_feature_in_the_formats_offered_for_it(client: TestClient) -> None:
    url = f"{BASE}/collections/parcels/items/XC1003-R21-02"
    for fmt in formats.OGC_FEATURE.names:
        answer = client.get(url, params={"f": fmt})
        assert answer.headers["content-type"] == formats.OGC_FEATURE[fmt].media_type
    refused = client.get(url, params={"f": "csv"})
    assert refused.status_code == 400 and "json or html" in refused.text


def test_formats_and_caching(client: TestClient) -> None:
    url = f"{BASE}/collections/parcels/items"
    assert client.get(url, params={"f": "csv"}).text.splitlines()[0].startswith("id,code,")
    seq = client.get(url, params={"f": "geojsonseq"}).text
    assert seq.count("\x1e") == 2
    assert '<table class="features">' in client.get(url, params={"f": "html"}).text
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
        # The public fields, and the liaison work counts an administrator may read.
        assert set(feature["properties"]) == {
            "building",
            "unit_label",
            "residents",
            "visited",
            "open_requests",
        }
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
    # Not there for them at all: not listed, not in the OpenAPI, 404 (not 403).
    hidden = gis.get(f"{BASE}/collections/households/items")
    listed = hidden.json()["detail"].split("collections are: ")[1]
    assert hidden.status_code == 404 and "parcels" in listed and "households" not in listed
    assert gis.get(f"{BASE}/collections/households").status_code == 404
    assert "/collections/households/items" not in gis.get(f"{BASE}/api").json()["paths"]
    enum = gis.get(f"{BASE}/api").json()["paths"]["/collections/{collectionId}"]["get"]
    assert "households" not in enum["parameters"][0]["schema"]["enum"]
    planner = client_as("planner")
    assert planner.get(f"{BASE}/collections/households/items").status_code == 200


def test_impact_zones_collection(client: TestClient) -> None:
    doc = client.get(f"{BASE}/collections/impact_zones/items?limit=1000").json()
    assert doc["numberReturned"] > 0
    assert {f["properties"]["site_code"] for f in doc["features"]} <= {
        "AZF-2024-01",
        "ROAD-2024-07",
    }


# -- paging: offsets found by index, cursors in next links ------------------------------------
def _more_households(engine: Engine, n: int) -> None:
    """``n`` more households in the fixture's building, unit labels ``P-1`` .. ``P-n``."""
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO households (building_id, unit_label, residents, geom) "
            f"SELECT 1, 'P-' || i, mod(i, 5), ST_SetSRID(ST_MakePoint(120.1556 + i * 1e-6, "
            f"30.2687), 4326) FROM generate_series(1, {n}) i"
        )


def _ids(client: TestClient, url: str, **query: str) -> list:
    return [f["id"] for f in client.get(url, params=query).json()["features"]]


def _link(doc: dict, rel: str) -> str | None:
    return next((link["href"] for link in doc["links"] if link["rel"] == rel), None)


def test_following_next_links_reads_every_feature_once_with_a_cursor(
    client: TestClient, district_households: Engine
) -> None:
    _more_households(district_households, 47)
    url = f"{BASE}/collections/households/items"
    everyone = _ids(client, url, limit="1000")
    seen, pages, href = [], 0, f"{url}?limit=7"
    while href:
        doc = client.get(href).json()
        seen += [f["id"] for f in doc["features"]]
        pages += 1
        href = _link(doc, "next")
        if href:
            assert "after=" in href and "offset=" in href

    assert len(everyone) == 50 and seen == everyone == sorted(everyone)
    assert pages == 8
    third = client.get(f"{url}?limit=7&offset=14").json()
    assert _link(third, "prev") is not None and "after=" not in _link(third, "prev")


def test_a_cursor_neither_skips_nor_repeats_when_earlier_features_go(
    client: TestClient, district_households: Engine
) -> None:
    _more_households(district_households, 7)
    url = f"{BASE}/collections/households/items"
    first = client.get(url, params={"limit": 4}).json()
    ids = [f["id"] for f in first["features"]]
    with district_households.begin() as conn:  # someone deletes a household already read
        conn.exec_driver_sql(f"DELETE FROM households WHERE id = {ids[0]}")

    second = client.get(_link(first, "next")).json()

    everyone_left = _ids(client, url, limit="100")
    assert [f["id"] for f in second["features"]] == everyone_left[3:7]


def test_a_deep_offset_gives_the_same_page_as_the_cursor_also_when_filtered_by_a_join(
    client: TestClient, district_households: Engine
) -> None:
    _more_households(district_households, 60)
    url = f"{BASE}/collections/households/items"
    everyone = _ids(client, url, limit="1000", building="翠苑一区1幢")
    by_offset = _ids(client, url, limit="5", offset="41", building="翠苑一区1幢")
    by_cursor = _ids(client, url, limit="5", after=str(everyone[40]), building="翠苑一区1幢")
    sorted_desc = _ids(client, url, limit="3", offset="2", sortby="-residents,unit_label")

    assert by_offset == by_cursor == everyone[41:46]
    assert len(sorted_desc) == 3
    by_residents = client.get(url, params={"limit": 1000, "sortby": "-residents"}).json()
    residents = [f["properties"]["residents"] for f in by_residents["features"]]
    assert residents == sorted(residents, key=lambda r: -(r or 0))


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("after=12&sortby=residents", "sortby"),
        ("after=twelve", "after"),
    ],
)
def test_bad_cursors_are_400(
    client: TestClient, district_households: Engine, query: str, words: str
) -> None:
    answer = client.get(f"{BASE}/collections/households/items?{query}")
    assert answer.status_code == 400 and words in answer.json()["detail"]


# -- datetime ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("when", "codes"),
    [
        ("2023-01-01", ["ROAD-2024-07"]),  # before the housing site; the road has no dates
        ("2025-06-01", ["AZF-2024-01", "ROAD-2024-07"]),
        ("2024-03-01", ["AZF-2024-01", "ROAD-2024-07"]),  # its first day counts
        ("2024-02-29T12:00:00Z", ["ROAD-2024-07"]),
        ("2026-07-01/..", ["ROAD-2024-07"]),
        ("../2024-02-29", ["ROAD-2024-07"]),
        ("2026-06-30/2027-01-01", ["AZF-2024-01", "ROAD-2024-07"]),  # its last day counts
        ("../..", ["AZF-2024-01", "ROAD-2024-07"]),
        ("2026-07-01T/..", ["ROAD-2024-07"]),  # GDAL 3.6 writes a date alone so
        ("..%2F2024-02-29T", ["ROAD-2024-07"]),
    ],
)
def test_datetime_picks_the_sites_at_work_then(
    client: TestClient, when: str, codes: list[str]
) -> None:
    assert _ids(client, f"{BASE}/collections/sites/items", datetime=unquote(when)) == codes


@pytest.mark.parametrize(
    ("collection", "when", "words"),
    [
        ("sites", "2025-13-01", "not a date"),
        ("sites", "2026-01-01/2025-01-01", "ends before"),
        ("sites", "2025-01-01/2025-02-01/2025-03-01", "interval"),
        ("sites", "..", "interval"),
        ("parcels", "2025-01-01", "parcels has no time; it applies to sites"),
    ],
)
def test_bad_datetimes_are_400(client: TestClient, collection: str, when: str, words: str) -> None:
    answer = client.get(f"{BASE}/collections/{collection}/items", params={"datetime": when})
    assert answer.status_code == 400 and words in answer.json()["detail"], answer.text


def test_sites_state_their_time_extent(client: TestClient) -> None:
    sites = client.get(f"{BASE}/collections/sites").json()
    parcels = client.get(f"{BASE}/collections/parcels").json()
    # The road has no dates, so both ends are open.
    assert sites["extent"]["temporal"]["interval"] == [[None, None]]
    assert "temporal" not in parcels["extent"]


# -- every CQL2 class the conformance page claims, one filter each ------------------------------
XC, GS = "XC1003-R21-02", "GS0201-R21/B1-05"


@pytest.mark.parametrize(
    ("claim", "collection", "cql", "expected"),
    [
        ("basic-cql2", "parcels", "unit_code = 'XC1003' AND NOT (code <> 'XC1003-R21-02')", [XC]),
        ("basic-cql2", "sites", "progress_pct IS NULL", ["ROAD-2024-07"]),
        ("advanced-comparison-operators", "parcels", "code LIKE 'GS%'", [GS]),
        (
            "advanced-comparison-operators",
            "sites",
            "progress_pct BETWEEN 30 AND 40",
            ["AZF-2024-01"],
        ),
        ("advanced-comparison-operators", "parcels", "unit_code IN ('GS0201', 'NOPE')", [GS]),
        (
            "basic-spatial-functions",
            "parcels",
            "S_INTERSECTS(geometry, POINT(120.163 30.267))",
            [GS],
        ),
        (
            "basic-spatial-functions",
            "parcels",
            "S_INTERSECTS(geometry, BBOX(120.1575, 30.2655, 120.1612, 30.2685))",
            [XC],
        ),
        (
            "spatial-functions",
            "parcels",
            "S_WITHIN(geometry, POLYGON((120.15 30.26, 120.1615 30.26, 120.1615 30.27, "
            "120.15 30.27, 120.15 30.26)))",
            [XC],
        ),
        ("spatial-functions", "parcels", "S_CONTAINS(geometry, POINT(120.159 30.267))", [XC]),
        ("spatial-functions", "parcels", "S_DISJOINT(geometry, POINT(120.159 30.267))", [GS]),
        (
            "spatial-functions",
            "parcels",
            "S_TOUCHES(geometry, LINESTRING(120.161 30.266, 120.161 30.268))",
            [XC],
        ),
        (
            "spatial-functions",
            "sites",
            "S_CROSSES(geometry, LINESTRING(120.165 30.26, 120.165 30.28))",
            ["ROAD-2024-07"],
        ),
        (
            "spatial-functions",
            "parcels",
            "S_OVERLAPS(geometry, POLYGON((120.163 30.267, 120.170 30.267, 120.170 30.270, "
            "120.163 30.270, 120.163 30.267)))",
            [GS],
        ),
        (
            "spatial-functions",
            "parcels",
            "S_EQUALS(geometry, MULTIPOLYGON(((120.162 30.266, 120.164 30.266, 120.164 30.268, "
            "120.162 30.268, 120.162 30.266))))",
            [GS],
        ),
        (
            "cql2-json",
            "parcels",
            '{"op":"s_intersects","args":[{"property":"geometry"},'
            '{"bbox":[120.1575,30.2655,120.1612,30.2685]}]}',
            [XC],
        ),
        ("arithmetic", "sites", "progress_pct * 2 + 10 > 75", ["AZF-2024-01"]),
        ("arithmetic", "sites", "progress_pct - 36 >= 0", []),
    ],
)
def test_each_claimed_cql2_class_works(
    client: TestClient, claim: str, collection: str, cql: str, expected: list[str]
) -> None:
    conforms = client.get(f"{BASE}/conformance").json()["conformsTo"]
    assert f"http://www.opengis.net/spec/cql2/1.0/conf/{claim}" in conforms

    lang = "cql2-json" if cql.startswith("{") else "cql2-text"
    answer = client.get(
        f"{BASE}/collections/{collection}/items", params={"filter": cql, "filter-lang": lang}
    )

    assert answer.status_code == 200, answer.text
    assert [f["id"] for f in answer.json()["features"]] == expected


# -- counting, compression, caching headers, CORS, schema ---------------------------------------
@pytest.mark.parametrize("collection", list(COLLECTIONS))
def test_every_collection_counts_its_matches_exactly(
    client: TestClient, homes: Engine, collection: str
) -> None:
    """numberMatched is the number a client reads by following the next links; for impact
    zones (a view) the planner's estimate was taken, and numberMatched left out."""
    if collection in WORKFLOW_LAYERS:
        case_work(homes)
    first = client.get(f"{BASE}/collections/{collection}/items", params={"limit": 2}).json()
    read, href = 0, f"{BASE}/collections/{collection}/items?limit=2"
    while href:
        page = client.get(href).json()
        read += page["numberReturned"]
        href = _link(page, "next")

    assert first["numberMatched"] == read > 0


def test_a_filtered_count_is_exact_whatever_the_planner_guesses(
    client: TestClient, district_households: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("geo_service.ogc.collections.EXACT_COUNT_LIMIT", 2)
    url = f"{BASE}/collections/households/items"

    two = client.get(url, params={"filter": "unit_label IN ('1-1', '1-2')"}).json()
    three = client.get(url, params={"filter": "residents = 2"}).json()

    assert two["numberMatched"] == 2
    assert "numberMatched" not in three and three["numberMatchedEstimate"] >= 3


def test_above_the_exact_count_limit_the_estimate_is_labelled_as_one(
    client: TestClient, district_households: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("geo_service.ogc.collections.EXACT_COUNT_LIMIT", 0)
    with district_households.begin() as conn:
        conn.exec_driver_sql("ANALYZE households")

    doc = client.get(f"{BASE}/collections/households/items").json()

    assert "numberMatched" not in doc
    assert doc["numberMatchedEstimate"] >= 1
    assert "estimate" in doc["note"]
    assert doc["numberReturned"] == 3


def test_pages_are_gzipped_cacheable_per_user_and_open_to_other_origins(
    client: TestClient,
) -> None:
    url = f"{BASE}/collections/parcels/items"
    page = client.get(url, headers={"Accept-Encoding": "gzip", "Origin": "https://gis.example"})
    preflight = client.options(
        url,
        headers={
            "Origin": "https://gis.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "Authorization, If-None-Match",
        },
    )

    assert page.headers["content-encoding"] == "gzip"
    assert page.headers["cache-control"] == "private, max-age=60"
    assert "Authorization" in page.headers["vary"]
    assert page.headers["access-control-allow-origin"] == "*"
    exposed = page.headers["access-control-expose-headers"].lower()
    assert "etag" in exposed and "content-crs" in exposed
    assert preflight.status_code == 200
    allowed = preflight.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "if-none-match" in allowed


def test_schema_states_the_id_and_only_public_fields(
    client: TestClient, district_households: Engine
) -> None:
    answer = client.get(f"{BASE}/collections/households/schema")
    schema = answer.json()

    assert answer.headers["content-type"].startswith("application/schema+json")
    assert schema["$id"].endswith("/ogc/collections/households/schema")
    assert schema["properties"]["id"]["x-ogc-role"] == "id"
    assert schema["properties"]["geometry"]["x-ogc-role"] == "primary-geometry"
    assert set(schema["properties"]) == {
        "id",
        "geometry",
        "building",
        "unit_label",
        "residents",
        "visited",
        "open_requests",
    }
    parcels = client.get(f"{BASE}/collections/parcels/schema").json()
    assert parcels["properties"]["code"]["x-ogc-role"] == "id"


# -- a computed layer's reach -----------------------------------------------------------------
@pytest.mark.parametrize(
    "box",
    [
        (120.1585, 30.2665, 120.1605, 30.2675),  # on the housing site
        (120.1640, 30.2640, 120.1700, 30.2660),  # south-east of it: only the outer rings
        (120.1615, 30.2668, 120.1619, 30.2672),  # ~100-130 m east: in the day noise contour
        (120.1450, 30.2690, 120.1500, 30.2720),  # the road's west end
        (120.1000, 30.1000, 120.1100, 30.1100),  # nowhere near
    ],
)
def test_impact_zones_by_box_are_exactly_those_that_meet_the_box(
    client: TestClient, homes: Engine, box: tuple[float, ...]
) -> None:
    """The cheap ``reach`` test skips sites before their zones are built; it must never
    skip a zone that meets the box (shapely checks every zone of the whole layer)."""
    url = f"{BASE}/collections/impact_zones/items"
    everything = client.get(url, params={"limit": 1000}).json()["features"]
    assert {f["properties"]["kind"] for f in everything} >= {"band", "noise_day"}
    expected = sorted(f["id"] for f in everything if shape(f["geometry"]).intersects(shp_box(*box)))

    got = client.get(url, params={"limit": 1000, "bbox": ",".join(map(str, box))}).json()

    assert sorted(f["id"] for f in got["features"]) == expected
    if box[0] == 120.1615:
        assert "AZF-2024-01:day:2" in expected


def test_html_pages_escape_what_the_data_holds(client: TestClient, district: Engine) -> None:
    """A name that is markup stays text in the table and data in the map's script."""
    name = "</script><b>西溪</b>"
    with district.begin() as conn:
        conn.execute(
            text("UPDATE sites SET name = :name WHERE code = 'AZF-2024-01'"), {"name": name}
        )

    for url in (
        f"{BASE}/collections/sites/items?f=html",
        f"{BASE}/collections/sites/items/AZF-2024-01?f=html",
    ):
        page = client.get(url).text
        assert "<b>" not in page, url
        assert page.count("</script>") == page.count("<script"), url  # none closed early
        assert "<td>&lt;/script&gt;&lt;b&gt;西溪&lt;/b&gt;</td>" in page
        assert '"name": "\\u003c/script\\u003e\\u003cb\\u003e西溪\\u003c/b\\u003e"' in page

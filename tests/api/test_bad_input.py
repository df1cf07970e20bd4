"""A corpus of bad input: each gets a clear 4xx naming the problem, and changes nothing.

"Nothing" is checked as the row count of every table in the schema before and after,
except ``audit_log``: a refused import is audited on purpose.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator

import anyio
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from geo_service.settings import ImportSettings

NOT_COUNTED = {"audit_log", "spatial_ref_sys"}


def row_counts(engine: Engine) -> dict[str, int]:
    """Rows of every table of the service's schema."""
    with engine.connect() as conn:
        tables = conn.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        ).scalars()
        return {
            t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one()
            for t in sorted(tables)
            if t not in NOT_COUNTED
        }


@pytest.fixture
def unchanged(district: Engine) -> Iterator[None]:
    """Asserts, after the test, that no table gained or lost a row."""
    before = row_counts(district)
    yield
    assert row_counts(district) == before


def _upload(client: TestClient, name: str, body: bytes, layer: str = "parcels", **params: str):
    return client.post(
        f"/api/imports/{layer}",
        params=params,
        files={"file": (name, body, "application/octet-stream")},
    )


def _square(lon: float, lat: float, size: float = 0.0005) -> dict:
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size]]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def _parcels(*geometries: dict | None) -> bytes:
    return json.dumps(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {"code": f"HF0101-R21-{i:02d}"},
                    "geometry": geometry,
                }
                for i, geometry in enumerate(geometries, start=1)
            ],
        }
    ).encode()


# -- broken files -------------------------------------------------------------------------------
BROKEN_GEOJSON = {
    "truncated": (b'{"type": "FeatureCollection", "features": [{"type": "Feat', 415, "could not"),
    "not json": (b"\x00\x01\x02 this is not JSON", 415, "could not"),
    "empty": (b"", 415, "upload.geojson"),
    "a bare geometry list": (b"[1, 2, 3]", 415, "could not"),
    "ring of two points": (
        _parcels({"type": "Polygon", "coordinates": [[[120.19, 30.3], [120.2, 30.3]]]}),
        415,
        "could not",
    ),
    "coordinates as strings": (
        _parcels({"type": "Polygon", "coordinates": [[["a", "b"], ["c", "d"]]]}),
        422,
        "row 1",
    ),
    "latitude 500": (_parcels(_square(120.19, 500.0)), 422, "row 1"),
    "no geometry": (_parcels(None), 422, "row 1"),
}


@pytest.mark.parametrize("case", BROKEN_GEOJSON, ids=list(BROKEN_GEOJSON))
def test_broken_geojson_is_refused_by_name(client: TestClient, unchanged: None, case: str) -> None:
    body, status, says = BROKEN_GEOJSON[case]
    answer = _upload(client, "upload.geojson", body)
    assert answer.status_code == status, answer.text
    assert says in answer.json()["detail"]


BROKEN_WKT = {
    "not WKT": "POLYGON((banana))",
    "unclosed ring": "POLYGON((120.19 30.30, 120.20 30.30, 120.20 30.31",
    "unknown type": "HEXAGON((120.19 30.30))",
    "empty": "",
}


@pytest.mark.parametrize("case", BROKEN_WKT, ids=list(BROKEN_WKT))
def test_broken_wkt_is_refused_by_row(client: TestClient, unchanged: None, case: str) -> None:
    body = f'code,wkt\nHF0101-R21-02,"{BROKEN_WKT[case]}"\n'.encode()
    answer = _upload(client, "parcels.csv", body, crs="EPSG:4326")
    assert 400 <= answer.status_code < 500, answer.text
    detail = answer.json()["detail"]
    assert "row 1" in detail or "geometry" in detail.lower() or "wkt" in detail.lower(), detail


def test_the_whole_world_in_10000_features_is_refused(client: TestClient, unchanged: None) -> None:
    """Refused as a whole (422): features outside the service area; the answer lists them
    (the first 1000) with the total, and nothing is written."""
    squares = [_square(-179.0 + (i % 100) * 3.58, -89.0 + (i // 100) * 1.78) for i in range(10_000)]
    collection = json.loads(_parcels(*squares))
    collection["bbox"] = [-180.0, -90.0, 180.0, 90.0]
    answer = _upload(client, "world.geojson", json.dumps(collection).encode())
    assert answer.status_code == 422, answer.text[:500]
    body = answer.json()
    assert body["problem_count"] >= 9_000
    assert len(body["problems"]) <= 1000
    assert "outside" in body["detail"]


# -- paging, sorting and injection in query parameters -----------------------------------------
@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("limit=-1", "limit"),
        ("limit=0", "limit"),
        ("limit=99999999999999999999", "limit"),
        ("limit=1e3", "limit"),
        ("offset=-5", "offset"),
        ("offset=99999999999999999999", "offset"),
        ("sort=distance;DROP TABLE households", "sort"),
        ("sort=distance%27;%20--", "sort"),
        ("sort=%27;%20--", "sort"),
        ("format=csv%27;%20DROP%20TABLE%20households;--", "format"),
        ("lang=zh%27%20OR%201=1", "lang"),
    ],
)
def test_bad_query_parameters_get_422_naming_the_parameter(
    client: TestClient, unchanged: None, query: str, names: str
) -> None:
    answer = client.get(f"/api/sites/AZF-2024-01/households?{query}")
    assert answer.status_code == 422, answer.text
    assert names in json.dumps(answer.json()["detail"])


@pytest.mark.parametrize(
    "path",
    [
        "/api/sites/'; --",
        "/api/sites/1' OR '1'='1",
        "/api/sites/1;DROP TABLE households/impact",
        "/api/parcels/XC1003-R21-02' OR 1=1 --",
        "/api/sites/99999999999999999999999",
        "/api/users/'; DROP TABLE users; --/sites",
    ],
)
def test_injection_in_path_is_only_a_name_that_does_not_exist(
    client: TestClient, unchanged: None, path: str
) -> None:
    answer = client.get(path)
    assert answer.status_code == 404, answer.text
    assert "no " in answer.json()["detail"]


@pytest.mark.parametrize(
    "path", ["/api/sites/%00", "/api/sites/AZF%002024/impact", "/api/parcels/XC1003%00"]
)
def test_nul_in_a_name_gets_400(client: TestClient, unchanged: None, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 400, answer.text
    assert "NUL" in answer.json()["detail"]


def test_nul_in_a_body_gets_400(client: TestClient, unchanged: None) -> None:
    answer = client.put("/api/users/wang%00/sites", json={"sites": ["AZF\u00002024"]})
    assert answer.status_code in (400, 404), answer.text


def test_injection_in_audit_filters_is_only_a_value(client: TestClient, unchanged: None) -> None:
    answer = client.get("/api/audit", params={"actor": "x' OR '1'='1"})
    assert answer.status_code == 200
    assert answer.json()["total"] == 0
    bad = client.get("/api/audit", params={"since": "yesterday'; --"})
    assert bad.status_code == 422 and "since" in json.dumps(bad.json()["detail"])


# -- file names, archives and sizes --------------------------------------------------------------
def test_traversal_in_a_file_name_is_only_a_label(
    client: TestClient, unchanged: None, district: Engine
) -> None:
    """``../../etc/passwd.geojson`` is read as ``passwd.geojson``: nothing outside the
    temporary folder is written, and the (broken) content is refused by that name."""
    answer = _upload(client, "../../etc/passwd.geojson", b"root:x:0:0:root:/root:/bin/bash\n")
    assert answer.status_code == 415, answer.text
    assert "passwd.geojson" in answer.json()["detail"]
    assert "../" not in answer.json()["detail"]


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


@pytest.mark.parametrize(
    ("members", "says"),
    [
        ({"../../evil.shp": b"x", "ok.dbf": b"x"}, "points outside the archive"),
        ({"/etc/evil.shp": b"x"}, "points outside the archive"),
        ({"a/../../evil.shp": b"x"}, "points outside the archive"),
        ({"readme.txt": b"no shapefile here"}, "exactly one .shp"),
        ({"a.shp": b"x", "b.shp": b"y"}, "exactly one .shp"),
    ],
)
def test_bad_archives_are_refused_before_reading(
    client: TestClient, unchanged: None, members: dict[str, bytes], says: str
) -> None:
    answer = _upload(client, "parcels.zip", _zip(members))
    assert answer.status_code == 415, answer.text
    assert says in answer.json()["detail"]


def test_not_a_zip_is_refused(client: TestClient, unchanged: None) -> None:
    answer = _upload(client, "parcels.zip", b"PK\x03\x04 but not really")
    assert answer.status_code == 415
    assert "not a valid zip" in answer.json()["detail"]


def test_oversize_upload_gets_413(client: TestClient, unchanged: None, app: FastAPI) -> None:
    app.state.import_settings = ImportSettings(max_upload_mb=1)
    answer = _upload(client, "big.geojson", b" " * (3 * 2**20))
    assert answer.status_code == 413, answer.text
    assert (
        "limit of 1 MiB" in answer.json()["detail"] or "limit is 1 MiB" in answer.json()["detail"]
    )


def test_upload_that_is_not_multipart_gets_400(client: TestClient, unchanged: None) -> None:
    answer = client.post(
        "/api/imports/parcels", content=b"{}", headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400
    assert "multipart/form-data" in answer.json()["detail"]


def test_multipart_without_a_file_gets_400(client: TestClient, unchanged: None) -> None:
    answer = client.post("/api/imports/parcels", data={"notfile": "x"}, files={"x": ("a", b"")})
    assert answer.status_code == 400
    assert "'file'" in answer.json()["detail"]


def test_bad_json_bodies_get_422(client: TestClient, unchanged: None) -> None:
    for body in (b"{", b"null", b'{"bands_m": "wide"}', b'{"bands_m": [1e309]}'):
        answer = client.put(
            "/api/sites/AZF-2024-01/impact-settings",
            content=body,
            headers={"Content-Type": "application/json"},
        )
        assert answer.status_code in (400, 412, 422, 428), (body, answer.text)


# -- the permission check comes before the body -------------------------------------------------
def test_anonymous_upload_gets_401_without_the_body_being_read(
    client: TestClient, app: FastAPI, unchanged: None
) -> None:
    """Called at the ASGI level, so we see whether the app ever asks for the body."""
    body_requests: list[int] = []
    sent: list[dict] = []

    async def receive() -> dict:
        body_requests.append(1)
        return {"type": "http.request", "body": b"x" * 1000, "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/imports/parcels",
        "raw_path": b"/api/imports/parcels",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"multipart/form-data; boundary=xyz"),
            (b"content-length", b"1000"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    anyio.run(app, scope, receive, send)

    assert sent[0]["status"] == 401
    assert body_requests == []


@pytest.mark.parametrize(
    "since", ["1390-03-14T15:09:09+17:46", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-12:00"]
)
def test_dates_postgresql_cannot_take_are_still_answered(
    client: TestClient, unchanged: None, since: str
) -> None:
    answer = client.get("/api/audit", params={"since": since, "until": since})
    assert answer.status_code in (200, 400), answer.text


ITEMS = "/ogc/collections/{}/items?"
ISSUE_11_REQUESTS = {
    "filter on the geometry with a string": ITEMS.format("sites")
    + "filter=geometry%20%3D%20%27x%27",
    "a bbox out of a projected CRS's range": ITEMS.format("sites")
    + "bbox=-1e12,-1e12,1e12,1e12&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/4549",
    "a superscript two as a feature id": "/ogc/collections/households/items/%C2%B2",
    "a superscript two as a site": "/api/sites/%C2%B2/impact",
    "a superscript two on the site map": "/maps/sites/%C2%B2",
    "a text property compared with a number": ITEMS.format("households")
    + "filter=unit_label%20%3D%205",
    "a number property compared with text": ITEMS.format("households")
    + "filter=residents%20%3D%20%27x%27",
    "an unclosed ring": ITEMS.format("households")
    + "filter=S_INTERSECTS(geometry,POLYGON((120 30,121 30,121 31,120 31)))",
}


@pytest.mark.parametrize("case", ISSUE_11_REQUESTS)
def test_requests_that_were_server_errors_get_a_4xx_naming_the_problem(
    client: TestClient, unchanged: None, case: str
) -> None:
    response = client.get(ISSUE_11_REQUESTS[case])
    assert 400 <= response.status_code < 500, (case, response.status_code, response.text)
    assert "db up" not in response.text


def test_an_over_long_value_in_an_import_is_refused_by_row_and_audited(
    client: TestClient, homes: Engine, unchanged: None
) -> None:
    """A 36-character phone: the row and field are named, nothing is written, the refusal
    is audited, and the value never reaches the database (nor its log)."""
    phone = "1" * 36
    csv = f"building,unit_label,phone,lon,lat\n翠苑一区1幢,1-1-101,{phone},120.157,30.2688\n"
    response = client.post(
        "/api/imports/households?crs=EPSG:4326",
        files={"file": ("h.csv", csv.encode(), "text/csv")},
    )
    assert response.status_code == 422, response.text
    assert "phone" in response.text and phone not in response.text
    assert "36 characters long; at most 32" in response.text
    with homes.connect() as conn:
        action = conn.execute(
            text("SELECT action FROM audit_log ORDER BY id DESC LIMIT 1")
        ).scalar_one()
    assert action == "import_rejected"


def test_an_oversized_json_body_gets_413_and_nothing_is_audited(
    client: TestClient, unchanged: None, district: Engine
) -> None:
    body = json.dumps({"bands_m": [50, 100], "kinds": ["noise"], "pad": "x" * 2_000_000})
    with district.connect() as conn:
        audited = conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one()
    response = client.put(
        "/api/sites/AZF-2024-01/impact-settings",
        content=body,
        headers={"Content-Type": "application/json", "If-Match": "*"},
    )
    assert response.status_code == 413, response.text
    assert "JSON" in response.json()["detail"]
    with district.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one() == audited


def test_a_site_code_with_markup_is_refused_on_import(client: TestClient, unchanged: None) -> None:
    feature = {
        "type": "Feature",
        "properties": {"code": '<img src=x onerror="alert(1)">', "name": "x", "kind": "road"},
        "geometry": {"type": "LineString", "coordinates": [[120.16, 30.27], [120.17, 30.27]]},
    }
    body = json.dumps({"type": "FeatureCollection", "features": [feature]}).encode()
    response = client.post(
        "/api/imports/sites?crs=EPSG:4326",
        files={"file": ("s.geojson", body, "application/geo+json")},
    )
    assert response.status_code == 422, response.text
    assert "may hold letters, digits" in response.json()["problems"][0]["message"]

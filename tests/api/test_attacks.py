"""The new endpoints tried as an attacker and as a careless user would (review of issue 14/15).

Each test is one finding: a text pasted from a word processor that broke the Excel export,
a filter value that became a formula in the CSV's header lines, a workbook that was not one,
a sign-in link that went to another site, a browser's remembered Basic password used by a
page of another origin.
"""

from __future__ import annotations

import csv
import io
import zipfile
from base64 import b64encode
from urllib.parse import urljoin, urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import Engine, text

from tests.accounts import PASSWORD, make_user

SITE = "AZF-2024-01"
OWN_PAGE = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}
OTHER_PORT = {"Origin": "http://127.0.0.1:9999", "Sec-Fetch-Site": "same-site"}
# A vertical tab and a form feed: what Word and WPS put in text copied from a page break.
PASTED = "夜间施工噪声\x0b第二段\x0c第三段\x01"


def _request(client: TestClient, description: str = "噪声扰民") -> str:
    made = client.post(
        "/api/requests",
        json={
            "site": SITE,
            "category": "noise",
            "channel": "web",
            "description": description,
            "lon": 120.159,
            "lat": 30.267,
            "reporter_name": "示例-赵某",
        },
    )
    assert made.status_code == 201, made.text
    return made.json()["public_id"]


def test_text_pasted_with_control_characters_still_exports_to_excel(
    client: TestClient, district: Engine
) -> None:
    """openpyxl refuses C0 control characters in a cell: the XLSX export was a 500."""
    _request(client, PASTED)
    answer = client.get("/api/requests/export", params={"site": SITE, "format": "xlsx"})
    assert answer.status_code == 200, answer.text
    cells = [
        c.value for row in load_workbook(io.BytesIO(answer.content)).worksheets[0].rows for c in row
    ]
    assert "夜间施工噪声第二段第三段" in [str(c).replace(" ", "") for c in cells]


def test_a_filter_value_cannot_become_a_row_of_the_csv(
    client: TestClient, district: Engine
) -> None:
    """The export's ``# Filter ...`` lines carry the query string: a link sent to an officer
    with a line break and a formula in ``category`` put a formula row above the table."""
    _request(client)
    link = '=HYPERLINK("//e.cn","x")'
    for value in (f"x\n{link}", f"x\r{link}", f"x,{link}", f'x, "{link}"'):
        answer = client.get(
            "/api/requests/export", params={"site": SITE, "format": "csv", "category": value}
        )
        assert answer.status_code == 200, answer.text
        rows = list(csv.reader(io.StringIO(answer.text.lstrip("\ufeff"))))
        cells = [cell for row in rows for cell in row]
        assert not [c for c in cells if c.startswith(("=", "+", "-", "@"))], rows[:6]


def test_a_file_named_xlsx_that_is_not_a_workbook_is_refused(
    client: TestClient, district: Engine
) -> None:
    answer = client.post(
        f"/api/sites/{SITE}/imports/requests",
        files={"file": ("走访.xlsx", b"PK\x03\x04 not really a zip", "application/octet-stream")},
    )
    assert answer.status_code == 415, answer.text
    assert "走访.xlsx" in answer.json()["detail"]


@pytest.mark.parametrize("target", ["/\t/evil.example", "/\n/evil.example", "/\t\\evil.example"])
def test_sign_in_never_sends_the_browser_to_another_site(
    client: TestClient, app: FastAPI, district: Engine, target: str
) -> None:
    """Browsers drop tabs and line breaks from a URL (WHATWG URL, "remove all ASCII tab or
    newline"): ``/<tab>/evil.example`` is ``//evil.example``, another host."""
    make_user(district, "wang", "liaison", sites=[SITE])
    browser = TestClient(app, follow_redirects=False)
    answer = browser.post(
        "/login",
        data={"username": "wang", "password": PASSWORD, "next": target},
        headers=OWN_PAGE,
    )
    assert answer.status_code == 303
    location = answer.headers["location"]
    as_browser_reads_it = "".join(c for c in location if c not in "\t\n\r")
    assert urlsplit(urljoin("http://testserver/login", as_browser_reads_it)).netloc == "testserver"
    form = browser.get("/login", params={"next": target}).text
    assert '<input type="hidden" name="next" value="/">' in form


def test_a_remembered_basic_password_does_not_work_for_another_site(
    client: TestClient, district: Engine
) -> None:
    """A browser keeps the Basic credentials it was asked for (the 401's challenge) and
    sends them with any request to this host, also a form another origin posts."""
    make_user(district, "boss", "admin", password=PASSWORD)
    basic = {"Authorization": "Basic " + b64encode(f"boss:{PASSWORD}".encode()).decode()}
    body = {"bands_m": [100, 300]}
    url = f"/api/sites/{SITE}/impact-settings"
    forged = client.put(url, json=body, headers={**basic, **OTHER_PORT, "If-Match": "*"})
    assert forged.status_code == 403 and "own pages" in forged.json()["detail"]
    no_fetch_metadata = {**basic, "Origin": "https://evil.example", "If-Match": "*"}
    assert client.put(url, json=body, headers=no_fetch_metadata).status_code == 403
    with district.connect() as conn:
        changed = text("SELECT count(*) FROM site_impact_settings WHERE bands_m = '{100,300}'")
        bands = conn.execute(changed).scalar()
    assert bands == 0
    # QGIS and curl send neither header, the service's own pages say same-origin: both work.
    assert client.put(url, json=body, headers={**basic, "If-Match": "*"}).status_code == 200
    own = client.put(url, json=body, headers={**basic, **OWN_PAGE, "If-Match": "*"})
    assert own.status_code == 200


def test_a_point_beside_a_household_is_generalised_in_open311(
    client: TestClient, homes: Engine, anonymous: TestClient
) -> None:
    """Only a point *exactly* at a household was shown at its community: a request placed by
    a click on the household's door, 2 m off, was published at the door, with its text."""
    made = client.post(
        "/api/requests",
        json={
            "site": SITE,
            "category": "noise",
            "channel": "visit",
            "description": "老人夜里睡不着",
            "lon": 120.15702,  # household 1-1-101 is at 120.1570, 30.2688
            "lat": 30.26881,
        },
    )
    assert made.status_code == 201, made.text
    public_id = made.json()["public_id"]
    (record,) = anonymous.get(f"/open311/v2/requests/{public_id}.json").json()
    assert record["address"] == "翠苑一区"
    with homes.connect() as conn:
        nearest = conn.execute(
            text(
                "SELECT min(ST_Distance(geom::geography, "
                "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography)) FROM households"
            ),
            {"lon": record["long"], "lat": record["lat"]},
        ).scalar()
    assert nearest > 50
    # A point far from every household (a site gate) keeps the point it was given.
    gate = client.post(
        "/api/requests",
        json={
            "site": SITE,
            "category": "dust",
            "channel": "web",
            "description": "扬尘",
            "lon": 120.1595,
            "lat": 30.2666,
        },
    )
    (shown,) = anonymous.get(f"/open311/v2/requests/{gate.json()['public_id']}.json").json()
    assert (shown["long"], shown["lat"]) == pytest.approx((120.1595, 30.2666))


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00+14:00", "0001-01-01T08:00:00+08:00"])
def test_a_visit_dated_in_year_one_is_refused_and_the_list_still_opens(
    client: TestClient, homes: Engine, at: str
) -> None:
    """A mistyped year (0001) was stored as 1 BC in UTC, which Python cannot read back:
    the site's visit list and the household's page were a 500 from then on."""
    visit = {"household": 1, "outcome": "met", "visited_at": at}
    answer = client.post(f"/api/sites/{SITE}/visits", json=visit)
    assert answer.status_code == 422 and "visited_at" in answer.text, answer.text
    assert client.get(f"/api/sites/{SITE}/visits").status_code == 200


def test_a_night_permit_notice_dated_past_9999_is_refused(
    client: TestClient, district: Engine
) -> None:
    permit = {
        "certificate_no": "夜-2026-001",
        "issuer": "housing_construction",
        "first_night": "2026-12-01",
        "last_night": "2026-12-01",
        "activities": ["other"],
        "notice_posted_at": "9999-12-31T23:59:59-12:00",  # year 10000 in UTC
    }
    answer = client.post(f"/api/sites/{SITE}/night-permits", json=permit)
    assert answer.status_code == 422 and "notice_posted_at" in answer.text, answer.text
    assert client.get(f"/api/sites/{SITE}/night-permits").json()["permits"] == []


@pytest.mark.parametrize(
    "body",
    [
        b'{"site": "AZF-2024-01", "category": "noise", "channel": "web", "description": "d",'
        b' "lon": NaN, "lat": Infinity}',
        b'{"site": "AZF-2024-01", "category": "noise", "channel": "web", "description": "d",'
        b' "address": "\\ud800"}',
    ],
)
def test_a_refused_value_that_json_cannot_carry_back_is_still_a_422(
    client: TestClient, district: Engine, body: bytes
) -> None:
    """Python's JSON reads NaN, Infinity and a lone surrogate; the 422 that echoes the input
    could not write them again (not JSON; not UTF-8) and was a 500."""
    answer = client.post(
        "/api/requests", content=body, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 422, answer.text
    assert {e["loc"][-1] for e in answer.json()["detail"]} & {"lon", "lat", "address"}


def _bomb(rows: int) -> bytes:
    """A workbook of a few kilobytes whose sheet holds ``rows`` rows (they compress to
    almost nothing): under the body limit, a million rows would take gigabytes to hold."""
    from openpyxl import Workbook

    book, packed = Workbook(), io.BytesIO()
    book.active.append(["household", "outcome", "visited_at"])
    book.save(packed)
    row = "<row><c t='inlineStr'><is><t>1</t></is></c></row>"
    sheet = (
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"<sheetData>{row * rows}</sheetData></worksheet>"
    )
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(packed.getvalue())) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for item in source.infolist():
            body = sheet.encode() if item.filename.endswith("sheet1.xml") else source.read(item)
            target.writestr(item.filename, body)
    return out.getvalue()


def test_a_sheet_of_too_many_rows_is_refused_before_it_is_held(
    client: TestClient, district: Engine
) -> None:
    bomb = _bomb(200_000)
    assert len(bomb) < 100_000  # far under the body limit
    answer = client.post(
        f"/api/sites/{SITE}/imports/visits",
        files={"file": ("走访.xlsx", bomb, "application/octet-stream")},
    )
    assert answer.status_code == 415, answer.text[:300]
    assert "rows" in answer.json()["detail"]

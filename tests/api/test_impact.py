"""Impact endpoints: who may see what, the lists and files liaison teams work from."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable
from urllib.parse import quote

import geopandas as gpd
import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from shapely.geometry import Point, box
from sqlalchemy import Engine, text

from geo_service import auth
from geo_service.access import local_operator
from geo_service.formats import HOUSEHOLD_LIST
from geo_service.ingest import import_frame
from geo_service.settings import ImportSettings

SITE = "AZF-2024-01"
PERSONAL = ("contact_name", "phone", "elderly", "infant", "disabled", "night_shift")


@pytest.fixture
def as_role(homes: Engine) -> Callable[..., dict[str, str]]:
    """Headers of a fresh API token with a role (and sites, for liaison officers)."""

    def headers(role: str, sites: tuple[str, ...] = ()) -> dict[str, str]:
        with homes.begin() as conn:
            token = auth.create_token(
                conn,
                role,
                sites=list(sites),
                by=local_operator(),
                expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=1),
            )
        return {"Authorization": f"Bearer {token.secret}"}

    return headers


def test_summary_per_role(client: TestClient, as_role: Callable) -> None:
    url = f"/api/sites/{SITE}/impact"
    assert client.get(url, headers={}).status_code in (200, 401)  # the fixture client may sign in
    planner = client.get(url, headers=as_role("planner"))
    assert planner.status_code == 200, planner.text
    body = planner.json()
    # One elderly household of three: a planner may not see the flag, so not the count.
    assert body["totals"]["households"] == 3 and body["totals"]["vulnerable_households"] == "<5"
    assert body["parameters"]["equipment"][0]["equipment"] == "excavator"
    assert client.get(url, headers=as_role("gis")).status_code == 403
    assert client.get(url, headers=as_role("liaison", ("ROAD-2024-07",))).status_code == 403
    liaison = client.get(url, headers=as_role("liaison", (SITE,)))
    assert liaison.status_code == 200 and liaison.json()["totals"]["vulnerable_households"] == 1


def test_anonymous_is_refused(homes: Engine, client_for: Callable) -> None:
    with client_for(homes.url.render_as_string(hide_password=False)) as anonymous:
        assert anonymous.get(f"/api/sites/{SITE}/households").status_code == 401


def test_list_leaves_out_personal_fields_unless_entitled_and_audits_reads(
    client: TestClient, as_role: Callable, homes: Engine
) -> None:
    url = f"/api/sites/{SITE}/households"
    planner = client.get(url, headers=as_role("planner")).json()
    assert len(planner["households"]) == 3
    assert not set(PERSONAL) & set(planner["households"][0])
    liaison = client.get(url, headers=as_role("liaison", (SITE,))).json()
    assert liaison["households"][0]["contact_name"].startswith("示例-")
    assert liaison["metadata"]["personal_fields"] == list(PERSONAL)
    with homes.connect() as conn:
        row = conn.execute(
            text(
                "SELECT action, target, record_count FROM audit_log "
                "WHERE action = 'read_personal' ORDER BY id DESC LIMIT 1"
            )
        ).one()
    assert row == ("read_personal", f"site:{SITE}", 3)


def test_sorted_by_distance_or_for_door_knocking(client: TestClient, as_role: Callable) -> None:
    headers = as_role("planner")
    near = client.get(f"/api/sites/{SITE}/households", headers=headers).json()["households"]
    assert [r["distance_m"] for r in near] == sorted(r["distance_m"] for r in near)
    by_address = client.get(f"/api/sites/{SITE}/households?sort=address", headers=headers).json()[
        "households"
    ]
    assert [r["unit_label"] for r in by_address] == ["1-1-101", "1-1-102", "1-2-301"]


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "geojson", "gpkg"])
def test_exports_name_the_site_parameters_and_time(
    client: TestClient, as_role: Callable, fmt: str, tmp_path
) -> None:
    answer = client.get(f"/api/sites/{SITE}/households?format={fmt}", headers=as_role("planner"))
    assert answer.status_code == 200, answer.text
    disposition = answer.headers["content-disposition"]
    assert f'filename="{SITE}-____-' in disposition and disposition.endswith(f".{fmt}")
    if fmt == "csv":
        text_ = answer.content.decode("utf-8-sig")
        assert "# site: " in text_ and SITE in text_ and "# generated_at: " in text_
        assert "距离（米）" in text_ and "联系电话" not in text_
    elif fmt == "xlsx":
        book = load_workbook(io.BytesIO(answer.content))
        assert book.sheetnames == ["住户", "参数"]
        assert book["住户"].max_row == 4
        assert any(r[0].value == "影响圈层（米）" for r in book["参数"].iter_rows())
    elif fmt == "geojson":
        body = json.loads(answer.content)
        assert body["metadata"]["site"]["code"] == SITE and len(body["features"]) == 3
        assert 120 < body["features"][0]["geometry"]["coordinates"][0] < 121
    else:
        path = tmp_path / "h.gpkg"
        path.write_bytes(answer.content)
        frame = gpd.read_file(path)
        assert len(frame) == 3 and frame.crs.to_epsg() == 4326


@pytest.mark.parametrize("fmt", HOUSEHOLD_LIST.names)
def test_every_offered_format_comes_with_its_media_type(
    client: TestClient, as_role: Callable, fmt: str
) -> None:
    answer = client.get(f"/api/sites/{SITE}/households?format={fmt}", headers=as_role("planner"))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == HOUSEHOLD_LIST[fmt].media_type


def test_english_headers(client: TestClient, as_role: Callable) -> None:
    answer = client.get(
        f"/api/sites/{SITE}/households?format=csv&lang=en", headers=as_role("planner")
    )
    assert "Distance (m)" in answer.content.decode("utf-8-sig")


def test_settings_change_the_answer_at_once(client: TestClient, as_role: Callable) -> None:
    planner = as_role("planner")
    etag = client.get(f"/api/sites/{SITE}/impact-settings", headers=planner).headers["etag"]
    before = client.get(f"/api/sites/{SITE}/households", headers=planner).json()["households"]
    assert {r["band"] for r in before} <= {1, 2, 3}
    put = client.put(
        f"/api/sites/{SITE}/impact-settings",
        headers=planner | {"If-Match": etag},
        json={"bands_m": [100]},
    )
    assert put.status_code == 200, put.text
    after = client.get(f"/api/sites/{SITE}/households", headers=planner).json()["households"]
    assert len(after) < len(before) or all(r["band_outer_m"] == 100 for r in after)
    planner |= {"If-Match": "*"}
    bad = client.put(
        f"/api/sites/{SITE}/impact-settings", headers=planner, json={"bands_m": [500, 50]}
    )
    assert bad.status_code == 400 and "increasing" in bad.json()["detail"]
    unknown = client.put(
        f"/api/sites/{SITE}/equipment", headers=planner, json=[{"equipment": "tunnel_boring"}]
    )
    assert unknown.status_code == 400 and "tunnel_boring" in unknown.json()["detail"]
    liaison = client.put(
        f"/api/sites/{SITE}/impact-settings",
        headers=as_role("liaison", (SITE,)) | {"If-Match": "*"},
        json={"bands_m": [100]},
    )
    assert liaison.status_code == 403


def test_community_exposure_and_unknown_ids(
    client: TestClient, as_role: Callable, homes: Engine
) -> None:
    planner = as_role("planner")
    with homes.connect() as conn:
        community = conn.execute(text("SELECT id FROM communities")).scalar_one()
    exposure = client.get(f"/api/communities/{community}/exposure", headers=planner).json()
    assert exposure["by_site"][0]["site_code"] == SITE and exposure["households"] == 3
    assert client.get("/api/communities/99999/exposure", headers=planner).status_code == 404
    missing = client.get("/api/sites/NO-SUCH/impact", headers=planner)
    assert missing.status_code == 404 and "NO-SUCH" in missing.json()["detail"]
    bad = client.get(f"/api/sites/{SITE}/households?limit=0", headers=planner)
    assert bad.status_code == 422


@pytest.fixture
def mixed_homes(homes: Engine) -> Engine:
    """Buildings 1, 2 and 10 of the community beside the site, with doors of two and three
    digits after the floor: text order would put 10幢 before 2幢 and 1002 before 101."""
    import_frame(
        homes,
        "buildings",
        gpd.GeoDataFrame(
            {"address": ["翠苑一区10幢", "翠苑一区2幢"], "community": ["翠苑一区"] * 2},
            geometry=[
                box(120.1576, 30.2685, 120.1580, 30.2690),
                box(120.1560, 30.2685, 120.1564, 30.2690),
            ],
            crs="EPSG:4326",
        ),
        settings=ImportSettings(),
    )
    units = [("翠苑一区10幢", "39-1-101"), ("翠苑一区2幢", "39-1-1002")]
    units += [("翠苑一区2幢", "39-1-101"), ("翠苑一区2幢", "39-1-201"), ("翠苑一区10幢", "9-2-101")]
    import_frame(
        homes,
        "households",
        gpd.GeoDataFrame(
            {"building": [b for b, _ in units], "unit_label": [u for _, u in units]},
            geometry=[
                Point(120.1578, 30.2688),
                *([Point(120.1562, 30.2688)] * 3),
                Point(120.1578, 30.2687),
            ],
            crs="EPSG:4326",
        ),
        settings=ImportSettings(),
    )
    return homes


DOOR_ORDER = [
    ("翠苑一区1幢", "1-1-101"),
    ("翠苑一区1幢", "1-1-102"),
    ("翠苑一区1幢", "1-2-301"),
    ("翠苑一区2幢", "39-1-101"),
    ("翠苑一区2幢", "39-1-201"),
    ("翠苑一区2幢", "39-1-1002"),
    ("翠苑一区10幢", "9-2-101"),
    ("翠苑一区10幢", "39-1-101"),
]


def test_door_knocking_order_reads_numbers_as_numbers_and_pages(
    client: TestClient, as_role: Callable, mixed_homes: Engine
) -> None:
    url, headers = f"/api/sites/{SITE}/households?sort=address", as_role("planner")
    whole = client.get(url, headers=headers).json()["households"]
    assert [(r["building"], r["unit_label"]) for r in whole] == DOOR_ORDER
    pages = [
        client.get(f"{url}&limit=3&offset={start}", headers=headers).json()["households"]
        for start in (0, 3, 6)
    ]
    assert [r["household_id"] for page in pages for r in page] == [r["household_id"] for r in whole]
    # The files are in the same order (the CSV's rows after its # lines and header).
    csv = client.get(f"{url}&format=csv&lang=en", headers=headers).content.decode("utf-8-sig")
    rows = [line.split(",") for line in csv.splitlines() if not line.startswith("#")][1:]
    assert [(r[3], r[4]) for r in rows] == DOOR_ORDER


def test_excel_list_is_ready_to_read_filter_and_print(
    client: TestClient, as_role: Callable, homes: Engine
) -> None:
    with homes.begin() as conn:  # the nearest two households over the day limit, the third under it
        conn.execute(text("UPDATE site_equipment SET count = 3 WHERE site_id = 1"))
    url = f"/api/sites/{SITE}/households?format=xlsx"
    answer = client.get(url, headers=as_role("liaison", (SITE,)))
    assert answer.status_code == 200, answer.text
    today = dt.datetime.now().astimezone().date().isoformat()
    name = f"{SITE}-住户名单-{today}.xlsx"
    assert answer.headers["content-disposition"].endswith("filename*=UTF-8''" + quote(name))
    book = load_workbook(io.BytesIO(answer.content))
    sheet = book["住户"]
    header = [c.value for c in sheet[1]]
    rows = [dict(zip(header, (c.value for c in row), strict=True)) for row in sheet.iter_rows(2)]
    for column in ("振动扰民筛查", "振动损伤筛查", "老人"):
        assert {r[column] for r in rows} <= {"是", "否"}, column
    assert {r["老人"] for r in rows} == {"是", "否"}
    for when in ("昼间", "夜间"):
        for r in rows:
            level, limit = r[f"{when}预测声级 dB(A)"], r[f"{when}限值 dB(A)"]
            over = None if level is None else round(max(level - limit, 0), 1)
            assert r[f"{when}超标 dB"] == over
    assert {r["昼间超标 dB"] > 0 for r in rows} == {True, False}
    # Widths fit the widest cell (a Chinese character is two), up to a wrapped header.
    widths = {c.value: sheet.column_dimensions[c.column_letter].width for c in sheet[1]}
    assert widths["联系电话"] >= len("199-0000-0001") and widths["住户编号"] < 20
    assert sheet.auto_filter.ref == sheet.dimensions and sheet.freeze_panes == "A2"
    assert sheet.print_title_rows == "$1:$1"
    setup = sheet.page_setup
    assert (setup.orientation, int(setup.paperSize), setup.fitToWidth, setup.fitToHeight) == (
        "landscape",
        int(sheet.PAPERSIZE_A4),
        1,
        0,
    )
    assert sheet.sheet_properties.pageSetUpPr.fitToPage
    parameters = {r[0].value: r[1].value for r in book["参数"].iter_rows()}
    assert parameters["工地"].startswith(SITE) and parameters["排序"] == "由近及远"
    assert "excavator × 3" in parameters["施工设备"] and "夜间施工 否" in parameters["施工设备"]
    english = client.get(f"{url}&lang=en&sort=address", headers=as_role("planner"))
    book = load_workbook(io.BytesIO(english.content))
    assert book.sheetnames == ["Households", "Parameters"]
    parameters = {r[0].value: r[1].value for r in book["Parameters"].iter_rows()}
    assert parameters["Sort"] == "By address" and parameters["Personal fields"] == "none"
    assert {c.value for c in book["Households"]["R"][1:]} <= {"Yes", "No"}
    assert english.headers["content-disposition"].startswith(
        f'attachment; filename="{SITE}-households-{today}.xlsx"'
    )

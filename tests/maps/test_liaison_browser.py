"""The officer's pages in Debian Chromium, on a phone (390x844) and at a desk (1440x900):
sign in with the form, find a door not yet visited, log a visit, record a request, then
acknowledge, assign, start, resolve and close it, all by tapping through the pages.

Every step is saved as a screenshot in ``test-artifacts/``. The browser sends the real
Fetch Metadata of a form post, so the CSRF defence is the one a phone meets.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from tests.accounts import PASSWORD, make_user
from tests.maps.conftest import _page, screenshot

SITE = "QT-01"
SCREENS = {
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
        "locale": "zh-CN",
    },
    "desk": {"viewport": {"width": 1440, "height": 900}, "locale": "zh-CN"},
}


def _no_sideways_scroll(pg) -> None:
    width = pg.evaluate("document.documentElement.scrollWidth")
    assert width <= pg.viewport_size["width"], f"the page is {width}px wide"


def _clean(pg) -> None:
    assert pg.visit.outside == [], pg.visit.outside
    assert pg.visit.errors == [], pg.visit.errors
    assert pg.visit.failed == [], pg.visit.failed


def _sign_in(pg, username: str) -> None:
    pg.goto(pg.base + "/liaison/")
    assert "/login" in pg.url  # sent to sign in, then back
    pg.fill("input[name=username]", username)
    pg.fill("input[name=password]", PASSWORD)
    pg.click("button[type=submit]")
    pg.wait_for_url("**/liaison/")


def _move(pg, state: str, name: str, **extra: str) -> None:
    pg.select_option("#move select[name=to]", state)
    for field, value in extra.items():
        pg.select_option(f"#move select[name={field}]", value)
    pg.click("#save-move")
    pg.wait_for_selector("#saved")
    screenshot(pg, name)


@pytest.mark.parametrize("screen", list(SCREENS))
def test_an_officer_logs_a_visit_and_works_a_request_through_the_pages(
    browser, server: str, demo_db: Engine, screen: str
) -> None:
    username = make_user(demo_db, f"officer-{screen}", "liaison", sites=[SITE])
    context, pg = _page(browser, server, None, **SCREENS[screen])
    try:
        _sign_in(pg, username)
        assert pg.is_visible(f"#site-{SITE}")
        screenshot(pg, f"liaison-{screen}-1-sites")
        _no_sideways_scroll(pg)

        pg.click(f"#site-{SITE} a")
        pg.click("#filter-unvisited")
        pg.wait_for_url("**unvisited=true")
        assert "未走访" in pg.inner_text("#doors li:first-child")
        screenshot(pg, f"liaison-{screen}-2-doors")
        _no_sideways_scroll(pg)

        pg.click("#doors li:first-child a.lz-open")
        pg.wait_for_selector("#log-visit[open]")
        household = pg.url.rsplit("/", 1)[1]
        screenshot(pg, f"liaison-{screen}-3-household")
        _no_sideways_scroll(pg)

        pg.check("#log-visit input[name=outcome][value=met]")
        pg.fill("#log-visit textarea[name=notes]", "住户反映夜间打桩噪声，已留联系卡")
        pg.click("#save-visit")
        pg.wait_for_selector("#saved")
        assert "已见面" in pg.inner_text("#visits")
        screenshot(pg, f"liaison-{screen}-4-visit-logged")

        pg.click("#record-request summary")
        pg.select_option("#record-request select[name=category]", "noise")
        pg.fill("#record-request textarea[name=description]", "夜间打桩噪声影响休息")
        pg.click("#save-request")
        pg.wait_for_selector("#request")
        public_id = pg.url.split("?")[0].rsplit("/", 1)[1]
        assert pg.inner_text("#state") == "新登记"
        screenshot(pg, f"liaison-{screen}-5-request")
        _no_sideways_scroll(pg)

        _move(pg, "acknowledged", f"liaison-{screen}-6-acknowledged")
        pg.click("#assign summary")
        pg.fill("#assign input[name=assignee]", username)
        pg.click("#save-assign")
        pg.wait_for_selector("#saved")
        assert pg.inner_text("#assignee") == username
        assert pg.inner_text("#state") == "已分派"
        screenshot(pg, f"liaison-{screen}-7-assigned")
        _move(pg, "in_progress", f"liaison-{screen}-8-in-progress")
        _move(pg, "resolved", f"liaison-{screen}-9-resolved")
        pg.select_option("#move select[name=to]", "reopened")
        assert pg.is_visible("#move [data-for=closed]") is False
        pg.select_option("#move select[name=to]", "closed")
        assert pg.is_visible("#move [data-for=closed]")  # the script shows what a step needs
        _move(pg, "closed", f"liaison-{screen}-10-closed", satisfaction="5")
        assert pg.inner_text("#state") == "已办结"
        _no_sideways_scroll(pg)
        _clean(pg)
    finally:
        context.close()

    with demo_db.connect() as conn:
        request = conn.execute(
            text(
                "SELECT state, assignee, satisfaction, household_id FROM requests "
                "WHERE public_id = :id"
            ),
            {"id": public_id},
        ).one()
        visit = conn.execute(
            text("SELECT outcome FROM visits WHERE officer = :me AND household_id = :h"),
            {"me": username, "h": int(household)},
        ).scalar_one()
    assert tuple(request) == ("closed", username, 5, int(household))
    assert visit == "met"

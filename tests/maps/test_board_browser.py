"""The requests board in Chromium: on a phone (390x844) the page does not scroll sideways,
its controls are big enough for a thumb, the map draws the filtered requests offline, and
the assign form works; on a desk the whole table shows."""

from __future__ import annotations

from tests.maps.conftest import screenshot

SITE = "HF-01"
# Form controls smaller than a thumb (44 px high), among those shown.
_SMALL_CONTROLS = """() => [...document.querySelectorAll(
        'form select, form input[type=text], form button, .bar a.button')]
    .filter(e => e.getClientRects().length)
    .map(e => [e.name || e.id || e.tagName, Math.round(e.getBoundingClientRect().height)])
    .filter(([, h]) => h < 44)"""


def _open(page, query: str) -> None:
    page.goto(f"{page.base}/liaison/board?site={SITE}{query}", wait_until="networkidle")
    page.wait_for_selector("#map.leaflet-container", state="attached")


def _clean(page) -> None:
    assert page.visit.outside == [], page.visit.outside
    assert page.visit.errors == [], page.visit.errors


def test_on_a_phone_the_board_fits_and_assigns(phone) -> None:
    page = phone
    _open(page, "&state=acknowledged")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways: {width}px"
    assert page.evaluate(_SMALL_CONTROLS) == []
    points = page.locator("#map path.leaflet-interactive").count()
    rows = page.locator("#requests tbody tr[id^=request-]").count()
    assert rows > 0 and points >= rows
    assert "诉求看板" in page.inner_text("h1")
    screenshot(page, "board-phone")

    first = page.locator("#requests tbody tr[id^=request-]").first
    public_id = first.get_attribute("id").removeprefix("request-")
    first.locator("input[type=checkbox]").check()
    page.click("#assign button[type=submit]")
    page.wait_for_selector("#assigned")
    assert "已分派 1 件诉求" in page.inner_text("#assigned")
    # Assigned now, so off this filter of acknowledged requests.
    assert page.locator(f"#request-{public_id}").count() == 0
    _clean(page)


def test_on_a_desk_the_board_shows_every_column_in_english(page) -> None:
    _open(page, "&lang=en")
    headers = page.inner_text("#requests thead")
    assert "Address" in headers and "Priority" in headers and "Reporter phone" in headers
    assert page.locator("#map path.leaflet-interactive").count() > 0
    screenshot(page, "board-desk")
    _clean(page)

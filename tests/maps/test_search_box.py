"""The maps' search box in Chromium: what a planner types finds the site, the list of
results is never under the legend, the open legend never covers the box (issue 13.8)."""

from __future__ import annotations

import pytest

from tests.maps.conftest import screenshot

SITE = ("HF-01", "华丰单元XC1003-R21-02地块安置房项目")

# Where an element is on the screen, if it is shown.
_RECT = """s => { const e = document.querySelector(s); if (!e) return null;
    const r = e.getBoundingClientRect();
    return r.width && r.height ? {l: r.left, t: r.top, r: r.right, b: r.bottom} : null; }"""
# Whether the element at the list's centre is the list (or one of its results).
_LIST_ON_TOP = """() => { const l = document.querySelector('.gs-search-results'),
    r = l.getBoundingClientRect(),
    e = document.elementFromPoint((r.left + r.right) / 2, (r.top + r.bottom) / 2);
    return !!e && l.contains(e); }"""


def _rect(page, selector: str) -> dict | None:
    return page.evaluate(_RECT, selector)


def _overlap(a: dict, b: dict) -> bool:
    return a["l"] < b["r"] and b["l"] < a["r"] and a["t"] < b["b"] and b["t"] < a["b"]


def _open(page, path: str) -> None:
    page.goto(page.base + path, wait_until="networkidle")
    page.wait_for_function("window.GeoService && window.GeoService.map !== null")
    page.wait_for_timeout(300)


def _open_legend(page) -> None:
    if page.locator(".gs-legend.gs-folded").count():
        page.click(".gs-legend .gs-fold")
    assert page.locator(".gs-legend.gs-folded").count() == 0


def _search(page, q: str) -> list[str]:
    page.fill(".gs-search-input", "")
    page.fill(".gs-search-input", q)
    page.wait_for_function(
        "q => document.querySelector('.gs-search-input').value === q && "
        "document.querySelectorAll('.gs-search-result').length > 0",
        arg=q,
    )
    page.wait_for_timeout(250)  # the debounce has passed and the list is drawn
    return page.locator(".gs-search-result").all_inner_texts()


def _clear_of_the_legend(page) -> None:
    box, results = _rect(page, ".gs-search-input"), _rect(page, ".gs-search-results")
    legend = _rect(page, ".gs-legend")
    assert box and results and legend
    assert not _overlap(results, legend), (results, legend)
    assert not _overlap(box, legend), (box, legend)
    assert page.evaluate(_LIST_ON_TOP)
    viewport = page.viewport_size
    assert results["b"] <= viewport["height"] and results["r"] <= viewport["width"]


@pytest.mark.parametrize(
    ("screen", "path"),
    [("page", "/maps/overview"), ("phone", f"/maps/sites/{SITE[0]}")],
    ids=["desktop-1440x900", "phone-390x844"],
)
def test_the_site_comes_first_and_the_list_stays_clear_of_the_open_legend(
    request: pytest.FixtureRequest, screen: str, path: str
) -> None:
    page = request.getfixturevalue(screen)
    _open(page, path)
    _open_legend(page)
    for q in ("华丰", "hf"):
        results = _search(page, q)
        assert results[0].startswith(SITE[1]) and "建设工地" in results[0], results
        screenshot(page, f"maps-search-{screen}-{'pinyin' if q == 'hf' else 'name'}")
        _clear_of_the_legend(page)
    assert page.visit.outside == [] and page.visit.errors == []


@pytest.mark.parametrize(
    ("screen", "path"),
    [("page", "/maps/overview"), ("phone", f"/maps/sites/{SITE[0]}")],
    ids=["desktop-1440x900", "phone-390x844"],
)
def test_a_click_on_a_result_flies_to_the_site_and_opens_it(
    request: pytest.FixtureRequest, screen: str, path: str
) -> None:
    page = request.getfixturevalue(screen)
    _open(page, path)
    page.evaluate("GeoService.map.setView([30.25, 120.10], 12, {animate: false})")
    _open_legend(page)
    _search(page, "hf")
    page.click(".gs-search-result >> nth=0")
    page.wait_for_selector(".leaflet-popup-content")
    page.wait_for_timeout(400)
    assert SITE[1] in page.inner_text(".leaflet-popup-content")
    inside = page.evaluate(
        """code => { const m = GeoService.map;
                     return m.getBounds().contains(GeoService.sites[code].getBounds())
                            && m.getZoom() >= 15; }""",
        SITE[0],
    )
    assert inside
    assert page.locator(".gs-search-result").count() == 0  # the list closed
    screenshot(page, f"maps-search-{screen}-flown")
    assert page.visit.outside == [] and page.visit.errors == []


def test_on_a_phone_a_legend_opened_over_the_results_leaves_the_box_and_list_clear(phone) -> None:
    page = phone
    _open(page, f"/maps/sites/{SITE[0]}")
    assert page.locator(".gs-legend.gs-folded").count() == 1  # folded on a phone
    _search(page, "华丰")
    page.tap(".gs-legend .gs-fold")
    page.wait_for_timeout(200)
    box, legend = _rect(page, ".gs-search-input"), _rect(page, ".gs-legend-body")
    assert box and legend and not _overlap(box, legend)
    assert legend["b"] - legend["t"] >= 100  # room enough to read a section
    results = _rect(page, ".gs-search-results")
    assert results is None or not _overlap(results, _rect(page, ".gs-legend"))
    screenshot(page, "maps-search-phone-legend-opened")
    assert page.visit.outside == [] and page.visit.errors == []

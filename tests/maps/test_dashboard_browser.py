"""The dashboards in a real browser, on the demo season: the charts are drawn by the vendored
ECharts on a phone (390x844) in zh and en, nothing is fetched from outside, nothing overflows
the screen sideways."""

from __future__ import annotations

import pytest

from tests.maps.conftest import screenshot

SITE = "HF-01"
CHARTS = ("chart-category", "chart-community", "chart-funnel")


def _open(page, path: str) -> None:
    page.goto(page.base + path, wait_until="networkidle")
    page.wait_for_selector("#chart-category[data-drawn='true'] svg")


@pytest.mark.parametrize(("lang", "heading"), [("zh", "受影响住户"), ("en", "Affected households")])
def test_a_site_dashboard_draws_its_charts_on_a_phone(phone, lang: str, heading: str) -> None:
    _open(phone, f"/dashboards/sites/{SITE}?lang={lang}")
    assert heading in phone.inner_text("main")
    drawn = [c for c in CHARTS if phone.locator(f"#{c}[data-drawn='true'] svg").count()]
    assert drawn == list(CHARTS)
    assert int(phone.inner_text("#households")) > 0
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    screenshot(phone, f"dashboard-site-{lang}")
    assert phone.visit.outside == [] and phone.visit.errors == [], phone.visit
    scripts = phone.evaluate("[...document.scripts].map(s => s.src).filter(Boolean)")
    assert all(s.startswith(phone.base + "/static/maps/") for s in scripts), scripts


def test_the_all_sites_dashboard_lists_the_sites_for_a_planner(page) -> None:
    _open(page, "/dashboards")
    assert page.locator("#sites a[href^='/dashboards/sites/']").count() == 10
    screenshot(page, "dashboard-all")
    assert page.visit.outside == [] and page.visit.errors == [], page.visit

"""A monitor's page in a real browser, on the demo district and its minute data: the
charts are drawn by the vendored ECharts on a phone (390x844) in zh and en, nothing is
fetched from outside, nothing overflows the screen sideways. With
``GEO_SERVICE_README_SCREENSHOTS=1`` the zh screenshot refreshes the README's copy."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from tests.maps.conftest import ARTIFACTS, screenshot

MN = "DEMOHF0101"  # HF-01's dust and noise monitor on the boundary
CHARTS = ("chart-laeq", "chart-lmax", "chart-dust")
SHOWN = Path(__file__).resolve().parents[2] / "maps" / "screenshots"


@pytest.fixture(scope="module")
def week(demo_db: Engine) -> str:
    """The demo's monitor with its two weeks of minute data (``geo_service.demo.monitoring``:
    working days, quiet nights, a piling week, dusty afternoons)."""
    with demo_db.connect() as conn:
        minutes = conn.execute(
            text(
                "SELECT count(DISTINCT r.at) FROM readings r JOIN monitors m"
                " ON m.id = r.monitor_id WHERE m.mn = :mn"
            ),
            {"mn": MN},
        ).scalar_one()
    assert minutes > 7 * 24 * 60
    return MN


def _open(page, path: str) -> None:
    page.goto(page.base + path, wait_until="networkidle")
    for chart in CHARTS:
        page.wait_for_selector(f"#{chart}[data-drawn='true'] svg path", state="attached")


@pytest.mark.parametrize(("lang", "heading"), [("zh", "噪声 LAeq"), ("en", "Noise LAeq")])
def test_the_monitor_page_draws_its_charts_on_a_phone(
    phone, week: str, lang: str, heading: str
) -> None:
    _open(phone, f"/monitoring/monitors/{week}?span=7d&lang={lang}")
    assert heading in phone.inner_text("main")
    # The LAeq series and its limit line, drawn as paths in the SVG.
    assert phone.locator("#chart-laeq svg path").count() > 2
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    screenshot(phone, f"monitor-{lang}")
    assert phone.visit.outside == [] and phone.visit.errors == [], phone.visit
    scripts = phone.evaluate("[...document.scripts].map(s => s.src).filter(Boolean)")
    assert all(s.startswith(phone.base + "/static/maps/") for s in scripts), scripts

    phone.click("nav.spans a:nth-child(1)")  # 24 h: the same charts from the same rollups
    phone.wait_for_selector("nav.spans a[aria-current='page'][href^='?span=24h']")
    phone.wait_for_selector("#chart-laeq[data-drawn='true'] svg path", state="attached")
    assert phone.visit.errors == [], phone.visit


def test_the_readme_shows_the_monitor_page_taken_by_the_tests(phone, week: str) -> None:
    _open(phone, f"/monitoring/monitors/{week}?span=7d&lang=zh")
    screenshot(phone, "readme-monitor")
    if os.environ.get("GEO_SERVICE_README_SCREENSHOTS"):
        SHOWN.mkdir(exist_ok=True)
        shutil.copyfile(ARTIFACTS / "readme-monitor.png", SHOWN / "monitor.png")
    readme = (SHOWN.parents[1] / "README.md").read_text(encoding="utf-8")
    assert "](maps/screenshots/monitor.png)" in readme

"""A monitor's page in a real browser, on the demo district with a week of minute data: the
charts are drawn by the vendored ECharts on a phone (390x844) in zh and en, nothing is
fetched from outside, nothing overflows the screen sideways. With
``GEO_SERVICE_README_SCREENSHOTS=1`` the zh screenshot refreshes the README's copy."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from geo_service.monitoring import partitions, rollups
from tests.maps.conftest import ARTIFACTS, screenshot

MN = "DEMOHF0101"  # HF-01's dust and noise monitor on the boundary
CHARTS = ("chart-laeq", "chart-lmax", "chart-dust")
SHOWN = Path(__file__).resolve().parents[2] / "maps" / "screenshots"

# A week of minutes: works by day (60-70 dB(A), dust peaks past 80 ug/m3 at noon), quiet
# nights with one loud one, as a site's monitor sends them.
_WEEK = """
INSERT INTO readings (monitor_id, cn, factor, statistic, at, value, flag, received_at)
SELECT m.id, '2051', f.factor, f.statistic, t, f.value, 'N', t
FROM monitors m
CROSS JOIN generate_series(date_trunc('minute', now()) - interval '8 days',
                           date_trunc('minute', now()) - interval '1 minute',
                           interval '1 minute') AS t
CROSS JOIN LATERAL (SELECT extract(hour FROM t AT TIME ZONE 'Asia/Shanghai') AS h,
                           extract(epoch FROM t) AS s,
                           extract(day FROM t AT TIME ZONE 'Asia/Shanghai') AS d) c
CROSS JOIN LATERAL (SELECT CASE WHEN c.h BETWEEN 7 AND 17 THEN 64 + 5 * sin(c.s / 900)
                                WHEN c.h = 23 AND c.d::int % 4 = 0 THEN 58 + 3 * sin(c.s / 300)
                                ELSE 44 + 3 * sin(c.s / 1200) END AS leq) l
CROSS JOIN LATERAL (VALUES
    ('Leq', 'Data', round(CAST(l.leq AS numeric), 1)::float8),
    ('LMx', 'Data', round(CAST(l.leq + 11 + 3 * sin(c.s / 77) AS numeric), 1)::float8),
    ('a34002', 'Avg', round(CAST(CASE WHEN c.h BETWEEN 7 AND 17
                                      THEN 55 + 35 * sin((c.h - 7) / 10.0 * pi())
                                      ELSE 35 END + 5 * sin(c.s / 500) AS numeric), 1)::float8)
) AS f(factor, statistic, value)
WHERE m.mn = :mn"""


@pytest.fixture(scope="module")
def week(demo_db: Engine) -> Iterator[str]:
    with demo_db.begin() as conn:
        partitions.ensure_ahead(conn, conn.execute(text("SELECT now() - interval '40 days'"))
                                .scalar_one(), ahead=3)  # fmt: skip
        conn.execute(text(_WEEK), {"mn": MN})
        monitor = conn.execute(text("SELECT id FROM monitors WHERE mn = :mn"), {"mn": MN})
        monitor_id = monitor.scalar_one()
        rollups.rebuild(conn, partitions.ZONE, monitor_id)
    yield MN
    with demo_db.begin() as conn:
        conn.execute(text("DELETE FROM readings WHERE monitor_id = :m"), {"m": monitor_id})
        conn.execute(text("DELETE FROM reading_rollups WHERE monitor_id = :m"), {"m": monitor_id})


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

"""Monitors on the maps and their pages: each monitor in its state (normal, exceeding,
offline) on the site and overview maps, linking to its page; the monitor page and the
alarms list; prediction against measurement. Nothing personal on any of them."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from geo_service.monitoring import alarms, comparison, partitions, rollups
from geo_service.monitoring.alarms import floor
from geo_service.monitoring.states import monitor_states
from geo_service.settings import AlarmSettings, LiaisonSettings
from tests.monitoring.conftest import DAY, local, minutes, monitors  # noqa: F401

STATES = {"NOISY": "normal", "INDOOR": "exceeding", "DUSTY": "offline"}


@pytest.fixture
def now() -> dt.datetime:
    """The clock when the test starts: the pages read the real clock, so a time taken when
    the module was imported would leave every monitor offline by the time a late test runs."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


@pytest.fixture
def live(monitors: Engine, minutes: Callable[..., None], now: dt.datetime) -> Engine:  # noqa: F811
    """Now: NOISY reports within limits, INDOOR reports and was over its limit (an open
    alarm), DUSTY has sent nothing (offline)."""
    with monitors.begin() as conn:
        partitions.ensure_ahead(conn, now - dt.timedelta(days=40), ahead=3)
    window = floor(now - dt.timedelta(minutes=45), 20, partitions.ZONE)
    minutes("INDOOR", window, 20, leq=75.0, lmax=80.0)
    for mn in ("NOISY", "INDOOR"):
        minutes(mn, now - dt.timedelta(minutes=1), 1, leq=50.0, lmax=55.0)
    hour = floor(now - dt.timedelta(hours=3), 60, partitions.ZONE)
    minutes("DUSTY", hour, 60, pm10=100.0)
    with monitors.begin() as conn:
        rollups.rebuild(conn, partitions.ZONE)
        alarms.run(conn, AlarmSettings(), LiaisonSettings(), now=now)
    return monitors


def test_a_monitor_is_normal_exceeding_or_offline(live: Engine, now: dt.datetime) -> None:
    with live.connect() as conn:
        states = monitor_states(conn, AlarmSettings(), now)
        later = monitor_states(conn, AlarmSettings(), now + dt.timedelta(minutes=4))

    assert states == STATES
    # Three minutes of a 60 s interval without data: offline, as the offline alarm has it.
    assert later == {"NOISY": "offline", "INDOOR": "offline", "DUSTY": "offline"}


def _monitor_features(html: str) -> dict[str, str]:
    """The monitors a map page embeds, with their states."""
    return dict(re.findall(r'"mn" : "([^"]+)"[^}]*?"monitor_state" : "([^"]+)"', html))


def test_the_maps_draw_the_monitors_in_their_states_with_a_legend_and_links(
    client: TestClient, live: Engine
) -> None:
    zh = client.get("/maps/sites/AZF-2024-01").text
    en = client.get("/maps/overview", params={"lang": "en"}).text

    for page in (zh, en):
        assert _monitor_features(page) == STATES
        assert "/monitoring/monitors/{}" in page
        assert "password" not in page
    assert "监测设备状态" in zh and "超标告警中" in zh and "离线" in zh
    assert "Monitors: state" in en and "Exceeding" in en and "Open monitor page" in en


def test_a_reader_of_public_layers_sees_the_monitors_on_the_overview(
    client_as: Callable[..., TestClient], live: Engine
) -> None:
    page = client_as("gis").get("/maps/overview")

    assert page.status_code == 200
    assert _monitor_features(page.text) == STATES


def _figures(page: str) -> dict:
    found = re.search(r'<script type="application/json" id="monitor-data">(.*?)</script>', page)
    assert found, "the page carries its figures"
    return json.loads(found.group(1))["figures"]


def test_the_monitor_page_charts_the_laeq_against_the_indoor_limits_and_lists_its_alarms(
    client: TestClient, live: Engine
) -> None:
    page = client.get("/monitoring/monitors/INDOOR")
    assert page.status_code == 200, page.text
    figures = _figures(page.text)
    noise = figures["noise"]

    # GB 12523-2011 70 / 55 dB(A), indoors 10 dB lower; night Lmax: the limit + 15.
    assert (noise["day_limit"], noise["night_limit"], noise["lmax_limit"]) == (60.0, 45.0, 60.0)
    assert [p[1] for p in noise["laeq"]].count(75.0) == 1
    assert {p[2] for p in noise["laeq"]} <= {60.0, 45.0}
    assert figures["dust"] is None  # a noise monitor
    assert "监测数据" in page.text and "超标告警中" in page.text
    assert "噪声超标" in page.text and 'href="/monitoring/monitors/INDOOR?lang=zh"' in page.text
    assert "password" not in page.text and "<script>" not in page.text


def test_the_dust_page_draws_hourly_means_against_the_preset_limit_in_english(
    client: TestClient, live: Engine
) -> None:
    page = client.get("/monitoring/monitors/DUSTY", params={"lang": "en", "span": "7d"})
    assert page.status_code == 200
    dust = _figures(page.text)["dust"]

    assert dust["factor"] == "a34002" and dust["limit"] == 80.0
    assert [v for _, v in dust["means"]] == [100.0]
    assert page.text.index("Dust a34002 hourly means") < page.text.index("扬尘 a34002 小时均值")
    assert 'aria-current="page">7 d' in page.text and "Offline" in page.text


def test_unknown_monitors_and_bad_spans_and_filters_are_refused_by_name(
    client: TestClient, live: Engine
) -> None:
    unknown = client.get("/monitoring/monitors/NOPE")
    span = client.get("/monitoring/monitors/NOISY", params={"span": "1y"})
    state = client.get("/monitoring/alarms", params={"state": "burning"})
    kind = client.get("/monitoring/alarms", params={"kind": "smell", "lang": "en"})

    assert unknown.status_code == 404 and "NOPE" in unknown.text
    assert span.status_code == 400 and "24h, 7d, 30d" in span.text
    assert state.status_code == 400 and "auto_cleared" in state.text
    assert kind.status_code == 400 and "noise_lmax" in kind.text


def test_the_alarms_list_filters_by_site_state_and_kind_and_links_the_monitors(
    client: TestClient, live: Engine
) -> None:
    noise = client.get(
        "/monitoring/alarms", params={"site": "AZF-2024-01", "state": "open", "kind": "noise_laeq"}
    ).text
    dust = client.get("/monitoring/alarms", params={"kind": "dust", "lang": "en"}).text
    offline = client.get("/monitoring/alarms", params={"kind": "offline", "lang": "zh"}).text

    assert "共 1 条" in noise and 'href="/monitoring/monitors/INDOOR?lang=zh"' in noise
    assert "0 alarms" in dust and "No alarms." in dust
    assert 'href="/monitoring/monitors/DUSTY?lang=zh"' in offline


def test_readers_of_public_layers_see_the_pages_and_anonymous_callers_do_not(
    client_as: Callable[..., TestClient], anonymous: TestClient, live: Engine
) -> None:
    gis = client_as("gis")
    for path in ("/monitoring/monitors/INDOOR", "/monitoring/alarms"):
        assert gis.get(path).status_code == 200
        refused = anonymous.get(path)
        assert refused.status_code in (303, 401), refused.status_code
        assert "INDOOR" not in refused.text


# -- prediction against measurement --------------------------------------------------------
@pytest.fixture
def measured(monitors: Engine, minutes: Callable[..., None]) -> Engine:  # noqa: F811
    """A boundary monitor inside AZF-2024-01, whose only equipment is one breaker with 3 dB
    of attenuation; 31 May: an hour at 60 dB(A) and an hour at 70 by day, a night hour at
    80 (not counted); 1 June: three hours at 60."""
    with monitors.begin() as conn:
        conn.execute(text("DELETE FROM site_equipment WHERE site_id = 1"))
        conn.execute(text("DELETE FROM site_impact_settings WHERE site_id = 1"))
        conn.execute(
            text(
                "INSERT INTO site_equipment (site_id, phase, equipment_code, count, night_work,"
                " attenuation_db) VALUES (1, 'main', 'breaker', 1, false, 3)"
            )
        )
        conn.execute(
            text("""
INSERT INTO monitors (mn, site_id, name, st, kind, placement, password, interval_s, geom,
                      created_at)
SELECT 'INSIDE', 1, 'inside', '23', 'noise', 'boundary', 'pw', 60, ST_PointOnSurface(geom),
       '2026-01-01' FROM sites WHERE id = 1""")
        )
    minutes("INSIDE", local(9, day=DAY - dt.timedelta(days=1)), 60, leq=60.0)
    minutes("INSIDE", local(10, day=DAY - dt.timedelta(days=1)), 60, leq=70.0)
    minutes("INSIDE", local(23, day=DAY - dt.timedelta(days=1)), 60, leq=80.0)
    minutes("INSIDE", local(8), 180, leq=60.0)
    with monitors.begin() as conn:
        rollups.rebuild(conn, partitions.ZONE)
    return monitors


def test_the_comparison_puts_the_predicted_day_leq_beside_each_days_measured_laeq(
    measured: Engine,
) -> None:
    with measured.connect() as conn:
        got = comparison.site_comparison(
            conn, AlarmSettings(), "AZF-2024-01", partitions.ZONE, today=DAY
        )
    inside = next(m for m in got["monitors"] if m["mn"] == "INSIDE")
    days = {d["day"]: d for d in inside["days"]}

    # RCNM: 90 dB Lmax, 20 % use: 90 + 10 log10(0.2) - 3 dB at 15.24 m; inside the site the
    # model's 1 m minimum distance: + 20 log10(15.24 / 1).
    predicted = round(90 + 10 * math.log10(0.2) - 3 + 20 * math.log10(15.24), 1)
    assert inside["distance_m"] == 0.0 and inside["predicted_leq_day"] == predicted == 103.7
    # 31 May: the energy mean of an hour at 60 and one at 70; the night hour at 80 left out.
    may = round(10 * math.log10((10**6 + 10**7) / 2), 1)
    assert days["2026-05-31"]["measured_laeq_day"] == may == 67.4
    assert days["2026-05-31"]["minutes"] == 120
    assert days["2026-05-31"]["difference"] == round(may - predicted, 1)
    assert days["2026-06-01"] == {
        "day": "2026-06-01",
        "measured_laeq_day": 60.0,
        "minutes": 180,
        "predicted_leq_day": 103.7,
        "difference": -43.7,
    }
    assert len(inside["days"]) == 14 and days["2026-05-19"]["measured_laeq_day"] is None
    assert inside["mean_difference"] == round(((may - predicted) + (60 - predicted)) / 2, 1)
    assert "DUSTY" not in {m["mn"] for m in got["monitors"]}  # noise monitors only


def test_the_comparison_is_json_and_a_page_for_readers_of_the_monitors(
    client: TestClient,
    client_as: Callable[..., TestClient],
    anonymous: TestClient,
    measured: Engine,
) -> None:
    url = "/api/sites/AZF-2024-01/monitoring/comparison"
    data = client_as("gis").get(url)
    zh = client.get("/monitoring/sites/AZF-2024-01", params={"lang": "zh"})
    en = client.get("/monitoring/sites/AZF-2024-01", params={"lang": "en"})

    assert data.status_code == 200 and data.json()["site"] == "AZF-2024-01"
    assert {m["mn"] for m in data.json()["monitors"]} == {"INSIDE", "INDOOR", "NOISY"}
    assert zh.status_code == en.status_code == 200
    assert zh.text.index("预测与实测") < zh.text.index("prediction against measurement")
    assert en.text.index("Mean difference") < en.text.index("平均差值")
    assert 'id="comparison-data"' in zh.text and "103.7" in zh.text
    assert client.get("/api/sites/NO-SUCH-SITE/monitoring/comparison").status_code == 404
    assert anonymous.get(url).status_code == 401

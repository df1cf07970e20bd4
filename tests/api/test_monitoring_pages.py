"""Monitors on the maps and their pages: each monitor in its state (normal, exceeding,
offline) on the site and overview maps, linking to its page; the monitor page and the
alarms list; prediction against measurement. Nothing personal on any of them."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from geo_service.monitoring import alarms, partitions
from geo_service.monitoring.alarms import floor
from geo_service.monitoring.states import monitor_states
from geo_service.settings import AlarmSettings, LiaisonSettings
from tests.monitoring.conftest import minutes, monitors  # noqa: F401

STATES = {"NOISY": "normal", "INDOOR": "exceeding", "DUSTY": "offline"}
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


@pytest.fixture
def live(monitors: Engine, minutes: Callable[..., None]) -> Engine:  # noqa: F811
    """Now: NOISY reports within limits, INDOOR reports and was over its limit (an open
    alarm), DUSTY has sent nothing (offline)."""
    with monitors.begin() as conn:
        partitions.ensure_ahead(conn, NOW - dt.timedelta(days=40), ahead=3)
    window = floor(NOW - dt.timedelta(minutes=45), 20, partitions.ZONE)
    minutes("INDOOR", window, 20, leq=75.0, lmax=80.0)
    for mn in ("NOISY", "INDOOR"):
        minutes(mn, NOW - dt.timedelta(minutes=1), 1, leq=50.0, lmax=55.0)
    with monitors.begin() as conn:
        alarms.run(conn, AlarmSettings(), LiaisonSettings(), now=NOW)
    return monitors


def test_a_monitor_is_normal_exceeding_or_offline(live: Engine) -> None:
    with live.connect() as conn:
        states = monitor_states(conn, AlarmSettings(), NOW)
        later = monitor_states(conn, AlarmSettings(), NOW + dt.timedelta(minutes=4))

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

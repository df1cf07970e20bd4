"""The simulator plays a season a liaison team would recognise, in valid HJ 212 packets."""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict

import pytest

from geo_service.monitoring import hj212
from geo_service.monitoring.simulator import Monitor, Season, packets

START = dt.date(2026, 6, 1)  # a Monday
NOISE = Monitor("SIM-NOISE-01", "123456", "noise")
DUST = Monitor("SIM-DUST-01", "654321", "dust", crc_mode="modbus", dust_unit="mg/m3")


Played = tuple[Season, dict[str, list[tuple[dt.datetime, hj212.Data]]]]


@pytest.fixture(scope="module")
def played() -> Played:
    """Two weeks of both monitors, every packet parsed back (once for the module)."""
    season = Season.demo(START, offline_mn=DUST.mn)
    seen = defaultdict(list)
    for t, monitor, raw in packets([NOISE, DUST], season):
        packet = hj212.parse(raw, crc_mode=monitor.crc_mode)
        assert packet.cn == "2051" and packet.mn == monitor.mn and packet.ack_requested
        seen[monitor.mn].append((t, packet.data()))
    return season, seen


def _laeq(levels: list[float]) -> float:
    return 10 * math.log10(sum(10 ** (x / 10) for x in levels) / len(levels))


def _noise(data: hj212.Data, factor: str) -> float:
    return next(r.value for r in data.readings if r.factor == factor)


def test_two_weeks_of_minute_packets_with_an_offline_monitor(played: Played) -> None:
    _, seen = played
    assert len(seen[NOISE.mn]) == 14 * 24 * 60
    assert len(seen[DUST.mn]) == 12 * 24 * 60  # silent for the last two days
    t, data = seen[NOISE.mn][0]
    assert data.data_time == t == dt.datetime(2026, 6, 1, 0, 0)


def test_working_days_are_loud_and_nights_quiet_with_one_unpermitted_night(
    played: Played,
) -> None:
    season, seen = played
    by_hour = defaultdict(list)
    for t, data in seen[NOISE.mn]:
        by_hour[(t.date(), t.hour)].append(_noise(data, "Leq"))
    monday = START
    assert _laeq(by_hour[(monday, 10)]) > 62  # work
    assert _laeq(by_hour[(monday, 3)]) < 52  # night
    assert _laeq(by_hour[(START + dt.timedelta(days=6), 10)]) < 55  # Sunday
    night = season.unpermitted_night
    assert night is not None and _laeq(by_hour[(night, 23)]) > 58  # work at night


def test_the_piling_week_has_lmax_over_88_and_dusty_days_pm10_over_150(played: Played) -> None:
    season, seen = played
    assert season.pile_driving is not None
    piling = [
        _noise(d, "LMx")
        for t, d in seen[NOISE.mn]
        if season.pile_driving[0] <= t.date() <= season.pile_driving[1] and t.hour == 10
    ]
    assert min(piling) >= 88
    dusty = min(season.dusty_days)
    pm10 = [
        next(r for r in d.readings if r.factor == "a34002")
        for t, d in seen[DUST.mn]
        if t.date() == dusty and 14 <= t.hour < 16
    ]
    # mg/m3 as this device reports it: 150 ug/m3 is 0.150
    assert sum(r.value for r in pm10) / len(pm10) > 0.150 and {r.flag for r in pm10} == {"N"}


def test_a_seed_plays_the_same_season_again() -> None:
    season = Season(START, 1)
    first = [raw for _, _, raw in packets([NOISE], season, seed=7)]
    assert first == [raw for _, _, raw in packets([NOISE], season, seed=7)]
    assert first != [raw for _, _, raw in packets([NOISE], season, seed=8)]

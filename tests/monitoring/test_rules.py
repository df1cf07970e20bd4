"""The rules at their edges: 22:00 exactly, 75% valid minutes, the indoor offset, Lmax at
night, the dust count per day, offline after three intervals."""

from __future__ import annotations

import datetime as dt

import pytest

from geo_service.monitoring import rules

T0 = dt.datetime(2026, 6, 1, 21, 40)


def test_day_and_night_follow_the_configured_hours_and_22_00_is_night() -> None:
    rule = rules.noise_rule()
    assert rule.period(dt.time(21, 59, 59)) == "day"
    assert rule.period(dt.time(22, 0)) == "night"
    assert rule.period(dt.time(5, 59)) == "night"
    assert rule.period(dt.time(6, 0)) == "day"
    later = rules.noise_rule({"day_end": "23:00"})  # a city's own hours
    assert later.period(dt.time(22, 30)) == "day"


def test_limits_are_gb_12523_and_indoors_10_db_lower() -> None:
    rule = rules.noise_rule()
    assert rule.limits("boundary", "day") == (70.0, None)
    assert rule.limits("boundary", "night") == (55.0, 70.0)
    assert rule.limits("indoor", "day") == (60.0, None)
    assert rule.limits("indoor", "night") == (45.0, 60.0)
    assert rule.limits("facade", "night") == (55.0, 70.0)


def _minutes(n_valid: int, level: float = 72.0, lmax: float = 75.0, n: int = 20):
    return [(level, lmax, "N")] * n_valid + [(90.0, 99.0, "D")] * (n - n_valid)


def test_a_window_counts_from_75_percent_valid_minutes() -> None:
    rule = rules.noise_rule()
    at_75 = rule.window(T0, _minutes(15), "boundary")
    assert at_75.valid and at_75.exceeds and at_75.laeq == 72.0  # the fault minutes left out
    assert at_75.valid_fraction == 0.75
    below = rule.window(T0, _minutes(14), "boundary")
    assert not below.valid and not below.exceeds
    # Real-time data every 30 s: 40 expected; 29 valid is 72.5 %, 30 is 75 %.
    real_time = [(72.0, None, "N")] * 29
    assert not rule.window(T0, real_time, "boundary", expected=40).valid
    assert rule.window(T0, [*real_time, (72.0, None, "T")], "boundary", expected=40).valid


def test_a_74_percent_window_is_not_counted_however_loud() -> None:
    rule = rules.noise_rule()
    readings = [(95.0, 99.0, "N")] * 37 + [(95.0, 99.0, "M")] * 13  # 37/50 = 74 %
    window = rule.window(T0, readings, "boundary", expected=50)
    assert window.valid_fraction == 0.74 and not window.valid and not window.exceeds


def test_the_limit_itself_is_not_an_exceedance_and_laeq_is_an_energy_mean() -> None:
    rule = rules.noise_rule()
    assert not rule.window(T0, [(70.0, None, "N")] * 20, "boundary").exceeds
    assert rule.window(T0, [(70.1, None, "N")] * 20, "boundary").exceeds
    mixed = rule.window(T0, [(60.0, None, "N")] * 10 + [(80.0, None, "N")] * 10, "boundary")
    assert mixed.laeq == 77.0  # not 70: the loud half dominates


def test_at_night_lmax_may_exceed_the_limit_by_15_db_and_no_more() -> None:
    rule = rules.noise_rule()
    night = dt.datetime(2026, 6, 1, 22, 0)
    assert not rule.window(night, [(50.0, 70.0, "N")] * 20, "boundary").lmax_exceeds
    over = rule.window(night, [(50.0, 70.1, "N")] * 20, "boundary")
    assert over.lmax_exceeds and not over.exceeds and over.period == "night"
    indoors = rule.window(night, [(44.0, 61.0, "N")] * 20, "indoor")
    assert indoors.lmax_exceeds and not indoors.exceeds
    day = rule.window(T0, [(50.0, 99.0, "N")] * 20, "boundary")
    assert not day.lmax_exceeds  # no Lmax limit by day


def test_dust_alarm_days_have_more_exceedances_than_the_preset_allows() -> None:
    rule = rules.dust_rule()  # Hebei DB13/2934-2019: hourly PM10 over 80, at most 2 a day
    assert (rule.factor, rule.window_minutes, rule.limit_ug_m3) == ("a34002", 60, 80.0)
    day = dt.datetime(2026, 6, 3)
    hours = [day + dt.timedelta(hours=h) for h in range(24)]
    two = [(hours[9], 81.0), (hours[10], 120.0), (hours[11], 80.0)]  # 80 is not over
    assert rule.alarm_days(two) == {}
    three = [*two, (hours[15], 90.0)]
    assert rule.alarm_days(three) == {day.date(): 3}
    assert rules.dust_rule({"allowed_per_day": 3}).alarm_days(three) == {}


def test_a_preset_without_a_limit_must_be_given_one_and_unknown_names_are_refused() -> None:
    with pytest.raises(ValueError, match="no limit_ug_m3"):
        rules.dust_rule({"preset": "shanghai_db31_964_2016"})
    shanghai = rules.dust_rule({"preset": "shanghai_db31_964_2016", "limit_ug_m3": 150})
    assert (shanghai.window_minutes, shanghai.allowed_per_day) == (15, 1)
    with pytest.raises(ValueError, match="unknown dust preset 'beijing'"):
        rules.dust_rule({"preset": "beijing"})
    with pytest.raises(ValueError, match="unknown noise rule settings: day_limt"):
        rules.noise_rule({"day_limt": 65})


def test_units_and_offline() -> None:
    assert rules.to_ug_m3(0.086, "mg/m3") == pytest.approx(86.0)
    assert rules.to_ug_m3(86.0, "ug/m3") == 86.0
    with pytest.raises(ValueError, match="unknown unit 'ppm'"):
        rules.to_ug_m3(1.0, "ppm")
    now = dt.datetime(2026, 6, 1, 12, 0)
    assert not rules.offline(now - dt.timedelta(seconds=179), now, 60)
    assert rules.offline(now - dt.timedelta(seconds=180), now, 60)
    assert rules.offline(None, now, 60)

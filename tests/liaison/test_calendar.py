"""Working days on China's official calendar: weekends, National Day 2026 and its make-up
Saturday (10 October), and the clock standing still."""

from __future__ import annotations

import datetime as dt

from geo_service.liaison.calendar import (
    TZ,
    add_working_days,
    add_working_time,
    covered,
    is_workday,
    working_time_between,
)


def at(day: str, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), TZ)


def test_the_installed_calendar_knows_2026_and_its_make_up_saturday() -> None:
    assert covered(dt.date(2026, 10, 10))
    assert is_workday(dt.date(2026, 10, 10))  # Saturday, worked for National Day
    assert not is_workday(dt.date(2026, 10, 1))
    assert not is_workday(dt.date(2026, 10, 7))
    assert not is_workday(dt.date(2026, 10, 11))  # the Sunday after is a rest day


def test_ten_working_days_across_a_weekend() -> None:
    # Friday 6 November 2026: 6, 9-13, 16-19 and the 20th until 10:00.
    assert add_working_days(at("2026-11-06"), 10) == at("2026-11-20")


def test_ten_working_days_across_national_day_and_its_make_up_saturday() -> None:
    # Monday 28 September: 28-30, 8, 9, 10 (Saturday, worked), 12-15, and the 16th at 10:00.
    assert add_working_days(at("2026-09-28"), 10) == at("2026-10-16")
    # Without the make-up Saturday it would be the 19th; with a plain Mon-Fri week the 12th.


def test_a_request_made_on_a_rest_day_starts_counting_on_the_next_working_day() -> None:
    assert add_working_days(at("2026-11-07", 15), 1) == at("2026-11-10", 0)


def test_paused_working_time_moves_the_due_time_by_working_days_only() -> None:
    paused = working_time_between(at("2026-11-13"), at("2026-11-16"))  # Friday to Monday
    assert paused == dt.timedelta(days=1)
    assert add_working_time(at("2026-11-20"), paused) == at("2026-11-23")


def test_years_the_calendar_does_not_know_count_monday_to_friday() -> None:
    assert not covered(dt.date(2030, 1, 7))
    assert is_workday(dt.date(2030, 1, 7)) and not is_workday(dt.date(2030, 1, 5))
    assert add_working_days(at("2029-12-28"), 1) == at("2029-12-31")

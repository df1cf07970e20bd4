"""Working time on China's official calendar: holidays and the make-up working days
(调休) that the State Council announces each year, from ``chinese_calendar``.

A request's resolve clock counts working days: its due time is the moment at which
``N`` whole working days (24 h of each, Asia/Shanghai) have passed since it started. A
request made on Saturday starts counting on Monday 00:00; one made on Monday 10:00 with
N = 10 is due at 10:00 of the tenth working day after. While a request waits for the
resident the clock stands still: the due time moves by the working time that passed.

``chinese_calendar`` knows the years the State Council has announced (1.11: 2004-2026);
beyond them every Monday to Friday counts as a working day until the package is updated
(``covered`` says whether a day is known). A due time is fixed when it is set, so a later
announcement does not move deadlines already given.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar

TZ = ZoneInfo("Asia/Shanghai")
DAY = dt.timedelta(days=1)
# The years a moment people record (a visit, a notice posted, a request reported) may lie
# in. PostgreSQL stores 0001-01-01T00:00+08:00 as 1 BC in UTC and 9999-12-31T23:59-12:00
# as 10000, which Python cannot read back: a list holding one would be a 500 from then on.
YEARS = range(1900, 3000)


def plausible(moment: dt.datetime | dt.date) -> bool:
    """Whether ``moment`` lies in ``YEARS`` (a mistyped 0001 or 9999 does not)."""
    return moment.year in YEARS


def covered(day: dt.date) -> bool:
    """Whether the installed calendar knows this day's holidays."""
    try:
        chinese_calendar.is_workday(day)
    except NotImplementedError:
        return False
    return True


@lru_cache(maxsize=4096)
def is_workday(day: dt.date) -> bool:
    """A working day in China: make-up Saturdays are, holidays are not (remembered: the
    SLA pass asks about the same few weeks for every open request)."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:  # a year not yet announced
        return day.weekday() < 5


def _local(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    return moment.astimezone(TZ)


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), TZ)


def working_time_between(start: dt.datetime, end: dt.datetime) -> dt.timedelta:
    """The working time from ``start`` to ``end`` (zero when end is not after start)."""
    start, end = _local(start), _local(end)
    total = dt.timedelta()
    day = start.date()
    while _midnight(day) < end:
        if is_workday(day):
            total += min(end, _midnight(day + DAY)) - max(start, _midnight(day))
        day += DAY
    return total


def add_working_time(start: dt.datetime, amount: dt.timedelta) -> dt.datetime:
    """The moment at which ``amount`` of working time has passed since ``start``."""
    moment, left = _local(start), amount
    while True:
        day = moment.date()
        if is_workday(day):
            rest = _midnight(day + DAY) - moment
            if left <= rest:
                return moment + left
            left -= rest
        moment = _midnight(day + DAY)


def add_working_days(start: dt.datetime, days: int) -> dt.datetime:
    """``days`` whole working days after ``start``."""
    return add_working_time(start, days * DAY)

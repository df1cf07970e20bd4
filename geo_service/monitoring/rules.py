"""The rules readings are held against: GB 12523-2011 for noise, a dust preset, offline.

Values come from data (``reference/noise.yaml`` for the limits and day hours,
``reference/monitoring.yaml`` for windows, valid flags and dust presets); a city or a site
overrides any of them by name (``noise_rule(overrides)``, ``dust_rule(overrides)``).

Windows are aligned to the clock (20-minute noise windows start at :00, :20 and :40), so a
window never straddles 06:00 or 22:00: it belongs to the period it starts in, and the one
that starts at 22:00 exactly is the first night window.

Example::

    >>> rule = noise_rule()
    >>> rule.period(dt.time(22, 0)), rule.limits("indoor", "day")
    ('night', (60.0, None))
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml

from geo_service import noise

Period = Literal["day", "night"]
Placement = Literal["boundary", "facade", "indoor"]
PLACEMENTS: tuple[Placement, ...] = ("boundary", "facade", "indoor")


@cache
def monitoring_data() -> dict[str, Any]:
    """``reference/monitoring.yaml``."""
    text = resources.files("geo_service.reference").joinpath("monitoring.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def _time(value: str) -> dt.time:
    return dt.time.fromisoformat(value)


@dataclass(frozen=True)
class NoiseWindow:
    """One window's verdict: its LAeq and Lmax over the valid minutes, and the limits."""

    start: dt.datetime
    period: Period
    laeq: float | None
    lmax: float | None
    valid_fraction: float
    valid: bool
    limit: float
    lmax_limit: float | None
    exceeds: bool
    lmax_exceeds: bool


@dataclass(frozen=True)
class NoiseRule:
    day_limit: float
    night_limit: float
    night_lmax_excess: float
    day_start: dt.time
    day_end: dt.time
    window_minutes: int
    valid_fraction: float
    valid_flags: frozenset[str]
    indoor_offset_db: float

    def period(self, at: dt.time | dt.datetime) -> Period:
        """Day from ``day_start`` (inclusive) to ``day_end`` (exclusive): 22:00 is night."""
        t = at.time() if isinstance(at, dt.datetime) else at
        return "day" if self.day_start <= t < self.day_end else "night"

    def limits(self, placement: Placement, period: Period) -> tuple[float, float | None]:
        """(LAeq limit, Lmax limit or None by day); indoors both are ``indoor_offset_db``
        lower (GB 12523-2011 4.3)."""
        offset = self.indoor_offset_db if placement == "indoor" else 0.0
        if period == "day":
            return self.day_limit + offset, None
        return self.night_limit + offset, self.night_limit + offset + self.night_lmax_excess

    def window(
        self,
        start: dt.datetime,
        minutes: Iterable[tuple[float, float | None, str | None]],
        placement: Placement,
        expected: int | None = None,
    ) -> NoiseWindow:
        """The verdict on one window from its readings (Leq, Lmax, flag), one per expected
        interval (``expected``: how many the window should hold, the window's minutes by
        default); readings with other flags are left out, and so is a window with fewer
        than ``valid_fraction`` of them valid."""
        rows = list(minutes)
        expected = expected or self.window_minutes
        valid = [(leq, lmax) for leq, lmax, flag in rows if (flag or "N") in self.valid_flags]
        fraction = len(valid) / expected
        period = self.period(start)
        limit, lmax_limit = self.limits(placement, period)
        laeq = energy_mean([leq for leq, _ in valid])
        lmaxes = [lmax for _, lmax in valid if lmax is not None]
        lmax = max(lmaxes) if lmaxes else None
        counted = fraction >= self.valid_fraction
        return NoiseWindow(
            start=start,
            period=period,
            laeq=None if laeq is None else round(laeq, 1),
            lmax=lmax,
            valid_fraction=round(fraction, 3),
            valid=counted,
            limit=limit,
            lmax_limit=lmax_limit,
            exceeds=counted and laeq is not None and round(laeq, 1) > limit,
            lmax_exceeds=counted
            and lmax is not None
            and lmax_limit is not None
            and lmax > lmax_limit,
        )


def energy_mean(levels: list[float]) -> float | None:
    """LAeq of equal intervals: the levels' energy sum less 10 log10 of their number."""
    total = noise.energy_sum(levels)
    return None if total is None else total - 10 * math.log10(len(levels))


def noise_rule(overrides: Mapping[str, Any] | None = None) -> NoiseRule:
    """GB 12523-2011 as the data gives it, with a city's or a site's overrides by name."""
    model, data = noise.model(), monitoring_data()["noise"]
    rule = NoiseRule(
        day_limit=float(model["site_boundary"]["day"]),
        night_limit=float(model["site_boundary"]["night"]),
        night_lmax_excess=float(model["site_boundary"]["night_lmax_excess"]),
        day_start=_time(model["day_hours"]["start"]),
        day_end=_time(model["day_hours"]["end"]),
        window_minutes=int(data["window_minutes"]),
        valid_fraction=float(data["valid_fraction"]),
        valid_flags=frozenset(data["valid_flags"]),
        indoor_offset_db=float(data["indoor_offset_db"]),
    )
    return _overridden(rule, overrides)


@dataclass(frozen=True)
class DustRule:
    preset: str
    factor: str
    window_minutes: int
    limit_ug_m3: float
    allowed_per_day: int
    valid_flags: frozenset[str]
    valid_fraction: float = 0.75

    def alarm_days(self, means: Iterable[tuple[dt.datetime, float]]) -> dict[dt.date, int]:
        """The local days with more than ``allowed_per_day`` window means above the limit,
        and how many there were (a mean equal to the limit is not above it)."""
        over = Counter(start.date() for start, value in means if value > self.limit_ug_m3)
        return {day: n for day, n in sorted(over.items()) if n > self.allowed_per_day}


def dust_rule(overrides: Mapping[str, Any] | None = None) -> DustRule:
    """The configured dust preset (``dust_preset``, or ``overrides["preset"]``) with overrides;
    a preset without a limit cannot be used until one is entered."""
    data = dict(monitoring_data())
    name = (overrides or {}).get("preset", data["dust_preset"])
    presets = data["dust_presets"]
    if name not in presets:
        raise ValueError(f"unknown dust preset {name!r}; presets are: {', '.join(presets)}")
    preset = presets[name]
    values = {**preset, **{k: v for k, v in (overrides or {}).items() if k != "preset"}}
    if values.get("limit_ug_m3") is None:
        raise ValueError(f"dust preset {name!r} has no limit_ug_m3: enter the city's value")
    return DustRule(
        preset=name,
        factor=str(values["factor"]),
        window_minutes=int(values["window_minutes"]),
        limit_ug_m3=float(values["limit_ug_m3"]),
        allowed_per_day=int(values["allowed_per_day"]),
        valid_flags=frozenset(data["dust_valid_flags"]),
        valid_fraction=float(values.get("valid_fraction", data["dust_valid_fraction"])),
    )


def _overridden(rule: NoiseRule, overrides: Mapping[str, Any] | None) -> NoiseRule:
    if not overrides:
        return rule
    unknown = set(overrides) - set(rule.__dataclass_fields__)
    if unknown:
        raise ValueError(f"unknown noise rule settings: {', '.join(sorted(unknown))}")
    converted = {
        key: _time(value) if key in ("day_start", "day_end") and isinstance(value, str) else value
        for key, value in overrides.items()
    }
    return replace(rule, **converted)


UNITS_TO_UG_M3 = {"ug/m3": 1.0, "µg/m3": 1.0, "mg/m3": 1000.0}


def to_ug_m3(value: float, unit: str) -> float:
    """A particulate concentration in ug/m3, whatever the device reports it in."""
    try:
        return value * UNITS_TO_UG_M3[unit]
    except KeyError:
        raise ValueError(f"unknown unit {unit!r}; units are: {', '.join(UNITS_TO_UG_M3)}") from None


def offline(last_seen: dt.datetime | None, now: dt.datetime, interval_s: int) -> bool:
    """No data for ``offline_after_intervals`` expected reporting intervals (or ever)."""
    if last_seen is None:
        return True
    intervals = monitoring_data()["offline_after_intervals"]
    return (now - last_seen).total_seconds() >= intervals * interval_s

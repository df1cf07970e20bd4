"""Packets a site's monitors would send: the demo's, the tests' and the benchmark's.

Minute data (CN 2051) in HJ 212-2017, deterministic for a seed, with what a liaison team
sees in a real season: a working-day noise profile (07:00-12:00 and 13:00-20:00 loud, a
lunch break, quiet nights and Sundays), a pile-driving week (Lmax over 90 dB(A)), dust
episodes on dry windy afternoons (PM10 over 150 ug/m3), one night of unpermitted work, and
a monitor that goes offline for a while. Levels are what monitors at a site boundary
report: background 45-52 dB(A), equipment 60-75 dB(A).
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from geo_service.monitoring import factors, hj212

Kind = Literal["noise", "dust", "both"]
ST_BY_KIND = {"noise": "23", "dust": "39", "both": "39"}


@dataclass(frozen=True)
class Monitor:
    """What the simulator needs of a monitor: its identity and what it measures."""

    mn: str
    pw: str
    kind: Kind
    crc_mode: hj212.CrcMode = "hj212"
    dust_unit: Literal["ug/m3", "mg/m3"] = "ug/m3"

    @property
    def st(self) -> str:
        return ST_BY_KIND[self.kind]


@dataclass(frozen=True)
class Season:
    """The episodes of a simulated stretch of days (local times, Asia/Shanghai)."""

    start: dt.date
    days: int
    pile_driving: tuple[dt.date, dt.date] | None = None
    dusty_days: frozenset[dt.date] = frozenset()
    unpermitted_night: dt.date | None = None  # from 23:00 that night to 02:00
    offline: dict[str, tuple[dt.datetime, dt.datetime]] = field(default_factory=dict)

    @classmethod
    def demo(cls, start: dt.date, days: int = 14, offline_mn: str | None = None) -> Season:
        """Two weeks: piling in the second week, two dusty days, one unpermitted night, and
        (if named) one monitor silent for the last two days."""
        offline = {}
        if offline_mn:
            until = dt.datetime.combine(start + dt.timedelta(days=days), dt.time())
            offline[offline_mn] = (until - dt.timedelta(days=2), until)
        return cls(
            start=start,
            days=days,
            pile_driving=(start + dt.timedelta(days=7), start + dt.timedelta(days=11)),
            dusty_days=frozenset({start + dt.timedelta(days=3), start + dt.timedelta(days=9)}),
            unpermitted_night=start + dt.timedelta(days=5),
            offline=offline,
        )


def _working(t: dt.datetime) -> bool:
    """Work hours: Monday to Saturday, 07:00-12:00 and 13:00-20:00."""
    return t.weekday() < 6 and (7 <= t.hour < 12 or 13 <= t.hour < 20)


def _night_work(season: Season, t: dt.datetime) -> bool:
    night = season.unpermitted_night
    if night is None:
        return False
    begin = dt.datetime.combine(night, dt.time(23))
    return begin <= t < begin + dt.timedelta(hours=3)


def noise_minute(season: Season, t: dt.datetime, rng: random.Random) -> tuple[float, float]:
    """(Leq, Lmax) of the minute starting at ``t``, dB(A)."""
    background = 47 + 4 * math.sin(math.pi * (t.hour + t.minute / 60 - 4) / 24) ** 2
    leq = background + rng.gauss(0, 1.2)
    if _working(t) or _night_work(season, t):
        leq = 10 * math.log10(10 ** (leq / 10) + 10 ** ((64 + rng.gauss(0, 3)) / 10))
    piling = season.pile_driving and season.pile_driving[0] <= t.date() <= season.pile_driving[1]
    lmax = leq + 6 + abs(rng.gauss(0, 3))
    if piling and _working(t):
        leq += 6 + rng.gauss(0, 1.5)
        lmax = max(lmax, 88 + abs(rng.gauss(0, 4)))
    return round(leq, 1), round(lmax, 1)


def dust_minute(season: Season, t: dt.datetime, rng: random.Random) -> dict[str, float]:
    """PM10, PM2.5, TSP (ug/m3) and the weather of the minute starting at ``t``."""
    dusty = t.date() in season.dusty_days
    pm10 = 45 + 15 * math.sin(math.pi * t.hour / 24) + rng.gauss(0, 6)
    if _working(t):
        pm10 += 15 + rng.gauss(0, 5)
    wind, humidity = 1.5 + rng.random() * 2, 65 + rng.gauss(0, 8)
    if dusty and 12 <= t.hour < 18:
        pm10 += 110 + rng.gauss(0, 25)
        wind, humidity = 6 + rng.random() * 3, 30 + rng.gauss(0, 4)
    pm10 = max(pm10, 5.0)
    return {
        "a34002": round(pm10, 1),
        "a34004": round(pm10 * (0.45 + rng.random() * 0.1), 1),
        "a34001": round(pm10 * (1.5 + rng.random() * 0.2), 1),
        "a01007": round(wind, 1),
        "a01002": round(min(max(humidity, 10), 100), 1),
        "a01001": round(18 + 6 * math.sin(math.pi * (t.hour - 8) / 12) + rng.gauss(0, 0.5), 1),
    }


# One reading of a minute packet: factor, statistic, value (particulates in ug/m3), flag.
Reading = tuple[str, str, float, str | None]


def minute_readings(
    monitor: Monitor, season: Season, t: dt.datetime, rng: random.Random
) -> list[Reading]:
    """What one minute's data packet says (CN 2051), as the readings it becomes."""
    out: list[Reading] = []
    if monitor.kind in ("dust", "both"):
        for code, value in dust_minute(season, t, rng).items():
            out.append((code, "Avg", value, "N" if code in factors.PARTICULATES else None))
    if monitor.kind in ("noise", "both"):
        leq, lmax = noise_minute(season, t, rng)
        out += [("Leq", "Data", leq, None), ("LMx", "Data", lmax, None)]
    return out


def minute_cp(monitor: Monitor, season: Season, t: dt.datetime, rng: random.Random) -> str:
    """The CP of one minute's data packet (CN 2051: DataTime is the minute's start);
    particulates in the monitor's unit."""
    items = [f"DataTime={t:%Y%m%d%H%M%S}"]
    scale = 1000 if monitor.dust_unit == "mg/m3" else 1
    for code, statistic, value, flag in minute_readings(monitor, season, t, rng):
        shown = f"{value / scale:.4f}" if scale > 1 and code in factors.PARTICULATES else value
        items.append(f"{code}-{statistic}={shown}" + (f",{code}-Flag={flag}" if flag else ""))
    return ";".join(items)


def packets(
    monitors: list[Monitor], season: Season, seed: int = 212
) -> Iterator[tuple[dt.datetime, Monitor, bytes]]:
    """Every monitor's minute packets in time order; a monitor is silent while offline.

    The packet's QN is the minute it was sent (one minute after the data's start)."""
    rngs = {m.mn: random.Random(f"{seed}:{m.mn}") for m in monitors}
    first = dt.datetime.combine(season.start, dt.time())
    for minute in range(season.days * 24 * 60):
        t = first + dt.timedelta(minutes=minute)
        for monitor in monitors:
            silent = season.offline.get(monitor.mn)
            if silent and silent[0] <= t < silent[1]:
                continue
            sent = t + dt.timedelta(minutes=1)
            yield (
                t,
                monitor,
                hj212.build(
                    qn=f"{sent:%Y%m%d%H%M%S}000",
                    st=monitor.st,
                    cn="2051",
                    pw=monitor.pw,
                    mn=monitor.mn,
                    cp=minute_cp(monitor, season, t, rngs[monitor.mn]),
                    flag=(hj212.FLAG_VERSION_2017 << 2) | 1,
                    crc_mode=monitor.crc_mode,
                ),
            )

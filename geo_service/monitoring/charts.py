"""What a monitor's page draws: its 20-minute LAeq against the day and night limits, the
night Lmax against its limit, dust hourly means against the preset's limit, over the last
24 hours, 7 or 30 days, all read from the rollups (``reading_rollups``).

The limits are the ones the alarms hold the monitor to (``alarms.noise_rule_for``: the
data, the city's values, the site's; indoors 10 dB lower, ``NoiseRule.limits``), so the line
on the chart is the line an alarm is raised at. Times are the devices' local wall time
(``YYYY-MM-DD HH:MM``), as people on site read a clock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, text

from geo_service.errors import InvalidQuery, NotFound
from geo_service.monitoring import rules
from geo_service.monitoring.alarms import dust_rule_for, noise_rule_for
from geo_service.settings import AlarmSettings

# The spans the page switches between, and how far back each reaches.
SPANS: dict[str, dt.timedelta] = {
    "24h": dt.timedelta(hours=24),
    "7d": dt.timedelta(days=7),
    "30d": dt.timedelta(days=30),
}
# The rollups drawn: (factor, statistic, period). Dust's factor is the preset's.
LAEQ = ("Leq", "Data", "20min")
LMAX = ("LMx", "Data", "20min")
DUST_STATISTIC, DUST_PERIOD = "Avg", "1h"


def span(value: str) -> dt.timedelta:
    """``24h``, ``7d`` or ``30d``; anything else is refused naming them."""
    try:
        return SPANS[value]
    except KeyError:
        raise InvalidQuery(f"span={value!r} is not one of: {', '.join(SPANS)}") from None


@dataclass(frozen=True)
class MonitorRow:
    id: int
    mn: str
    name: str | None
    kind: str
    placement: rules.Placement
    interval_s: int
    site_id: int
    site: str
    site_name: str
    noise: dict[str, Any]
    dust: dict[str, Any]


_MONITOR = """
SELECT m.id, m.mn, m.name, m.kind, m.placement, m.interval_s, m.site_id, s.code AS site,
       s.name AS site_name, coalesce(r.noise, '{}'::jsonb) AS noise,
       coalesce(r.dust, '{}'::jsonb) AS dust
FROM monitors m JOIN sites s ON s.id = m.site_id
LEFT JOIN monitoring_rules r ON r.site_code = s.code
WHERE m.mn = :mn"""


def monitor(conn: Connection, mn: str) -> MonitorRow:
    row = conn.execute(text(_MONITOR), {"mn": mn}).mappings().first()
    if row is None:
        raise NotFound(f"no monitor has MN {mn!r}")
    return MonitorRow(**row)


_SERIES = """
SELECT start, round(CAST(value AS numeric), 2)::float8 AS value FROM reading_rollups
WHERE monitor_id = :m AND factor = :factor AND statistic = :statistic AND period = :period
  AND start >= :start AND start < :end
ORDER BY start"""


def _series(
    conn: Connection,
    m: MonitorRow,
    which: tuple[str, str, str],
    start: dt.datetime,
    end: dt.datetime,
) -> list[tuple[dt.datetime, float | None]]:
    factor, statistic, period = which
    rows = conn.execute(
        text(_SERIES),
        {"m": m.id, "factor": factor, "statistic": statistic, "period": period,
         "start": start, "end": end},
    )  # fmt: skip
    return [(r.start, r.value) for r in rows]


def _clock(at: dt.datetime, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _noise(
    conn: Connection, m: MonitorRow, rule: rules.NoiseRule, start: dt.datetime, end: dt.datetime,
    zone: ZoneInfo,
) -> dict[str, Any]:  # fmt: skip
    day, _ = rule.limits(m.placement, "day")
    night, lmax_limit = rule.limits(m.placement, "night")
    laeq, lmax = [], []
    for at, value in _series(conn, m, LAEQ, start, end):
        period = rule.period(at.astimezone(zone))
        laeq.append([_clock(at, zone), _r(value), day if period == "day" else night])
    for at, value in _series(conn, m, LMAX, start, end):
        if rule.period(at.astimezone(zone)) == "night":
            lmax.append([_clock(at, zone), _r(value)])
    return {
        "day_limit": day,
        "night_limit": night,
        "lmax_limit": lmax_limit,
        "day_hours": [rule.day_start.strftime("%H:%M"), rule.day_end.strftime("%H:%M")],
        "indoor_offset_db": rule.indoor_offset_db if m.placement == "indoor" else 0.0,
        "laeq": laeq,  # [time, LAeq, the limit of its period]
        "night_lmax": lmax,  # [time, Lmax], night windows only
    }


def _dust(
    conn: Connection, m: MonitorRow, settings: AlarmSettings, start: dt.datetime,
    end: dt.datetime, zone: ZoneInfo,
) -> dict[str, Any]:  # fmt: skip
    try:
        rule = dust_rule_for(settings, m.dust)
        factor, limit = rule.factor, rule.limit_ug_m3
    except ValueError:  # a preset without the city's limit: the means without a line
        factor, limit = _preset_factor(settings, m.dust), None
    means = _series(conn, m, (factor, DUST_STATISTIC, DUST_PERIOD), start, end)
    return {
        "factor": factor,
        "limit": limit,
        "means": [[_clock(at, zone), None if v is None else round(v, 1)] for at, v in means],
    }


def _preset_factor(settings: AlarmSettings, site: dict[str, Any]) -> str:
    data = rules.monitoring_data()
    name = site.get("preset") or settings.dust_rule.get("preset") or data["dust_preset"]
    return str(data["dust_presets"].get(name, {}).get("factor", "a34002"))


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def monitor_charts(
    conn: Connection,
    settings: AlarmSettings,
    mn: str,
    span_name: str,
    zone: str,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """The monitor's facts and its charts' series over ``span_name`` up to ``now``."""
    length = span(span_name)
    m = monitor(conn, mn)
    end = now or dt.datetime.now(dt.UTC)
    start, tz = end - length, ZoneInfo(zone)
    out: dict[str, Any] = {
        "monitor": {
            "mn": m.mn,
            "name": m.name,
            "kind": m.kind,
            "placement": m.placement,
            "interval_s": m.interval_s,
            "site": m.site,
            "site_name": m.site_name,
        },
        "span": span_name,
        "from": _clock(start, tz),
        "to": _clock(end, tz),
        "noise": None,
        "dust": None,
    }
    if m.kind in ("noise", "both"):
        out["noise"] = _noise(conn, m, noise_rule_for(settings, m.noise), start, end, tz)
    if m.kind in ("dust", "both"):
        out["dust"] = _dust(conn, m, settings, start, end, tz)
    return out

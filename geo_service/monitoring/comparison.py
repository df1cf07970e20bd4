"""Prediction against measurement: for each of a site's noise monitors, the impact model's
predicted day Leq at the monitor's position (``impact.predict_at``) next to the measured
day LAeq of each of the last days, and how far apart they are, so that a planner sees how
far the model is off (and adjusts the site's equipment and attenuation).

The measured day LAeq of a day is the energy mean of the valid minutes of the 20-minute
rollups that start in the day hours (the noise rule's, as the alarms have them): the sums
the rollups keep, ``10 log10(sum 10^(L/10) / n)``, so a day with gaps averages the minutes
it has (``minutes`` says how many). ``difference`` is measured less predicted: positive,
the site is louder than the model says. The model predicts free-field levels: an indoor
monitor measures less than it (``placement`` says where the monitor is).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, text

from geo_service import impact
from geo_service.monitoring.alarms import noise_rule_for
from geo_service.monitoring.charts import LAEQ
from geo_service.settings import AlarmSettings

DAYS = 14

_MONITORS = """
SELECT m.id, m.mn, m.name, m.placement, ST_X(m.geom) AS lon, ST_Y(m.geom) AS lat,
       coalesce(r.noise, '{}'::jsonb) AS noise
FROM monitors m JOIN sites s ON s.id = m.site_id
LEFT JOIN monitoring_rules r ON r.site_code = s.code
WHERE m.site_id = :site AND m.kind IN ('noise', 'both') ORDER BY m.mn"""

_DAYS = """
SELECT CAST(start AT TIME ZONE :zone AS date) AS day,
       10 * log(sum(total) / sum(valid_count)) AS laeq, sum(valid_count) AS minutes
FROM reading_rollups
WHERE monitor_id = :m AND factor = :factor AND statistic = :statistic AND period = :period
  AND start >= :since AND start < :until AND valid_count > 0
  AND CAST(start AT TIME ZONE :zone AS time) >= :day_start
  AND CAST(start AT TIME ZONE :zone AS time) < :day_end
GROUP BY 1 ORDER BY 1"""


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _measured(
    conn: Connection, monitor_id: int, rule: Any, days: list[dt.date], zone: str
) -> dict[dt.date, tuple[float, int]]:
    tz = ZoneInfo(zone)
    factor, statistic, period = LAEQ
    rows = conn.execute(
        text(_DAYS),
        {
            "m": monitor_id, "factor": factor, "statistic": statistic, "period": period,
            "zone": zone, "day_start": rule.day_start, "day_end": rule.day_end,
            "since": dt.datetime.combine(days[0], dt.time(), tz),
            "until": dt.datetime.combine(days[-1] + dt.timedelta(days=1), dt.time(), tz),
        },
    )  # fmt: skip
    return {r.day: (r.laeq, int(r.minutes)) for r in rows}


def site_comparison(
    conn: Connection,
    settings: AlarmSettings,
    site: str,
    zone: str,
    today: dt.date | None = None,
) -> dict[str, Any]:
    """The site's noise monitors, each with its prediction and the last ``DAYS`` days
    (today included) of measured day LAeq and their differences."""
    ref = impact.resolve_site(conn, site)
    today = today or dt.datetime.now(ZoneInfo(zone)).date()
    days = [today - dt.timedelta(days=n) for n in range(DAYS - 1, -1, -1)]
    monitors = []
    for m in conn.execute(text(_MONITORS), {"site": ref.id}).all():
        rule = noise_rule_for(settings, m.noise)
        predicted = impact.predict_at(conn, ref.id, m.lon, m.lat)
        measured = _measured(conn, m.id, rule, days, zone)
        leq = _r(predicted.leq_day)
        rows = []
        for day in days:
            laeq, minutes = measured.get(day, (None, 0))
            value = _r(laeq)
            rows.append(
                {
                    "day": day.isoformat(),
                    "measured_laeq_day": value,
                    "minutes": minutes,
                    "predicted_leq_day": leq,
                    "difference": None if value is None or leq is None else round(value - leq, 1),
                }
            )
        differences = [r["difference"] for r in rows if r["difference"] is not None]
        monitors.append(
            {
                "mn": m.mn,
                "name": m.name,
                "placement": m.placement,
                "distance_m": round(predicted.distance_m, 1),
                "phase": predicted.phase,
                "day_hours": [rule.day_start.strftime("%H:%M"), rule.day_end.strftime("%H:%M")],
                "predicted_leq_day": leq,
                "mean_difference": round(sum(differences) / len(differences), 1)
                if differences
                else None,
                "days": rows,
            }
        )
    return {
        "site": ref.code,
        "name": ref.name,
        "from": days[0].isoformat(),
        "to": days[-1].isoformat(),
        "monitors": monitors,
    }

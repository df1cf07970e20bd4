"""Night work: the windows of a night judged against the monitor's background, the site's
permits, the city's quiet periods and the exam-site bans (issue 15, point 7).

Data: ``reference/night_work.yaml`` (issuers, activities, the background's settings, the
city-wide quiet periods), ``night_work_permits`` (a site's certificates),
``exam_site_bans`` (a point, a radius, the exam hours), a site's overrides in
``monitoring_rules.night_work`` (e.g. ``{"background_db": 48}``).

**Background.** The configured ``background_db``, or else the median LAeq of the monitor's
valid windows of the same period on the ``background_nights`` (7) nights before (by day,
days before), once there are ``background_min_windows`` (12) of them; until then a window is
not judged for night work. A period's background is computed once, when its first window
is judged or, ahead, by a pass with nothing due (``AHEAD`` periods a pass), and kept in
``night_backgrounds`` with the settings that shaped it: its history is past, so a packet
of an earlier night arriving later does not move it. **Activity**: a window whose LAeq is at least
``activity_margin_db`` (5 dB) above the background.

**Alarms.** ``night_work_unpermitted``: night activity in a window no valid permit covers
whole (valid: not revoked, its notice to residents posted by the window's start);
``quiet_period``: night activity in a city-wide quiet period (a permit does not help), or
activity at any hour within an exam-site ban's radius of the site during the ban. A later
window without that condition clears the alarm as for the other kinds. The windows are the
noise rule's (20 minutes on the clock's grid), judged once each (watermark rule ``night``).
"""

from __future__ import annotations

import datetime as dt
import json
from functools import cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import Connection, Row, text

from geo_service.monitoring import queries, rules

KIND = "night_work_unpermitted"
QUIET = "quiet_period"
_SETTINGS = ("background_db", "background_nights", "background_min_windows", "activity_margin_db")


@cache
def data() -> dict[str, Any]:
    """``reference/night_work.yaml``."""
    raw = resources.files("geo_service.reference").joinpath("night_work.yaml").read_text("utf-8")
    return yaml.safe_load(raw)


def issuers() -> tuple[str, ...]:
    return tuple(data()["issuers"])


def activities() -> tuple[str, ...]:
    return tuple(data()["activities"])


def quiet_periods(zone: str) -> list[dict[str, Any]]:
    """The city-wide quiet periods with their local times made aware."""
    tz = ZoneInfo(zone)
    return [
        {
            "code": q["code"],
            "name_zh": q["name_zh"],
            "name_en": q["name_en"],
            "document_no": q.get("document_no"),
            "starts": dt.datetime.fromisoformat(q["starts"]).replace(tzinfo=tz).isoformat(),
            "ends": dt.datetime.fromisoformat(q["ends"]).replace(tzinfo=tz).isoformat(),
        }
        for q in data()["quiet_periods"] or []
    ]


def background(overrides: dict[str, Any]) -> dict[str, Any]:
    """The background settings, the site's overrides over the data's."""
    unknown = set(overrides) - set(_SETTINGS)
    if unknown:
        raise ValueError(f"unknown night-work settings: {', '.join(sorted(unknown))}")
    d = data()
    values = {
        "background_db": None,
        **{k: d[k] for k in _SETTINGS if k in d},
        **overrides,
    }
    return {
        "background_db": None if (db := values["background_db"]) is None else float(db),
        "background_nights": int(values["background_nights"]),
        "background_min_windows": int(values["background_min_windows"]),
        "margin_db": float(values["activity_margin_db"]),
    }


def params(
    monitor_id: int,
    rule: rules.NoiseRule,
    span: tuple[dt.datetime, dt.datetime],
    overrides: dict[str, Any],
) -> dict[str, Any]:
    """One monitor's object of ``sql/night_work_windows.sql``: the noise rule's windows
    and valid minutes, the stretch to judge, the background settings."""
    return {
        "monitor_id": monitor_id,
        "since": span[0].isoformat(),
        "until": span[1].isoformat(),
        "window_minutes": rule.window_minutes,
        "valid_fraction": rule.valid_fraction,
        "valid_flags": sorted(rule.valid_flags),
        "day_start": rule.day_start.isoformat(),
        "day_end": rule.day_end.isoformat(),
        **background(overrides),
    }


# How many coming periods (a monitor's current one and the one after it) a pass with no
# window due prepares (each background computed from the days before, about 50 ms a
# monitor with a week of minute data).
AHEAD = 10


def judge(
    conn: Connection, monitors: list[dict[str, Any]], zone: str, *, ahead: int = 0
) -> list[Row]:
    """The windows of these monitors' stretches, judged (exceedances stored); and the
    backgrounds of up to ``ahead`` monitors' next periods, kept for their first window."""
    if not monitors:
        return []
    bound = {
        "rules": json.dumps(monitors),
        "quiet": json.dumps(quiet_periods(zone)),
        "zone": zone,
        "ahead": ahead,
    }
    return list(conn.execute(text(queries.sql("night_work_windows")), bound).all())


def detail(w: Row) -> dict[str, Any]:
    """What the opening event says beside the window: the background, the ban."""
    found: dict[str, Any] = {"background": w.background, "permitted": w.permitted}
    if w.quiet_period:
        q = next(q for q in data()["quiet_periods"] if q["code"] == w.quiet_period)
        found.update(quiet_period=q["code"], document_no=q.get("document_no"))
    if w.exam_site_ban:
        found["exam_site_ban"] = w.exam_site_ban
    return found

"""The demo's monitoring season: two weeks of minute data from the monitors at the active
sites, the alarm pass over them, and the alarms in every state (issue 15, point 11).

The readings are what the simulator's packets say (``simulator.minute_readings``: a
working-day profile with quiet nights, a pile-driving week, two dusty afternoons, one
unpermitted night from 23:00 to 02:00, and the last monitor silent for the last two days),
written by COPY up to the minute of the load, their rollups rebuilt; the raw packets are not
kept (the receiver's path is the tests'). One alarm pass then judges the two weeks, as the
server's scheduler would have, and the sites' lead officers answer some of the alarms:
acknowledged, replied to with the actions taken, closed; those the condition cleared
before anyone came are ``auto_cleared``, the rest stay ``open`` (and escalated when late).
Deterministic for the district's seed, the dates counting back from the load.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from itertools import cycle
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, text

from geo_service.access import Principal
from geo_service.monitoring import alarm_records, alarms, partitions, rollups, simulator, store
from geo_service.settings import AlarmSettings, LiaisonSettings

DAYS = 14
TZ = ZoneInfo(partitions.ZONE)
# What the lead officer answers, by alarm kind: the reply and the actions taken.
_REPLIES: dict[str, tuple[str, list[str]]] = {
    "noise_laeq": ("已要求施工单位更换低噪设备并调整作业时间。", ["equipment_changed"]),
    "noise_lmax": ("打桩作业已暂停，改为静压桩工艺。", ["work_stopped", "equipment_changed"]),
    "dust": ("已开启喷淋降尘并覆盖裸土。", ["spray_on", "cover_bare_soil"]),
    "offline": ("已通知设备厂家上门检修监测设备。", ["device_checked"]),
    "night_work_unpermitted": ("夜间施工未办理许可，已责令立即停工。", ["work_stopped"]),
    "quiet_period": ("考试期间禁止夜间施工，已责令停工。", ["work_stopped"]),
}
# The states the answered alarms are left in, in turn: each reached through the ones before.
_PATHS = (
    ("acknowledged",),
    ("acknowledged", "replied"),
    ("acknowledged", "replied", "closed"),
)


def clear_monitoring(conn: Connection) -> None:
    """Empty what the monitors sent before they are replaced (TRUNCATE: a cascade of
    deletes from ``monitors`` would take a row at a time)."""
    conn.execute(
        text(
            "TRUNCATE hj212_forwards, hj212_packets, reading_rollup_queue, reading_rollups,"
            " readings"
        )
    )


def load_monitoring(engine: Engine, seed: int, *, now: dt.datetime | None = None) -> None:
    """The season's readings and rollups, one alarm pass, the officers' answers."""
    now = (now or dt.datetime.now(dt.UTC)).replace(second=0, microsecond=0)
    zone = partitions.ZONE
    with engine.connect() as conn:
        monitors = conn.execute(
            text("SELECT m.id, m.mn, m.kind, m.units, m.interval_s FROM monitors m ORDER BY m.mn")
        ).all()
    if not monitors:
        return
    first_day = now.astimezone(TZ).date() - dt.timedelta(days=DAYS)
    season = simulator.Season.demo(first_day, DAYS + 1, offline_mn=monitors[-1].mn)
    store.copy_readings(engine, _readings(monitors, season, now, seed), zone)
    settings = AlarmSettings(lookback_hours=(DAYS + 1) * 24)
    with engine.begin() as conn:
        rollups.rebuild(conn, zone)
        paths = cycle(_PATHS)
        for at in [*_passes(season, now), now]:
            alarms.run(conn, settings, LiaisonSettings(), now=at, zone=zone)
            _answer(conn, at, paths)


def _passes(season: simulator.Season, now: dt.datetime) -> list[dt.datetime]:
    """When the scheduler's passes find an episode under way (a piling afternoon at 15:00, a
    dusty one at 17:00, the unpermitted night at 01:00), so that its alarm is open for the
    officers; between them a pass would only judge more windows at once."""
    times = [dt.datetime.combine(d, dt.time(17), TZ) for d in season.dusty_days]
    if season.pile_driving:
        first, last = season.pile_driving
        times += [
            dt.datetime.combine(first + dt.timedelta(days=n), dt.time(15), TZ)
            for n in range((last - first).days + 1)
        ]
    if season.unpermitted_night:
        night = season.unpermitted_night + dt.timedelta(days=1)
        times.append(dt.datetime.combine(night, dt.time(1), TZ))
    return sorted(t for t in times if t < now)


def _readings(
    monitors: list[Any], season: simulator.Season, now: dt.datetime, seed: int
) -> list[tuple]:
    """Each monitor's minutes from the season's first midnight up to ``now``."""
    first = dt.datetime.combine(season.start, dt.time(), TZ)
    minutes = int((now - first).total_seconds() // 60)
    rows = []
    for m in monitors:
        device = simulator.Monitor(m.mn, "", m.kind)
        rng = random.Random(f"{seed}:{m.mn}")
        silent = season.offline.get(m.mn)
        for minute in range(minutes):
            at = first + dt.timedelta(minutes=minute)
            local = at.replace(tzinfo=None)
            if silent and silent[0] <= local < silent[1]:
                continue
            received = at + dt.timedelta(minutes=1)
            for factor, statistic, value, flag in simulator.minute_readings(
                device, season, local, rng
            ):
                rows.append((m.id, "2051", factor, statistic, at, value, flag, received))
    return rows


def _answer(conn: Connection, now: dt.datetime, paths: Iterator[tuple[str, ...]]) -> None:
    """The lead officers answer the alarms the pass left open, oldest first, leaving them
    acknowledged, replied to or closed in turn; every third one they miss (the next pass
    clears it, or it stays open and escalates), and the offline monitor waits for its
    maker."""
    rows = conn.execute(
        text("""
SELECT a.id, a.kind, a.started_at, s.id AS site_id, s.code
FROM alarms a JOIN monitors m ON m.id = a.monitor_id JOIN sites s ON s.id = m.site_id
WHERE a.state = 'open' AND a.kind <> 'offline' ORDER BY a.started_at, a.id""")
    ).all()
    for n, row in enumerate(rows):
        if n % 3 == 2:
            continue
        lead = Principal(
            role="liaison",
            username=f"liaison-{row.code.lower()}",
            site_ids=frozenset({row.site_id}),
            via="local",
        )
        reply, actions = _REPLIES[row.kind]
        at = row.started_at
        for step in next(paths):
            at = min(at + dt.timedelta(minutes=25), now)
            answer = {"reply": reply, "actions_taken": actions} if step == "replied" else {}
            alarm_records.move(conn, lead, row.id, step, now=at, **answer)

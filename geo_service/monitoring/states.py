"""A monitor's state as the maps and pages show it: ``normal``, ``exceeding`` or ``offline``.

``offline``: the offline rule holds (no reading for ``offline_after_intervals`` of its
reporting intervals), computed as the alarm pass computes it (``alarms.last_seen``), so a
map never calls a monitor offline that the alarms call online. ``exceeding``: an alarm of a
limit (noise or dust, not ``offline``) is open or acknowledged, i.e. still awaiting its
reply (``lifecycle.AWAITING_REPLY``). Offline wins: a monitor that sends nothing says
nothing about its levels now. A monitor imported later than ``now`` is ``normal``.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, text

from geo_service.monitoring import lifecycle
from geo_service.monitoring.alarms import last_seen
from geo_service.settings import AlarmSettings

STATES = ("normal", "exceeding", "offline")
LABELS: dict[str, tuple[str, str]] = {
    "normal": ("正常", "Normal"),
    "exceeding": ("超标告警中", "Exceeding"),
    "offline": ("离线", "Offline"),
}
LIMIT_KINDS = tuple(k for k in lifecycle.KINDS if k != "offline")

_EXCEEDING = """
SELECT DISTINCT m.mn FROM alarms a JOIN monitors m ON m.id = a.monitor_id
WHERE a.state = ANY(:states) AND a.kind = ANY(:kinds)"""


def monitor_states(
    conn: Connection, settings: AlarmSettings, now: dt.datetime | None = None
) -> dict[str, str]:
    """Every monitor's state, by its MN."""
    now = now or dt.datetime.now(dt.UTC)
    mns = {row.id: row.mn for row in conn.execute(text("SELECT id, mn FROM monitors"))}
    exceeding = set(
        conn.execute(
            text(_EXCEEDING),
            {"states": list(lifecycle.AWAITING_REPLY), "kinds": list(LIMIT_KINDS)},
        ).scalars()
    )
    states = {mn: "exceeding" if mn in exceeding else "normal" for mn in mns.values()}
    for seen in last_seen(conn, settings, now):
        if seen.offline:
            states[mns[seen.monitor_id]] = "offline"
    return states


def monitor_state(
    conn: Connection, settings: AlarmSettings, mn: str, now: dt.datetime | None = None
) -> str:
    """One monitor's state (``monitor_states`` for one MN)."""
    return monitor_states(conn, settings, now)[mn]

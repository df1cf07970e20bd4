"""Alarms and residents' requests of one site, linked when they are within an hour of
each other (``alarm_requests``), whichever came first: the alarm pass links the alarms it
touched, recording a request links that request (``geo_service.liaison.requests.create``).

The request categories an alarm kind is linked to are data (``alarms.request_categories`` in
``reference/monitoring.yaml``: noise and night work for noise alarms, dust for dust), by
their codes in ``request_categories``; the window is ``alarms.link_minutes``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, text

from geo_service.liaison.categories import get_category
from geo_service.monitoring import lifecycle, rules


def alarm_data() -> dict[str, Any]:
    """``alarms`` of ``reference/monitoring.yaml``: reply actions, linked categories."""
    return rules.monitoring_data()["alarms"]


_LINK = """
INSERT INTO alarm_requests (alarm_id, request_id, linked_at)
SELECT a.id, r.id, :now
FROM alarms a
JOIN monitors m ON m.id = a.monitor_id
JOIN requests r ON r.site_id = m.site_id
     AND r.category IN (SELECT jsonb_array_elements_text(CAST(:categories AS jsonb) -> a.kind))
     AND r.created_at >= a.started_at - make_interval(mins => :minutes)
     AND r.created_at <= a.last_at + make_interval(mins => :minutes)
WHERE (CAST(:alarms AS int[]) IS NULL OR a.id = ANY(CAST(:alarms AS int[])))
  AND (CAST(:request AS int) IS NULL OR r.id = :request)
ON CONFLICT DO NOTHING
"""


def linked_categories(conn: Connection) -> dict[str, list[str]]:
    """Alarm kind -> request category codes, each checked against ``request_categories``
    (an unknown code is an error naming the categories there are)."""
    mapping = alarm_data()["request_categories"]
    for codes in mapping.values():
        for code in codes:
            get_category(conn, code)
    return {kind: list(mapping.get(kind) or []) for kind in lifecycle.KINDS}


def link(
    conn: Connection,
    *,
    alarms: Iterable[int] | None = None,
    request: int | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Link alarms and requests of one site within the link window (of these alarms, or
    of this request); returns how many links are new."""
    result = conn.execute(
        text(_LINK),
        {
            "now": now or dt.datetime.now(dt.UTC),
            "categories": json.dumps(linked_categories(conn)),
            "minutes": int(alarm_data()["link_minutes"]),
            "alarms": None if alarms is None else sorted(alarms),
            "request": request,
        },
    )
    return result.rowcount


def alarms_of(conn: Connection, request_id: int) -> list[int]:
    """The ids of the alarms a request is linked to (``/api/alarms/{id}``)."""
    return list(
        conn.execute(
            text("SELECT alarm_id FROM alarm_requests WHERE request_id = :r ORDER BY alarm_id"),
            {"r": request_id},
        ).scalars()
    )

"""The SLA pass: warn at 75 % of a due time, record a breach and escalate, once each.

Two clocks per request: *acknowledge* (hours from creation, while it is ``new``) and
*resolve* (the category's working days from creation, standing still while the request
waits for the resident; a reopened request starts a new cycle). Each step of a clock is an
event with a key (``resolve/1/warning``) that a unique index holds to once per request, so
running the pass twice, or from two processes at once, changes nothing the second time:

- at ``warn_fraction`` (75 %) of the clock's time: ``sla_warning`` to the assignee (the
  site's lead when there is none);
- at the due time: ``sla_breach``, and an ``escalation`` to the site's lead (level 1);
- when the clock's own length has passed once more after the breach: an ``escalation`` to
  the configured manager (level 2).

Each notification goes to the outbox (``geo_service.liaison.outbox``), one row per
configured webhook ("held" when none is configured). Notifications carry the request's
id, category, site, state and due time, never the description or the reporter.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from geo_service.liaison import calendar, groups, outbox, states
from geo_service.liaison.requests import add_event
from geo_service.settings import LiaisonSettings


@dataclass
class SlaReport:
    checked: int = 0
    warnings: int = 0
    breaches: int = 0
    escalations: int = 0
    notifications: int = 0
    steps: list[str] = field(default_factory=list)


_OPEN = """
SELECT r.id, r.public_id, r.state, r.assignee, r.cycle, r.created_at, r.acknowledge_due,
       r.resolve_due, r.escalation_level, s.code AS site_code, c.name_zh, c.name_en,
       c.acknowledge_hours, c.resolve_working_days
FROM requests r JOIN sites s ON s.id = r.site_id
JOIN request_categories c ON c.code = r.category
WHERE r.state = ANY(:open)
ORDER BY r.id
FOR UPDATE OF r SKIP LOCKED
"""


@dataclass(frozen=True)
class Clock:
    name: str
    due: dt.datetime
    elapsed: float  # the share of the clock's time that has passed (1.0 at the due time)


def clocks(row: Any, now: dt.datetime) -> list[Clock]:
    """The clocks running for this request now (none while it waits for the resident)."""
    found = []
    if row.state == "new":
        total = dt.timedelta(hours=row.acknowledge_hours)
        found.append(
            Clock("acknowledge", row.acknowledge_due, 1 - (row.acknowledge_due - now) / total)
        )
    if row.state != states.PAUSED:
        total = row.resolve_working_days * calendar.DAY
        if now < row.resolve_due:
            left = calendar.working_time_between(now, row.resolve_due)
        else:
            left = -calendar.working_time_between(row.resolve_due, now)
        found.append(Clock("resolve", row.resolve_due, 1 - left / total))
    return found


def run(
    conn: Connection, settings: LiaisonSettings, *, now: dt.datetime | None = None
) -> SlaReport:
    """One pass over every open request (in the caller's transaction)."""
    now = now or dt.datetime.now(dt.UTC)
    report = SlaReport()
    rows = conn.execute(text(_OPEN), {"open": list(states.OPEN_STATES)}).all()
    # The steps already recorded, read once: on a quiet day a pass over a backlog of overdue
    # requests then costs no query per request (the unique key still holds the steps to once
    # each against a pass running beside this one).
    recorded = {
        (r.request_id, r.clock)
        for r in conn.execute(
            text(
                "SELECT request_id, clock FROM request_events "
                "WHERE clock IS NOT NULL AND request_id = ANY(:ids)"
            ),
            {"ids": [row.id for row in rows]},
        )
    }
    leads: dict[str, str | None] = {}

    def lead_of(site_code: str) -> str | None:
        if site_code not in leads:
            today = now.astimezone(calendar.TZ).date()
            leads[site_code] = groups.site_lead(conn, site_code, today)
        return leads[site_code]

    for row in rows:
        report.checked += 1
        for clock in clocks(row, now):
            _steps(conn, settings, row, clock, now, report, recorded, lead_of)
    return report


def _steps(
    conn: Connection,
    settings: LiaisonSettings,
    row: Any,
    clock: Clock,
    now: dt.datetime,
    report: SlaReport,
    recorded: set[tuple[int, str]],
    lead_of: Callable[[str], str | None],
) -> None:
    if clock.elapsed < settings.warn_fraction:
        return  # most requests, most of the time: no query
    key = f"{clock.name}/{row.cycle}"
    due: list[tuple[str, str, int]] = []  # (step, kind, level)
    if clock.elapsed >= settings.warn_fraction:
        due.append(("warning", "sla_warning", 0))
    if clock.elapsed >= 1:
        due.append(("breach", "sla_breach", 0))
        due.append(("lead", "escalation", 1))
    if clock.elapsed >= 2:
        due.append(("manager", "escalation", 2))
    pending = [d for d in due if (row.id, f"{key}/{d[0]}") not in recorded]
    if not pending:
        return
    lead = lead_of(row.site_code)
    recipients = {"warning": row.assignee or lead, "breach": None, "lead": lead}
    for step, kind, level in pending:
        recipient = recipients.get(step, settings.manager)
        detail = {"clock": clock.name, "due": clock.due.isoformat(), "recipient": recipient}
        if level:
            detail["level"] = level
        if not add_event(conn, row.id, None, kind, clock=f"{key}/{step}", detail=detail, at=now):
            continue
        report.steps.append(f"{row.public_id} {key}/{step}")
        if kind == "sla_warning":
            report.warnings += 1
        elif kind == "sla_breach":
            report.breaches += 1
            continue  # the escalation that comes with it notifies
        else:
            report.escalations += 1
            conn.execute(
                text(
                    "UPDATE requests SET escalation_level = greatest(escalation_level, :l), "
                    "updated_at = :now WHERE id = :id"
                ),
                {"l": level, "id": row.id, "now": now},
            )
        report.notifications += notify(conn, settings, row, kind, clock, recipient, now)


def _text(row: Any, kind: str, clock: Clock, recipient: str | None) -> str:
    due = clock.due.astimezone(calendar.TZ).strftime("%Y-%m-%d %H:%M")
    what = {"acknowledge": "受理", "resolve": "办结"}[clock.name]
    if kind == "sla_warning":
        news = f"将于 {due} 到{what}时限"
    else:
        news = f"已超过{what}时限（{due}），升级督办"
    to = f" @{recipient}" if recipient else ""
    return f"【居民诉求】{row.public_id}（{row.name_zh}，{row.site_code}）{news}{to}"


def notify(
    conn: Connection,
    settings: LiaisonSettings,
    row: Any,
    kind: str,
    clock: Clock,
    recipient: str | None,
    now: dt.datetime,
) -> int:
    """Put one notification in the outbox per configured webhook; returns how many rows."""
    message = {
        "text": _text(row, kind, clock, recipient),
        "request": row.public_id,
        "site": row.site_code,
        "category": row.name_en,
        "state": row.state,
        "kind": kind,
        "clock": clock.name,
        "due": clock.due.isoformat(),
        "recipient": recipient,
    }
    return outbox.enqueue(
        conn, settings, message, kind=kind, recipient=recipient, now=now, request_id=row.id
    )

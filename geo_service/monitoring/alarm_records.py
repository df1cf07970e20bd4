"""Alarms as people read and answer them: lists, one alarm with its history, transitions,
and the list as CSV or XLSX.

Alarms are public like the monitors' readings (a site's noise and dust are not personal);
the replies say what the site did. The residents' requests an alarm is linked to are named
(by their public id) only to readers of that site's requests
(``Principal.can_read_requests``). Every transition people make is checked against
``lifecycle.TRANSITIONS`` (409 naming the states that may follow) and recorded as an event
with who and when; only the site's liaison officers and administrators make them
(``Principal.can_work_requests``).
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from geo_service.access import Principal
from geo_service.errors import Forbidden, InvalidCase, NotFound, RefusedTransition
from geo_service.formats import ALARM_LIST, spreadsheet_text
from geo_service.impact import resolve_site
from geo_service.monitoring import lifecycle
from geo_service.monitoring.alarms import actions, add_event

# The columns of a list and of an export, with their headers (zh, en).
COLUMNS: dict[str, tuple[str, str]] = {
    "id": ("告警编号", "Alarm"),
    "kind": ("类型", "Kind"),
    "state": ("状态", "State"),
    "site": ("工地", "Site"),
    "monitor": ("设备编号", "Monitor"),
    "placement": ("安装位置", "Placement"),
    "started_at": ("开始", "Started"),
    "last_at": ("最近超标", "Last exceeding"),
    "windows": ("超标时段数", "Windows"),
    "period": ("昼夜", "Period"),
    "worst_value": ("最大值", "Worst value"),
    "limit_value": ("限值", "Limit"),
    "condition_cleared_at": ("恢复", "Condition cleared"),
    "reply_due_at": ("回复时限", "Reply due"),
    "overdue": ("超时", "Overdue"),
    "acknowledged_at": ("确认", "Acknowledged"),
    "replied_at": ("回复", "Replied"),
    "closed_at": ("关闭", "Closed"),
    "reply": ("回复内容", "Reply"),
    "actions": ("措施", "Actions"),
    "escalated_at": ("升级督办", "Escalated"),
    "requests": ("关联诉求", "Linked requests"),
}

_SELECT = """
SELECT a.id, a.kind, a.state, s.code AS site, m.mn AS monitor, m.placement, a.started_at,
       a.last_at, a.windows, a.period, a.worst_value, a.limit_value, a.condition_cleared_at,
       a.reply_due_at, (a.state = ANY(:waiting) AND a.reply_due_at < :now) AS overdue,
       a.acknowledged_at, a.replied_at, a.closed_at, a.reply, a.actions, a.escalated_at,
       m.site_id,
       ARRAY(SELECT r.public_id FROM alarm_requests ar JOIN requests r ON r.id = ar.request_id
             WHERE ar.alarm_id = a.id ORDER BY r.public_id) AS requests
FROM alarms a JOIN monitors m ON m.id = a.monitor_id JOIN sites s ON s.id = m.site_id
"""


@dataclass(frozen=True)
class AlarmFilter:
    site: str | None = None
    monitor: str | None = None
    state: str | None = None
    kind: str | None = None
    since: dt.datetime | None = None  # alarms whose windows reach past this time
    until: dt.datetime | None = None  # alarms that started before this time


def _shown(principal: Principal, row: Any) -> dict[str, Any]:
    item = dict(row)
    if not principal.can_read_requests(item.pop("site_id")):
        item["requests"] = []
    item["actions"] = list(item["actions"] or [])
    return item


def list_alarms(
    conn: Connection,
    principal: Principal,
    wanted: AlarmFilter,
    *,
    limit: int,
    offset: int,
    now: dt.datetime | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """A page of alarms, newest first, and how many match."""
    for name, choices in (("state", lifecycle.STATES), ("kind", lifecycle.KINDS)):
        value = getattr(wanted, name)
        if value is not None and value not in choices:
            raise InvalidCase(f"{name} {value!r} is not one of: {', '.join(choices)}")
    clauses, params = [], {"now": now or dt.datetime.now(dt.UTC)}
    if wanted.site is not None:
        clauses.append("m.site_id = :site_id")
        params["site_id"] = resolve_site(conn, wanted.site).id
    if wanted.monitor is not None:
        clauses.append("m.mn = :mn")
        params["mn"] = wanted.monitor
    for name in ("state", "kind"):
        if getattr(wanted, name) is not None:
            clauses.append(f"a.{name} = :{name}")
            params[name] = getattr(wanted, name)
    if wanted.since is not None:
        clauses.append("a.last_at > :since")
        params["since"] = wanted.since
    if wanted.until is not None:
        clauses.append("a.started_at < :until")
        params["until"] = wanted.until
    if wanted.since and wanted.until and not wanted.since < wanted.until:
        raise InvalidCase("from must be before to")
    where = " AND ".join(clauses) or "TRUE"
    total = conn.execute(
        text(f"SELECT count(*) FROM alarms a JOIN monitors m ON m.id = a.monitor_id WHERE {where}"),
        params,
    ).scalar_one()
    rows = conn.execute(
        text(
            f"{_SELECT} WHERE {where} ORDER BY a.started_at DESC, a.id DESC "
            "LIMIT :limit OFFSET :offset"
        ),
        {**params, "waiting": list(lifecycle.AWAITING_REPLY), "limit": limit, "offset": offset},
    ).mappings()
    return [_shown(principal, r) for r in rows], int(total)


def _row(conn: Connection, alarm_id: int, now: dt.datetime, *, lock: bool = False) -> Any:
    row = (
        conn.execute(
            text(f"{_SELECT} WHERE a.id = :id" + (" FOR UPDATE OF a" if lock else "")),
            {"id": alarm_id, "now": now, "waiting": list(lifecycle.AWAITING_REPLY)},
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no alarm has the id {alarm_id}")
    return row


def read(
    conn: Connection, principal: Principal, alarm_id: int, *, now: dt.datetime | None = None
) -> dict[str, Any]:
    """One alarm with its events (who did what when) and its exceeding windows."""
    now = now or dt.datetime.now(dt.UTC)
    item = _shown(principal, _row(conn, alarm_id, now))
    events = conn.execute(
        text(
            "SELECT at, actor, role, kind, from_state, to_state, note, detail "
            "FROM alarm_events WHERE alarm_id = :id ORDER BY id"
        ),
        {"id": alarm_id},
    ).mappings()
    windows = conn.execute(
        text(
            "SELECT window_start, window_end, period, value, limit_value, valid_fraction "
            "FROM monitor_exceedances WHERE alarm_id = :id ORDER BY window_start LIMIT 500"
        ),
        {"id": alarm_id},
    ).mappings()
    return {
        **item,
        "allowed": list(lifecycle.allowed_from(item["state"])),
        "events": [dict(e) for e in events],
        "exceedances": [dict(w) for w in windows],
    }


def _checked_actions(chosen: list[str] | None) -> list[str]:
    known = actions()
    if not chosen:
        raise InvalidCase("a reply says what was done: give actions, from: " + ", ".join(known))
    unknown = [a for a in chosen if a not in known]
    if unknown:
        raise InvalidCase(
            f"unknown action(s) {', '.join(unknown)}; actions are: {', '.join(known)}"
        )
    return list(dict.fromkeys(chosen))


def move(
    conn: Connection,
    principal: Principal,
    alarm_id: int,
    target: str,
    *,
    note: str | None = None,
    reply: str | None = None,
    actions_taken: list[str] | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Move an alarm to ``target``, or refuse (409) naming the states that may follow."""
    at = now or dt.datetime.now(dt.UTC)
    row = _row(conn, alarm_id, at, lock=True)
    if not principal.can_work_requests(row["site_id"]):
        raise Forbidden(
            f"the {principal.role} role may not answer alarms of site {row['site']}"
            + (" (it is not assigned to you)" if principal.role == "liaison" else ""),
            site=row["site"],
        )
    state, allowed = row["state"], lifecycle.allowed_from(row["state"])
    step = lifecycle.transition(state, target)
    if step is None or step.by != "person":
        why = (
            " (the evaluation sets it when the condition clears before anyone acknowledges)"
            if target == lifecycle.AUTO_CLEARED
            else ""
        )
        raise RefusedTransition(
            f"an alarm that is {state} cannot become {target}{why}; it may become: "
            + (", ".join(allowed) or "nothing (it is final)"),
            state=state,
            allowed=allowed,
        )
    sets: dict[str, Any] = {"state": target}
    if step.needs == "reply":
        if not (reply or "").strip():
            raise InvalidCase("a reply needs its text: give reply")
        sets |= {"reply": reply.strip(), "actions": _checked_actions(actions_taken)}
    elif reply is not None or actions_taken:
        raise InvalidCase("reply and actions are given when an alarm is replied to")
    stamp = {"acknowledged": "acknowledged_at", "replied": "replied_at", "closed": "closed_at"}
    sets[stamp[target]] = at
    assignments = ", ".join(f"{k} = :{k}" for k in sets)
    conn.execute(
        text(f"UPDATE alarms SET {assignments}, updated_at = :at WHERE id = :id"),
        {**sets, "at": at, "id": alarm_id},
    )
    detail = {k: v for k, v in sets.items() if k in ("reply", "actions")}
    add_event(
        conn,
        alarm_id,
        principal,
        "state_change",
        from_state=state,
        to_state=target,
        note=note,
        detail=detail,
        at=at,
    )
    return read(conn, principal, alarm_id, now=at)


# -- export --------------------------------------------------------------------------------------
def _cell(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return spreadsheet_text(value)


def export(rows: list[dict[str, Any]], fmt: str, lang: str) -> bytes:
    """The alarms as CSV (UTF-8 with a byte-order mark, for Excel and WPS) or XLSX, every
    text cell safe in a spreadsheet (``formats.spreadsheet_text``)."""
    index = 0 if lang == "zh" else 1
    header = [labels[index] for labels in COLUMNS.values()]
    table = [[_cell(r.get(c)) for c in COLUMNS] for r in rows]
    if fmt == "csv":
        import csv

        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(table)
        return ("\ufeff" + out.getvalue()).encode("utf-8")
    if fmt != "xlsx":
        raise InvalidCase(f"format {fmt!r} is not one of: {ALARM_LIST.spoken()}")
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "告警" if lang == "zh" else "Alarms"
    sheet.append(header)
    for line in table:
        sheet.append(line)
    sheet.freeze_panes = "A2"
    out_bytes = io.BytesIO()
    book.save(out_bytes)
    return out_bytes.getvalue()

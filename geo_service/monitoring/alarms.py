"""The alarm pass: monitors' windows judged into exceedances, exceedances into alarms,
alarms linked to residents' requests and escalated when their reply is late.

One pass (``run``, from the server's scheduler or ``geo-service alarms run``):

1. **Windows.** For each monitor, the windows since its watermark (``alarm_watermarks``) up
   to the last whole window ended ``grace_minutes`` ago are judged in PostgreSQL, all
   monitors in one statement per rule (``sql/noise_windows.sql``, ``sql/dust_windows.sql``),
   and the watermark moves to the end of the last one: each window is judged once (a
   packet arriving after its window was judged is stored, and not judged).
2. **Alarms.** The valid windows, in time order per monitor and kind: a window over its
   limit opens an alarm, or extends the one that is active (one per monitor and kind, a
   unique index holds it); a valid window within the limit clears the condition: an alarm
   still ``open`` becomes ``auto_cleared``, one somebody acknowledged keeps its state and
   notes ``condition_cleared_at`` (``geo_service.monitoring.lifecycle``). Dust opens with the
   first mean of a local day past the preset's allowed count. ``offline``: no reading for
   ``offline_after_intervals`` (3) of the monitor's reporting intervals; a reading clears it.
3. **Links.** An alarm and a resident's request of the categories ``reference/monitoring.yaml``
   names for its kind (noise, night work; dust), at the same site, made within
   ``link_minutes`` (60) of the alarm's windows, are linked (``alarm_requests``); recording a
   request links it too (``link``), so the link is found whichever came first.
4. **Escalation.** An alarm not replied to by its ``reply_due_at`` (opened +
   ``GEO_SERVICE_ALARMS_REPLY_HOURS``) escalates once: an event that a unique key holds to
   once per alarm, and one notification per webhook through the liaison outbox.

Rules are data: ``rules.noise_rule`` / ``rules.dust_rule`` from ``reference/``, over them
the city's ``AlarmSettings.noise_rule`` / ``dust_rule``, over those the site's row in
``monitoring_rules``. A site whose overrides do not make a rule is reported and skipped.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, text

from geo_service.access import Principal
from geo_service.liaison import groups, outbox
from geo_service.monitoring import lifecycle, night_work, partitions, queries, rules
from geo_service.monitoring.links import alarm_data, link
from geo_service.settings import AlarmSettings, LiaisonSettings

SYSTEM = "system:alarms"
ORIGIN = dt.datetime(2000, 1, 1)  # the windows' grid: local midnight, as date_bin has it


def actions() -> dict[str, dict[str, str]]:
    """The actions a reply may name (``spray_on``, ``work_stopped``, ...), with labels."""
    return alarm_data()["actions"]


@dataclass
class AlarmReport:
    windows: int = 0
    exceedances: int = 0
    opened: int = 0
    auto_cleared: int = 0
    escalated: int = 0
    linked: int = 0
    notifications: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Verdict:
    """One valid window's (or an offline check's) verdict for one monitor and alarm kind;
    ``raises``: over the limit (and, for dust, past the day's allowed count)."""

    monitor_id: int
    kind: str
    start: dt.datetime
    end: dt.datetime
    raises: bool
    over: bool
    value: float | None = None
    limit: float | None = None
    period: str | None = None
    detail: dict[str, Any] | None = None  # what else the opening event tells (night work)


def floor(at: dt.datetime, minutes: int, zone: str) -> dt.datetime:
    """The start of the window ``at`` falls in, on the grid ``date_bin`` draws in SQL."""
    origin = ORIGIN.replace(tzinfo=ZoneInfo(zone))
    step = dt.timedelta(minutes=minutes)
    return origin + ((at - origin) // step) * step


# -- the rules per monitor ---------------------------------------------------------------------
_MONITORS = """
SELECT m.id, m.kind, m.placement, m.interval_s, m.created_at, s.code AS site_code,
       coalesce(r.noise, '{}'::jsonb) AS noise, coalesce(r.dust, '{}'::jsonb) AS dust,
       coalesce(r.night_work, '{}'::jsonb) AS night_work,
       (SELECT judged_until FROM alarm_watermarks w WHERE w.monitor_id = m.id
        AND w.rule = 'noise') AS noise_until,
       (SELECT judged_until FROM alarm_watermarks w WHERE w.monitor_id = m.id
        AND w.rule = 'dust') AS dust_until,
       (SELECT judged_until FROM alarm_watermarks w WHERE w.monitor_id = m.id
        AND w.rule = 'night') AS night_until
FROM monitors m JOIN sites s ON s.id = m.site_id
LEFT JOIN monitoring_rules r ON r.site_code = s.code
ORDER BY m.id
"""


def _span(
    until_seen: dt.datetime | None, minutes: int, now: dt.datetime, s: AlarmSettings, zone: str
) -> tuple[dt.datetime, dt.datetime] | None:
    since = until_seen or floor(now - dt.timedelta(hours=s.lookback_hours), minutes, zone)
    until = floor(now - dt.timedelta(minutes=s.grace_minutes), minutes, zone)
    return (since, until) if until > since else None


def noise_rule_for(settings: AlarmSettings, site: dict[str, Any]) -> rules.NoiseRule:
    """The rule a site's monitors are held to: the data, the city's values, the site's."""
    return rules.noise_rule({**settings.noise_rule, **site})


def dust_rule_for(settings: AlarmSettings, site: dict[str, Any]) -> rules.DustRule:
    return rules.dust_rule({**settings.dust_rule, **site})


def noise_params(m: Any, settings: AlarmSettings, now: dt.datetime, zone: str) -> dict | None:
    """The monitor's noise rule as the SQL takes it, or None when nothing is due."""
    rule = noise_rule_for(settings, m.noise)
    span = _span(m.noise_until, rule.window_minutes, now, settings, zone)
    if span is None:
        return None
    day, _ = rule.limits(m.placement, "day")
    night, lmax = rule.limits(m.placement, "night")
    return {
        "monitor_id": m.id,
        "since": span[0].isoformat(),
        "until": span[1].isoformat(),
        "window_minutes": rule.window_minutes,
        "valid_fraction": rule.valid_fraction,
        "valid_flags": sorted(rule.valid_flags),
        "day_start": rule.day_start.isoformat(),
        "day_end": rule.day_end.isoformat(),
        "day_limit": day,
        "night_limit": night,
        "lmax_limit": lmax,
    }


def night_params(m: Any, settings: AlarmSettings, now: dt.datetime, zone: str) -> dict | None:
    """The monitor's night-work judgement on the noise rule's windows, or None when
    nothing is due (its own watermark: ``night``)."""
    rule = rules.noise_rule({**settings.noise_rule, **m.noise})
    span = _span(m.night_until, rule.window_minutes, now, settings, zone)
    return None if span is None else night_work.params(m.id, rule, span, m.night_work)


def dust_params(
    m: Any, settings: AlarmSettings, now: dt.datetime, zone: str
) -> tuple[dict, int] | None:
    """The monitor's dust preset as the SQL takes it, and its allowed count per day."""
    rule = dust_rule_for(settings, m.dust)
    span = _span(m.dust_until, rule.window_minutes, now, settings, zone)
    if span is None:
        return None
    return {
        "monitor_id": m.id,
        "since": span[0].isoformat(),
        "until": span[1].isoformat(),
        "window_minutes": rule.window_minutes,
        "valid_fraction": rule.valid_fraction,
        "valid_flags": sorted(rule.valid_flags),
        "factor": rule.factor,
        "limit_value": rule.limit_ug_m3,
    }, rule.allowed_per_day


# -- 1. windows ----------------------------------------------------------------------------------
def judge(
    conn: Connection, settings: AlarmSettings, now: dt.datetime, zone: str, report: AlarmReport
) -> list[Verdict]:
    """Judge every monitor's due windows; store exceedances, move the watermarks."""
    noise, night, dust, allowed = [], [], [], {}
    monitors = conn.execute(text(_MONITORS)).all()
    for m in monitors:
        try:
            if m.kind in ("noise", "both") and (p := noise_params(m, settings, now, zone)):
                noise.append(p)
            if m.kind in ("noise", "both") and (n := night_params(m, settings, now, zone)):
                night.append(n)
            if m.kind in ("dust", "both") and (d := dust_params(m, settings, now, zone)):
                dust.append(d[0])
                allowed[m.id] = d[1]
        except ValueError as problem:
            report.problems.append(f"site {m.site_code}: {problem}")
    verdicts: list[Verdict] = []
    if noise:
        for w in conn.execute(text(queries.sql("noise_windows")), _bind(noise, zone)).all():
            verdicts.append(
                Verdict(
                    w.monitor_id,
                    "noise_laeq",
                    w.start,
                    w.end,
                    w.laeq_exceeds,
                    w.laeq_exceeds,
                    w.laeq,
                    w.limit_value,
                    w.period,
                )
            )
            verdicts.append(
                Verdict(
                    w.monitor_id,
                    "noise_lmax",
                    w.start,
                    w.end,
                    w.lmax_exceeds,
                    w.lmax_exceeds,
                    w.lmax,
                    w.lmax_limit,
                    w.period,
                )
            )
            report.windows += 1
            report.exceedances += int(w.laeq_exceeds) + int(w.lmax_exceeds)
    if dust:
        for w in conn.execute(text(queries.sql("dust_windows")), _bind(dust, zone)).all():
            raises = bool(w.exceeds and w.day_count > allowed[w.monitor_id])
            verdicts.append(
                Verdict(
                    w.monitor_id, "dust", w.start, w.end, raises, w.exceeds, w.mean, w.limit_value
                )
            )
            report.windows += 1
            report.exceedances += int(w.exceeds)
    if not night:  # nothing due: prepare a few monitors' next night (or day)
        night_work.judge(conn, _idle(monitors, settings, now, zone), zone, ahead=night_work.AHEAD)
    for w in night_work.judge(conn, night, zone):
        judged_night = night_verdicts(w)
        verdicts += judged_night
        report.windows += 1
        report.exceedances += sum(v.over for v in judged_night)
    judged = [("noise", p) for p in noise] + [("dust", p) for p in dust]
    _move_watermarks(conn, judged + [("night", p) for p in night])
    return verdicts


def _idle(monitors: list[Any], settings: AlarmSettings, now: dt.datetime, zone: str) -> list[dict]:
    """The noise monitors with an empty stretch at the current window: what the night-work
    statement takes to prepare their coming periods' backgrounds."""
    idle = []
    for m in monitors:
        if m.kind not in ("noise", "both"):
            continue
        try:
            rule = rules.noise_rule({**settings.noise_rule, **m.noise})
            current = now - dt.timedelta(minutes=settings.grace_minutes)
            until = floor(current, rule.window_minutes, zone)
            idle.append(night_work.params(m.id, rule, (until, until), m.night_work))
        except ValueError:
            continue  # reported by the judging above
    return idle


def night_verdicts(w: Any) -> list[Verdict]:
    """A window judged for night work: unpermitted night activity (night windows), and
    activity in a quiet period (the windows a city-wide period or an exam-site ban holds,
    and the other night windows, which clear it)."""
    found = []
    detail = night_work.detail(w)
    args = (w.monitor_id, w.start, w.end)
    values = {"value": w.laeq, "limit": w.limit_value, "period": w.period, "detail": detail}
    if w.period == "night":
        raises = bool(w.active and not w.permitted)
        found.append(Verdict(args[0], night_work.KIND, *args[1:], raises, raises, **values))
    banned = bool(w.quiet_period or w.exam_site_ban)
    if banned or w.period == "night":
        raises = bool(w.active and banned)
        found.append(Verdict(args[0], night_work.QUIET, *args[1:], raises, raises, **values))
    return found


def _bind(params: list[dict], zone: str) -> dict[str, Any]:
    return {"rules": json.dumps(params), "zone": zone}


def _move_watermarks(conn: Connection, judged: list[tuple[str, dict]]) -> None:
    if judged:
        conn.execute(
            text(
                "INSERT INTO alarm_watermarks (monitor_id, rule, judged_until) "
                "SELECT * FROM jsonb_to_recordset(CAST(:marks AS jsonb)) "
                "AS w(monitor_id int, rule text, judged_until timestamptz) "
                "ON CONFLICT (monitor_id, rule) DO UPDATE SET judged_until = EXCLUDED.judged_until"
            ),
            {  # one statement: a row each is a round trip each (0.3 s for 700 monitors)
                "marks": json.dumps(
                    [
                        {"monitor_id": p["monitor_id"], "rule": rule, "judged_until": p["until"]}
                        for rule, p in judged
                    ]
                )
            },
        )


_LAST_SEEN = """
SELECT m.id AS monitor_id, m.interval_s,
       coalesce((SELECT max(r.at) FROM readings r WHERE r.monitor_id = m.id
                 AND r.at > :floor AND r.at <= :now),
                greatest(m.created_at, :floor)) AS last_seen
FROM monitors m ORDER BY m.id
"""


@dataclass(frozen=True)
class Seen:
    """When a monitor last reported (or, silent within the lookback, since when it is
    counted silent) and whether that makes it offline; ``offline`` is None for a monitor
    imported later than ``now`` (neither online nor offline yet)."""

    monitor_id: int
    interval_s: int
    last_seen: dt.datetime
    offline: bool | None


def last_seen(conn: Connection, settings: AlarmSettings, now: dt.datetime) -> list[Seen]:
    """Every monitor's last reading and the offline rule's verdict on it
    (``rules.offline``): the one computation the offline alarms and the monitors' states
    (``geo_service.monitoring.states``) share."""
    floor_at = now - dt.timedelta(hours=settings.lookback_hours)
    return [
        Seen(
            row.monitor_id,
            row.interval_s,
            row.last_seen,
            None if row.last_seen > now else rules.offline(row.last_seen, now, row.interval_s),
        )
        for row in conn.execute(text(_LAST_SEEN), {"now": now, "floor": floor_at})
    ]


def offline_verdicts(conn: Connection, settings: AlarmSettings, now: dt.datetime) -> list[Verdict]:
    """Each monitor: offline (raises) once ``offline_after_intervals`` of its intervals have
    passed without a reading, online (clears) otherwise; a monitor imported later than
    ``now`` is neither."""
    intervals = rules.monitoring_data()["offline_after_intervals"]
    found = []
    for row in last_seen(conn, settings, now):
        if row.offline is None:
            continue
        since = row.last_seen + dt.timedelta(seconds=intervals * row.interval_s)
        down = row.offline
        found.append(
            Verdict(row.monitor_id, "offline", since if down else row.last_seen, now, down, down)
        )
    return found


# -- 2. alarms -----------------------------------------------------------------------------------
@dataclass
class _Active:
    id: int
    state: str
    last_at: dt.datetime
    cleared: bool


def apply(
    conn: Connection,
    verdicts: Iterable[Verdict],
    settings: AlarmSettings,
    now: dt.datetime,
    report: AlarmReport,
) -> set[int]:
    """Open, extend and clear alarms from the verdicts, in time order per monitor and kind;
    returns the alarms touched."""
    ordered = sorted(verdicts, key=lambda v: (v.monitor_id, v.kind, v.start))
    monitors = sorted({v.monitor_id for v in ordered})
    active = {
        (r.monitor_id, r.kind): _Active(
            r.id, r.state, r.last_at, r.condition_cleared_at is not None
        )
        for r in conn.execute(
            text(
                "SELECT id, monitor_id, kind, state, last_at, condition_cleared_at FROM alarms "
                "WHERE state = ANY(:active) AND monitor_id = ANY(:m) FOR UPDATE"
            ),
            {"active": list(lifecycle.ACTIVE), "m": monitors},
        )
    }
    touched: set[int] = set()
    extended: dict[int, dict[str, Any]] = {}
    for v in ordered:
        key = (v.monitor_id, v.kind)
        alarm = active.get(key)
        if v.raises:
            if alarm is None:
                alarm = active[key] = _open(conn, v, settings, now)
                report.opened += 1
            elif v.kind != "offline" or v.end > alarm.last_at:
                _extend(extended, alarm, v)
            touched.add(alarm.id)
            if v.kind != "offline":
                conn.execute(
                    text(
                        "UPDATE monitor_exceedances SET alarm_id = :a WHERE monitor_id = :m "
                        "AND kind = :k AND window_start = :s"
                    ),
                    {"a": alarm.id, "m": v.monitor_id, "k": v.kind, "s": v.start},
                )
        elif (
            alarm is not None
            and not v.over
            and not alarm.cleared
            and (v.kind == "offline" or v.start >= alarm.last_at)
        ):
            _store_extended(conn, [extended.pop(alarm.id)] if alarm.id in extended else [], now)
            if _clear(conn, alarm, v, now):
                report.auto_cleared += 1
                del active[key]
            touched.add(alarm.id)
    _store_extended(conn, list(extended.values()), now)
    return touched


def _open(conn: Connection, v: Verdict, settings: AlarmSettings, now: dt.datetime) -> _Active:
    row = conn.execute(
        text("""
INSERT INTO alarms (monitor_id, kind, state, started_at, last_at, windows, period, worst_value,
    limit_value, reply_due_at, created_at, updated_at)
VALUES (:m, :k, 'open', :start, :end, 1, :period, :value, :limit, :due, :now, :now)
RETURNING id"""),
        {
            "m": v.monitor_id,
            "k": v.kind,
            "start": v.start,
            "end": v.end,
            "period": v.period,
            "value": v.value,
            "limit": v.limit,
            "due": now + dt.timedelta(hours=settings.reply_hours),
            "now": now,
        },
    ).scalar_one()
    add_event(conn, row, None, "opened", to_state="open", detail=_window(v), at=now)
    return _Active(row, "open", v.end, False)


def _window(v: Verdict) -> dict[str, Any]:
    return {
        "window_start": v.start.isoformat(),
        "window_end": v.end.isoformat(),
        "value": v.value,
        "limit": v.limit,
        "period": v.period,
        **(v.detail or {}),
    }


def _extend(extended: dict[int, dict[str, Any]], alarm: _Active, v: Verdict) -> None:
    """A further window over the limit: the same episode (its condition holds again). Noted
    here, stored by ``_store_extended`` for all the pass's alarms at once (an offline alarm
    moves on every pass: one statement each was most of a pass over 700 monitors)."""
    seen = extended.setdefault(
        alarm.id, {"id": alarm.id, "end": v.end, "value": None, "period": None, "windows": 0}
    )
    seen["end"] = max(seen["end"], v.end)
    if v.value is not None:
        seen["value"] = v.value if seen["value"] is None else max(seen["value"], v.value)
    seen["period"] = seen["period"] or v.period
    seen["windows"] += v.kind != "offline"
    alarm.last_at, alarm.cleared = max(alarm.last_at, v.end), False


def _store_extended(conn: Connection, extended: list[dict[str, Any]], now: dt.datetime) -> None:
    if not extended:
        return
    conn.execute(
        text("""
UPDATE alarms a SET last_at = greatest(a.last_at, x."end"), windows = a.windows + x.windows,
    worst_value = CASE WHEN x.value IS NULL THEN a.worst_value
                       ELSE greatest(a.worst_value, x.value) END,
    period = coalesce(a.period, x.period), condition_cleared_at = NULL, updated_at = :now
FROM jsonb_to_recordset(CAST(:rows AS jsonb))
    AS x(id bigint, "end" timestamptz, value float8, period text, windows int)
WHERE a.id = x.id"""),
        {"rows": json.dumps(extended, default=dt.datetime.isoformat), "now": now},
    )


def _clear(conn: Connection, alarm: _Active, v: Verdict, now: dt.datetime) -> bool:
    """The condition cleared: auto-clear an open alarm (True), note it on another."""
    conn.execute(
        text("UPDATE alarms SET condition_cleared_at = :at, updated_at = :now WHERE id = :id"),
        {"at": v.start, "now": now, "id": alarm.id},
    )
    detail = {"cleared_at": v.start.isoformat(), "value": v.value}
    if alarm.state == "open":
        conn.execute(
            text("UPDATE alarms SET state = :s, closed_at = :now WHERE id = :id"),
            {"s": lifecycle.AUTO_CLEARED, "now": now, "id": alarm.id},
        )
        add_event(
            conn,
            alarm.id,
            None,
            "state_change",
            from_state="open",
            to_state=lifecycle.AUTO_CLEARED,
            detail=detail,
            at=now,
        )
        return True
    add_event(conn, alarm.id, None, "condition_cleared", detail=detail, at=now)
    alarm.cleared = True
    return False


def add_event(
    conn: Connection,
    alarm_id: int,
    principal: Principal | None,
    kind: str,
    *,
    from_state: str | None = None,
    to_state: str | None = None,
    note: str | None = None,
    once: str | None = None,
    detail: dict[str, Any] | None = None,
    at: dt.datetime,
) -> bool:
    """Append one event (who, when); a step held to ``once`` per alarm is not recorded
    again: returns whether the event is new."""
    inserted = conn.execute(
        text("""
INSERT INTO alarm_events (alarm_id, at, actor, role, kind, from_state, to_state, note, once,
    detail)
VALUES (:a, :at, :actor, :role, :kind, :from_state, :to_state, :note, :once,
    CAST(:detail AS jsonb))
ON CONFLICT (alarm_id, once) WHERE once IS NOT NULL DO NOTHING
RETURNING id"""),
        {
            "a": alarm_id,
            "at": at,
            "actor": principal.actor if principal else SYSTEM,
            "role": principal.role if principal else None,
            "kind": kind,
            "from_state": from_state,
            "to_state": to_state,
            "note": note,
            "once": once,
            "detail": json.dumps(detail or {}, ensure_ascii=False, default=str),
        },
    ).first()
    return inserted is not None


# -- 4. escalation -------------------------------------------------------------------------------
_OVERDUE = """
SELECT a.id, a.kind, a.state, a.reply_due_at, a.started_at, m.mn, s.code AS site_code
FROM alarms a JOIN monitors m ON m.id = a.monitor_id JOIN sites s ON s.id = m.site_id
WHERE a.state = ANY(:waiting) AND a.reply_due_at <= :now AND a.escalated_at IS NULL
ORDER BY a.id
FOR UPDATE OF a SKIP LOCKED
"""


def escalate(
    conn: Connection,
    liaison: LiaisonSettings,
    now: dt.datetime,
    report: AlarmReport,
    zone: str = partitions.ZONE,
) -> None:
    """Alarms whose reply is late: one escalation each, to the site's lead, via the outbox."""
    rows = conn.execute(
        text(_OVERDUE), {"waiting": list(lifecycle.AWAITING_REPLY), "now": now}
    ).all()
    for row in rows:
        lead = groups.site_lead(conn, row.site_code, now.astimezone(ZoneInfo(zone)).date())
        detail = {"due": row.reply_due_at.isoformat(), "recipient": lead}
        if not add_event(
            conn, row.id, None, "escalation", once="reply/overdue", detail=detail, at=now
        ):
            continue
        conn.execute(
            text("UPDATE alarms SET escalated_at = :now, updated_at = :now WHERE id = :id"),
            {"now": now, "id": row.id},
        )
        report.escalated += 1
        report.notifications += outbox.enqueue(
            conn,
            liaison,
            _message(row, lead, zone),
            kind="alarm_escalation",
            recipient=lead,
            now=now,
            alarm_id=row.id,
        )


def _message(row: Any, lead: str | None, zone: str) -> dict[str, Any]:
    due = row.reply_due_at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")
    to = f" @{lead}" if lead else ""
    kind = lifecycle.KIND_LABELS[row.kind][0]
    return {
        "text": f"【监测告警】A{row.id}（{kind}，{row.site_code}，{row.mn}）"
        f"未在 {due} 前回复，升级督办{to}",
        "alarm": row.id,
        "site": row.site_code,
        "monitor": row.mn,
        "kind": "alarm_escalation",
        "alarm_kind": row.kind,
        "state": row.state,
        "due": row.reply_due_at.isoformat(),
        "recipient": lead,
    }


# -- the pass ------------------------------------------------------------------------------------
def run(
    conn: Connection,
    settings: AlarmSettings,
    liaison: LiaisonSettings,
    *,
    now: dt.datetime | None = None,
    zone: str = partitions.ZONE,
) -> AlarmReport:
    """One pass, in the caller's transaction (see the module's docstring)."""
    now = now or dt.datetime.now(dt.UTC)
    report = AlarmReport()
    verdicts = judge(conn, settings, now, zone, report)
    verdicts += offline_verdicts(conn, settings, now)
    touched = apply(conn, verdicts, settings, now, report)
    if touched:
        report.linked = link(conn, alarms=touched, now=now)
    escalate(conn, liaison, now, report, zone)
    return report

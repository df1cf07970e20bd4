"""Residents' requests: recorded, read, moved through their states, noted, assigned.

Every change is a row of ``request_events`` in the same transaction as the change (and
the table refuses UPDATE and DELETE), so a request's history is the record of what was
done. Reporter contacts and internal notes are read only by those who work the site
(``Principal.can_read_case_personal``), and each such read is audited.

The resolve clock starts when the request is made (not when it is acknowledged: the
resident's wait starts then) and counts the category's working days
(``geo_service.liaison.calendar``); the acknowledge clock counts hours.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from geo_service import audit
from geo_service.access import Permission, Principal
from geo_service.errors import Forbidden, InvalidCase, NotFound, RefusedTransition
from geo_service.impact import SiteRef, resolve_site
from geo_service.liaison import calendar, states
from geo_service.liaison.categories import get_category
from geo_service.monitoring import links
from geo_service.query import LayerQuery
from geo_service.settings import LiaisonSettings
from layers import WORKFLOW_LAYERS
from layers.requests import STATES

LAYER = WORKFLOW_LAYERS["requests"]
# Event kinds the public may read in a request's history (Open311's public updates later).
PUBLIC_EVENTS = ("created", "state_change", "public_note", "assignment", "duplicate")


def _now(now: dt.datetime | None) -> dt.datetime:
    return now or dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class NewRequest:
    """What a request is recorded with; location: the household's point, else a point
    given, else the site's (when only an address is known)."""

    site: str
    category: str
    channel: str
    description: str
    household: int | None = None
    lon: float | None = None
    lat: float | None = None
    address: str | None = None
    reporter_name: str | None = None
    reporter_phone: str | None = None
    priority: str = "normal"
    agency: str | None = None


def site_for_work(conn: Connection, principal: Principal, ref: str | int) -> SiteRef:
    """The site, when the principal records and changes its requests and visits; the
    refusal names it by its code."""
    site = resolve_site(conn, ref)
    if not principal.can_work_requests(site.id):
        raise Forbidden(
            f"the {principal.role} role may not record or change requests of site {site.code}"
            + (" (it is not assigned to you)" if principal.has(Permission.WORK_REQUESTS) else ""),
            site=site.code,
        )
    return site


def affected_household(conn: Connection, site: SiteRef, household: int) -> None:
    """Refuse a household the site does not affect (outside its outer band)."""
    found = conn.execute(
        text("SELECT 1 FROM household_impacts WHERE site_id = :s AND household_id = :h"),
        {"s": site.id, "h": household},
    ).first()
    if found is None:
        raise InvalidCase(
            f"household {household} is not among the households site {site.code} affects",
            zh=f"住户 {household} 不在工地 {site.code} 的影响范围内",
        )


def _location(conn: Connection, site: SiteRef, new: NewRequest) -> str:
    """SQL of the request's point (bound parameters :lon, :lat, :household, :site_id)."""
    if new.household is not None:
        affected_household(conn, site, new.household)
        return "(SELECT geom FROM households WHERE id = :household)"
    if (new.lon is None) != (new.lat is None):
        raise InvalidCase("give both lon and lat, or neither")
    if new.lon is not None:
        return "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)"
    if not new.address:
        raise InvalidCase("say where: a household, a point (lon, lat) or an address")
    return "(SELECT ST_PointOnSurface(geom) FROM sites WHERE id = :site_id)"


def create(
    conn: Connection,
    principal: Principal,
    new: NewRequest,
    *,
    now: dt.datetime | None = None,
) -> str:
    """Record a request; returns its public id (``R2026000042``)."""
    site = site_for_work(conn, principal, new.site)
    category = get_category(conn, new.category)
    for name, value in (("channel", new.channel), ("priority", new.priority)):
        choices = LAYER.field(name).choices or ()
        if value not in choices:
            raise InvalidCase(f"{name} {value!r} is not one of: {', '.join(choices)}")
    if new.lon is not None and not (-180 <= new.lon <= 180 and -90 <= (new.lat or 0) <= 90):
        raise InvalidCase("lon must be within -180..180 and lat within -90..90 (CRS84)")
    point = _location(conn, site, new)
    at = _now(now)
    row_id = conn.execute(
        text("SELECT nextval(pg_get_serial_sequence('requests', 'id'))")
    ).scalar_one()
    public_id = f"R{at.astimezone(calendar.TZ).year}{row_id:06d}"
    conn.execute(
        text(f"""
INSERT INTO requests (id, public_id, site_id, category, channel, priority, description,
    address, household_id, reporter_name, reporter_phone, agency, acknowledge_due,
    resolve_due, created_at, updated_at, geom)
VALUES (:id, :public_id, :site_id, :category, :channel, :priority, :description, :address,
    :household, :reporter_name, :reporter_phone, :agency, :ack_due, :resolve_due, :at, :at,
    {point})"""),
        {
            "id": row_id,
            "public_id": public_id,
            "site_id": site.id,
            "category": category.code,
            "channel": new.channel,
            "priority": new.priority,
            "description": new.description,
            "address": new.address,
            "household": new.household,
            "reporter_name": new.reporter_name,
            "reporter_phone": new.reporter_phone,
            "agency": new.agency,
            "ack_due": at + dt.timedelta(hours=category.acknowledge_hours),
            "resolve_due": calendar.add_working_days(at, category.resolve_working_days),
            "at": at,
            "lon": new.lon,
            "lat": new.lat,
        },
    )
    add_event(conn, row_id, principal, "created", to_state="new", at=at)
    links.link(conn, request=row_id, now=at)  # a monitor's alarm at the site within the hour
    audit.record(
        conn,
        principal,
        audit.AuditAction.CHANGE,
        target=f"request:{public_id}",
        detail={"created": True, "site": site.code},
    )
    return public_id


def add_event(
    conn: Connection,
    request_id: int,
    principal: Principal | None,
    kind: str,
    *,
    from_state: str | None = None,
    to_state: str | None = None,
    note: str | None = None,
    clock: str | None = None,
    detail: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> bool:
    """Append one event; an SLA step (``clock``) already recorded is not recorded again:
    returns whether the event is new."""
    inserted = conn.execute(
        text("""
INSERT INTO request_events (request_id, at, actor, role, kind, from_state, to_state, note,
    clock, detail)
VALUES (:r, :at, :actor, :role, :kind, :from_state, :to_state, :note, :clock,
    CAST(:detail AS jsonb))
ON CONFLICT (request_id, clock) WHERE clock IS NOT NULL DO NOTHING
RETURNING id"""),
        {
            "r": request_id,
            "at": _now(at),
            "actor": principal.actor if principal else "system:sla",
            "role": principal.role if principal else None,
            "kind": kind,
            "from_state": from_state,
            "to_state": to_state,
            "note": note,
            "clock": clock,
            "detail": json.dumps(detail or {}, ensure_ascii=False, default=str),
        },
    ).first()
    return inserted is not None


# -- reading -----------------------------------------------------------------------------------
def _columns(personal: bool) -> str:
    query = LayerQuery(LAYER, personal=personal)
    names = [f"{query.expr(name)} AS {name}" for name in query.field_names]
    return ", ".join(
        [
            *names,
            "m.id AS row_id",
            "m.site_id",
            "m.created_at",
            "m.updated_at",
            "ST_X(m.geom) AS lon",
            "ST_Y(m.geom) AS lat",
        ]
    )


def _source() -> str:
    return LayerQuery(LAYER, personal=True).source


@dataclass(frozen=True)
class RequestFilter:
    site: str | None = None
    state: str | None = None
    category: str | None = None
    assignee: str | None = None
    overdue: bool | None = None
    community: str | None = None
    """A community's name: the requests whose point lies within its outline."""
    household: int | None = None


def _row(conn: Connection, public_id: str, *, personal: bool, lock: bool = False) -> dict[str, Any]:
    row = (
        conn.execute(
            text(
                f"SELECT {_columns(personal)} FROM {_source()} WHERE m.public_id = :id"
                + (" FOR UPDATE OF m" if lock else "")
            ),
            {"id": public_id},
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no request has the id {public_id!r}")
    return dict(row)


def _readable(conn: Connection, principal: Principal, public_id: str) -> dict[str, Any]:
    """The request's public fields, when the principal may read its site's requests."""
    row = _row(conn, public_id, personal=False)
    if not principal.can_read_requests(row["site_id"]):
        # As for a collection: a request one may not read is one that does not exist.
        raise NotFound(f"no request has the id {public_id!r}")
    return row


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in ("row_id", "site_id")}


def events(conn: Connection, request_id: int, *, internal: bool) -> list[dict[str, Any]]:
    kinds = "" if internal else f"AND kind IN ({', '.join(repr(k) for k in PUBLIC_EVENTS)})"
    rows = conn.execute(
        text(
            f"SELECT id, at, actor, kind, from_state, to_state, note, detail "
            f"FROM request_events WHERE request_id = :r {kinds} ORDER BY id"
        ),
        {"r": request_id},
    ).mappings()
    return [dict(r) for r in rows]


def read(conn: Connection, principal: Principal, public_id: str) -> dict[str, Any]:
    """One request with its history: with contacts and internal notes for those who work
    the site (audited), public fields and public events for other readers."""
    row = _readable(conn, principal, public_id)
    personal = principal.can_read_case_personal(row["site_id"])
    if personal:
        row = _row(conn, public_id, personal=True)
        audit.record(
            conn,
            principal,
            audit.AuditAction.READ_PERSONAL,
            target=f"request:{public_id}",
            record_count=1,
        )
    return {
        **_public(row),
        "alarms": links.alarms_of(conn, row["row_id"]),
        "events": events(conn, row["row_id"], internal=personal),
    }


def matching(
    conn: Connection,
    principal: Principal,
    wanted: RequestFilter,
    *,
    now: dt.datetime | None = None,
) -> tuple[str, dict[str, Any]]:
    """The SQL condition (over ``m``) and parameters of the requests the principal may read
    that ``wanted`` selects: the list, its map and its export select through here."""
    clauses, params = [], {"now": _now(now)}
    sites = principal.request_site_ids()
    if sites is not None:
        clauses.append("m.site_id = ANY(:sites)")
        params["sites"] = sorted(sites)
    if wanted.site is not None:
        params["site_id"] = resolve_site(conn, wanted.site).id
        clauses.append("m.site_id = :site_id")
    for name in ("state", "category", "assignee"):
        value = getattr(wanted, name)
        if value is not None:
            if name == "state" and value not in STATES:
                raise InvalidCase(f"state {value!r} is not one of: {', '.join(STATES)}")
            clauses.append(f"m.{name} = :{name}")
            params[name] = value
    if wanted.household is not None:
        clauses.append("m.household_id = :household")
        params["household"] = wanted.household
    if wanted.overdue is not None:
        clauses.append(("" if wanted.overdue else "NOT ") + f"({OVERDUE})")
    if wanted.community is not None:
        known = conn.execute(
            text("SELECT 1 FROM communities WHERE name = :name"), {"name": wanted.community}
        ).first()
        if known is None:
            raise InvalidCase(f"no community is called {wanted.community!r}")
        clauses.append(IN_COMMUNITY)
        params["community"] = wanted.community
    return " AND ".join(clauses) or "TRUE", params


def list_requests(
    conn: Connection,
    principal: Principal,
    wanted: RequestFilter,
    *,
    limit: int,
    offset: int,
    now: dt.datetime | None = None,
    action: audit.AuditAction = audit.AuditAction.READ_PERSONAL,
    detail: dict[str, Any] | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """A page of requests the principal may read, newest first, and how many match.
    Reporter contacts are in the rows of sites the principal works (the read audited as
    ``action``: an export says it is one, with its ``detail``)."""
    where, params = matching(conn, principal, wanted, now=now)
    total = conn.execute(
        text(f"SELECT count(*) FROM requests m WHERE {where}"), params
    ).scalar_one()
    personal_sites = principal.case_personal_site_ids()
    rows = conn.execute(
        text(
            f"SELECT {_columns(True)}, ({OVERDUE}) AS overdue FROM {_source()} WHERE {where} "
            "ORDER BY m.created_at DESC, m.id DESC LIMIT :limit OFFSET :offset"
        ),
        {**params, "limit": limit, "offset": offset},
    ).mappings()
    page, contacts = [], 0
    for row in rows:
        item = dict(row)
        if personal_sites is not None and item["site_id"] not in personal_sites:
            for f in LAYER.personal_fields:
                item.pop(f.name)
        else:
            contacts += 1
        page.append(_public(item))
    if contacts:
        audit.record(
            conn,
            principal,
            action,
            target="requests",
            record_count=contacts,
            detail={"filter": wanted.__dict__, **(detail or {})},
        )
    return page, int(total)


# A request is overdue when an unpaused clock has run out (SQL over ``m``, param :now).
OVERDUE = (
    "m.state IN ('new') AND m.acknowledge_due < :now OR "
    f"m.state IN ({', '.join(repr(s) for s in states.OPEN_STATES if s != states.PAUSED)}) "
    "AND m.resolve_due < :now"
)
# A request is in a community when its point lies within the community's outline (param
# :community, the community's name).
IN_COMMUNITY = (
    "EXISTS (SELECT 1 FROM communities c WHERE c.name = :community "
    "AND ST_Intersects(c.geom, m.geom))"
)


# -- changing ----------------------------------------------------------------------------------
def _for_change(
    conn: Connection, principal: Principal, public_id: str
) -> tuple[dict[str, Any], SiteRef]:
    row = _readable(conn, principal, public_id)
    site = site_for_work(conn, principal, row["site_id"])
    return _row(conn, public_id, personal=False, lock=True), site


def check_assignee(conn: Connection, site: SiteRef, username: str) -> str:
    """The user name as stored, when that user works this site's requests."""
    from geo_service.access import get_role

    row = conn.execute(
        text(
            "SELECT u.username, u.role, u.active, EXISTS (SELECT 1 FROM user_sites us "
            "WHERE us.user_id = u.id AND us.site_code = :code) AS assigned "
            "FROM users u WHERE lower(u.username) = lower(:name)"
        ),
        {"name": username, "code": site.code},
    ).first()
    if row is None or not row.active:
        raise InvalidCase(
            f"no active user is called {username!r}", zh=f"没有名为“{username}”的在用账号"
        )
    permissions = get_role(row.role).permissions
    works = Permission.WORK_REQUESTS in permissions and (
        row.assigned or Permission.READ_PERSONAL_ALL in permissions
    )
    if not works:
        raise InvalidCase(
            f"{row.username} does not work the requests of site {site.code}",
            zh=f"{row.username} 不负责工地 {site.code} 的诉求",
        )
    return str(row.username)


def _duplicate_target(conn: Connection, row: dict[str, Any], target: str | None) -> str:
    """The request this one repeats: another request of the same site, not this one, and
    not one that (through its own duplicate_of) leads back here."""
    if not target:
        raise InvalidCase(
            "a duplicate needs duplicate_of: the id of the request it repeats",
            zh="标为重复须填写所重复的诉求编号",
        )
    if target == row["public_id"]:
        raise InvalidCase("a request cannot be a duplicate of itself", zh="诉求不能重复其自身")
    seen, current = {row["public_id"]}, target
    while current is not None:
        other = conn.execute(
            text("SELECT public_id, site_id, duplicate_of FROM requests WHERE public_id = :id"),
            {"id": current},
        ).first()
        if other is None:
            raise InvalidCase(
                f"no request has the id {current!r}", zh=f"没有编号为 {current} 的诉求"
            )
        if other.site_id != row["site_id"]:
            raise InvalidCase(
                f"{current} is a request of another site", zh=f"{current} 是其他工地的诉求"
            )
        if other.public_id in seen:
            raise InvalidCase(
                f"{target} is itself a duplicate of {row['public_id']}: a cycle",
                zh=f"{target} 已是 {row['public_id']} 的重复诉求，不能循环",
            )
        seen.add(other.public_id)
        current = other.duplicate_of
    return target


def move(
    conn: Connection,
    principal: Principal,
    public_id: str,
    target: str,
    settings: LiaisonSettings,
    *,
    note: str | None = None,
    assignee: str | None = None,
    duplicate_of: str | None = None,
    satisfaction: int | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Move a request to ``target``, or refuse (409) naming the states that may follow."""
    at = _now(now)
    row, site = _for_change(conn, principal, public_id)
    state = row["state"]
    step = states.transition(state, target)
    allowed = states.allowed_from(state)
    if step is None:
        raise RefusedTransition(
            f"a request that is {state} cannot become {target}; it may become: "
            + (", ".join(allowed) or "nothing (it is final)"),
            state=state,
            allowed=allowed,
        )
    principal.require_permission(step.permission)
    if satisfaction is not None and target != "closed":
        raise InvalidCase(
            "satisfaction (1-5) is given when a request is closed",
            zh="满意度（1-5）在办结关闭时填写",
        )
    if satisfaction is not None and not 1 <= satisfaction <= 5:
        raise InvalidCase("satisfaction must be from 1 to 5", zh="满意度须为 1 到 5")
    sets: dict[str, Any] = {"state": target}
    if target == "reopened":
        window = dt.timedelta(days=settings.reopen_days)
        if row["resolved_at"] is None or at > row["resolved_at"] + window:
            raise RefusedTransition(
                f"a request can be reopened within {settings.reopen_days} days of its "
                f"resolution ({row['resolved_at']:%Y-%m-%d}); record a new request instead",
                state=state,
                allowed=tuple(s for s in allowed if s != "reopened"),
            )
        days = get_category(conn, row["category"]).resolve_working_days
        sets |= {
            "cycle": row["cycle"] + 1,
            "resolve_due": calendar.add_working_days(at, days),
            "resolved_at": None,
            "closed_at": None,
            "escalation_level": 0,
            "satisfaction": None,
        }
    if step.needs == "assignee":
        chosen = assignee or row["assignee"]
        if not chosen:
            raise InvalidCase("a request is assigned to someone: give assignee", zh="请选择承办人")
        sets["assignee"] = check_assignee(conn, site, chosen)
    if step.needs == "duplicate_of":
        sets["duplicate_of"] = _duplicate_target(conn, row, duplicate_of)
    detail: dict[str, Any] = {}
    if state == states.PAUSED and row["paused_since"] is not None:
        paused = calendar.working_time_between(row["paused_since"], at)
        sets |= {
            "resolve_due": calendar.add_working_time(row["resolve_due"], paused),
            "paused_since": None,
        }
        detail["paused_working_hours"] = round(paused.total_seconds() / 3600, 2)
    if target == states.PAUSED:
        sets["paused_since"] = at
    stamp = {"acknowledged": "acknowledged_at", "resolved": "resolved_at", "closed": "closed_at"}
    if target in stamp:
        sets[stamp[target]] = at
    if satisfaction is not None:
        sets["satisfaction"] = satisfaction
    _update(conn, row["row_id"], sets, at)
    add_event(
        conn,
        row["row_id"],
        principal,
        "state_change",
        from_state=state,
        to_state=target,
        note=note,
        detail={
            **detail,
            **{
                k: v
                for k, v in sets.items()
                if k in ("assignee", "duplicate_of", "resolve_due", "satisfaction")
            },
        },
        at=at,
    )


def _update(conn: Connection, row_id: int, sets: dict[str, Any], at: dt.datetime) -> None:
    assignments = ", ".join(f"{k} = :{k}" for k in sets)
    conn.execute(
        text(f"UPDATE requests SET {assignments}, updated_at = :at WHERE id = :id"),
        {**sets, "at": at, "id": row_id},
    )


def add_note(
    conn: Connection,
    principal: Principal,
    public_id: str,
    note: str,
    *,
    internal: bool,
    now: dt.datetime | None = None,
) -> None:
    """A public note (the resident may read it) or an internal one (personal: the site's
    officers only)."""
    if not note.strip():
        raise InvalidCase("a note needs text", zh="备注不能为空")
    row, _ = _for_change(conn, principal, public_id)
    add_event(
        conn,
        row["row_id"],
        principal,
        "internal_note" if internal else "public_note",
        note=note,
        at=now,
    )


def assign(
    conn: Connection,
    principal: Principal,
    public_id: str,
    assignee: str,
    settings: LiaisonSettings,
    *,
    agency: str | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Give the request to a user who works the site (and an agency); an acknowledged or
    reopened request becomes ``assigned`` with it. A request no longer open (resolved,
    closed, a side exit) is refused: nobody is to work it until it is reopened."""
    row, site = _for_change(conn, principal, public_id)
    if row["state"] not in states.OPEN_STATES:
        allowed = states.allowed_from(row["state"])
        raise RefusedTransition(
            f"{public_id} is {row['state']}, no longer open: it cannot be assigned"
            + (" (reopen it first)" if "reopened" in allowed else ""),
            state=row["state"],
            allowed=allowed,
        )
    name = check_assignee(conn, site, assignee)
    at = _now(now)
    sets: dict[str, Any] = {"assignee": name}
    if agency is not None:
        sets["agency"] = agency
    _update(conn, row["row_id"], sets, at)
    add_event(conn, row["row_id"], principal, "assignment", detail=sets, at=at)
    if states.transition(row["state"], "assigned") is not None:
        move(conn, principal, public_id, "assigned", settings, assignee=name, now=at)

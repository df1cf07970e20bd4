"""Micro-wishes (微心愿): small wishes of the households around a site (a grab rail fitted,
a ride to hospital, a broken mailbox), posted by the site's officers, claimed and fulfilled
by the working group's members.

``posted → claimed → fulfilled``, ``claimed → posted`` (released), and ``cancelled`` from
either open state. The table below is data: who may make a move is a permission of the one
table of roles (``geo_service.access``) held on the wish's site, so a move kept for the
officers is a data edit. Who claims is a row of ``working_group_members``: the members'
user accounts (role ``member``) claim in a member's name, as do the officers.

The title says what is wished for and is shown to the site's working group; the
description may name the resident, their health or their flat, so it is personal: the
site's officers (and administrators) read it, audited, and the retention rule blanks it.
Planners read the counts per state only. Every change is in the audit log.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from geo_service import audit
from geo_service.access import Permission, Principal
from geo_service.errors import Forbidden, InvalidCase, NotFound, RefusedTransition
from geo_service.impact import SiteRef, resolve_site
from geo_service.liaison.requests import affected_household, site_for_work
from geo_service.own_tables import WISH_STATES

OPEN = ("posted", "claimed")
# How pages name the states (zh, en).
LABELS: dict[str, tuple[str, str]] = {
    "posted": ("待认领", "Posted"),
    "claimed": ("已认领", "Claimed"),
    "fulfilled": ("已实现", "Fulfilled"),
    "cancelled": ("已取消", "Cancelled"),
}
# The officers, and the members, of the wish's site (administrators everywhere).
GROUP = (Permission.WORK_REQUESTS, Permission.READ_SITE_REQUESTS)
OFFICERS = (Permission.WORK_REQUESTS,)


@dataclass(frozen=True)
class WishMove:
    source: str
    target: str
    # Any one of these, held on the wish's site, allows the move.
    permissions: tuple[Permission, ...]
    # The timestamp column the move sets, and whether it names the member who claims.
    stamp: str | None = None
    needs_member: bool = False


MOVES: tuple[WishMove, ...] = (
    WishMove("posted", "claimed", GROUP, "claimed_at", needs_member=True),
    WishMove("claimed", "posted", GROUP),
    WishMove("claimed", "fulfilled", GROUP, "fulfilled_at"),
    WishMove("posted", "cancelled", OFFICERS, "cancelled_at"),
    WishMove("claimed", "cancelled", OFFICERS, "cancelled_at"),
)


def allowed_from(state: str) -> tuple[str, ...]:
    return tuple(m.target for m in MOVES if m.source == state)


def _move(source: str, target: str) -> WishMove | None:
    return next((m for m in MOVES if m.source == source and m.target == target), None)


def holds_on_site(principal: Principal, site_id: int, permissions: tuple[Permission, ...]) -> bool:
    """Whether the principal holds one of ``permissions`` on this site: on a site assigned
    to them, or anywhere for those who read every household (administrators)."""
    if not any(principal.has(p) for p in permissions):
        return False
    return principal.has(Permission.READ_PERSONAL_ALL) or site_id in principal.site_ids


@dataclass(frozen=True)
class NewWish:
    site: str
    title: str
    description: str | None = None
    household: int | None = None
    due_on: dt.date | None = None


def post(
    conn: Connection, principal: Principal, wish: NewWish, *, now: dt.datetime | None = None
) -> int:
    """Post a wish on a site the principal works (for a household it affects, if given)."""
    site = site_for_work(conn, principal, wish.site)
    title = wish.title.strip()
    if not title:
        raise InvalidCase("a micro-wish needs a title: what is wished for")
    if wish.household is not None:
        affected_household(conn, site, wish.household)
    wish_id = conn.execute(
        text("""
INSERT INTO micro_wishes (site_code, household_id, title, description, posted_by, due_on,
    posted_at)
VALUES (:code, :household, :title, :description, :by, :due, coalesce(:at, now()))
RETURNING id"""),
        {
            "code": site.code,
            "household": wish.household,
            "title": title,
            "description": (wish.description or "").strip() or None,
            "by": principal.actor,
            "due": wish.due_on,
            "at": now,
        },
    ).scalar_one()
    _changed(conn, principal, int(wish_id), site, posted=True)
    return int(wish_id)


def _changed(
    conn: Connection, principal: Principal, wish_id: int, site: SiteRef, **what: object
) -> None:
    """A wish's change in the audit log: who, which wish and site, what (never its text)."""
    audit.record(
        conn,
        principal,
        audit.AuditAction.CHANGE,
        target=f"micro_wish:{wish_id}",
        detail={"site": site.code, **what},
    )


_COLUMNS = """w.id, w.site_code AS site, w.household_id AS household, w.title, w.state,
    w.posted_by, w.claimed_by, m.name AS claimed_by_name, m.organisation AS claimed_by_org,
    w.due_on, w.posted_at, w.claimed_at, w.fulfilled_at, w.cancelled_at, w.updated_at"""
_SOURCE = "micro_wishes w LEFT JOIN working_group_members m ON m.id = w.claimed_by"


def _site_readable(conn: Connection, principal: Principal, ref: str) -> SiteRef:
    site = resolve_site(conn, ref)
    if not principal.can_read_requests(site.id):
        raise Forbidden(
            f"the {principal.role} role may not see the micro-wishes of site {site.code}",
            site=site.code,
        )
    return site


def counts(conn: Connection, site: SiteRef) -> dict[str, int]:
    """Wishes per state: every state named, zero or not (a wish is no sensitive attribute
    of a household: the per-site counts need no suppression)."""
    return counts_by_site(conn, [site.code])[site.code]


def counts_by_site(conn: Connection, codes: list[str]) -> dict[str, dict[str, int]]:
    """``counts`` of each of these sites, in one query (the dashboards')."""
    rows = conn.execute(
        text(
            "SELECT site_code, state, count(*) FROM micro_wishes WHERE site_code = ANY(:c) "
            "GROUP BY site_code, state"
        ),
        {"c": list(codes)},
    ).all()
    found = {(code, state): int(n) for code, state, n in rows}
    return {code: {state: found.get((code, state), 0) for state in WISH_STATES} for code in codes}


def site_wishes(
    conn: Connection,
    principal: Principal,
    ref: str,
    *,
    state: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> dict[str, Any]:
    """A site's wishes, newest first, with the counts per state. Readers of every site's
    requests who are not in its working group (planners) get the counts alone; the
    description is in the rows for the site's officers (the read audited)."""
    site = _site_readable(conn, principal, ref)
    answer: dict[str, Any] = {"site": site.code, "counts": counts(conn, site)}
    if not holds_on_site(principal, site.id, GROUP):
        return answer
    if state is not None and state not in WISH_STATES:
        raise InvalidCase(f"state {state!r} is not one of: {', '.join(WISH_STATES)}")
    personal = principal.can_read_case_personal(site.id)
    where = "w.site_code = :code" + (" AND w.state = :state" if state else "")
    params: dict[str, Any] = {"code": site.code, "state": state}
    columns = _COLUMNS + (", w.description" if personal else "")
    rows = [
        dict(r)
        for r in conn.execute(
            text(
                f"SELECT {columns} FROM {_SOURCE} WHERE {where} "
                "ORDER BY w.posted_at DESC, w.id DESC LIMIT :limit OFFSET :offset"
            ),
            {**params, "limit": limit, "offset": offset},
        ).mappings()
    ]
    if personal and any(r["description"] for r in rows):
        audit.record(
            conn,
            principal,
            audit.AuditAction.READ_PERSONAL,
            target=f"micro_wishes:{site.code}",
            record_count=sum(1 for r in rows if r["description"]),
        )
    total = conn.execute(
        text(f"SELECT count(*) FROM micro_wishes w WHERE {where}"), params
    ).scalar_one()
    return {**answer, "wishes": rows, "total": int(total)}


def _row(
    conn: Connection, principal: Principal, wish_id: int, *, lock: bool = False
) -> tuple[dict[str, Any], SiteRef]:
    row = (
        conn.execute(
            text(
                f"SELECT {_COLUMNS}, w.description FROM {_SOURCE} WHERE w.id = :id"
                + (" FOR UPDATE OF w" if lock else "")
            ),
            {"id": wish_id},
        )
        .mappings()
        .first()
    )
    site = resolve_site(conn, row["site"]) if row is not None else None
    # As for a request: a wish of a site one may not read is one that does not exist.
    if row is None or site is None or not principal.can_read_requests(site.id):
        raise NotFound(f"no micro-wish has the id {wish_id}")
    if not holds_on_site(principal, site.id, GROUP):
        raise Forbidden(
            f"the {principal.role} role reads the counts of micro-wishes only "
            f"(GET /api/sites/{site.code}/wishes)",
            site=site.code,
        )
    return dict(row), site


def read(conn: Connection, principal: Principal, wish_id: int) -> dict[str, Any]:
    """One wish; its description for the site's officers (audited)."""
    row, site = _row(conn, principal, wish_id)
    if principal.can_read_case_personal(site.id):
        if row["description"]:
            audit.record(
                conn,
                principal,
                audit.AuditAction.READ_PERSONAL,
                target=f"micro_wish:{wish_id}",
                record_count=1,
            )
    else:
        row.pop("description")
    return {**row, "allowed": list(allowed_from(row["state"]))}


def _member(conn: Connection, site: SiteRef, member_id: int | None) -> int:
    if member_id is None:
        raise InvalidCase("a claim names the working-group member who takes it on: give member")
    found = conn.execute(
        text("SELECT 1 FROM working_group_members WHERE id = :id AND site_code = :code"),
        {"id": member_id, "code": site.code},
    ).first()
    if found is None:
        raise InvalidCase(f"site {site.code} has no working-group member {member_id}")
    return member_id


def transition(
    conn: Connection,
    principal: Principal,
    wish_id: int,
    target: str,
    *,
    member: int | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Move a wish to ``target``, or refuse (409) naming the states that may follow."""
    row, site = _row(conn, principal, wish_id, lock=True)
    state = row["state"]
    move = _move(state, target)
    if move is None:
        allowed = allowed_from(state)
        raise RefusedTransition(
            f"a micro-wish that is {state} cannot become {target}; it may become: "
            + (", ".join(allowed) or "nothing (it is final)"),
            state=state,
            allowed=allowed,
        )
    if not holds_on_site(principal, site.id, move.permissions):
        raise Forbidden(
            f"the {principal.role} role may not make a micro-wish {target} on site {site.code}",
            site=site.code,
        )
    if member is not None and not move.needs_member:
        raise InvalidCase("member is given when a wish is claimed")
    sets: dict[str, Any] = {"state": target}
    if move.needs_member:
        sets["claimed_by"] = _member(conn, site, member)
    if target == "posted":  # released: anyone may claim it again
        sets |= {"claimed_by": None, "claimed_at": None}
    if move.stamp:
        sets[move.stamp] = now or dt.datetime.now(dt.UTC)
    assignments = ", ".join(f"{k} = :{k}" for k in sets)
    conn.execute(
        text(f"UPDATE micro_wishes SET {assignments}, updated_at = now() WHERE id = :id"),
        {**sets, "id": wish_id},
    )
    _changed(conn, principal, wish_id, site, from_state=state, to_state=target, member=member)
    return read(conn, principal, wish_id)

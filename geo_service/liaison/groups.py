"""A site's working group: its liaison officers (a lead and deputies, user assignments
with dates) and its members from the parties (organisation, party, role, name, phone).

Kept by site code, like ``user_sites``, so they survive a re-import of sites. Members'
phones are personal: shown to the site's officers and administrators (audited), to nobody
else.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from geo_service import audit
from geo_service.access import Permission, Principal
from geo_service.errors import Forbidden, InvalidCase, NotFound
from geo_service.impact import SiteRef, resolve_site
from geo_service.liaison.requests import check_assignee
from geo_service.own_tables import OFFICER_DUTIES, PARTIES


@dataclass(frozen=True)
class Member:
    organisation: str
    party: str
    name: str
    role: str | None = None
    phone: str | None = None


def _site(conn: Connection, principal: Principal, ref: str, *, edit: bool) -> SiteRef:
    site = resolve_site(conn, ref)
    allowed = principal.can_work_requests(site.id) if edit else principal.can_read_requests(site.id)
    if not allowed:
        verb = "edit" if edit else "see"
        raise Forbidden(
            f"the {principal.role} role may not {verb} the working group of site {site.code}",
            site=site.code,
        )
    return site


def _changed(conn: Connection, principal: Principal, site: SiteRef, **what: object) -> None:
    """A change to a site's working group, in the audit log (who, which site, what)."""
    audit.record(
        conn, principal, audit.AuditAction.CHANGE, target=f"working_group:{site.code}", detail=what
    )


def site_lead(conn: Connection, site_code: str, on: dt.date) -> str | None:
    """The user who leads the site's officers on this day (the newest assignment)."""
    return conn.execute(
        text("""
SELECT u.username FROM site_officers o JOIN users u ON u.id = o.user_id
WHERE o.site_code = :code AND o.duty = 'lead' AND o.starts_on <= :on
  AND (o.ends_on IS NULL OR o.ends_on >= :on) AND u.active
ORDER BY o.starts_on DESC, o.id DESC LIMIT 1"""),
        {"code": site_code, "on": on},
    ).scalar()


def officers(conn: Connection, principal: Principal, ref: str) -> list[dict[str, Any]]:
    site = _site(conn, principal, ref, edit=False)
    rows = conn.execute(
        text("""
SELECT o.id, u.username, o.duty, o.starts_on, o.ends_on FROM site_officers o
JOIN users u ON u.id = o.user_id WHERE o.site_code = :code
ORDER BY o.duty DESC, o.starts_on, o.id"""),
        {"code": site.code},
    ).mappings()
    return [dict(r) for r in rows]


def add_officer(
    conn: Connection,
    principal: Principal,
    ref: str,
    username: str,
    duty: str,
    starts_on: dt.date,
    ends_on: dt.date | None,
) -> int:
    """Name a user lead or deputy of a site from a date (administrators: it is an access
    decision); the user must be a liaison officer assigned to the site."""
    principal.require_permission(Permission.MANAGE_ACCESS)
    site = resolve_site(conn, ref)
    if duty not in OFFICER_DUTIES:
        raise InvalidCase(f"duty {duty!r} is not one of: {', '.join(OFFICER_DUTIES)}")
    if ends_on is not None and ends_on < starts_on:
        raise InvalidCase("ends_on is before starts_on")
    name = check_assignee(conn, site, username)
    officer_id = conn.execute(
        text("""
INSERT INTO site_officers (site_code, user_id, duty, starts_on, ends_on)
SELECT :code, id, :duty, :starts, :ends FROM users WHERE username = :name RETURNING id"""),
        {"code": site.code, "duty": duty, "starts": starts_on, "ends": ends_on, "name": name},
    ).scalar_one()
    audit.record(
        conn,
        principal,
        audit.AuditAction.ASSIGN_SITES,
        target=f"site:{site.code}",
        detail={"officer": name, "duty": duty, "starts_on": starts_on, "ends_on": ends_on},
    )
    return int(officer_id)


def remove_officer(conn: Connection, principal: Principal, ref: str, officer_id: int) -> None:
    principal.require_permission(Permission.MANAGE_ACCESS)
    site = resolve_site(conn, ref)
    gone = conn.execute(
        text("DELETE FROM site_officers WHERE id = :id AND site_code = :code RETURNING user_id"),
        {"id": officer_id, "code": site.code},
    ).first()
    if gone is None:
        raise NotFound(f"site {site.code} has no officer assignment {officer_id}")
    audit.record(
        conn,
        principal,
        audit.AuditAction.ASSIGN_SITES,
        target=f"site:{site.code}",
        detail={"removed_officer_assignment": officer_id},
    )


def members(conn: Connection, principal: Principal, ref: str) -> list[dict[str, Any]]:
    """The members, with phones for the site's officers (the read audited)."""
    site = _site(conn, principal, ref, edit=False)
    personal = principal.can_read_case_personal(site.id)
    rows = [
        dict(r)
        for r in conn.execute(
            text(
                "SELECT id, organisation, party, role, name, phone FROM working_group_members "
                "WHERE site_code = :code ORDER BY party, id"
            ),
            {"code": site.code},
        ).mappings()
    ]
    if personal and rows:
        audit.record(
            conn,
            principal,
            audit.AuditAction.READ_PERSONAL,
            target=f"working_group:{site.code}",
            record_count=len(rows),
        )
    if not personal:
        for row in rows:
            row.pop("phone")
    return rows


def _check(member: Member) -> None:
    if member.party not in PARTIES:
        raise InvalidCase(f"party {member.party!r} is not one of: {', '.join(PARTIES)}")
    if not member.name.strip() or not member.organisation.strip():
        raise InvalidCase("a member needs a name and an organisation")


def add_member(conn: Connection, principal: Principal, ref: str, member: Member) -> int:
    site = _site(conn, principal, ref, edit=True)
    _check(member)
    member_id = conn.execute(
        text(
            "INSERT INTO working_group_members (site_code, organisation, party, role, name, "
            "phone) VALUES (:code, :organisation, :party, :role, :name, :phone) RETURNING id"
        ),
        {"code": site.code, **member.__dict__},
    ).scalar_one()
    _changed(conn, principal, site, added_member=int(member_id))
    return int(member_id)


def update_member(
    conn: Connection, principal: Principal, ref: str, member_id: int, member: Member
) -> None:
    site = _site(conn, principal, ref, edit=True)
    _check(member)
    changed = conn.execute(
        text(
            "UPDATE working_group_members SET organisation = :organisation, party = :party, "
            "role = :role, name = :name, phone = :phone, updated_at = now() "
            "WHERE id = :id AND site_code = :code"
        ),
        {"code": site.code, "id": member_id, **member.__dict__},
    ).rowcount
    if not changed:
        raise NotFound(f"site {site.code} has no working-group member {member_id}")
    _changed(conn, principal, site, updated_member=member_id)


def remove_member(conn: Connection, principal: Principal, ref: str, member_id: int) -> None:
    site = _site(conn, principal, ref, edit=True)
    gone = conn.execute(
        text("DELETE FROM working_group_members WHERE id = :id AND site_code = :code"),
        {"id": member_id, "code": site.code},
    ).rowcount
    if not gone:
        raise NotFound(f"site {site.code} has no working-group member {member_id}")
    _changed(conn, principal, site, removed_member=member_id)

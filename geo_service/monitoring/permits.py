"""A site's night-work permits: recorded, listed, revoked (never deleted: an alarm judged
while one held must still be explained). What a valid permit covers is judged in
``sql/night_work_windows.sql``; the issuers and activities are ``reference/night_work.yaml``.

A certificate number is on at most one unrevoked permit for any night (a renewal for later
nights is a new permit with the same number); the check and the insert are serialised on
the number, so two editors cannot both record it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from geo_service.access import Principal
from geo_service.errors import InvalidNightPermit, NightPermitConflict, NotFound
from geo_service.liaison import calendar
from geo_service.monitoring import night_work


@dataclass(frozen=True)
class Permit:
    certificate_no: str
    issuer: str
    first_night: dt.date
    last_night: dt.date
    hours_start: dt.time
    hours_end: dt.time
    activities: tuple[str, ...]
    notice_posted_at: dt.datetime | None = None


def check(permit: Permit) -> None:
    """Refuse a permit that cannot be, naming what is wrong."""
    if permit.last_night < permit.first_night:
        raise InvalidNightPermit(
            f"last_night {permit.last_night} is before first_night {permit.first_night}"
        )
    if permit.hours_start == permit.hours_end:
        raise InvalidNightPermit(f"the hours start and end at {permit.hours_start}: no time")
    if permit.issuer not in night_work.issuers():
        raise InvalidNightPermit(
            f"unknown issuer {permit.issuer!r}; issuers are: {', '.join(night_work.issuers())}"
        )
    unknown = sorted(set(permit.activities) - set(night_work.activities()))
    if unknown or not permit.activities:
        known = ", ".join(night_work.activities())
        what = f"unknown activities {', '.join(unknown)}" if unknown else "no activity"
        raise InvalidNightPermit(f"{what}; activities are: {known}")
    if permit.notice_posted_at is not None and permit.notice_posted_at.tzinfo is None:
        raise InvalidNightPermit("notice_posted_at has no time zone (add +08:00 or Z)")
    for name in ("first_night", "last_night", "notice_posted_at"):
        moment = getattr(permit, name)
        if moment is not None and not calendar.plausible(moment):
            raise InvalidNightPermit(
                f"{name} {moment.isoformat()} is not from "
                f"{calendar.YEARS.start} to {calendar.YEARS.stop - 1}"
            )


_COLUMNS = (
    "id, site_code, certificate_no, issuer, first_night, last_night, hours_start, hours_end, "
    "activities, notice_posted_at, created_by, created_at, revoked_at, revoked_by"
)


def create(conn: Connection, principal: Principal, site_code: str, permit: Permit) -> dict:
    check(permit)
    conn.execute(
        text("SELECT pg_advisory_xact_lock(hashtext('night_permit:' || :c))"),
        {"c": permit.certificate_no},
    )
    clash = conn.execute(
        text(
            "SELECT id, site_code, first_night, last_night FROM night_work_permits "
            "WHERE certificate_no = :c AND revoked_at IS NULL "
            "AND first_night <= :last AND last_night >= :first ORDER BY id LIMIT 1"
        ),
        {"c": permit.certificate_no, "first": permit.first_night, "last": permit.last_night},
    ).first()
    if clash:
        raise NightPermitConflict(
            f"certificate {permit.certificate_no!r} is already on permit {clash.id} "
            f"({clash.site_code}, nights {clash.first_night} to {clash.last_night})",
            site=site_code,
        )
    row = conn.execute(
        text(f"""
INSERT INTO night_work_permits (site_code, certificate_no, issuer, first_night, last_night,
    hours_start, hours_end, activities, notice_posted_at, created_by)
VALUES (:site, :certificate_no, :issuer, :first_night, :last_night, :hours_start, :hours_end,
    :activities, :notice_posted_at, :actor)
RETURNING {_COLUMNS}"""),
        {
            **vars(permit),
            "activities": list(permit.activities),
            "site": site_code,
            "actor": principal.actor,
        },
    ).one()
    return _out(row)


def _out(row: Any) -> dict[str, Any]:
    found = dict(row._mapping)
    found["activities"] = list(found["activities"])
    found["revoked"] = found["revoked_at"] is not None
    return found


def list_for(conn: Connection, site_code: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        text(
            f"SELECT {_COLUMNS} FROM night_work_permits WHERE site_code = :s "
            "ORDER BY first_night, id"
        ),
        {"s": site_code},
    )
    return [_out(r) for r in rows]


def revoke(
    conn: Connection, principal: Principal, site_code: str, permit_id: int, now: dt.datetime
) -> dict[str, Any]:
    """Revoke from now on (a revoked permit stays revoked: the first revocation counts)."""
    row = conn.execute(
        text(f"""
UPDATE night_work_permits SET revoked_at = coalesce(revoked_at, :now),
    revoked_by = coalesce(revoked_by, :actor), updated_at = :now
WHERE id = :id AND site_code = :s
RETURNING {_COLUMNS}"""),
        {"now": now, "actor": principal.actor, "id": permit_id, "s": site_code},
    ).first()
    if row is None:
        raise NotFound(f"site {site_code} has no night-work permit {permit_id}", site=site_code)
    return _out(row)

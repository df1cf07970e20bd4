"""What an officer's pages show: their sites with their progress (``my_sites``), a site's
doors in door-knocking order (the household list's address order, ``impact.DOOR_ORDER``),
each with its visit state and open requests, and one household with its impact figures,
visits, requests and mitigation cases.

Personal fields are those ``personal_fields_for`` allows the reader for the site (the
households layer marks them); the vulnerable flag is shown, and may be filtered on, only
when every sensitive field is among them, since a filter on it discloses it as surely as a
column. Every read of personal fields is audited here, in the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from geo_service import audit, impact
from geo_service.access import Principal, personal_fields_for
from geo_service.errors import Forbidden, NotFound
from geo_service.impact import SiteRef
from geo_service.impact.summary import vulnerable_sql
from geo_service.liaison import requests as cases
from geo_service.liaison import states
from geo_service.liaison import visits as visit_log
from geo_service.mitigation import cases as mitigation
from layers import get_layer

# The household list's columns a door shows beside its address (as the list rounds them).
DOOR_COLUMNS = ("community", "building", "unit_label", "residents", "distance_m", "band")


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(repr(v) for v in values) + ")"


@dataclass(frozen=True)
class DoorFilter:
    """Which doors to show: all, or only those not yet visited (nobody met, and no refusal
    or move-out that settles the door: ``visits.MET``, ``visits.SETTLED``), vulnerable, or
    with open requests (any combination: all must hold)."""

    unvisited: bool = False
    vulnerable: bool = False
    open_requests: bool = False


@dataclass(frozen=True)
class Privacy:
    """What this reader may see of this site's households."""

    personal: tuple[str, ...]
    vulnerable: bool
    phone: bool

    @classmethod
    def of(cls, principal: Principal, site_id: int) -> Privacy:
        personal = personal_fields_for(principal, site_id)
        sensitive = {f.name for f in get_layer("households").sensitive_fields}
        return cls(personal, bool(personal) and sensitive <= set(personal), "phone" in personal)


_DOORS = f"""
SELECT hi.household_id, {{columns}},
       coalesce(v.visits, 0) AS visits, v.last_visit_at, v.last_outcome,
       coalesce(v.visited, false) AS visited, coalesce(v.settled, false) AS settled,
       coalesce(r.open_requests, 0) AS open_requests,
       count(*) OVER () AS total
FROM household_impacts hi
LEFT JOIN LATERAL (
    SELECT count(*) AS visits, max(visited_at) AS last_visit_at,
           (array_agg(outcome ORDER BY visited_at DESC, id DESC))[1] AS last_outcome,
           bool_or(outcome IN {_in(visit_log.MET)}) AS visited,
           bool_or(outcome IN {_in(visit_log.SETTLED)}) AS settled
    FROM visits WHERE site_id = hi.site_id AND household_id = hi.household_id
) v ON true
LEFT JOIN LATERAL (
    SELECT count(*) AS open_requests FROM requests
    WHERE site_id = hi.site_id AND household_id = hi.household_id
      AND state IN {_in(states.OPEN_STATES)}
) r ON true
WHERE hi.site_id = :site {{where}}
ORDER BY {impact.DOOR_ORDER}
LIMIT :limit OFFSET :offset"""


def _select(names: tuple[str, ...], privacy: Privacy) -> str:
    columns = [f"{impact.list_sql(n)} AS {n}" for n in (*names, *privacy.personal)]
    if privacy.vulnerable:
        columns.append(f"{vulnerable_sql('(hi.household)')} AS vulnerable")
    return ", ".join(columns)


def _audit(conn: Connection, principal: Principal, site: SiteRef, rows: int, **detail: Any) -> None:
    audit.record(
        conn,
        principal,
        audit.AuditAction.READ_PERSONAL,
        target=f"site:{site.code}",
        record_count=rows,
        detail={"page": "liaison", **detail},
    )


def doors(
    conn: Connection,
    principal: Principal,
    site: SiteRef,
    wanted: DoorFilter,
    *,
    limit: int,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """A page of the site's doors in door-knocking order, and how many match in all."""
    privacy = Privacy.of(principal, site.id)
    if wanted.vulnerable and not privacy.vulnerable:
        raise Forbidden(
            f"the {principal.role} role may not see which households of site {site.code} "
            "are vulnerable, so it may not filter by it",
            site=site.code,
        )
    where = [
        *(["AND NOT coalesce(v.visited OR v.settled, false)"] if wanted.unvisited else []),
        *([f"AND {vulnerable_sql('(hi.household)')}"] if wanted.vulnerable else []),
        *(["AND coalesce(r.open_requests, 0) > 0"] if wanted.open_requests else []),
    ]
    sql = _DOORS.format(columns=_select(DOOR_COLUMNS, privacy), where=" ".join(where))
    params = {"site": site.id, "limit": limit, "offset": offset}
    rows = [dict(r) for r in conn.execute(text(sql), params).mappings()]
    total = rows[0]["total"] if rows else 0
    if not rows and offset:  # a page past the end still says how many there are
        total = len(conn.execute(text(sql), {**params, "limit": None, "offset": 0}).all())
    if privacy.personal and rows:
        _audit(conn, principal, site, len(rows), fields=list(privacy.personal), offset=offset)
    return rows, int(total)


def household(
    conn: Connection, principal: Principal, site: SiteRef, household_id: int
) -> dict[str, Any]:
    """One household the site affects, with the household list's figures, its visits, its
    requests and its mitigation cases; 404 when the site does not affect it."""
    privacy = Privacy.of(principal, site.id)
    names = tuple(n for n in impact.list_columns() if n not in ("lon", "lat"))
    sql = _DOORS.format(columns=_select(names, privacy), where="AND hi.household_id = :household")
    params = {"site": site.id, "household": household_id, "limit": 1, "offset": 0}
    row = conn.execute(text(sql), params).mappings().first()
    if row is None:
        raise NotFound(
            f"household {household_id} is not among the households site {site.code} affects"
        )
    found = dict(row)
    if privacy.personal:
        _audit(conn, principal, site, 1, fields=list(privacy.personal), household=household_id)
    found["visit_log"], _ = visit_log.visits(conn, principal, site.code, household=household_id)
    found["requests"], _ = cases.list_requests(
        conn,
        principal,
        cases.RequestFilter(site=site.code, household=household_id),
        limit=100,
        offset=0,
    )
    found["cases"] = mitigation_cases(conn, principal, site, household_id, privacy)
    return found


def mitigation_cases(
    conn: Connection, principal: Principal, site: SiteRef, household_id: int, privacy: Privacy
) -> list[dict[str, Any]]:
    """The household's cases in the site's mitigation programmes, each with its programme's
    title and events; the case note for a reader of the site's personal fields (audited)."""
    found = conn.execute(
        text(
            "SELECT c.id, p.title FROM mitigation_cases c "
            "JOIN mitigation_programmes p ON p.id = c.programme_id "
            "WHERE p.site_id = :site AND c.household_id = :household ORDER BY p.id"
        ),
        {"site": site.id, "household": household_id},
    ).all()
    result = []
    for case_id, title in found:
        case = mitigation.get_case(
            conn, mitigation.resolve(conn, case_id), personal=privacy.personal
        )
        result.append({**case, "programme_title": title})
    if privacy.personal and result:
        _audit(conn, principal, site, len(result), cases=[c["id"] for c in result])
    return result


_MY_SITES = f"""
SELECT s.id, s.code, s.name,
       (SELECT count(*) FROM household_impacts hi WHERE hi.site_id = s.id) AS households,
       (SELECT count(DISTINCT v.household_id) FROM visits v
        JOIN household_impacts hi ON hi.site_id = v.site_id AND hi.household_id = v.household_id
        WHERE v.site_id = s.id AND v.outcome IN {_in(visit_log.MET)}) AS visited,
       (SELECT count(DISTINCT v.household_id) FROM visits v
        JOIN household_impacts hi ON hi.site_id = v.site_id AND hi.household_id = v.household_id
        WHERE v.site_id = s.id
          AND v.outcome IN {_in(visit_log.MET + visit_log.SETTLED)}) AS done,
       (SELECT count(*) FROM requests r WHERE r.site_id = s.id
        AND r.state IN {_in(states.OPEN_STATES)}) AS open_requests,
       (SELECT o.duty FROM site_officers o JOIN users u ON u.id = o.user_id
        WHERE o.site_code = s.code AND u.username = :me AND o.starts_on <= current_date
          AND (o.ends_on IS NULL OR o.ends_on >= current_date)
        ORDER BY o.duty DESC LIMIT 1) AS duty
FROM sites s
WHERE s.id = ANY(:ids)
ORDER BY s.code"""


def my_sites(conn: Connection, principal: Principal) -> list[dict[str, Any]]:
    """The sites whose requests and visits the principal works, with their progress."""
    every = conn.execute(text("SELECT id FROM sites")).scalars()
    ids = [i for i in every if principal.can_work_requests(i)]
    rows = conn.execute(text(_MY_SITES), {"me": principal.username, "ids": ids}).mappings()
    return [dict(r) for r in rows]


def team(conn: Connection, site: SiteRef) -> list[str]:
    """Whom the forms suggest to take a request: the users assigned to the site (the
    assignment itself is checked by ``requests.check_assignee``)."""
    rows = conn.execute(
        text(
            "SELECT u.username FROM users u JOIN user_sites us ON us.user_id = u.id "
            "WHERE us.site_code = :code AND u.active ORDER BY u.username"
        ),
        {"code": site.code},
    )
    return list(rows.scalars())

"""The visit log (入户走访) and a site's coverage: how many of the households it affects
have been visited, per band, vulnerable households first.

A household is *visited* when a visit met someone there (outcome ``met`` or
``revisit_needed``); a visit that found nobody (``not_at_home``) is an attempt. A refusal or
a move-out settles the household too (``settled``): nobody needs to knock again. Visit notes
are personal: the site's officers and administrators read them, audited.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from geo_service import audit
from geo_service.access import Principal
from geo_service.errors import Forbidden, InvalidCase
from geo_service.impact import SiteRef, resolve_site
from geo_service.impact.disclosure import CELL_KEY, SMALL, protect
from geo_service.impact.summary import vulnerable_sql
from geo_service.liaison import calendar
from geo_service.liaison.requests import affected_household, site_for_work
from geo_service.query import LayerQuery
from layers import WORKFLOW_LAYERS
from layers.visits import OUTCOMES

LAYER = WORKFLOW_LAYERS["visits"]
MET = ("met", "revisit_needed")
SETTLED = ("met", "refused", "moved_out")


@dataclass(frozen=True)
class NewVisit:
    site: str
    household: int
    outcome: str
    visited_at: dt.datetime
    notes: str | None = None
    next_visit_due: dt.date | None = None
    # Who called, as a team's own sheet names them (an import); else the signed-in officer.
    officer: str | None = None


def log(conn: Connection, principal: Principal, visit: NewVisit) -> int:
    """Record a visit by the principal to a household the site affects; returns its id."""
    return log_many(conn, principal, [visit])[0]


def _check(visit: NewVisit, now: dt.datetime) -> None:
    if visit.outcome not in OUTCOMES:
        raise InvalidCase(f"outcome {visit.outcome!r} is not one of: {', '.join(OUTCOMES)}")
    if visit.visited_at.tzinfo is None:
        raise InvalidCase("visited_at needs a time zone, e.g. 2026-12-02T10:30:00+08:00")
    if visit.visited_at > now + dt.timedelta(minutes=5):
        raise InvalidCase("visited_at is in the future", zh="走访时间不能晚于现在")
    if not calendar.plausible(visit.visited_at):
        raise InvalidCase(
            f"visited_at {visit.visited_at.isoformat()} is not from "
            f"{calendar.YEARS.start} to {calendar.YEARS.stop - 1}"
        )


def _affected(conn: Connection, site: SiteRef, households: set[int]) -> None:
    """Refuse the batch when any household is not one the site affects (the first named)."""
    found = set(
        conn.execute(
            text(
                "SELECT household_id FROM household_impacts "
                "WHERE site_id = :s AND household_id = ANY(:h)"
            ),
            {"s": site.id, "h": sorted(households)},
        ).scalars()
    )
    if missing := sorted(households - found):
        affected_household(conn, site, missing[0])


_INSERT = text("""
INSERT INTO visits (site_id, household_id, officer, visited_at, outcome, notes,
    next_visit_due, geom)
SELECT v.site, h.id, v.officer, v.at, v.outcome, v.notes, v.next, h.geom
FROM unnest(CAST(:sites AS int[]), CAST(:households AS bigint[]), CAST(:officers AS text[]),
            CAST(:ats AS timestamptz[]), CAST(:outcomes AS text[]), CAST(:notes AS text[]),
            CAST(:nexts AS date[])) WITH ORDINALITY
     AS v(site, household, officer, at, outcome, notes, next, n)
JOIN households h ON h.id = v.household
ORDER BY v.n
RETURNING id""")


def log_many(conn: Connection, principal: Principal, batch: Sequence[NewVisit]) -> list[int]:
    """Record visits as ``log`` does, each checked the same way, in one statement; all or
    none. A season's sheet or the demo's thousands of visits cost one round trip, not five
    per visit. Returns the ids in the batch's order."""
    now = dt.datetime.now(dt.UTC)
    sites = {code: site_for_work(conn, principal, code) for code in {v.site for v in batch}}
    for visit in batch:
        _check(visit, now)
    for code, site in sites.items():
        _affected(conn, site, {v.household for v in batch if v.site == code})
    # One statement takes its identity values in the order its SELECT produces the rows
    # (ORDER BY v.n): sorted, the ids follow the batch.
    ids = sorted(
        int(i)
        for i in conn.execute(
            _INSERT,
            {
                "sites": [sites[v.site].id for v in batch],
                "households": [v.household for v in batch],
                "officers": [v.officer or principal.actor for v in batch],
                "ats": [v.visited_at for v in batch],
                "outcomes": [v.outcome for v in batch],
                "notes": [v.notes for v in batch],
                "nexts": [v.next_visit_due for v in batch],
            },
        ).scalars()
    )
    audit.record_many(
        conn,
        principal,
        audit.AuditAction.CHANGE,
        [
            (f"visit:{i}", {"site": sites[v.site].code, "household": v.household})
            for i, v in zip(ids, batch, strict=True)
        ],
    )
    return ids


def _readable_site(conn: Connection, principal: Principal, ref: str) -> Any:
    site = resolve_site(conn, ref)
    if not principal.can_read_requests(site.id):
        raise Forbidden(
            f"the {principal.role} role may not see visits of site {site.code}", site=site.code
        )
    return site


def visits(
    conn: Connection,
    principal: Principal,
    ref: str,
    *,
    household: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """A site's visits, newest first; notes for the site's officers (audited)."""
    site = _readable_site(conn, principal, ref)
    personal = principal.can_read_case_personal(site.id)
    query = LayerQuery(LAYER, personal=personal)
    columns = ", ".join(f"{query.expr(n)} AS {n}" for n in query.field_names)
    where = "m.site_id = :site" + (" AND m.household_id = :h" if household is not None else "")
    params = {"site": site.id, "h": household}
    total = conn.execute(text(f"SELECT count(*) FROM visits m WHERE {where}"), params).scalar_one()
    rows = [
        dict(r)
        for r in conn.execute(
            text(
                f"SELECT m.id, {columns} FROM {query.source} WHERE {where} "
                "ORDER BY m.visited_at DESC, m.id DESC LIMIT :limit OFFSET :offset"
            ),
            {**params, "limit": limit, "offset": offset},
        ).mappings()
    ]
    if personal and rows:
        audit.record(
            conn,
            principal,
            audit.AuditAction.READ_PERSONAL,
            target=f"visits:{site.code}",
            record_count=len(rows),
        )
    return rows, int(total)


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(repr(v) for v in values) + ")"


_COVERAGE = f"""
WITH hh AS (
    SELECT hi.band, hi.band_outer_m, h.*,
           EXISTS (SELECT 1 FROM visits v WHERE v.site_id = hi.site_id
                   AND v.household_id = h.id AND v.outcome IN {_in(MET)}) AS visited,
           EXISTS (SELECT 1 FROM visits v WHERE v.site_id = hi.site_id
                   AND v.household_id = h.id) AS attempted,
           EXISTS (SELECT 1 FROM visits v WHERE v.site_id = hi.site_id
                   AND v.household_id = h.id AND v.outcome IN {_in(SETTLED)}) AS settled
    FROM household_impacts hi JOIN households h ON h.id = hi.household_id
    WHERE hi.site_id = :site
)
{{cells}}
"""
# One cell of the coverage over ``hh`` (its rows selected by ``where``, grouped by ``by``):
# the three cells are one statement, so the site's households are found once.
_CELL = f"""
SELECT {{kind}} AS cell, {{band}} AS band, {{outer}} AS band_outer_m,
       count(*) AS households, {CELL_KEY} AS cell_key,
       count(*) FILTER (WHERE h.visited) AS visited,
       count(*) FILTER (WHERE h.attempted) AS attempted,
       count(*) FILTER (WHERE h.settled) AS settled
FROM hh h CROSS JOIN disclosure_key dk WHERE {{where}} {{by}}"""


# The counts of a cell of vulnerable households; households last: ``protect`` sizes the cell
# by it before it is itself protected.
VULNERABLE_COUNTS = ("visited", "attempted", "settled", "households")


def protect_vulnerable(cell: dict[str, Any], exact: bool) -> dict[str, Any]:
    """A cell of a site's vulnerable households (``households``, with ``cell_key`` over
    them) and its counts, as the reader may see it. The cell's households are themselves a
    count of a sensitive attribute: when they are shown "<5", so is every count of the cell
    (else 3 visited of "<5" would say there are at least 3)."""
    counts = tuple(c for c in VULNERABLE_COUNTS if c in cell)
    cell = protect(cell, counts, exact)
    if not exact and cell["households"] == SMALL:
        cell = {**cell, **dict.fromkeys(counts, SMALL)}
    return cell


def coverage(conn: Connection, principal: Principal, ref: str) -> dict[str, Any]:
    """Visited households of a site: its vulnerable households first, then per band and in
    all. The vulnerable line counts a sensitive attribute: exact for those who may read the
    site's households' personal fields, perturbed (and small cells "<5") for others."""
    site = _readable_site(conn, principal, ref)
    exact = principal.can_read_personal(site.id)

    cells = " UNION ALL ".join(
        _CELL.format(kind=f"'{kind}'", band=band, outer=outer, where=where, by=by)
        for kind, band, outer, where, by in (
            ("vulnerable", "NULL", "NULL", vulnerable_sql("h"), ""),
            ("band", "h.band", "h.band_outer_m", "TRUE", "GROUP BY h.band, h.band_outer_m"),
            ("all", "NULL", "NULL", "TRUE", ""),
        )
    )
    found: dict[str, list[dict[str, Any]]] = {"vulnerable": [], "band": [], "all": []}
    for row in conn.execute(text(_COVERAGE.format(cells=cells)), {"site": site.id}).mappings():
        found[row["cell"]].append({k: v for k, v in row.items() if k != "cell"})
    (vulnerable,), (total,) = found["vulnerable"], found["all"]
    for line in (vulnerable, total):
        del line["band"], line["band_outer_m"]
    vulnerable = protect_vulnerable(vulnerable, exact)
    bands = [protect(r, (), True) for r in sorted(found["band"], key=lambda r: r["band"])]
    total = protect(total, (), True)
    return {
        "site": site.code,
        "vulnerable": vulnerable,
        "bands": bands,
        "all": total,
        "exact": exact,
    }

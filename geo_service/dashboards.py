"""Dashboards for planners and site leads: one per site and one for all the reader's sites.

The figures, each from one set-based statement over every site asked for (one site, or all
the reader may see), whatever their number:

- households: affected households and how many were visited (``liaison.visits.MET``, the
  definition of ``/coverage``), and the cell of vulnerable households with its visited;
- requests: open and overdue (``liaison.requests.OVERDUE``) per category and per
  community, the median hours to acknowledge and days to resolve (calendar time from the
  request, as the resident waits), and the on-time rate: of the requests resolved, the share
  resolved by their resolve-by time (which a pause for the resident has moved out);
- the mitigation funnel (``mitigation.funnel``) and the micro-wishes per state
  (``liaison.wishes.counts_by_site``).

Privacy: the vulnerable cell counts a sensitive attribute. A reader who may not read the
site's personal fields sees it through the project's one rule
(``geo_service.impact.disclosure``: cell-key perturbation, cells under 5 as "<5"), by
``liaison.visits.protect_vulnerable``, as ``/coverage`` shows it. Each site's cell and the
all-sites cell are keyed on their own households, so the total less the other sites' cells
gives back a hidden cell only to within the sum of their perturbations. Requests, visits,
programmes and wishes are the working group's acts, not attributes of a household: exact.

Who sees what follows ``geo_service.access``: a site's dashboard for whoever reads its
requests (``Principal.can_read_requests``: planners and administrators every site, officers
and members their own); the funnel only where the households may be listed
(``Principal.can_list_households``, as for ``/api/sites/{site}/mitigation``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, text

from geo_service.access import Principal
from geo_service.errors import Forbidden
from geo_service.impact import SiteRef, resolve_site
from geo_service.impact.disclosure import RECORD_KEY
from geo_service.impact.summary import vulnerable_sql
from geo_service.liaison import states, wishes
from geo_service.liaison.requests import OVERDUE
from geo_service.liaison.visits import MET, protect_vulnerable
from geo_service.mitigation import funnel
from geo_service.own_tables import WISH_STATES

# The steps a funnel counts households at, in the path's order (``mitigation.funnel``).
FUNNEL_STEPS = funnel.STEPS
_MET = ", ".join(f"'{o}'" for o in MET)

# Per site (and once for all of them: site_id NULL, each household once), over the
# households the sites affect. ``cell_key`` is over the vulnerable households: the cell
# ``/coverage`` shows. Reads household_impacts once; visits grouped once (no index per row).
_HOUSEHOLDS = f"""
WITH v AS (
    SELECT site_id, household_id, bool_or(outcome IN ({_MET})) AS visited
    FROM visits WHERE site_id = ANY(:sites) AND household_id IS NOT NULL
    GROUP BY site_id, household_id
), hh AS (
    SELECT hi.site_id, h.id, {vulnerable_sql("h")} AS vulnerable,
           coalesce(v.visited, false) AS visited
    FROM household_impacts hi JOIN households h ON h.id = hi.household_id
    LEFT JOIN v ON v.site_id = hi.site_id AND v.household_id = hi.household_id
    WHERE hi.site_id = ANY(:sites)
), cells AS (
    SELECT site_id, id, vulnerable, visited FROM hh
    UNION ALL
    SELECT NULL, id, bool_or(vulnerable), bool_or(visited) FROM hh GROUP BY id
)
SELECT h.site_id, count(*) AS households, count(*) FILTER (WHERE h.visited) AS visited,
       count(*) FILTER (WHERE h.vulnerable) AS vulnerable_households,
       count(*) FILTER (WHERE h.vulnerable AND h.visited) AS vulnerable_visited,
       coalesce(sum({RECORD_KEY}) FILTER (WHERE h.vulnerable), 0) % 256 AS cell_key
FROM cells h CROSS JOIN disclosure_key dk
GROUP BY h.site_id
"""

# A request's community: its household's, else the community its point lies in.
_REQUESTS = f"""
WITH r AS (
    SELECT m.site_id, m.category,
           coalesce(b.community_id, (SELECT c.id FROM communities c
                                     WHERE ST_Intersects(c.geom, m.geom)
                                     ORDER BY c.id LIMIT 1)) AS community_id,
           m.state = ANY(:open) AS open, ({OVERDUE}) AS overdue,
           extract(epoch FROM m.acknowledged_at - m.created_at) / 3600 AS acknowledge_hours,
           extract(epoch FROM m.resolved_at - m.created_at) / 86400 AS resolve_days,
           m.resolved_at <= m.resolve_due AS on_time
    FROM requests m
    LEFT JOIN households h ON h.id = m.household_id
    LEFT JOIN buildings b ON b.id = h.building_id
    WHERE m.site_id = ANY(:sites)
), g AS (
    SELECT GROUPING(site_id) AS g_site, GROUPING(category) AS g_category,
           GROUPING(community_id) AS g_community, site_id, category, community_id,
           count(*) AS requests, count(*) FILTER (WHERE open) AS open,
           count(*) FILTER (WHERE overdue) AS overdue,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY acknowledge_hours)
               AS median_acknowledge_hours,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY resolve_days) AS median_resolve_days,
           count(resolve_days) AS resolved, count(*) FILTER (WHERE on_time) AS on_time
    FROM r
    GROUP BY GROUPING SETS ((), (site_id), (category), (community_id),
                            (site_id, category), (site_id, community_id))
)
SELECT g.*, c.name_zh AS category_zh, c.name_en AS category_en, c.position,
       co.name AS community
FROM g
LEFT JOIN request_categories c ON c.code = g.category
LEFT JOIN communities co ON co.id = g.community_id
ORDER BY c.position NULLS FIRST, co.name NULLS LAST
"""


def site_dashboard(
    conn: Connection, principal: Principal, ref: str, *, now: dt.datetime | None = None
) -> dict[str, Any]:
    """One site's figures, for whoever reads its requests."""
    site = resolve_site(conn, ref)
    if not principal.can_read_requests(site.id):
        raise Forbidden(
            f"the {principal.role} role may not see the dashboard of site {site.code}"
            + (" (it is not assigned to you)" if principal.site_ids else ""),
            site=site.code,
        )
    figures = _figures(conn, principal, [site], now)
    return {"site": _site(site), **figures["sites"][0], "exact": figures["exact"]}


def all_sites_dashboard(
    conn: Connection, principal: Principal, *, now: dt.datetime | None = None
) -> dict[str, Any]:
    """Every site the reader may see, one line each, and the figures of all of them."""
    readable = principal.request_site_ids()
    if readable is not None and not readable:
        raise Forbidden(f"the {principal.role} role may not see any site's dashboard")
    rows = conn.execute(
        text(
            "SELECT id, code, name FROM sites "
            "WHERE CAST(:ids AS integer[]) IS NULL OR id = ANY(:ids) ORDER BY code"
        ),
        {"ids": None if readable is None else sorted(readable)},
    ).all()
    sites = [SiteRef(*r) for r in rows]
    return _figures(conn, principal, sites, now)


def _site(site: SiteRef) -> dict[str, Any]:
    return {"id": site.id, "code": site.code, "name": site.name}


def _figures(
    conn: Connection, principal: Principal, sites: list[SiteRef], now: dt.datetime | None
) -> dict[str, Any]:
    ids = [s.id for s in sites]
    exact = {s.id: principal.can_read_personal(s.id) for s in sites}
    homes = {r["site_id"]: r for r in conn.execute(text(_HOUSEHOLDS), {"sites": ids}).mappings()}
    params = {"sites": ids, "open": list(states.OPEN_STATES), "now": now or dt.datetime.now(dt.UTC)}
    cases = [dict(r) for r in conn.execute(text(_REQUESTS), params).mappings()]
    wished = wishes.counts_by_site(conn, [s.code for s in sites])
    funnels = _funnels(conn, principal, sites)
    by_site: dict[int | None, list[dict[str, Any]]] = {}
    for row in cases:
        by_site.setdefault(None if row["g_site"] else row["site_id"], []).append(row)
    every = all(exact.values())
    per_site = [
        {
            "site": _site(site),
            "households": _households(homes.get(site.id), exact[site.id]),
            **_requests(by_site.get(site.id, [])),
            "mitigation": funnels[site.id],
            "wishes": wished[site.code],
        }
        for site in sites
    ]
    totals = {
        "households": _households(homes.get(None), every),
        **_requests(by_site.get(None, [])),
        "mitigation": _summed_funnel([f for f in funnels.values() if f is not None]),
        "wishes": {s: sum(w[s] for w in wished.values()) for s in WISH_STATES},
    }
    return {"sites": per_site, "all": totals, "exact": every}


def _pct(part: int | str, whole: int | str) -> float | None:
    """A share in per cent; None when either is hidden ("<5") or there is nothing to share."""
    if isinstance(part, str) or isinstance(whole, str) or not whole:
        return None
    return round(100 * part / whole, 1)


def _households(row: Any, exact: bool) -> dict[str, Any]:
    row = (
        dict(row)
        if row is not None
        else dict.fromkeys(
            ("households", "visited", "vulnerable_households", "vulnerable_visited", "cell_key"), 0
        )
    )
    cell = protect_vulnerable(
        {
            "households": row["vulnerable_households"],
            "visited": row["vulnerable_visited"],
            "cell_key": row["cell_key"],
        },
        exact,
    )
    cell["visited_pct"] = _pct(cell["visited"], cell["households"])
    return {
        "households": row["households"],
        "visited": row["visited"],
        "visited_pct": _pct(row["visited"], row["households"]),
        "vulnerable": cell,
    }


_REQUEST_COUNTS = (
    "requests",
    "open",
    "overdue",
    "resolved",
    "on_time",
    "median_acknowledge_hours",
    "median_resolve_days",
)


def _counts(row: dict[str, Any] | None) -> dict[str, Any]:
    if row is None:
        return {
            **dict.fromkeys(_REQUEST_COUNTS[:5], 0),
            "median_acknowledge_hours": None,
            "median_resolve_days": None,
            "on_time_pct": None,
        }
    found = {k: row[k] for k in _REQUEST_COUNTS}
    for k in ("median_acknowledge_hours", "median_resolve_days"):
        found[k] = None if found[k] is None else round(float(found[k]), 1)
    found["on_time_pct"] = _pct(found["on_time"], found["resolved"])
    return found


def _requests(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Rows of one site's grouping sets (or of the all-sites ones): its totals, and the
    lines per category and per community."""
    total = next((r for r in rows if r["g_category"] and r["g_community"]), None)
    by_category = [
        {
            "category": r["category"],
            "name_zh": r["category_zh"],
            "name_en": r["category_en"],
            **_counts(r),
        }
        for r in rows
        if not r["g_category"]
    ]
    by_community = [
        {"community_id": r["community_id"], "community": r["community"], **_counts(r)}
        for r in rows
        if not r["g_community"]
    ]
    return {
        "requests": {**_counts(total), "by_category": by_category, "by_community": by_community}
    }


def _funnels(
    conn: Connection, principal: Principal, sites: list[SiteRef]
) -> dict[int, dict[str, Any] | None]:
    """The funnel of each site's programmes (None where the reader may not list the site's
    households); ``mitigation.funnel`` answers per site, so only sites with a programme ask."""
    ids = [s.id for s in sites if principal.can_list_households(s.id)]
    with_programmes = set(
        conn.execute(
            text("SELECT DISTINCT site_id FROM mitigation_programmes WHERE site_id = ANY(:s)"),
            {"s": ids},
        ).scalars()
    )
    found: dict[int, dict[str, Any] | None] = {s.id: None for s in sites}
    for site_id in ids:
        programmes = funnel.funnel(conn, site_id) if site_id in with_programmes else []
        found[site_id] = {"programmes": programmes, **_summed_funnel_of(programmes)}
    return found


def _summed_funnel_of(programmes: list[dict[str, Any]]) -> dict[str, Any]:
    """Cases and the households that reached each step, over the programmes."""
    reached = dict.fromkeys(FUNNEL_STEPS, 0)
    for p in programmes:
        for step, n in p["reached"].items():
            reached[step] = reached.get(step, 0) + n
    return {"cases": sum(p["cases"] for p in programmes), "reached": reached}


def _summed_funnel(funnels: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not funnels:
        return None
    return _summed_funnel_of([p for f in funnels for p in f["programmes"]])

"""Mitigation programmes: what a site offers (windows, ventilators, rehousing), to whom (the
eligibility rule over the impact model's predictions), and enrolment.

The rule compares the values a reader sees in the site's household list
(``impact.list_sql``: levels and exceedances rounded to 0.1 dB, exceedance 0 under the
limit), so a household listed at 65.0 dB(A) is eligible under "day Leq ≥ 65". Every
threshold is inclusive: exactly X counts. ``match`` says whether one threshold met is enough
(``any``, the default) or all given must be; ``max_band`` keeps the rule within the inner
bands (1 = the innermost), else the whole outer band.

Eligibility is computed from the current model on every read, like the impact views: a case
whose household the model no longer selects (equipment moved, bands changed) is shown as
``eligible_now: false`` and keeps its case and history; enrolment never deletes.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from sqlalchemy import Connection, text

from geo_service import impact
from geo_service.access import Principal
from geo_service.errors import NotFound

# Rule column -> the household list's column it bounds from below.
THRESHOLDS: dict[str, str] = {
    "min_leq_day": "leq_day",
    "min_leq_night": "leq_night",
    "min_exceed_day": "exceed_day",
    "min_exceed_night": "exceed_night",
}
RULE_FIELDS = (*THRESHOLDS, "match", "max_band")
EDITABLE = ("title", *RULE_FIELDS, "budget", "unit_cost_per_m2")


@dataclass(frozen=True)
class Kind:
    code: str
    name_zh: str
    name_en: str


@cache
def kinds() -> dict[str, Kind]:
    """The kinds of measure, from ``geo_service/reference/mitigation_kinds.csv``."""
    path = resources.files("geo_service.reference").joinpath("mitigation_kinds.csv")
    with path.open(encoding="utf-8") as f:
        return {row["code"]: Kind(**row) for row in csv.DictReader(f)}


def sync_kinds(conn: Connection) -> None:
    """Make the kinds table hold the file's kinds (every migrate; a kind in use is kept)."""
    if conn.execute(text("SELECT to_regclass('mitigation_kinds')")).scalar() is None:
        return
    for kind in kinds().values():
        conn.execute(
            text(
                "INSERT INTO mitigation_kinds VALUES (:code, :name_zh, :name_en) ON CONFLICT "
                "(code) DO UPDATE SET name_zh = EXCLUDED.name_zh, name_en = EXCLUDED.name_en"
            ),
            vars(kind),
        )


def eligible_sql() -> str:
    """SQL true when the ``household_impacts hi`` row meets programme ``p``'s rule; a NULL
    level (no night work) meets no threshold."""
    met = {
        c: f"coalesce({impact.list_sql(name)} >= p.{c}, false)" for c, name in THRESHOLDS.items()
    }
    met_any = " OR ".join(f"(p.{c} IS NOT NULL AND {m})" for c, m in met.items())
    met_all = " AND ".join(f"(p.{c} IS NULL OR {m})" for c, m in met.items())
    band = "(p.max_band IS NULL OR hi.band <= p.max_band)"
    return f"({band} AND CASE p.match WHEN 'all' THEN ({met_all}) ELSE ({met_any}) END)"


_COLUMNS = (
    "p.id, s.code AS site_code, p.kind, k.name_zh AS kind_zh, k.name_en AS kind_en, p.title, "
    + ", ".join(f"p.{c}" for c in RULE_FIELDS)
    + ", p.budget, p.unit_cost_per_m2, p.created_by, p.created_at, p.updated_at"
)
_FROM = (
    "FROM mitigation_programmes p JOIN sites s ON s.id = p.site_id "
    "JOIN mitigation_kinds k ON k.code = p.kind"
)


@dataclass(frozen=True)
class Programme:
    """A programme as the endpoints check it: which site's it is."""

    id: int
    site_id: int
    site_code: str


def resolve(conn: Connection, programme_id: int) -> Programme:
    row = conn.execute(
        text(
            "SELECT p.id, p.site_id, s.code FROM mitigation_programmes p "
            "JOIN sites s ON s.id = p.site_id WHERE p.id = :id"
        ),
        {"id": programme_id},
    ).one_or_none()
    if row is None:
        raise NotFound(f"no mitigation programme has the id {programme_id}")
    return Programme(*row)


def get(conn: Connection, programme_id: int) -> dict[str, Any]:
    row = conn.execute(text(f"SELECT {_COLUMNS} {_FROM} WHERE p.id = :id"), {"id": programme_id})
    return _shaped(dict(row.mappings().one()))


def of_site(conn: Connection, site_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        text(f"SELECT {_COLUMNS} {_FROM} WHERE p.site_id = :site ORDER BY p.id"),
        {"site": site_id},
    ).mappings()
    return [_shaped(dict(r)) for r in rows]


def _shaped(row: dict[str, Any]) -> dict[str, Any]:
    """The rule as one object, as it is sent."""
    row["rule"] = {name: row.pop(name) for name in RULE_FIELDS}
    return row


def create(
    conn: Connection, site_id: int, values: dict[str, Any], principal: Principal
) -> dict[str, Any]:
    """A new programme; ``values`` are checked by the caller (the API's body model)."""
    names = ("kind", *EDITABLE)
    new_id = conn.execute(
        text(
            f"INSERT INTO mitigation_programmes (site_id, created_by, {', '.join(names)}) "
            f"VALUES (:site, :by, {', '.join(':' + n for n in names)}) RETURNING id"
        ),
        {"site": site_id, "by": principal.actor, **{n: values.get(n) for n in names}}
        | {"match": values.get("match") or "any"},
    ).scalar_one()
    return get(conn, new_id)


def edit(conn: Connection, programme_id: int, values: dict[str, Any]) -> dict[str, Any]:
    """Change the title, rule or costs; the rule as a whole is checked by the table."""
    sets = ", ".join(f"{n} = :{n}" for n in values if n in EDITABLE)
    if sets:
        conn.execute(
            text(f"UPDATE mitigation_programmes SET {sets}, updated_at = now() WHERE id = :id"),
            {"id": programme_id, **values},
        )
    return get(conn, programme_id)


# New cases for the households the rule selects and not yet enrolled, each with its first
# event, in one statement; ON CONFLICT makes a second run (or a concurrent one) add nothing.
_ENROL = f"""
WITH selected AS (
    SELECT hi.household_id
    FROM mitigation_programmes p
    JOIN household_impacts hi ON hi.site_id = :site
    WHERE p.id = :programme AND {eligible_sql()}
), created AS (
    INSERT INTO mitigation_cases (programme_id, household_id)
    SELECT :programme, household_id FROM selected
    ON CONFLICT (programme_id, household_id) DO NOTHING
    RETURNING id
), logged AS (
    INSERT INTO mitigation_case_events (case_id, actor, role, from_state, to_state)
    SELECT id, :actor, :role, NULL, 'eligible' FROM created
    RETURNING case_id
)
SELECT (SELECT count(*) FROM selected) AS selected, (SELECT count(*) FROM logged) AS created
"""

# Enrolled households the rule no longer selects: a hashed NOT IN over the site's selected
# households (a join of each case with the view's rows compares every pair).
_LEFT = f"""
SELECT count(*) FROM mitigation_cases c
WHERE c.programme_id = :programme AND c.household_id NOT IN (
    SELECT hi.household_id
    FROM household_impacts hi JOIN mitigation_programmes p ON p.id = :programme
    WHERE hi.site_id = :site AND {eligible_sql()}
)
"""


def enrol(conn: Connection, programme_id: int, principal: Principal) -> dict[str, int]:
    """Create an ``eligible`` case for every household the rule selects that has none.

    Returns how many the rule selects now, how many cases were created, and how many
    enrolled households it no longer selects (their cases stay, flagged)."""
    programme = resolve(conn, programme_id)
    ids = {"programme": programme.id, "site": programme.site_id}
    row = conn.execute(text(_ENROL), {**ids, "actor": principal.actor, "role": principal.role})
    selected, created = row.one()
    left = conn.execute(text(_LEFT), ids).scalar_one()
    return {"selected": int(selected), "created": int(created), "no_longer_eligible": left}

"""The funnel of a site's programmes, in one query: how many cases are at each step, how many
households have reached each step (its date is recorded: a step's date is set only by that
step), the window area installed, the costs, and how many enrolled households the rule no
longer selects.

The counts are of cases, not of personal or sensitive attributes, so they are exact for
every reader who may see the programme (no small-cell rule applies). One statement for one
programme or all of a site's, whatever their number: ``tests/test_mitigation.py`` counts it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

from geo_service.mitigation import states
from geo_service.mitigation.cases import CASES_NOW

# A step is reached when its date is recorded; every case has reached ``eligible``.
_REACHED = {"eligible": "c.id", **{s: f"c.{col}" for s, col in states.STATE_DATES.items()}}
# The steps ``reached`` counts, in the path's order.
STEPS = tuple(_REACHED)

_FUNNEL = f"""
WITH {CASES_NOW}
SELECT p.id AS programme_id, p.kind, p.title, p.budget, p.unit_cost_per_m2,
       count(c.id) AS cases,
       {", ".join(f"count(*) FILTER (WHERE c.state = '{s}') AS at_{s}" for s in states.STATES)},
       {", ".join(f"count({col}) AS reached_{s}" for s, col in _REACHED.items())},
       count(c.id) FILTER (WHERE NOT c.eligible_now) AS no_longer_eligible,
       coalesce(sum(c.window_area_m2) FILTER (WHERE c.installed_at IS NOT NULL), 0)
           AS area_installed_m2,
       sum(c.cost) AS cost,
       count(c.cost) AS cases_with_cost
FROM mitigation_programmes p
LEFT JOIN cases_now c ON c.programme_id = p.id
WHERE p.site_id = :site AND (CAST(:programme AS integer) IS NULL OR p.id = :programme)
GROUP BY p.id
ORDER BY p.id
"""


def funnel(conn: Connection, site_id: int, programme_id: int | None = None) -> list[dict[str, Any]]:
    """One entry per programme of the site (or just ``programme_id``'s)."""
    rows = conn.execute(text(_FUNNEL), {"site": site_id, "programme": programme_id}).mappings()
    return [_shaped(dict(r)) for r in rows]


def _shaped(row: dict[str, Any]) -> dict[str, Any]:
    """Counts per state and reached per step, in the path's order."""
    row["by_state"] = {s: row.pop(f"at_{s}") for s in states.STATES}
    row["reached"] = {s: row.pop(f"reached_{s}") for s in _REACHED}
    area, unit = row["area_installed_m2"], row["unit_cost_per_m2"]
    row["cost_at_unit_rate"] = None if unit is None else round(area * unit, 2)
    return row

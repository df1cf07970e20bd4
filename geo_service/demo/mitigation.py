"""The demo's mitigation programmes (``data/demo/district.yaml``, ``mitigation``): created,
enrolled and worked through ``geo_service.mitigation`` as a liaison team would, so every
case has its events, with cases at every step.

Cases are taken in door-knocking order and given states by the file's ``steps`` (per 100
cases), so work stands building by building as it does on a real programme. Each case's
window area is seeded by the programme's site; cases are moved in bulk, one call per step
and area, so loading 2,000 cases costs a few hundred statements.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, text

from geo_service import impact
from geo_service.access import local_operator
from geo_service.mitigation import cases, programmes

_MAIN = ("surveyed", "offered", "agreed", "scheduled", "installed", "verified", "closed")
_DECLINED = ("surveyed", "offered", "declined")
# Days after the programme's start at which each step is dated (plus a few per area group).
_DAYS = {
    "surveyed": 0,
    "offered": 10,
    "agreed": 20,
    "declined": 20,
    "scheduled": 30,
    "installed": 30,
    "verified": 40,
    "closed": 50,
}
_DECLINED_NOTE = "示例：住户暂不同意，三个月后回访"


def clear_mitigation(conn: Connection) -> None:
    """Empty the programmes before the layers they reference are replaced."""
    for table in ("mitigation_case_events", "mitigation_cases", "mitigation_programmes"):
        conn.execute(text(f"DELETE FROM {table}"))


def _path(state: str) -> tuple[str, ...]:
    if state == "eligible":
        return ()
    if state == "declined":
        return _DECLINED
    return _MAIN[: _MAIN.index(state) + 1]


def load_mitigation(engine: Engine, specs: Sequence[Mapping[str, Any]], seed: int) -> None:
    for spec in specs:
        with engine.begin() as conn:
            _load(conn, spec, seed)


def _load(conn: Connection, spec: Mapping[str, Any], seed: int) -> None:
    operator = local_operator()
    site = impact.resolve_site(conn, spec["site"])
    values = {
        "kind": spec["kind"],
        "title": spec["title"],
        "budget": spec.get("budget"),
        "unit_cost_per_m2": spec.get("unit_cost_per_m2"),
        **spec["rule"],
    }
    programme = programmes.create(conn, site.id, values, operator)["id"]
    programmes.enrol(conn, programme, operator)
    rows, _ = cases.list_cases(
        conn, programme, site.id, wanted=cases.CaseFilter(), limit=10_000_000
    )
    pattern = [state for state, n in spec["steps"].items() for _ in range(n)]
    rng = np.random.default_rng([seed, zlib.crc32(f"mitigation {spec['site']}".encode())])
    low, high = spec["area_m2"]
    areas = np.round(rng.uniform(low, high, len(rows)) * 2) / 2
    groups: dict[float, list[tuple[int, str]]] = defaultdict(list)
    for i, (row, area) in enumerate(zip(rows, areas, strict=True)):
        groups[float(area)].append((row["id"], pattern[i % len(pattern)]))
    for step in _DAYS:
        for g, area in enumerate(sorted(groups)):
            ids = [case for case, state in groups[area] if step in _path(state)]
            fields = _fields(spec, step, area, spec["start"] + dt.timedelta(days=_DAYS[step] + g))
            cases.transition(conn, programme, ids, step, fields, operator)


def _fields(spec: Mapping[str, Any], step: str, area: float, when: dt.date) -> dict[str, Any]:
    """What the step records for cases of this window area."""
    date_field = {"scheduled": "scheduled_for"}.get(step, f"{step}_at")
    fields: dict[str, Any] = {date_field: when}
    if step == "surveyed":
        fields["window_area_m2"] = area
    if step == "scheduled":
        fields["contractor"] = spec["contractor"]
    if step == "installed":
        fields |= {"window_area_m2": area, "cost": round(area * spec["unit_cost_per_m2"], 2)}
    if step == "declined":
        fields["note"] = _DECLINED_NOTE
    return fields

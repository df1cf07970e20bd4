"""Mitigation cases: one per enrolled household, listed in door-knocking order, moved along
``states.STEPS`` one event at a time, and counted by the funnel.

A case row carries its household's address and the impact model's current figures for it
(``impact.list_sql``, as the household list shows them) and whether the rule still selects
it (``eligible_now``). Personal columns (the case's note, the household's contacts and
vulnerability flags) are added only when the caller passes them, i.e. for a reader entitled
to the site's personal fields; the caller audits that read.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from geo_service import impact
from geo_service.access import Principal
from geo_service.errors import CaseTransitionRefused, NotFound
from geo_service.mitigation import states
from geo_service.mitigation.programmes import eligible_sql

# The model's figures shown beside each case, as the household list shows them.
IMPACT_COLUMNS = ("distance_m", "band", "leq_day", "leq_night", "exceed_day", "exceed_night")
_CASE_COLUMNS = ("state", "window_area_m2", "contractor", *states.STATE_DATES.values(), "cost")


def personal_columns() -> tuple[str, ...]:
    """The case table's personal columns, as ``own_tables`` marks them (``note``)."""
    from geo_service.schema import metadata  # the schema imports this package's data

    table = metadata.tables["mitigation_cases"]
    return tuple(c.name for c in table.columns if c.info.get("personal"))


def _impact_nulls() -> str:
    types = {"band": "integer"}
    return ", ".join(f"NULL::{types.get(n, 'float8')} AS {n}" for n in IMPACT_COLUMNS)


# The cases of the site's programmes (or of ``:programme``) with the model's current figures
# and eligibility, as a WITH list. The site's impact rows are computed once; cases are found
# from them by index, and those whose household has left the outer band by a hashed NOT IN.
# Joined the other way (each case against the view's rows), PostgreSQL, which estimates the
# view at one row, compared every case with every household: 1.5 s for the demo's 2,155
# cases of QT-01; this way about 0.1 s.
CASES_NOW = f"""
hi AS MATERIALIZED (SELECT * FROM household_impacts WHERE site_id = :site),
cases_now AS (
    SELECT c.*, {eligible_sql()} AS eligible_now,
           {", ".join(f"{impact.list_sql(n)} AS {n}" for n in IMPACT_COLUMNS)}
    FROM hi
    JOIN mitigation_cases c ON c.household_id = hi.household_id
    JOIN mitigation_programmes p ON p.id = c.programme_id
    WHERE p.site_id = :site AND (CAST(:programme AS integer) IS NULL OR p.id = :programme)
    UNION ALL
    SELECT c.*, false, {_impact_nulls()}
    FROM mitigation_cases c
    JOIN mitigation_programmes p ON p.id = c.programme_id
    WHERE p.site_id = :site AND (CAST(:programme AS integer) IS NULL OR p.id = :programme)
      AND c.household_id NOT IN (SELECT household_id FROM hi)
)"""


def _select(household_personal: tuple[str, ...], case_personal: tuple[str, ...]) -> str:
    columns = [
        "c.id",
        "c.programme_id",
        "c.household_id",
        "co.name AS community",
        "b.address AS building",
        "h.unit_label",
        *(f"c.{name}" for name in _CASE_COLUMNS),
        "c.eligible_now",
        *(f"c.{name}" for name in IMPACT_COLUMNS),
        "c.created_at",
        "c.updated_at",
        *(f"c.{name}" for name in case_personal),
        *(f"h.{name}" for name in household_personal),
    ]
    return ",\n       ".join(columns)


_FROM = """
FROM cases_now c
JOIN households h ON h.id = c.household_id
JOIN buildings b ON b.id = h.building_id
LEFT JOIN communities co ON co.id = b.community_id"""
_ORDER = impact.door_order("co.name", "b.address", "h.unit_label", "h.id")


@dataclass(frozen=True)
class CaseFilter:
    """What a case list may be narrowed to; None is no filter."""

    state: str | None = None
    community: str | None = None
    building: str | None = None
    eligible_now: bool | None = None

    def where(self) -> tuple[str, dict[str, Any]]:
        clauses = {
            "state": "c.state = :state",
            "community": "co.name = :community",
            "building": "b.address = :building",
            "eligible_now": "c.eligible_now = :eligible_now",
        }
        given = {k: v for k, v in vars(self).items() if v is not None}
        return "".join(f" AND {clauses[k]}" for k in given), given


def list_cases(
    conn: Connection,
    programme_id: int,
    site_id: int,
    *,
    wanted: CaseFilter,
    personal: tuple[str, ...] = (),
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """A page of a programme's cases in door-knocking order, and how many match in all.

    ``personal``: the households' personal fields the reader may see; the case's own
    personal columns come with them (both or neither)."""
    where, params = wanted.where()
    case_personal = personal_columns() if personal else ()
    where = f"WHERE true{where}"
    params |= {"programme": programme_id, "site": site_id}
    rows = conn.execute(
        text(
            f"WITH {CASES_NOW} SELECT {_select(personal, case_personal)}, count(*) OVER () "
            f"AS total {_FROM} {where} ORDER BY {_ORDER} LIMIT :limit OFFSET :offset"
        ),
        {**params, "limit": limit, "offset": offset},
    ).mappings()
    found = [_shaped(dict(r)) for r in rows]
    total = found[0].pop("total") if found else 0
    for row in found[1:]:
        row.pop("total")
    if not found and offset:  # a page past the end: still say how many there are
        total = conn.execute(
            text(f"WITH {CASES_NOW} SELECT count(*) {_FROM} {where}"), params
        ).scalar_one()
    return found, int(total)


@dataclass(frozen=True)
class CaseRef:
    """A case as the endpoints check it: its programme and the programme's site."""

    id: int
    programme_id: int
    site_id: int
    site_code: str


def resolve(conn: Connection, case_id: int) -> CaseRef:
    row = conn.execute(
        text(
            "SELECT c.id, c.programme_id, p.site_id, s.code FROM mitigation_cases c "
            "JOIN mitigation_programmes p ON p.id = c.programme_id "
            "JOIN sites s ON s.id = p.site_id WHERE c.id = :id"
        ),
        {"id": case_id},
    ).one_or_none()
    if row is None:
        raise NotFound(f"no mitigation case has the id {case_id}")
    return CaseRef(*row)


def get_case(conn: Connection, ref: CaseRef, *, personal: tuple[str, ...] = ()) -> dict[str, Any]:
    """One case with its events, oldest first."""
    case_personal = personal_columns() if personal else ()
    row = conn.execute(
        text(
            f"WITH {CASES_NOW} SELECT {_select(personal, case_personal)} {_FROM} WHERE c.id = :id"
        ),
        {"id": ref.id, "site": ref.site_id, "programme": ref.programme_id},
    ).mappings()
    case = _shaped(dict(row.one()))
    case["events"] = [
        dict(e)
        for e in conn.execute(
            text(
                "SELECT at, actor, role, from_state, to_state, changes "
                "FROM mitigation_case_events WHERE case_id = :id ORDER BY at, id"
            ),
            {"id": ref.id},
        ).mappings()
    ]
    return case


def _shaped(row: dict[str, Any]) -> dict[str, Any]:
    """Where a case may go next, beside where it is."""
    row["next"] = list(states.next_states(row["state"]))
    return row


def transition(
    conn: Connection,
    programme_id: int,
    case_ids: list[int],
    target: str,
    fields: dict[str, Any],
    principal: Principal,
    *,
    today: dt.date | None = None,
) -> list[dict[str, Any]]:
    """Move every case to ``target`` with the step's fields, all or none: a refused case
    (409, naming where it may go) or a field at fault (422, naming it) is found before
    anything is written. Each step is one event, with who and when."""
    if not case_ids:
        return []
    today = today or dt.date.today()
    rows = {
        r["id"]: dict(r)
        for r in conn.execute(
            text(
                f"SELECT id, {', '.join(_CASE_COLUMNS)} FROM mitigation_cases "
                "WHERE id = ANY(:ids) AND programme_id = :programme ORDER BY id FOR UPDATE"
            ),
            {"ids": case_ids, "programme": programme_id},
        ).mappings()
    }
    unknown = sorted(set(case_ids) - set(rows))
    if unknown:
        raise NotFound(
            f"programme {programme_id} has no case with the id(s) {', '.join(map(str, unknown))}"
        )
    checked = []  # every case is checked before any is written: all or none
    for case_id in sorted(rows):
        case = rows[case_id]
        try:
            chosen = states.step(case["state"], target)
        except CaseTransitionRefused as refused:
            raise CaseTransitionRefused(
                f"case {case_id}: {refused.message}", state=refused.state, allowed=refused.allowed
            ) from None
        checked.append(case_id)
        given = states.check_fields(chosen, fields, case, today)
    _write(conn, checked, target, given, principal)
    return [{"id": i, "state": target, "next": list(states.next_states(target))} for i in checked]


def _write(
    conn: Connection, case_ids: list[int], target: str, given: dict[str, Any], principal: Principal
) -> None:
    """The events (with each case's state before), then the cases: two statements for any
    number of cases, which all get the same fields."""
    personal = set(personal_columns())
    changes = {k: (True if k in personal else v) for k, v in given.items()}
    conn.execute(
        text(
            "INSERT INTO mitigation_case_events (case_id, actor, role, from_state, to_state, "
            "changes) SELECT id, :actor, :role, state, :target, CAST(:changes AS jsonb) "
            "FROM mitigation_cases WHERE id = ANY(:ids) ORDER BY id"
        ),
        {
            "ids": case_ids,
            "actor": principal.actor,
            "role": principal.role,
            "target": target,
            "changes": json.dumps(changes, default=str, ensure_ascii=False),
        },
    )
    sets = "".join(f", {name} = :{name}" for name in given)
    conn.execute(
        text(
            f"UPDATE mitigation_cases SET state = :state, updated_at = now(){sets} "
            "WHERE id = ANY(:ids)"
        ),
        {"ids": case_ids, "state": target, **given},
    )

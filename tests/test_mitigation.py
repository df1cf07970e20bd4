"""Mitigation programmes on real PostGIS: eligibility at the thresholds' edges, enrolment,
households leaving eligibility, every transition, the fields each step needs, the funnel.

Households stand at exact geodesic distances from a site corner (``pyproj.Geod``), so their
predicted levels are the model's; thresholds are set from the values the household list
shows, which is what the rule compares.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from itertools import product

import geopandas as gpd
import pyproj
import pytest
from shapely.geometry import Point, box
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import ProgrammingError

from geo_service import impact
from geo_service.access import local_operator
from geo_service.errors import CaseFieldsInvalid, CaseTransitionRefused, ImportRejected
from geo_service.ingest import import_frame
from geo_service.mitigation import cases, funnel, programmes, states
from geo_service.settings import ImportSettings

GEOD = pyproj.Geod(ellps="WGS84")
W, S, E, N = 120.2000, 30.2500, 120.2010, 30.2509
# Unit label -> metres from the site's south-west corner; the outer band is 500 m. In text
# order 1-1-1002 would come before 1-1-101 and 1-10-301 before 1-2-201; door-knocking order
# reads the numbers as numbers.
DISTANCES = {"1-1-101": 20, "1-1-1002": 40, "1-2-201": 100, "1-10-301": 300}
TODAY = dt.date(2026, 12, 2)
OPERATOR = local_operator()

# Written out here, not read from ``states``, so the test checks the table.
ALLOWED = {
    ("eligible", "surveyed"),
    ("surveyed", "offered"),
    ("offered", "agreed"),
    ("offered", "declined"),
    ("declined", "offered"),
    ("declined", "closed"),
    ("agreed", "scheduled"),
    ("scheduled", "scheduled"),
    ("scheduled", "installed"),
    ("installed", "verified"),
    ("verified", "closed"),
}
# What each step needs, with the values a test gives.
GIVE = {
    "surveyed": {"surveyed_at": dt.date(2026, 11, 1)},
    "offered": {"offered_at": dt.date(2026, 11, 2)},
    "agreed": {"agreed_at": dt.date(2026, 11, 3)},
    "declined": {"declined_at": dt.date(2026, 11, 3)},
    "scheduled": {"scheduled_for": dt.date(2026, 11, 10), "contractor": "示例门窗公司"},
    "installed": {"installed_at": dt.date(2026, 11, 10), "window_area_m2": 12.5},
    "verified": {"verified_at": dt.date(2026, 11, 20)},
    "closed": {"closed_at": dt.date(2026, 11, 30)},
}
# A way to each state from eligible.
PATHS = {
    "eligible": [],
    "surveyed": ["surveyed"],
    "offered": ["surveyed", "offered"],
    "agreed": ["surveyed", "offered", "agreed"],
    "declined": ["surveyed", "offered", "declined"],
    "scheduled": ["surveyed", "offered", "agreed", "scheduled"],
    "installed": ["surveyed", "offered", "agreed", "scheduled", "installed"],
    "verified": ["surveyed", "offered", "agreed", "scheduled", "installed", "verified"],
    "closed": ["surveyed", "offered", "agreed", "scheduled", "installed", "verified", "closed"],
}


def _frame(rows: dict, geoms: list) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(rows, geometry=geoms, crs="EPSG:4326")


@pytest.fixture
def site(db: Engine) -> Engine:
    """A class-2 community (limits 60/50 dB(A)), one building, a site with two excavators by
    day and a generator by night, and four households at 20, 40, 100 and 300 m."""
    community = {"name": ["试验社区"], "acoustic_class": ["2"]}
    building = {"address": ["试验1幢"], "community": ["试验社区"]}
    for layer, rows, geoms in (
        ("communities", community, [box(120.19, 30.24, 120.21, 30.26)]),
        ("buildings", building, [box(120.195, 30.245, 120.196, 30.246)]),
        ("sites", {"code": ["S1"], "name": ["试验工地"], "kind": ["road"]}, [box(W, S, E, N)]),
    ):
        import_frame(db, layer, _frame(rows, geoms), settings=ImportSettings())
    points = [Point(*GEOD.fwd(W, S, 225, m)[:2]) for m in DISTANCES.values()]
    import_frame(
        db,
        "households",
        _frame({"building": ["试验1幢"] * 4, "unit_label": list(DISTANCES)}, points),
        settings=ImportSettings(),
    )
    with db.begin() as conn:
        impact.set_equipment(
            conn,
            _site_id(conn),
            [
                {"equipment": "excavator", "count": 2},
                {"equipment": "generator", "night_work": True},
            ],
        )
    return db


def _site_id(conn: Connection) -> int:
    return impact.resolve_site(conn, "S1").id


def _listed(conn: Connection) -> dict[str, dict]:
    """The household list's rows, by unit: the values the rule compares."""
    return {r["unit_label"]: r for r in impact.affected_households(conn, _site_id(conn))}


def _programme(conn: Connection, **rule: object) -> int:
    values = {"kind": "sound_insulation_windows", "title": "隔声窗", "match": "any", **rule}
    return programmes.create(conn, _site_id(conn), values, OPERATOR)["id"]


def _enrolled(conn: Connection, programme_id: int, **wanted: object) -> dict[str, dict]:
    rows, _ = cases.list_cases(
        conn, programme_id, _site_id(conn), wanted=cases.CaseFilter(**wanted), limit=100
    )
    return {r["unit_label"]: r for r in rows}


def test_a_household_exactly_at_the_day_threshold_is_eligible(site: Engine) -> None:
    with site.begin() as conn:
        edge = _listed(conn)["1-2-201"]["leq_day"]
        at = _programme(conn, min_leq_day=edge)
        above = _programme(conn, min_leq_day=round(edge + 0.1, 1))
        assert programmes.enrol(conn, at, OPERATOR)["created"] == 3
        assert set(_enrolled(conn, at)) == {"1-1-101", "1-1-1002", "1-2-201"}
        programmes.enrol(conn, above, OPERATOR)
        assert set(_enrolled(conn, above)) == {"1-1-101", "1-1-1002"}


def test_night_exceedance_edge_any_all_and_the_band_limit(site: Engine) -> None:
    with site.begin() as conn:
        listed = _listed(conn)
        night = listed["1-1-1002"]["exceed_night"]
        day = listed["1-2-201"]["leq_day"]
        assert night > 0 and listed["1-2-201"]["exceed_night"] < night
        exceed = _programme(conn, min_exceed_night=night)
        either = _programme(conn, min_exceed_night=night, min_leq_day=day)
        both = _programme(conn, min_exceed_night=night, min_leq_day=day, match="all")
        inner = _programme(conn, min_leq_day=day, max_band=1)  # bands 0-50, 50-200, 200-500
        for programme_id in (exceed, either, both, inner):
            programmes.enrol(conn, programme_id, OPERATOR)
        assert set(_enrolled(conn, exceed)) == {"1-1-101", "1-1-1002"}
        assert set(_enrolled(conn, either)) == {"1-1-101", "1-1-1002", "1-2-201"}
        assert set(_enrolled(conn, both)) == {"1-1-101", "1-1-1002"}
        assert set(_enrolled(conn, inner)) == {"1-1-101", "1-1-1002"}


def test_enrolment_is_idempotent(site: Engine) -> None:
    with site.begin() as conn:
        programme_id = _programme(conn, min_leq_day=0)
        assert programmes.enrol(conn, programme_id, OPERATOR) == {
            "selected": 4,
            "created": 4,
            "no_longer_eligible": 0,
        }
        assert programmes.enrol(conn, programme_id, OPERATOR)["created"] == 0
        counts = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM mitigation_cases), "
                "(SELECT count(*) FROM mitigation_case_events)"
            )
        ).one()
        assert tuple(counts) == (4, 4)


def test_a_household_the_rule_no_longer_selects_keeps_its_case(site: Engine) -> None:
    with site.begin() as conn:
        programme_id = _programme(conn, min_leq_day=0)
        programmes.enrol(conn, programme_id, OPERATOR)
        far = _enrolled(conn, programme_id)["1-10-301"]
        cases.transition(
            conn, programme_id, [far["id"]], "surveyed", GIVE["surveyed"], OPERATOR, today=TODAY
        )
        near = _listed(conn)["1-2-201"]["leq_day"]
        programmes.edit(conn, programme_id, {"min_leq_day": near})
        assert programmes.enrol(conn, programme_id, OPERATOR) == {
            "selected": 3,
            "created": 0,
            "no_longer_eligible": 1,
        }
        (left,) = _enrolled(conn, programme_id, eligible_now=False).values()
        assert (left["unit_label"], left["state"], left["eligible_now"]) == (
            "1-10-301",
            "surveyed",
            False,
        )
        assert all(
            c["eligible_now"] for c in _enrolled(conn, programme_id, eligible_now=True).values()
        )
        assert funnel.funnel(conn, _site_id(conn), programme_id)[0]["no_longer_eligible"] == 1


@pytest.fixture
def one_case(site: Engine) -> Iterator[tuple[Connection, int, int]]:
    """(connection, programme, case) of the household at 20 m, in a transaction undone after."""
    with site.connect() as conn, conn.begin() as outer:
        programme_id = _programme(conn, min_leq_day=0)
        programmes.enrol(conn, programme_id, OPERATOR)
        yield conn, programme_id, _enrolled(conn, programme_id)["1-1-101"]["id"]
        outer.rollback()


def _walk(conn: Connection, programme_id: int, case_id: int, state: str) -> None:
    for target in PATHS[state]:
        cases.transition(conn, programme_id, [case_id], target, GIVE[target], OPERATOR, today=TODAY)


def _state(conn: Connection, case_id: int) -> str:
    query = text("SELECT state FROM mitigation_cases WHERE id = :id")
    return conn.execute(query, {"id": case_id}).scalar_one()


@pytest.mark.parametrize("source", states.STATES)
def test_every_allowed_and_refused_transition(
    source: str, one_case: tuple[Connection, int, int]
) -> None:
    conn, programme_id, case_id = one_case
    _walk(conn, programme_id, case_id, source)
    for target in states.STATES:
        fields = {**GIVE.get(target, {})}
        if source == "scheduled" and target == "scheduled":
            fields = {"scheduled_for": dt.date(2026, 11, 12)}
        if source == "declined" and target == "offered":
            fields = {"offered_at": dt.date(2026, 11, 4)}
        with conn.begin_nested() as attempt:
            if (source, target) in ALLOWED:
                cases.transition(
                    conn, programme_id, [case_id], target, fields, OPERATOR, today=TODAY
                )
                assert _state(conn, case_id) == target
            else:
                with pytest.raises(CaseTransitionRefused) as refused:
                    cases.transition(
                        conn, programme_id, [case_id], target, fields, OPERATOR, today=TODAY
                    )
                expected = sorted(t for s, t in ALLOWED if s == source)
                assert sorted(refused.value.allowed) == expected
                assert f"cannot go to {target!r}" in refused.value.message
                assert _state(conn, case_id) == source
            attempt.rollback()
    assert {
        (s, t) for s, t in product(states.STATES, repeat=2) if t in states.next_states(s)
    } == ALLOWED


@pytest.mark.parametrize("step", sorted({(s.source, s.target) for s in states.STEPS}))
def test_each_step_names_every_missing_field(
    step: tuple[str, str], one_case: tuple[Connection, int, int]
) -> None:
    source, target = step
    conn, programme_id, case_id = one_case
    _walk(conn, programme_id, case_id, source)
    with pytest.raises(CaseFieldsInvalid) as missing:
        cases.transition(conn, programme_id, [case_id], target, {}, OPERATOR, today=TODAY)
    required = next(s.requires for s in states.STEPS if (s.source, s.target) == step)
    assert missing.value.fields == list(required)
    assert _state(conn, case_id) == source


def test_installed_needs_area_and_date_and_dates_keep_their_order(
    one_case: tuple[Connection, int, int],
) -> None:
    conn, programme_id, case_id = one_case
    _walk(conn, programme_id, case_id, "scheduled")

    def install(**fields: object) -> list[str]:
        with pytest.raises(CaseFieldsInvalid) as refused:
            cases.transition(
                conn, programme_id, [case_id], "installed", fields, OPERATOR, today=TODAY
            )
        return refused.value.fields

    assert install(installed_at=TODAY) == ["window_area_m2"]
    assert install(window_area_m2=10) == ["installed_at"]
    assert install(installed_at=dt.date(2026, 10, 1), window_area_m2=10) == ["installed_at"]
    assert install(installed_at=TODAY + dt.timedelta(days=1), window_area_m2=10) == ["installed_at"]
    assert install(installed_at=TODAY, window_area_m2=10, verified_at=TODAY) == ["verified_at"]
    done = cases.transition(
        conn,
        programme_id,
        [case_id],
        "installed",
        {"installed_at": TODAY, "window_area_m2": 10},
        OPERATOR,
        today=TODAY,
    )
    assert done == [{"id": case_id, "state": "installed", "next": ["verified"]}]


def test_bulk_steps_are_all_or_none(site: Engine) -> None:
    with site.connect() as conn, conn.begin() as outer:
        programme_id = _programme(conn, min_leq_day=0)
        programmes.enrol(conn, programme_id, OPERATOR)
        ids = sorted(c["id"] for c in _enrolled(conn, programme_id).values())
        _walk(conn, programme_id, ids[-1], "surveyed")
        with pytest.raises(CaseTransitionRefused, match=f"case {ids[-1]}: .*allowed next: offered"):
            cases.transition(conn, programme_id, ids, "surveyed", GIVE["surveyed"], OPERATOR)
        states_now = {_state(conn, i) for i in ids[:-1]}
        assert states_now == {"eligible"}
        outer.rollback()


def test_the_funnel_counts_a_hand_made_set_in_one_statement(site: Engine) -> None:
    with site.connect() as conn, conn.begin() as outer:
        programme_id = _programme(conn, min_leq_day=0, budget=100000, unit_cost_per_m2=800)
        other = _programme(conn, min_leq_day=200)  # selects nobody
        programmes.enrol(conn, programme_id, OPERATOR)
        by_unit = {u: c["id"] for u, c in _enrolled(conn, programme_id).items()}
        _walk(conn, programme_id, by_unit["1-1-101"], "closed")  # 12.5 m²
        _walk(conn, programme_id, by_unit["1-1-1002"], "installed")  # 12.5 m²
        _walk(conn, programme_id, by_unit["1-2-201"], "declined")
        cases.transition(
            conn, programme_id, [by_unit["1-1-1002"]], "verified",
            {"verified_at": TODAY, "cost": 9000, "window_area_m2": 10}, OPERATOR, today=TODAY,
        )  # fmt: skip
        site_id, statements = _site_id(conn), []
        event.listen(conn, "before_cursor_execute", lambda *a: statements.append(a[2]))
        both = funnel.funnel(conn, site_id)
        assert len(statements) == 1
        first, second = both
        assert first["programme_id"] == programme_id and second["programme_id"] == other
        assert first["cases"] == 4 and second["cases"] == 0
        assert first["by_state"] == {
            "eligible": 1, "surveyed": 0, "offered": 0, "agreed": 0, "declined": 1,
            "scheduled": 0, "installed": 0, "verified": 1, "closed": 1,
        }  # fmt: skip
        assert first["reached"] == {
            "eligible": 4, "surveyed": 3, "offered": 3, "agreed": 2, "declined": 1,
            "scheduled": 2, "installed": 2, "verified": 2, "closed": 1,
        }  # fmt: skip
        assert first["area_installed_m2"] == 22.5
        assert (first["cost"], first["cases_with_cost"]) == (9000, 1)
        assert first["cost_at_unit_rate"] == 18000
        assert first["budget"] == 100000
        assert second["by_state"]["eligible"] == 0 and second["cost"] is None
        outer.rollback()


def test_the_service_role_cannot_rewrite_a_case_event(
    site: Engine, service_database_url: str
) -> None:
    with site.begin() as conn:
        programmes.enrol(conn, _programme(conn, min_leq_day=0), OPERATOR)
    service = create_engine(service_database_url)
    try:
        for statement in (
            "UPDATE mitigation_case_events SET actor = 'someone else'",
            "DELETE FROM mitigation_case_events",
        ):
            with (
                pytest.raises(ProgrammingError, match="permission denied"),
                service.begin() as conn,
            ):
                conn.execute(text(statement))
        with service.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM mitigation_case_events")).scalar() == 4
    finally:
        service.dispose()


def test_cases_list_in_door_knocking_order(site: Engine) -> None:
    with site.begin() as conn:
        programme_id = _programme(conn, min_leq_day=0)
        programmes.enrol(conn, programme_id, OPERATOR)
        rows, total = cases.list_cases(
            conn, programme_id, _site_id(conn), wanted=cases.CaseFilter(), limit=2, offset=2
        )
        assert total == 4
        assert [r["unit_label"] for r in rows] == ["1-2-201", "1-10-301"]
        assert "note" not in rows[0]
        rows, _ = cases.list_cases(
            conn, programme_id, _site_id(conn), wanted=cases.CaseFilter(), personal=("phone",)
        )
        assert {"note", "phone"} <= set(rows[0])


def test_replacing_households_that_have_cases_is_refused_by_name(site: Engine) -> None:
    with site.begin() as conn:
        programmes.enrol(conn, _programme(conn, min_leq_day=0), OPERATOR)
    again = _frame({"building": ["试验1幢"], "unit_label": ["9-9-909"]}, [Point(120.1955, 30.2455)])
    with pytest.raises(ImportRejected, match="mitigation_cases still reference them"):
        import_frame(site, "households", again, mode="replace", settings=ImportSettings())
    with site.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM households")).scalar() == 4

"""The request state machine: every allowed transition, every refused one (409 naming the
states that may follow), reopening within 30 days only, and duplicate marking."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from itertools import product

import pytest
from sqlalchemy import Engine, text

from geo_service.errors import InvalidCase, RefusedTransition
from geo_service.liaison import requests as cases
from geo_service.liaison import states
from geo_service.settings import LiaisonSettings
from layers.requests import STATES
from tests.liaison.conftest import MONDAY, OTHER, officer

LATER = MONDAY + dt.timedelta(days=3)


def _put_in(engine: Engine, public_id: str, state: str) -> None:
    """Set a request up in ``state`` as the steps before it would have left it."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE requests SET state = :s, assignee = 'wang', resolved_at = :r, "
                "paused_since = :p WHERE public_id = :id"
            ),
            {
                "s": state,
                "id": public_id,
                "r": MONDAY + dt.timedelta(days=1) if state in ("resolved", "closed") else None,
                "p": MONDAY if state == "waiting_resident" else None,
            },
        )


def _events(engine: Engine, public_id: str) -> list[tuple[str, str | None, str | None]]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT e.kind, e.from_state, e.to_state FROM request_events e JOIN requests r "
                    "ON r.id = e.request_id WHERE r.public_id = :id ORDER BY e.id"
                ),
                {"id": public_id},
            )
        ]


PAIRS = [(a, b) for a, b in product(STATES, STATES) if a != b]


@pytest.mark.parametrize(("source", "target"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_every_transition_is_allowed_or_refused_as_the_table_says(
    source: str,
    target: str,
    officers: Engine,
    new_request: Callable[..., str],
    settings: LiaisonSettings,
) -> None:
    public_id = new_request()
    other = new_request()
    _put_in(officers, public_id, source)
    allowed = states.transition(source, target) is not None
    with officers.begin() as conn:
        if not allowed:
            with pytest.raises(RefusedTransition) as refused:
                cases.move(conn, officer(), public_id, target, settings, now=LATER)
            assert refused.value.allowed == states.allowed_from(source)
            assert f"cannot become {target}" in refused.value.message
            return
        cases.move(
            conn,
            officer(),
            public_id,
            target,
            settings,
            assignee="zhao",
            duplicate_of=other,
            now=LATER,
        )
        state = conn.execute(
            text("SELECT state FROM requests WHERE public_id = :id"), {"id": public_id}
        ).scalar_one()
    assert state == target
    assert _events(officers, public_id)[-1] == ("state_change", source, target)


def test_the_main_path_through_the_api_with_its_history(
    officers: Engine, client_as: Callable, new_request: Callable[..., str]
) -> None:
    wang = client_as("liaison", sites=["AZF-2024-01"])
    made = wang.post(
        "/api/requests",
        json={
            "site": "AZF-2024-01",
            "category": "dust",
            "channel": "walk_in",
            "description": "工地扬尘大",
            "address": "翠苑一区1幢",
            "reporter_phone": "199-0000-0008",
        },
    )
    assert made.status_code == 201, made.text
    rid = made.json()["public_id"]
    assert made.json()["state"] == "new" and made.json()["reporter_phone"] == "199-0000-0008"
    for step in (
        {"to": "acknowledged"},
        {"to": "assigned", "assignee": "zhao"},
        {"to": "in_progress"},
        {"to": "waiting_resident", "note": "约下周上门"},
        {"to": "in_progress"},
        {"to": "action_scheduled"},
        {"to": "resolved"},
        {"to": "closed", "satisfaction": 4},
    ):
        answer = wang.post(f"/api/requests/{rid}/transitions", json=step)
        assert answer.status_code == 200, answer.text
        assert answer.json()["state"] == step["to"]
    done = wang.get(f"/api/requests/{rid}").json()
    assert done["satisfaction"] == 4 and done["assignee"] == "zhao"
    assert [e["to_state"] for e in done["events"]] == [
        "new",
        "acknowledged",
        "assigned",
        "in_progress",
        "waiting_resident",
        "in_progress",
        "action_scheduled",
        "resolved",
        "closed",
    ]
    assert done["events"][4]["note"] == "约下周上门" and done["events"][4]["actor"]


def test_a_refused_transition_is_a_409_naming_the_allowed_ones_and_changes_nothing(
    officers: Engine, client_as: Callable, new_request: Callable[..., str]
) -> None:
    rid = new_request()
    wang = client_as("liaison", sites=["AZF-2024-01"])
    answer = wang.post(f"/api/requests/{rid}/transitions", json={"to": "resolved"})
    assert answer.status_code == 409
    assert answer.json()["allowed"] == list(states.allowed_from("new"))
    assert "acknowledged" in answer.json()["detail"]
    assert _events(officers, rid) == [("created", None, "new")]
    unknown = wang.post(f"/api/requests/{rid}/transitions", json={"to": "done"})
    assert unknown.status_code == 422 and "to" in unknown.text


def test_reopen_within_30_days_of_resolution_and_not_after(
    officers: Engine, new_request: Callable[..., str], settings: LiaisonSettings
) -> None:
    early, late = new_request(), new_request()
    for rid in (early, late):
        _put_in(officers, rid, "closed")  # resolved on 29 September
    resolved = MONDAY + dt.timedelta(days=1)
    with officers.begin() as conn:
        cases.move(
            conn, officer(), early, "reopened", settings, now=resolved + dt.timedelta(days=30)
        )
        row = conn.execute(
            text("SELECT cycle, resolved_at, resolve_due FROM requests WHERE public_id = :id"),
            {"id": early},
        ).one()
        assert row.cycle == 2 and row.resolved_at is None
        assert row.resolve_due > resolved + dt.timedelta(days=30)  # a new resolve clock
        with pytest.raises(RefusedTransition, match="within 30 days") as refused:
            cases.move(
                conn,
                officer(),
                late,
                "reopened",
                settings,
                now=resolved + dt.timedelta(days=30, minutes=1),
            )
        assert "reopened" not in refused.value.allowed


def test_duplicate_of_another_request_of_the_same_site_without_cycles(
    officers: Engine, new_request: Callable[..., str], settings: LiaisonSettings
) -> None:
    first, second, third = new_request(), new_request(), new_request()
    elsewhere = new_request(site=OTHER)
    with officers.begin() as conn:
        for target, problem in (
            (second, "itself"),
            (elsewhere, "another site"),
            ("R2026999999", "no request"),
            (None, "needs duplicate_of"),
        ):
            with pytest.raises(InvalidCase, match=problem):
                cases.move(conn, officer(), second, "duplicate", settings, duplicate_of=target)
        cases.move(conn, officer(), second, "duplicate", settings, duplicate_of=first)
        cases.move(conn, officer(), third, "duplicate", settings, duplicate_of=second)
        conn.execute(text("UPDATE requests SET state = 'new' WHERE public_id = :id"), {"id": first})
        with pytest.raises(InvalidCase, match="a cycle"):
            cases.move(conn, officer(), first, "duplicate", settings, duplicate_of=third)
        marked = conn.execute(
            text("SELECT duplicate_of FROM requests WHERE public_id = :id"), {"id": third}
        ).scalar_one()
    assert marked == second


def test_events_are_append_only(officers: Engine, new_request: Callable[..., str]) -> None:
    new_request()
    with officers.begin() as conn, pytest.raises(Exception, match="append-only"):
        conn.execute(text("UPDATE request_events SET note = 'rewritten'"))

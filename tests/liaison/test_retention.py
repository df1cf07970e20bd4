"""The retention rule: personal data of a completed site's finished cases is removed after
the period, once (a second run finds nothing), audited in one row, with the public facts
the dashboards count left as they were; the request history stays append-only."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner
from PIL import Image
from sqlalchemy import Engine, create_engine, text

from geo_service.access import local_operator
from geo_service.cli import CliSettings, main
from geo_service.liaison import groups, photos, retention, visits, wishes
from geo_service.liaison import requests as cases
from geo_service.settings import DatabaseSettings, LiaisonSettings
from tests.liaison.conftest import MONDAY, OTHER, SITE, officer

TODAY = dt.date(2026, 12, 2)
SETTINGS = LiaisonSettings(retention_days=90)
PERSONAL = ("示例-赵某", "199-0000-0009", "内部：住户情绪激动", "走访：老人独居", "示例：腿脚不便")


@pytest.fixture
def closed_site(
    homes: Engine, officers: Engine, new_request: Callable[..., str], settings: LiaisonSettings
) -> dict[str, Any]:
    """SITE, completed on 1 June 2026, with a closed request and an open one (each with a
    reporter and an internal note), a visit with notes and a photo, a fulfilled wish and a
    posted one; OTHER (not completed) with a closed request."""
    done, still_open, elsewhere = new_request(), new_request(), new_request(site=OTHER)
    with officers.begin() as conn:
        household = conn.execute(text("SELECT min(id) FROM households")).scalar_one()
        for rid, who in ((done, officer()), (still_open, officer())):
            cases.add_note(conn, who, rid, PERSONAL[2], internal=True, now=MONDAY)
            cases.add_note(conn, who, rid, "已联系施工单位", internal=False, now=MONDAY)
        other = officer("li", frozenset({2}))
        for rid, who in ((done, officer()), (elsewhere, other)):
            for step in ("acknowledged", "rejected"):
                cases.move(conn, who, rid, step, settings, now=MONDAY + dt.timedelta(hours=1))
        visit = visits.log(
            conn,
            officer(),
            visits.NewVisit(SITE, household, "met", MONDAY, notes=PERSONAL[3]),
        )
        image = io.BytesIO()
        Image.new("RGB", (8, 8)).save(image, "PNG")
        photos.attach(conn, officer(), visit, photos.clean(image.getvalue(), settings))
        member = groups.add_member(
            conn, officer(), SITE, groups.Member("翠苑社区", "community", "示例-钱某")
        )
        fulfilled = wishes.post(
            conn, officer(), wishes.NewWish(SITE, "加装扶手", PERSONAL[4], household)
        )
        wishes.transition(conn, officer(), fulfilled, "claimed", member=member)
        wishes.transition(conn, officer(), fulfilled, "fulfilled")
        wishes.post(conn, officer(), wishes.NewWish(SITE, "代收快递", PERSONAL[4]))
        conn.execute(
            text("UPDATE sites SET status = 'completed', end_date = '2026-06-01' WHERE code = :c"),
            {"c": SITE},
        )
    return {"done": done, "open": still_open, "elsewhere": elsewhere, "visit": visit}


def _public_facts(engine: Engine) -> list[Any]:
    """What the dashboards and feeds count: rows, states, categories, times, outcomes."""
    queries = (
        "SELECT public_id, state, category, channel, created_at, acknowledged_at, closed_at, "
        "updated_at, ST_AsText(geom) FROM requests ORDER BY id",
        "SELECT id, request_id, kind, at, actor, from_state, to_state FROM request_events "
        "ORDER BY id",
        "SELECT note FROM request_events WHERE kind <> 'internal_note' ORDER BY id",
        "SELECT id, household_id, outcome, visited_at, officer FROM visits ORDER BY id",
        "SELECT id, title, state, household_id, posted_at, fulfilled_at FROM micro_wishes "
        "ORDER BY id",
    )
    with engine.connect() as conn:
        return [conn.execute(text(q)).all() for q in queries]


def _personal_left(engine: Engine) -> dict[str, list[Any]]:
    with engine.connect() as conn:

        def rows(sql: str) -> list[Any]:
            return [tuple(r) for r in conn.execute(text(sql)).all()]

        return {
            "contacts": rows(
                "SELECT public_id, reporter_name, reporter_phone FROM requests ORDER BY id"
            ),
            "internal": rows(
                "SELECT r.public_id, e.note FROM request_events e JOIN requests r "
                "ON r.id = e.request_id WHERE e.kind = 'internal_note' ORDER BY e.id"
            ),
            "visits": rows("SELECT notes FROM visits"),
            "photos": rows("SELECT id FROM visit_photos"),
            "wishes": rows("SELECT state, description FROM micro_wishes ORDER BY id"),
        }


def _purges(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT actor, target, record_count, detail FROM audit_log "
                "WHERE action = 'purge_personal' ORDER BY id"
            )
        ).all()


def test_a_dry_run_counts_what_is_due_and_changes_nothing(
    closed_site: dict[str, Any], officers: Engine
) -> None:
    before = _personal_left(officers)
    with officers.begin() as conn:
        report = retention.run(conn, local_operator(), SETTINGS, dry_run=True, today=TODAY)
    assert report.sites == (SITE,) and report.cutoff == dt.date(2026, 9, 3)
    assert (report.requests, report.internal_notes, report.visits, report.photos) == (1, 1, 1, 1)
    assert (report.wishes, report.kept_open) == (1, 2)
    assert "would remove" in report.summary()
    assert _personal_left(officers) == before
    assert _purges(officers) == []


def test_the_run_removes_personal_data_once_and_keeps_the_public_facts(
    closed_site: dict[str, Any], officers: Engine
) -> None:
    facts = _public_facts(officers)
    done, still_open, elsewhere = closed_site["done"], closed_site["open"], closed_site["elsewhere"]
    with officers.begin() as conn:
        first = retention.run(conn, local_operator(), SETTINGS, today=TODAY)
    left = _personal_left(officers)
    assert left["contacts"] == [
        (done, None, None),
        (still_open, "示例-赵某", "199-0000-0009"),
        (elsewhere, "示例-赵某", "199-0000-0009"),
    ]
    assert left["internal"] == [(done, None), (still_open, PERSONAL[2])]
    assert left["visits"] == [(None,)] and left["photos"] == []
    assert left["wishes"] == [("fulfilled", None), ("posted", PERSONAL[4])]
    assert _public_facts(officers) == facts
    with officers.begin() as conn:
        again = retention.run(conn, local_operator(), SETTINGS, today=TODAY)
    assert _personal_left(officers) == left and _public_facts(officers) == facts
    assert first.removed == 5 and again.removed == 0 and again.kept_open == 2
    purges = _purges(officers)
    assert len(purges) == 2  # one row per run, however much it removed
    actor, target, count, detail = purges[0]
    assert (target, count) == ("retention", 5) and actor.startswith("local:")
    assert detail["sites"] == [SITE] and detail["retention_days"] == 90
    assert (detail["requests"], detail["internal_notes"], detail["photos"]) == (1, 1, 1)
    assert not any(value in str(detail) for value in PERSONAL)
    assert purges[1][2] == 0


def test_nothing_is_due_before_the_period_has_passed(
    closed_site: dict[str, Any], officers: Engine
) -> None:
    with officers.begin() as conn:
        early = retention.run(
            conn, local_operator(), LiaisonSettings(retention_days=365), today=TODAY
        )
    assert early.sites == () and early.removed == 0
    assert _personal_left(officers)["visits"] == [(PERSONAL[3],)]


def test_the_history_still_refuses_every_other_change(
    closed_site: dict[str, Any], officers: Engine, service_database_url: str
) -> None:
    """The owner may blank an internal note's text and nothing else; the service role may
    not even that, except through the function, which skips open cases."""
    refused = {
        "rewrite an internal note": "UPDATE request_events SET note = 'x' "
        "WHERE kind = 'internal_note'",
        "blank a public note": "UPDATE request_events SET note = NULL WHERE kind = 'public_note'",
        "blank and re-sign": "UPDATE request_events SET note = NULL, actor = 'someone' "
        "WHERE kind = 'internal_note'",
        "blank and re-date": "UPDATE request_events SET note = NULL, at = now() "
        "WHERE kind = 'internal_note'",
        "change a state": "UPDATE request_events SET to_state = 'closed' WHERE kind = 'created'",
        "delete": "DELETE FROM request_events",
    }
    for name, sql in refused.items():
        with officers.begin() as conn, pytest.raises(Exception, match="append-only"):
            conn.execute(text(sql))
            pytest.fail(name)
    service = create_engine(service_database_url)
    try:
        with service.begin() as conn, pytest.raises(Exception, match="permission denied"):
            conn.execute(text("UPDATE request_events SET note = NULL WHERE kind = 'internal_note'"))
        with service.begin() as conn:
            ids = list(conn.execute(text("SELECT id FROM requests")).scalars())
            conn.execute(text("UPDATE sites SET status = 'under_construction'"))
            blanked = conn.execute(
                text("SELECT request_events_redact(CAST(:ids AS integer[]))"), {"ids": ids}
            ).scalar_one()
            assert blanked == 0  # no site is completed now: nothing may be blanked
            conn.execute(text("UPDATE sites SET status = 'completed' WHERE code = :c"), {"c": SITE})
            assert (
                conn.execute(
                    text("SELECT request_events_redact(CAST(:ids AS integer[]))"), {"ids": ids}
                ).scalar_one()
                == 1
            )  # the finished request's note only, not the open one's
    finally:
        service.dispose()


def test_geo_service_retention_run_as_the_service_role(
    closed_site: dict[str, Any], officers: Engine, service_database_url: str
) -> None:
    cli = CliSettings(DatabaseSettings(database_url=service_database_url), SETTINGS)
    dry = CliRunner().invoke(main, ["retention", "run", "--dry-run"], obj=cli)
    assert dry.exit_code == 0, dry.output
    assert "dry run: 1 sites" in dry.output and "would remove" in dry.output
    assert SITE in dry.output
    first = CliRunner().invoke(main, ["retention", "run"], obj=cli)
    assert first.exit_code == 0, first.output
    assert "removed the reporter contacts of 1 requests, 1 internal notes" in first.output
    again = CliRunner().invoke(main, ["retention", "run"], obj=cli)
    assert "of 0 requests, 0 internal notes, the notes of 0 visits, 0 photos" in again.output
    assert len(_purges(officers)) == 2

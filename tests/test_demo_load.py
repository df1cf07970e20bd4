"""The demo district goes through the import pipeline into PostGIS and is served."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from geo_service import auth, impact
from geo_service.access import local_operator
from geo_service.cli import main
from geo_service.demo import build_demo_district, load_demo
from geo_service.main import create_app
from geo_service.mitigation import funnel
from geo_service.settings import DatabaseSettings
from tests.conftest import count_rows


def test_demo_loads_every_layer_and_is_served(db: Engine) -> None:
    assert load_demo(db)
    expected = {layer: len(frame) for layer, frame in build_demo_district().items()}
    assert {layer: count_rows(db, layer) for layer in expected} == expected
    assert expected["households"] > 19_000 and expected["sites"] >= 10
    with db.connect() as conn:
        linked = (
            conn.execute(
                text(
                    "SELECT s.name FROM sites s JOIN site_parcels l ON l.site_id = s.id "
                    "JOIN parcels p ON p.id = l.parcel_id WHERE p.code = 'SC0403-R21-03'"
                )
            )
            .scalars()
            .all()
        )
    assert linked and "望" in linked[0]
    with db.connect() as conn:
        (windows,) = funnel.funnel(conn, impact.resolve_site(conn, "QT-01").id)
    # 秋涛路's sound-insulation windows: about 2,200 households, cases at every step.
    assert windows["kind"] == "sound_insulation_windows" and 2000 < windows["cases"] < 2400
    assert all(n > 0 for n in windows["by_state"].values()), windows["by_state"]
    assert windows["area_installed_m2"] > 10_000 and windows["no_longer_eligible"] == 0
    _season_is_there(db)
    _monitoring_is_there(db)
    url = db.url.render_as_string(hide_password=False)
    with db.begin() as conn:
        token = auth.create_token(
            conn,
            "planner",
            by=local_operator(),
            expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
        )
    headers = {"Authorization": f"Bearer {token.secret}"}
    with TestClient(create_app(DatabaseSettings(database_url=url)), headers=headers) as client:
        parcel = client.get("/api/parcels/XC1003-R21-02")
        assert parcel.status_code == 200
        assert parcel.json()["properties"]["land_use"] == ["R21"]
        sites = client.get("/api/sites").json()["features"]
        assert any(
            f["geometry"]["type"] == "LineString" and "秋涛路" in f["properties"]["name"]
            for f in sites
        )


def test_demo_if_empty_leaves_existing_data_alone(db: Engine) -> None:
    assert load_demo(db)
    with db.begin() as conn:
        conn.execute(
            text(
                "UPDATE communities SET district = 'kept' "
                "WHERE id = (SELECT min(id) FROM communities)"
            )
        )
    assert not load_demo(db, if_empty=True)
    with db.connect() as conn:
        assert (
            conn.execute(
                text("SELECT count(*) FROM communities WHERE district = 'kept'")
            ).scalar_one()
            == 1
        )


def test_demo_sites_have_equipment_and_predicted_levels(db: Engine) -> None:
    from geo_service import impact

    load_demo(db)
    with db.connect() as conn:
        site = impact.resolve_site(conn, "WJ-01")
        summary = impact.site_impact(conn, site, exact=True)
    assert summary["parameters"]["equipment"], "the demo plans equipment for its sites"
    assert summary["totals"]["households"] > 0
    assert summary["totals"]["max_leq_day"] is not None


def test_geo_service_demo_if_empty_loads_once_and_names_the_admin(
    db: Engine, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``geo-service demo --if-empty``, as ``./dev serve`` and the container run it."""
    monkeypatch.setenv("GEO_SERVICE_DATABASE_URL", database_url)
    monkeypatch.setenv("GEO_SERVICE_HOME", str(tmp_path))
    first = CliRunner().invoke(main, ["demo", "--if-empty"])
    assert first.exit_code == 0, first.output
    assert count_rows(db, "households") == len(build_demo_district()["households"])
    password = (tmp_path / "admin-password").read_text().strip()
    assert f"sign in at /login as admin, password {password}" in first.output
    again = CliRunner().invoke(main, ["demo", "--if-empty"])
    assert again.exit_code == 0, again.output
    assert "the database already holds data; the demo district was not loaded" in again.output


def _monitoring_is_there(db: Engine) -> None:
    """The monitors' two weeks: minute data from every monitor of every active site, their
    rollups, one monitor offline, and alarms of every kind the season has in every state,
    the answered ones with their replies."""
    from geo_service.monitoring import lifecycle
    from geo_service.monitoring.states import monitor_states
    from geo_service.settings import AlarmSettings

    with db.connect() as conn:
        one = lambda sql: conn.execute(text(sql)).scalar_one()  # noqa: E731
        active = one("SELECT count(*) FROM sites WHERE status = 'under_construction'")
        assert one("SELECT count(DISTINCT monitor_id) FROM readings") == 2 * active > 0
        days = one("SELECT extract(day FROM max(at) - min(at)) FROM readings")
        assert days == 14
        assert one("SELECT count(*) FROM readings") == one(
            "SELECT sum(count) FROM reading_rollups WHERE period = '20min'"
        )
        # As the load left them (later, with no monitor sending, all go offline).
        loaded = one("SELECT max(received_at) FROM readings")
        states = monitor_states(conn, AlarmSettings(), loaded)
        assert list(states.values()).count("offline") == 1
        found = {
            (r.kind, r.state) for r in conn.execute(text("SELECT DISTINCT kind, state FROM alarms"))
        }
        assert {state for _, state in found} == set(lifecycle.STATES)
        assert {"noise_laeq", "dust", "night_work_unpermitted", "offline"} <= {k for k, _ in found}
        assert ("offline", "open") in found
        assert (
            one(
                "SELECT count(*) FROM alarms WHERE state IN ('replied', 'closed')"
                " AND (reply IS NULL OR cardinality(actions) = 0)"
            )
            == 0
        )
        assert one("SELECT count(*) FROM alarms WHERE escalated_at IS NOT NULL") > 0


def _season_is_there(db: Engine) -> None:
    """The liaison season: a working group per site, most of 秋涛路's households visited,
    about 120 requests in all 15 categories and every state, some overdue and breached."""
    from geo_service.liaison.requests import OVERDUE
    from layers.requests import STATES
    from layers.visits import OUTCOMES

    with db.connect() as conn:
        one = lambda sql: conn.execute(text(sql), {"now": dt.datetime.now(dt.UTC)}).scalar_one()  # noqa: E731
        sites = one("SELECT count(*) FROM sites")
        assert one("SELECT count(DISTINCT site_code) FROM site_officers") == sites
        assert one("SELECT count(DISTINCT site_code) FROM working_group_members") == sites
        parties = one(
            "SELECT count(DISTINCT party) FROM working_group_members m JOIN sites s "
            "ON s.code = m.site_code WHERE s.code = 'QT-01'"
        )
        assert parties == 7  # owner, survey, design, contractor, supervisor, street, community
        road = "(SELECT id FROM sites WHERE code = 'QT-01')"
        affected = one(f"SELECT count(*) FROM household_impacts WHERE site_id = {road}")
        visited = one(f"SELECT count(DISTINCT household_id) FROM visits WHERE site_id = {road}")
        assert 0.9 * affected < visited < affected
        outcomes = conn.execute(text("SELECT DISTINCT outcome FROM visits")).scalars().all()
        assert set(outcomes) == set(OUTCOMES)
        assert one("SELECT count(*) FROM visits WHERE next_visit_due IS NOT NULL") > 100
        assert one("SELECT count(*) FROM requests") == 120
        assert one("SELECT count(DISTINCT category) FROM requests") == 15
        found = set(conn.execute(text("SELECT DISTINCT state FROM requests")).scalars())
        assert found == set(STATES)
        assert one(f"SELECT count(*) FROM requests m WHERE {OVERDUE}") > 10
        assert one("SELECT count(*) FROM request_events WHERE kind = 'sla_breach'") > 10
        assert one("SELECT count(*) FROM requests WHERE duplicate_of IS NOT NULL") == 6

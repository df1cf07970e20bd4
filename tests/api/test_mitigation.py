"""The mitigation endpoints: who may create programmes, enrol, read and work cases; what a
refused step says; bad bodies; the funnel as JSON. On the ``homes`` district: three
households beside the housing site AZF-2024-01, which has two excavators by day."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from tests.accounts import make_user
from tests.conftest import count_rows

SITE, OTHER = "AZF-2024-01", "ROAD-2024-07"
PROGRAMME = {
    "kind": "sound_insulation_windows",
    "title": "西溪安置房一期周边隔声窗",
    "rule": {"min_leq_day": 0},
    "unit_cost_per_m2": 800,
}
TABLES = ("mitigation_programmes", "mitigation_cases", "mitigation_case_events")


def _rows(engine: Engine) -> dict[str, int]:
    return {t: count_rows(engine, t) for t in TABLES}


@pytest.fixture
def programme(homes: Engine, client: TestClient) -> int:
    """A programme every household of the site is eligible for, enrolled (by the admin)."""
    created = client.post(f"/api/sites/{SITE}/mitigation/programmes", json=PROGRAMME)
    assert created.status_code == 201, created.text
    programme_id = created.json()["id"]
    enrolled = client.post(f"/api/mitigation/programmes/{programme_id}/enrol")
    assert enrolled.json() == {"selected": 3, "created": 3, "no_longer_eligible": 0}
    return programme_id


def _cases(who: TestClient, programme_id: int, **params: object) -> dict:
    answer = who.get(f"/api/mitigation/programmes/{programme_id}/cases", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_planners_create_and_enrol_and_see_cases_without_personal_fields(
    homes: Engine, client_as: Callable[..., TestClient]
) -> None:
    planner = client_as("planner")
    created = planner.post(f"/api/sites/{SITE}/mitigation/programmes", json=PROGRAMME)
    assert created.status_code == 201
    body = created.json()
    assert (body["site_code"], body["kind_zh"], body["rule"]["match"]) == (SITE, "隔声窗", "any")
    programme_id = body["id"]
    assert planner.post(f"/api/mitigation/programmes/{programme_id}/enrol").json()["created"] == 3
    again = planner.post(f"/api/mitigation/programmes/{programme_id}/enrol").json()
    assert again == {"selected": 3, "created": 0, "no_longer_eligible": 0}
    listed = _cases(planner, programme_id)
    assert listed["total"] == 3
    assert [c["unit_label"] for c in listed["cases"]] == ["1-1-101", "1-1-102", "1-2-301"]
    first = listed["cases"][0]
    assert first["state"] == "eligible" and first["next"] == ["surveyed"]
    assert first["eligible_now"] is True and first["leq_day"] > 0
    assert not {"note", "contact_name", "phone", "elderly"} & set(first)
    with homes.connect() as conn:
        audited = conn.execute(
            text("SELECT count(*) FROM audit_log WHERE action = 'read_personal'")
        ).scalar()
    assert audited == 0


def test_the_sites_liaison_works_cases_and_reads_notes_audited(
    programme: int, homes: Engine, client_as: Callable[..., TestClient]
) -> None:
    liaison = client_as("liaison", sites=[SITE])
    case_id = _cases(liaison, programme)["cases"][0]["id"]
    step = liaison.post(
        f"/api/mitigation/cases/{case_id}/transitions",
        json={"to": "surveyed", "surveyed_at": "2026-11-01", "window_area_m2": 11.5,
              "note": "示例：老人白天在家，下午上门"},
    )  # fmt: skip
    assert step.status_code == 200, step.text
    assert step.json() == {"id": case_id, "state": "surveyed", "next": ["offered"]}
    case = liaison.get(f"/api/mitigation/cases/{case_id}").json()
    assert case["note"] == "示例：老人白天在家，下午上门" and case["phone"] == "199-0000-0001"
    assert case["window_area_m2"] == 11.5 and case["surveyed_at"] == "2026-11-01"
    (created, surveyed) = case["events"]
    assert (created["from_state"], created["to_state"]) == (None, "eligible")
    assert (surveyed["from_state"], surveyed["to_state"], surveyed["role"]) == (
        "eligible",
        "surveyed",
        "liaison",
    )
    assert surveyed["changes"] == {
        "surveyed_at": "2026-11-01",
        "window_area_m2": 11.5,
        "note": True,
    }
    listed = _cases(liaison, programme, state="surveyed")
    assert [c["id"] for c in listed["cases"]] == [case_id] and listed["cases"][0]["note"]
    with homes.connect() as conn:
        reads = conn.execute(
            text(
                "SELECT record_count, detail->'fields' FROM audit_log "
                "WHERE action = 'read_personal' ORDER BY id"
            )
        ).all()
    assert [r[0] for r in reads] == [3, 1, 1]  # the list, the case, the filtered list
    assert "note" in reads[0][1] and "phone" in reads[0][1]
    planner_view = client_as("planner").get(f"/api/mitigation/cases/{case_id}").json()
    assert "note" not in planner_view and planner_view["state"] == "surveyed"


def test_who_may_do_what(programme: int, client_as: Callable[..., TestClient]) -> None:
    own, other = client_as("liaison", sites=[SITE]), client_as("liaison", sites=[OTHER])
    planner, gis = client_as("planner"), client_as("gis")
    case_id = _cases(own, programme)["cases"][0]["id"]
    step = {"to": "surveyed", "surveyed_at": "2026-11-01"}
    create = f"/api/sites/{SITE}/mitigation/programmes"
    refused = own.post(create, json=PROGRAMME)
    assert refused.status_code == 403
    assert refused.json()["detail"] == "the liaison role does not allow manage_mitigation"
    assert own.post(f"/api/mitigation/programmes/{programme}/enrol").status_code == 403
    worked = planner.post(f"/api/mitigation/cases/{case_id}/transitions", json=step)
    assert worked.status_code == 403 and "may not work mitigation cases" in worked.json()["detail"]
    for url in (
        f"/api/mitigation/programmes/{programme}/cases",
        f"/api/mitigation/cases/{case_id}",
        f"/api/mitigation/programmes/{programme}/funnel",
        f"/api/sites/{SITE}/mitigation/programmes",
    ):
        assert other.get(url).status_code == 403, url
        assert gis.get(url).status_code == 403, url
        assert planner.get(url).status_code == 200, url
    answer = other.post(f"/api/mitigation/cases/{case_id}/transitions", json=step)
    assert answer.status_code == 403 and "not assigned to you" in answer.json()["detail"]
    assert own.post(f"/api/mitigation/cases/{case_id}/transitions", json=step).status_code == 200


def test_a_refused_step_names_the_allowed_ones_and_a_missing_field_is_named(
    programme: int, homes: Engine, client: TestClient
) -> None:
    case_id = _cases(client, programme)["cases"][0]["id"]
    url = f"/api/mitigation/cases/{case_id}/transitions"
    before = _rows(homes)
    refused = client.post(url, json={"to": "installed", "installed_at": "2026-11-01"})
    assert refused.status_code == 409
    assert refused.json()["allowed"] == ["surveyed"] and refused.json()["state"] == "eligible"
    assert "allowed next: surveyed" in refused.json()["detail"]
    missing = client.post(url, json={"to": "surveyed"})
    assert missing.status_code == 422 and missing.json()["fields"] == ["surveyed_at"]
    future = client.post(url, json={"to": "surveyed", "surveyed_at": "2999-01-01"})
    assert future.status_code == 422 and "in the future" in future.json()["detail"]
    assert _rows(homes) == before


def test_bulk_steps_are_all_or_none(programme: int, homes: Engine, client: TestClient) -> None:
    ids = [c["id"] for c in _cases(client, programme)["cases"]]
    url = f"/api/mitigation/programmes/{programme}/transitions"
    step = {"to": "surveyed", "surveyed_at": "2026-11-01"}
    first = client.post(url, json={**step, "case_ids": ids[:1]})
    assert first.status_code == 200
    before = _rows(homes)
    again = client.post(url, json={**step, "case_ids": ids})
    assert again.status_code == 409 and f"case {ids[0]}" in again.json()["detail"]
    assert _rows(homes) == before
    unknown = client.post(url, json={**step, "case_ids": [*ids[1:], 999999]})
    assert unknown.status_code == 404 and "999999" in unknown.json()["detail"]
    done = client.post(url, json={**step, "case_ids": ids[1:]})
    assert [c["state"] for c in done.json()["cases"]] == ["surveyed", "surveyed"]


def test_the_funnel_as_json(programme: int, client: TestClient) -> None:
    ids = [c["id"] for c in _cases(client, programme)["cases"]]
    url = f"/api/mitigation/programmes/{programme}/transitions"
    for step in (
        {"to": "surveyed", "surveyed_at": "2026-11-01"},
        {"to": "offered", "offered_at": "2026-11-02"},
        {"to": "agreed", "agreed_at": "2026-11-03"},
        {"to": "scheduled", "scheduled_for": "2026-11-05", "contractor": "示例门窗公司"},
        {"to": "installed", "installed_at": "2026-11-05", "window_area_m2": 12, "cost": 9000},
    ):
        assert client.post(url, json={**step, "case_ids": ids[:2]}).status_code == 200
    counts = client.get(f"/api/mitigation/programmes/{programme}/funnel").json()
    assert counts["by_state"]["installed"] == 2 and counts["by_state"]["eligible"] == 1
    assert counts["reached"]["agreed"] == 2 and counts["reached"]["eligible"] == 3
    assert (counts["area_installed_m2"], counts["cost"], counts["cost_at_unit_rate"]) == (
        24,
        18000,
        19200,
    )
    (site_wide,) = client.get(f"/api/sites/{SITE}/mitigation/funnel").json()
    assert site_wide == counts
    assert client.get(f"/api/mitigation/programmes/{programme}").json()["funnel"] == counts


def test_editing_the_rule_keeps_cases_and_flags_those_no_longer_eligible(
    programme: int, client: TestClient
) -> None:
    listed = _cases(client, programme)["cases"]
    loudest = max(c["leq_day"] for c in listed)
    edited = client.patch(
        f"/api/mitigation/programmes/{programme}", json={"rule": {"min_leq_day": loudest}}
    )
    assert edited.status_code == 200 and edited.json()["rule"]["min_leq_day"] == loudest
    enrolled = client.post(f"/api/mitigation/programmes/{programme}/enrol").json()
    assert enrolled == {"selected": 1, "created": 0, "no_longer_eligible": 2}
    assert _cases(client, programme)["total"] == 3
    assert _cases(client, programme, eligible_now=False)["total"] == 2


def test_filters_by_community_and_building(programme: int, client: TestClient) -> None:
    assert _cases(client, programme, community="翠苑一区")["total"] == 3
    assert _cases(client, programme, building="翠苑一区1幢", limit=1)["total"] == 3
    assert _cases(client, programme, community="别处")["cases"] == []
    assert _cases(client, programme, offset=10)["total"] == 3


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({**PROGRAMME, "kind": "magic"}, "unknown kind 'magic'"),
        ({**PROGRAMME, "rule": {"max_band": 1}}, "at least one threshold"),
        ({**PROGRAMME, "rule": {"min_exceed_night": 0}}, "min_exceed_night"),
        ({**PROGRAMME, "colour": "red"}, "colour"),
        ({**PROGRAMME, "title": ""}, "title"),
        ({**PROGRAMME, "budget": -1}, "budget"),
    ],
)
def test_bad_programmes_are_refused_by_name_and_change_nothing(
    body: dict, named: str, homes: Engine, client: TestClient
) -> None:
    answer = client.post(f"/api/sites/{SITE}/mitigation/programmes", json=body)
    assert answer.status_code == 422 and named in answer.text
    assert _rows(homes)["mitigation_programmes"] == 0


@pytest.mark.parametrize(
    "body",
    [
        {"to": "nowhere"},
        {"to": "surveyed", "surveyed_at": "yesterday"},
        {"to": "installed", "window_area_m2": -3},
        {"to": "surveyed", "surveyed_at": "2026-11-01", "note": "x" * 2001},
        {"to": "surveyed", "surveyed_at": "2026-11-01", "colour": "red"},
    ],
)
def test_bad_steps_are_422_and_change_nothing(
    body: dict, programme: int, homes: Engine, client: TestClient
) -> None:
    case_id = _cases(client, programme)["cases"][0]["id"]
    before = _rows(homes)
    answer = client.post(f"/api/mitigation/cases/{case_id}/transitions", json=body)
    assert answer.status_code == 422
    assert _rows(homes) == before


def test_unknown_ids_are_404(homes: Engine, client: TestClient) -> None:
    assert client.get("/api/mitigation/programmes/4242").status_code == 404
    assert client.get("/api/mitigation/cases/4242").status_code == 404
    assert client.get("/api/sites/NOPE/mitigation/funnel").status_code == 404


def test_a_forged_cross_site_step_is_refused(
    programme: int, app: FastAPI, homes: Engine, client: TestClient
) -> None:
    """The session cookie cannot move a case from another site's page (CSRF)."""
    case_id = _cases(client, programme)["cases"][0]["id"]
    make_user(homes, "boss", "admin")
    browser = TestClient(app, follow_redirects=False)
    own = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}
    browser.post(
        "/login", data={"username": "boss", "password": "correct-horse-battery"}, headers=own
    )
    step = {"to": "surveyed", "surveyed_at": "2026-11-01"}
    url = f"/api/mitigation/cases/{case_id}/transitions"
    forged = browser.post(url, json=step, headers={"Sec-Fetch-Site": "same-site"})
    assert forged.status_code == 403
    assert browser.post(url, json=step, headers=own).status_code == 200


def test_kinds_have_both_labels(homes: Engine, client: TestClient) -> None:
    kinds = {k["code"]: k for k in client.get("/api/mitigation/kinds").json()}
    assert kinds["sound_insulation_windows"]["name_zh"] == "隔声窗"
    assert kinds["temporary_rehousing"]["name_en"] == "Temporary rehousing"


def test_an_oversized_step_body_is_413_and_changes_nothing(
    programme: int, homes: Engine, client: TestClient
) -> None:
    case_id = _cases(client, programme)["cases"][0]["id"]
    before = _rows(homes)
    body = {"to": "surveyed", "surveyed_at": "2026-11-01", "note": "示" * 200_000}
    answer = client.post(f"/api/mitigation/cases/{case_id}/transitions", json=body)
    assert answer.status_code == 413 and "KiB" in answer.json()["detail"]
    assert _rows(homes) == before

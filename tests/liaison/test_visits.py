"""The visit log and a site's coverage, working groups, and bad input refused by name."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from geo_service.errors import InvalidCase
from geo_service.liaison import visits
from tests.liaison.conftest import officer

SITE = "AZF-2024-01"


def _households(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT id FROM households ORDER BY id")).scalars())


def _visit(who: TestClient, household: int, outcome: str, **kw: object) -> int:
    answer = who.post(
        f"/api/sites/{SITE}/visits",
        json={
            "household": household,
            "outcome": outcome,
            "visited_at": "2026-11-30T10:30:00+08:00",
            **kw,
        },
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def test_coverage_counts_households_met_vulnerable_first_and_per_band(
    homes: Engine, officers: Engine, client_as: Callable[..., TestClient]
) -> None:
    elderly, second, third = _households(homes)  # the first has an elderly resident
    wang = client_as("liaison", sites=[SITE])
    _visit(wang, elderly, "met", notes="老人独居，夜间怕吵", next_visit_due="2026-12-15")
    _visit(wang, second, "not_at_home")
    _visit(wang, second, "not_at_home")
    cover = wang.get(f"/api/sites/{SITE}/coverage").json()
    assert cover["exact"] is True
    assert cover["vulnerable"] == {"households": 1, "visited": 1, "attempted": 1, "settled": 1}
    assert cover["all"] == {"households": 3, "visited": 1, "attempted": 2, "settled": 1}
    assert sum(b["households"] for b in cover["bands"]) == 3
    assert sum(b["visited"] for b in cover["bands"]) == 1
    log = wang.get(f"/api/sites/{SITE}/visits").json()
    assert log["total"] == 3 and log["visits"][0]["officer"].startswith("token:")
    assert {v["notes"] for v in log["visits"]} == {"老人独居，夜间怕吵", None}
    # A planner sees the totals but not a vulnerable cell of one household.
    planner = client_as("planner").get(f"/api/sites/{SITE}/coverage").json()
    assert planner["exact"] is False and planner["all"]["households"] == 3
    assert set(planner["vulnerable"].values()) == {"<5"}
    assert third


def test_a_visit_needs_a_household_the_site_affects_and_a_known_outcome(
    homes: Engine, officers: Engine, client_as: Callable[..., TestClient]
) -> None:
    wang = client_as("liaison", sites=[SITE])
    household = _households(homes)[0]
    with homes.begin() as conn:
        far = conn.execute(
            text(
                "INSERT INTO households (building_id, unit_label, geom) SELECT building_id, "
                "'9-9-909', ST_SetSRID(ST_MakePoint(120.30, 30.40), 4326) FROM households "
                "LIMIT 1 RETURNING id"
            )
        ).scalar_one()
    cases = {
        "unaffected": ({"household": far, "outcome": "met"}, 422, "not among the households"),
        "outcome": ({"household": household, "outcome": "ok"}, 422, "outcome"),
        "naive time": (
            {"household": household, "outcome": "met", "visited_at": "2026-11-30T10:30:00"},
            422,
            "visited_at",
        ),
        "future": (
            {"household": household, "outcome": "met", "visited_at": "2099-01-01T00:00:00+08:00"},
            422,
            "future",
        ),
        "extra": ({"household": household, "outcome": "met", "officer": "x"}, 422, "officer"),
    }
    for name, (body, status, words) in cases.items():
        sent = {"visited_at": "2026-11-30T10:30:00+08:00", **body}
        answer = wang.post(f"/api/sites/{SITE}/visits", json=sent)
        assert answer.status_code == status, f"{name}: {answer.text}"
        assert words in answer.text, f"{name}: {answer.text}"
    other = client_as("liaison", sites=["ROAD-2024-07"])
    refused = other.post(
        f"/api/sites/{SITE}/visits",
        json={"household": household, "outcome": "met", "visited_at": "2026-11-30T10:30:00+08:00"},
    )
    assert refused.status_code == 403 and "not assigned to you" in refused.text
    assert (
        client_as("member", sites=[SITE])
        .post(
            f"/api/sites/{SITE}/visits",
            json={
                "household": household,
                "outcome": "met",
                "visited_at": "2026-11-30T10:30:00+08:00",
            },
        )
        .status_code
        == 403
    )
    with homes.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM visits")).scalar_one() == 0


def test_bad_requests_are_refused_by_name_and_change_nothing(
    homes: Engine, officers: Engine, client_as: Callable[..., TestClient]
) -> None:
    wang = client_as("liaison", sites=[SITE])
    base = {
        "site": SITE,
        "category": "noise",
        "channel": "web",
        "description": "噪声",
        "lon": 120.159,
        "lat": 30.267,
    }
    cases = {
        "category": ({"category": "weather"}, 422, "unknown category 'weather'"),
        "channel": ({"channel": "fax"}, 422, "channel"),
        "site": ({"site": "NOPE-1"}, 404, "NOPE-1"),
        "where": ({"lon": None, "lat": None}, 422, "say where"),
        "half a point": ({"lat": None}, 422, "both lon and lat"),
        "lon": ({"lon": 500}, 422, "lon"),
        "household": ({"household": 999999}, 422, "not among the households"),
        "long": ({"description": "吵" * 5000}, 422, "description"),
        "extra": ({"state": "closed"}, 422, "state"),
    }
    for name, (change, status, words) in cases.items():
        answer = wang.post("/api/requests", json={**base, **change})
        assert answer.status_code == status, f"{name}: {answer.text}"
        assert words in answer.text, f"{name}: {answer.text}"
    other = client_as("liaison", sites=["ROAD-2024-07"]).post("/api/requests", json=base)
    assert other.status_code == 403
    listing = wang.get("/api/requests?state=open")
    assert listing.status_code == 422 and "state" in listing.text
    with homes.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM requests")).scalar_one() == 0


def test_list_filters_and_assignment(
    homes: Engine, officers: Engine, client_as: Callable[..., TestClient]
) -> None:
    wang = client_as("liaison", sites=[SITE])
    made = [
        wang.post(
            "/api/requests",
            json={
                "site": SITE,
                "category": c,
                "channel": "web",
                "description": "问题",
                "address": "翠苑一区1幢",
            },
        ).json()["public_id"]
        for c in ("noise", "dust", "noise")
    ]
    wang.post(f"/api/requests/{made[0]}/transitions", json={"to": "acknowledged"})
    assigned = wang.put(
        f"/api/requests/{made[0]}/assignee", json={"assignee": "zhao", "agency": "建工集团"}
    )
    assert assigned.status_code == 200 and assigned.json()["state"] == "assigned"
    assert [e["kind"] for e in assigned.json()["events"]][-2:] == ["assignment", "state_change"]
    nobody = wang.put(f"/api/requests/{made[1]}/assignee", json={"assignee": "li"})
    assert nobody.status_code == 422 and "does not work the requests of site" in nobody.text
    assert (
        wang.put(f"/api/requests/{made[1]}/assignee", json={"assignee": "zhao"}).json()["state"]
        == "new"
    )  # assigned, but still to be acknowledged
    found = wang.get("/api/requests?category=noise").json()
    assert found["total"] == 2 and {r["public_id"] for r in found["requests"]} == {made[0], made[2]}
    assert wang.get("/api/requests?assignee=zhao").json()["total"] == 2
    assert wang.get("/api/requests?state=assigned").json()["requests"][0]["public_id"] == made[0]
    assert wang.get("/api/requests?overdue=true").json()["total"] == 0
    with homes.begin() as conn:
        conn.execute(text("UPDATE requests SET acknowledge_due = now() - interval '1 hour'"))
    overdue = wang.get("/api/requests?overdue=true").json()  # two still new, one assigned
    assert overdue["total"] == 2 and all(r["overdue"] for r in overdue["requests"])
    assert client_as("liaison", sites=["ROAD-2024-07"]).get("/api/requests").json()["total"] == 0
    assert client_as("planner").get("/api/requests").json()["total"] == 3


def test_working_group_officers_by_admins_members_by_the_sites_officers(
    homes: Engine, officers: Engine, client_as: Callable[..., TestClient], client: TestClient
) -> None:
    wang = client_as("liaison", sites=[SITE])
    url = f"/api/sites/{SITE}/working-group"
    member = {
        "organisation": "翠苑街道",
        "party": "street_office",
        "role": "副主任",
        "name": "街道-周某",
        "phone": "177-0000-0002",
    }
    made = wang.post(f"{url}/members", json=member)
    assert made.status_code == 201
    assert (
        wang.put(f"{url}/members/{made.json()['id']}", json={**member, "role": "主任"}).status_code
        == 200
    )
    bad = wang.post(f"{url}/members", json={**member, "party": "police"})
    assert bad.status_code == 422 and "party" in bad.text
    assert client_as("member", sites=[SITE]).post(f"{url}/members", json=member).status_code == 403
    assert (
        wang.post(
            f"{url}/officers",
            json={"username": "zhao", "duty": "deputy", "starts_on": "2026-12-01"},
        ).status_code
        == 403
    )
    deputy = client.post(
        f"{url}/officers",
        json={
            "username": "zhao",
            "duty": "deputy",
            "starts_on": "2026-12-01",
            "ends_on": "2027-06-30",
        },
    )
    assert deputy.status_code == 201, deputy.text
    wrong = client.post(
        f"{url}/officers", json={"username": "li", "duty": "lead", "starts_on": "2026-12-01"}
    )
    assert wrong.status_code == 422 and "li does not work" in wrong.text
    group = wang.get(url).json()
    assert [(o["username"], o["duty"]) for o in group["officers"]] == [
        ("wang", "lead"),
        ("zhao", "deputy"),
    ]
    assert group["members"][0]["role"] == "主任" and group["members"][0]["phone"]
    seen_by_member = client_as("member", sites=[SITE]).get(url).json()
    assert "phone" not in seen_by_member["members"][0]
    assert client_as("member", sites=["ROAD-2024-07"]).get(url).status_code == 403
    assert wang.delete(f"{url}/members/{made.json()['id']}").status_code == 204
    assert wang.delete(f"{url}/members/{made.json()['id']}").status_code == 404


def test_a_batch_of_visits_is_recorded_whole_or_not_at_all(homes: Engine, officers: Engine) -> None:
    """``log_many`` (the demo's season, in one statement): every visit checked as one is,
    ids in the batch's order, an audit row each; one household the site does not affect
    and nothing is written."""
    first, second, third = _households(homes)
    at = dt.datetime(2026, 11, 30, 10, 30, tzinfo=dt.UTC)
    batch = [
        visits.NewVisit(site=SITE, household=h, outcome=o, visited_at=at + dt.timedelta(hours=n))
        for n, (h, o) in enumerate([(third, "met"), (first, "not_at_home"), (second, "refused")])
    ]
    with homes.begin() as conn:
        ids = visits.log_many(conn, officer(), batch)
        rows = conn.execute(text("SELECT id, household_id, outcome FROM visits ORDER BY id")).all()
        audited = conn.execute(
            text("SELECT target FROM audit_log WHERE target LIKE 'visit:%' ORDER BY id")
        ).scalars()
        assert [(r.id, r.household_id, r.outcome) for r in rows] == [
            (i, v.household, v.outcome) for i, v in zip(ids, batch, strict=True)
        ]
        assert list(audited) == [f"visit:{i}" for i in ids]
    with homes.connect() as conn:
        outsider = conn.execute(text("SELECT max(id) + 1000 FROM households")).scalar_one()
    bad = [*batch, visits.NewVisit(site=SITE, household=outsider, outcome="met", visited_at=at)]
    refused = pytest.raises(InvalidCase, match=f"household {outsider} is not among")
    with refused, homes.begin() as conn:
        visits.log_many(conn, officer(), bad)
    late = [batch[0], visits.NewVisit(SITE, first, "met", at + dt.timedelta(days=3650))]
    with pytest.raises(InvalidCase, match="in the future"), homes.begin() as conn:
        visits.log_many(conn, officer(), late)
    with homes.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM visits")).scalar_one() == 3

"""Micro-wishes: posted by a site's officer, claimed and fulfilled by its working group,
every allowed and refused move, who may do what, the description kept for the officers."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from geo_service.errors import RefusedTransition
from geo_service.liaison import groups, wishes
from geo_service.own_tables import WISH_STATES
from tests.liaison.conftest import OTHER, SITE, officer

DESCRIPTION = "示例：3 单元 301 独居老人，腿脚不便"


@pytest.fixture
def member_id(officers: Engine) -> int:
    with officers.begin() as conn:
        return groups.add_member(
            conn,
            officer(),
            SITE,
            groups.Member(organisation="翠苑社区", party="community", name="示例-社区钱某"),
        )


def _post(who: TestClient, **kw: object) -> dict:
    answer = who.post(
        f"/api/sites/{SITE}/wishes",
        json={"title": "楼道加装扶手", "description": DESCRIPTION, **kw},
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def _move(who: TestClient, wish: int, to: str, **kw: object):
    return who.post(f"/api/wishes/{wish}/transitions", json={"to": to, **kw})


def test_a_wish_is_posted_claimed_and_fulfilled_by_the_working_group(
    homes: Engine, officers: Engine, member_id: int, client_as: Callable[..., TestClient]
) -> None:
    wang, member = client_as("liaison", sites=[SITE]), client_as("member", sites=[SITE])
    household = homes.connect().execute(text("SELECT min(id) FROM households")).scalar_one()
    posted = _post(wang, household=household, due_on="2026-12-31")
    assert posted["state"] == "posted" and posted["description"] == DESCRIPTION
    assert posted["allowed"] == ["claimed", "cancelled"]
    # The member sees what is wished for, not the description.
    seen = member.get(f"/api/wishes/{posted['id']}").json()
    assert seen["title"] == "楼道加装扶手" and "description" not in seen
    claimed = _move(member, posted["id"], "claimed", member=member_id)
    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["claimed_by_name"] == "示例-社区钱某"
    assert claimed.json()["claimed_at"] is not None
    done = _move(member, posted["id"], "fulfilled").json()
    assert done["state"] == "fulfilled" and done["fulfilled_at"] and done["allowed"] == []
    listed = wang.get(f"/api/sites/{SITE}/wishes").json()
    assert listed["counts"] == {"posted": 0, "claimed": 0, "fulfilled": 1, "cancelled": 0}
    assert listed["wishes"][0]["description"] == DESCRIPTION
    with officers.connect() as conn:
        audited = conn.execute(
            text("SELECT action, detail->>'to_state' FROM audit_log WHERE target = :t ORDER BY id"),
            {"t": f"micro_wish:{posted['id']}"},
        ).all()
    assert [tuple(r) for r in audited if r[0] == "change"] == [
        ("change", None),
        ("change", "claimed"),
        ("change", "fulfilled"),
    ]
    assert ("read_personal", None) in [tuple(r) for r in audited]


def test_every_move_of_the_table_and_every_refused_one(officers: Engine, member_id: int) -> None:
    """From each state, each target: allowed exactly when the table says, else 409 naming
    the allowed ones."""
    paths = {"posted": (), "claimed": ("claimed",), "fulfilled": ("claimed", "fulfilled")}
    paths["cancelled"] = ("cancelled",)
    for state, path in paths.items():
        for target in WISH_STATES:
            with officers.begin() as conn:
                wish = wishes.post(conn, officer(), wishes.NewWish(site=SITE, title="修信报箱"))
                for step in path:
                    member = member_id if step == "claimed" else None
                    wishes.transition(conn, officer(), wish, step, member=member)
            member = member_id if target == "claimed" else None
            try:
                with officers.begin() as conn:
                    after = wishes.transition(conn, officer(), wish, target, member=member)
            except RefusedTransition as refused:
                assert target not in wishes.allowed_from(state), (state, target)
                assert refused.allowed == wishes.allowed_from(state)
                assert refused.state == state
            else:
                assert target in wishes.allowed_from(state), (state, target)
                assert after["state"] == target
    assert wishes.allowed_from("fulfilled") == wishes.allowed_from("cancelled") == ()


def test_refusals_name_the_problem_and_change_nothing(
    homes: Engine, officers: Engine, member_id: int, client_as: Callable[..., TestClient]
) -> None:
    wang = client_as("liaison", sites=[SITE])
    wish = _post(wang)["id"]
    refused = _move(wang, wish, "fulfilled")
    assert refused.status_code == 409
    assert refused.json()["allowed"] == ["claimed", "cancelled"]
    assert "posted cannot become fulfilled" in refused.json()["detail"]
    no_member = _move(wang, wish, "claimed")
    assert no_member.status_code == 422 and "member" in no_member.text
    with officers.begin() as conn:
        other_member = groups.add_member(
            conn,
            officer("li", frozenset({2})),
            OTHER,
            groups.Member(organisation="市政公司", party="contractor", name="示例-孙某"),
        )
    foreign = _move(wang, wish, "claimed", member=other_member)
    assert foreign.status_code == 422 and f"no working-group member {other_member}" in foreign.text
    bad = {
        "empty title": ({"title": "   "}, "title"),
        "long title": ({"title": "愿" * 201}, "title"),
        "unknown field": ({"title": "x", "posted_by": "me"}, "posted_by"),
        "household elsewhere": ({"title": "x", "household": 999_999}, "not among"),
    }
    for name, (body, words) in bad.items():
        answer = wang.post(f"/api/sites/{SITE}/wishes", json=body)
        assert answer.status_code == 422, f"{name}: {answer.text}"
        assert words in answer.text, f"{name}: {answer.text}"
    assert wang.get(f"/api/sites/{SITE}/wishes?state=done").status_code == 422
    assert _move(wang, wish, "granted").status_code == 422
    assert wang.get("/api/wishes/999999").status_code == 404
    with officers.connect() as conn:
        assert conn.execute(text("SELECT state FROM micro_wishes")).scalars().all() == ["posted"]


def test_who_may_do_what(
    homes: Engine, officers: Engine, member_id: int, client_as: Callable[..., TestClient]
) -> None:
    wang = client_as("liaison", sites=[SITE])
    member, planner = client_as("member", sites=[SITE]), client_as("planner")
    stranger = client_as("member", sites=[OTHER])
    wish = _post(wang)["id"]
    # Members claim and fulfil, but neither post nor cancel.
    assert member.post(f"/api/sites/{SITE}/wishes", json={"title": "x"}).status_code == 403
    assert _move(member, wish, "cancelled").status_code == 403
    # Planners read the counts only; a member of another site not even that.
    counts = planner.get(f"/api/sites/{SITE}/wishes").json()
    assert counts == {
        "site": SITE,
        "counts": {"posted": 1, "claimed": 0, "fulfilled": 0, "cancelled": 0},
    }
    assert planner.get(f"/api/wishes/{wish}").status_code == 403
    assert _move(planner, wish, "claimed", member=member_id).status_code == 403
    assert stranger.get(f"/api/sites/{SITE}/wishes").status_code == 403
    assert stranger.get(f"/api/wishes/{wish}").status_code == 404
    assert _move(stranger, wish, "claimed", member=member_id).status_code == 404
    assert (
        client_as("liaison", sites=[OTHER])
        .post(f"/api/sites/{SITE}/wishes", json={"title": "x"})
        .status_code
        == 403
    )
    # A release puts the wish back for anyone to claim; the officer may cancel it.
    assert _move(member, wish, "claimed", member=member_id).status_code == 200
    released = _move(member, wish, "posted").json()
    assert released["claimed_by"] is None and released["claimed_at"] is None
    assert _move(wang, wish, "cancelled").json()["cancelled_at"] is not None

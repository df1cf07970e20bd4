"""An alarm's life: every transition people may make (each an event with who and when),
every one they may not (refused, naming those that may), auto-clearing only before anyone
acknowledged, one escalation of a late reply through the outbox, and the links to
residents' requests of the same site within the hour, read from both sides."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, text

from geo_service.errors import InvalidCase, RefusedTransition
from geo_service.liaison import requests as cases
from geo_service.monitoring import alarm_records, alarms, lifecycle
from geo_service.settings import AlarmSettings, LiaisonSettings
from tests.liaison.conftest import admin, new_request, officer, officers  # noqa: F401
from tests.monitoring.conftest import local

WANG = officer()  # a liaison officer of AZF-2024-01, where the monitors are


def run(engine: Engine, now: dt.datetime, liaison: LiaisonSettings | None = None):
    with engine.begin() as conn:
        return alarms.run(conn, AlarmSettings(), liaison or LiaisonSettings(), now=now)


@pytest.fixture
def alarm(monitors: Engine, minutes: Callable[..., None]) -> int:
    """An open noise alarm: NOISY at 60 dB(A) from 22:00 to 22:20 (night limit 55), judged
    at 22:30, so its reply is due at 23:30."""
    minutes("NOISY", local(22), 20, leq=60.0)
    run(monitors, local(22, 30))
    with monitors.connect() as conn:
        return conn.execute(
            text("SELECT id FROM alarms WHERE kind = 'noise_laeq' AND state = 'open'")
        ).scalar_one()


def move(engine: Engine, alarm_id: int, target: str, at: dt.datetime, **kw) -> dict:
    with engine.begin() as conn:
        return alarm_records.move(conn, WANG, alarm_id, target, now=at, **kw)


def history(engine: Engine, alarm_id: int) -> list[tuple]:
    with engine.connect() as conn:
        read = alarm_records.read(conn, WANG, alarm_id, now=local(23))
    return [
        (e["kind"], e["actor"], e["from_state"], e["to_state"], e["at"]) for e in read["events"]
    ]


def test_open_acknowledged_replied_closed_each_an_event_with_who_and_when(
    monitors: Engine, alarm: int
) -> None:
    move(monitors, alarm, "acknowledged", local(22, 35))
    replied = move(
        monitors,
        alarm,
        "replied",
        local(22, 50),
        reply="停止夜间打桩",
        actions_taken=["work_stopped"],
    )
    assert replied["reply"] == "停止夜间打桩" and replied["actions"] == ["work_stopped"]
    closed = move(monitors, alarm, "closed", local(23, 10), note="复测达标")
    assert closed["state"] == "closed" and closed["allowed"] == []
    assert history(monitors, alarm) == [
        ("opened", "system:alarms", None, "open", local(22, 30)),
        ("state_change", "wang", "open", "acknowledged", local(22, 35)),
        ("state_change", "wang", "acknowledged", "replied", local(22, 50)),
        ("state_change", "wang", "replied", "closed", local(23, 10)),
    ]
    with monitors.begin() as conn, pytest.raises(Exception, match="append-only"):
        conn.execute(text("DELETE FROM alarm_events"))


PATHS = {
    "open": [],
    "acknowledged": ["acknowledged"],
    "replied": ["acknowledged", "replied"],
    "closed": ["acknowledged", "replied", "closed"],
}


@pytest.mark.parametrize(
    ("state", "target"),
    [
        (state, target)
        for state in PATHS
        for target in lifecycle.STATES
        if target not in lifecycle.allowed_from(state)
    ],
)
def test_every_other_transition_is_refused_naming_the_allowed_ones(
    monitors: Engine, alarm: int, state: str, target: str
) -> None:
    for step in PATHS[state]:
        reply = {"reply": "喷淋已开", "actions_taken": ["spray_on"]} if step == "replied" else {}
        move(monitors, alarm, step, local(22, 40), **reply)
    with pytest.raises(RefusedTransition) as refused:
        move(monitors, alarm, target, local(22, 45))
    assert refused.value.state == state
    assert refused.value.allowed == lifecycle.allowed_from(state)
    assert f"it may become: {', '.join(refused.value.allowed) or 'nothing'}" in str(refused.value)
    assert [e[3] for e in history(monitors, alarm)] == ["open", *PATHS[state]]


def test_an_auto_cleared_alarm_is_final_and_people_cannot_auto_clear(
    monitors: Engine, minutes: Callable[..., None], alarm: int
) -> None:
    with pytest.raises(RefusedTransition, match="the evaluation sets it"):
        move(monitors, alarm, "auto_cleared", local(22, 35))
    minutes("NOISY", local(22, 20), 20, leq=50.0)  # within the limit: the condition clears
    run(monitors, local(22, 50))
    with pytest.raises(RefusedTransition) as refused:
        move(monitors, alarm, "acknowledged", local(22, 55))
    assert refused.value.state == "auto_cleared" and refused.value.allowed == ()


def test_once_acknowledged_a_cleared_condition_is_noted_and_the_alarm_stays(
    monitors: Engine, minutes: Callable[..., None], alarm: int
) -> None:
    move(monitors, alarm, "acknowledged", local(22, 35))
    minutes("NOISY", local(22, 20), 20, leq=50.0)
    run(monitors, local(22, 50))
    with monitors.connect() as conn:
        read = alarm_records.read(conn, WANG, alarm, now=local(22, 50))
    assert read["state"] == "acknowledged"
    assert read["condition_cleared_at"] == local(22, 20)
    assert read["events"][-1]["kind"] == "condition_cleared"
    # It is over the limit again: the same episode, still acknowledged.
    minutes("NOISY", local(22, 40), 20, leq=61.0)
    run(monitors, local(23, 10))
    with monitors.connect() as conn:
        read = alarm_records.read(conn, WANG, alarm, now=local(23, 10))
    assert (read["state"], read["windows"], read["condition_cleared_at"]) == (
        "acknowledged",
        2,
        None,
    )


def test_a_reply_says_what_was_done_from_the_list(monitors: Engine, alarm: int) -> None:
    with pytest.raises(InvalidCase, match="when an alarm is replied to"):
        move(monitors, alarm, "acknowledged", local(22, 35), reply="x")
    move(monitors, alarm, "acknowledged", local(22, 35))
    with pytest.raises(InvalidCase, match="give reply"):
        move(monitors, alarm, "replied", local(22, 40), actions_taken=["spray_on"])
    with pytest.raises(InvalidCase, match="give actions, from: spray_on"):
        move(monitors, alarm, "replied", local(22, 40), reply="已处理")
    with pytest.raises(InvalidCase, match=r"unknown action.* sing_loudly; actions are: spray_on"):
        move(
            monitors, alarm, "replied", local(22, 40), reply="已处理", actions_taken=["sing_loudly"]
        )
    assert [e[3] for e in history(monitors, alarm)] == ["open", "acknowledged"]


def outbox(engine: Engine, alarm_id: int) -> list[tuple]:
    """The outbox rows about this alarm (the monitors silent since are offline, and late
    too: theirs are left out)."""
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT alarm_id, request_id, kind, recipient, status, message->>'site' "
                    "FROM liaison_outbox WHERE alarm_id = :a ORDER BY id"
                ),
                {"a": alarm_id},
            )
        ]


def test_a_late_reply_escalates_once_through_the_outbox(
    officers: Engine,  # noqa: F811 - wang leads AZF-2024-01
    alarm: int,
) -> None:
    run(officers, local(23, 29))
    assert outbox(officers, alarm) == []
    hooks = LiaisonSettings(webhooks="http://127.0.0.1:9/a,http://127.0.0.1:9/b")
    run(officers, local(23, 30), hooks)
    run(officers, local(23, 45), hooks)
    run(officers, local(23, 59), hooks)
    assert outbox(officers, alarm) == [
        (alarm, None, "alarm_escalation", "wang", "pending", "AZF-2024-01"),
        (alarm, None, "alarm_escalation", "wang", "pending", "AZF-2024-01"),
    ]
    assert [e[0] for e in history(officers, alarm)].count("escalation") == 1


def test_a_reply_in_time_is_not_escalated(monitors: Engine, alarm: int) -> None:
    move(monitors, alarm, "acknowledged", local(22, 35))
    move(monitors, alarm, "replied", local(22, 40), reply="喷淋", actions_taken=["spray_on"])
    run(monitors, local(23, 40))
    assert outbox(monitors, alarm) == []


def _request_alarms(engine: Engine, public_id: str) -> list[int]:
    with engine.connect() as conn:
        return cases.read(conn, admin(), public_id)["alarms"]


def test_an_alarm_and_requests_of_its_site_within_the_hour_are_linked_both_ways(
    monitors: Engine,
    minutes: Callable[..., None],
    new_request: Callable[..., str],  # noqa: F811
) -> None:
    before = new_request(at=local(21, 15))  # 45 minutes before the window: linked
    too_early = new_request(at=local(20, 59))
    other_kind = new_request(at=local(22, 5), category="traffic_parking")
    dust = new_request(at=local(22, 5), category="dust")
    other_site = new_request(at=local(22, 5), site="ROAD-2024-07")
    minutes("NOISY", local(22), 20, leq=60.0)
    run(monitors, local(22, 30))
    after = new_request(at=local(23, 20), category="night_work")  # 60 min after 22:20
    too_late = new_request(at=local(23, 21))
    with monitors.connect() as conn:
        alarm = conn.execute(text("SELECT id FROM alarms WHERE kind = 'noise_laeq'")).scalar()
        read = alarm_records.read(conn, admin(), alarm)
    assert read["requests"] == sorted([before, after])
    assert _request_alarms(monitors, before) == [alarm]
    assert _request_alarms(monitors, after) == [alarm]
    for unlinked in (too_early, other_kind, dust, other_site, too_late):
        assert _request_alarms(monitors, unlinked) == []
    # A reader who may not read the site's requests sees the alarm, not the requests.
    gis = cases.Principal(role="gis", username="qgis")
    with monitors.connect() as conn:
        assert alarm_records.read(conn, gis, alarm)["requests"] == []

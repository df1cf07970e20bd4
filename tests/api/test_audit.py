"""The audit trail: what is recorded, that it cannot be changed, and how admins read it."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.exc import InternalError, ProgrammingError

from geo_service import audit
from geo_service.access import anonymous as nobody
from geo_service.access import local_operator
from geo_service.audit import AuditAction
from geo_service.ingest import import_frame
from geo_service.settings import ImportSettings
from tests.accounts import PASSWORD, make_user
from tests.api.test_auth import PARCELS


def _rows(engine: Engine, action: str) -> list[dict]:
    with engine.connect() as conn:
        result = conn.execute(
            text("SELECT * FROM audit_log WHERE action = :a ORDER BY id"), {"a": action}
        )
        return [dict(r) for r in result.mappings()]


def _upload(client: TestClient, body: dict) -> object:
    return client.post(
        "/api/imports/parcels",
        files={"file": ("parcels.geojson", json.dumps(body).encode(), "application/json")},
    )


# -- what is recorded -------------------------------------------------------------------------
def test_sign_ins_are_recorded_with_name_role_and_address(
    anonymous: TestClient, district: Engine
) -> None:
    make_user(district, "wang", "liaison")
    anonymous.post("/login", data={"username": "wang", "password": PASSWORD})
    anonymous.post("/login", data={"username": "wang", "password": "wrong-password"})

    (login,) = _rows(district, "login")
    (failed,) = _rows(district, "login_failed")
    assert (login["actor"], login["role"], login["client"]) == ("wang", "liaison", "testclient")
    assert (failed["actor"], failed["role"], failed["client"]) == (
        "wang",
        "anonymous",
        "testclient",
    )
    assert "wrong-password" not in json.dumps(failed["detail"])


def test_an_import_over_http_is_recorded_with_who_layer_and_rows(
    client: TestClient, district: Engine
) -> None:
    assert _upload(client, PARCELS).status_code == 201

    (row,) = _rows(district, "import")
    assert row["actor"].startswith("token:gst_") and row["role"] == "admin"
    assert (row["target"], row["record_count"]) == ("parcels", 1)
    assert row["detail"]["source"] == "parcels.geojson" and row["detail"]["inserted"] == 1


def test_a_refused_import_is_recorded_without_the_rows(
    client: TestClient, district: Engine
) -> None:
    bad = json.loads(json.dumps(PARCELS))
    bad["features"][0]["properties"]["code"] = "NOT-A-CODE"

    assert _upload(client, bad).status_code == 422

    (row,) = _rows(district, "import_rejected")
    assert (row["target"], row["record_count"]) == ("parcels", 1)
    assert "NOT-A-CODE" not in json.dumps(row["detail"])
    assert _rows(district, "import") == []


def test_an_import_from_code_is_recorded_as_the_local_account(db: Engine) -> None:
    import geopandas as gpd
    from shapely.geometry import box

    frame = gpd.GeoDataFrame(
        {"code": ["XC1003-R21-02"]}, geometry=[box(120.19, 30.3, 120.191, 30.301)], crs=4326
    )
    import_frame(db, "parcels", frame, settings=ImportSettings())

    (row,) = _rows(db, "import")
    assert row["actor"] == local_operator().actor and row["actor"].startswith("local:")


# -- append-only ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET actor = 'someone-else'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ],
)
def test_the_audit_log_cannot_be_changed(db: Engine, statement: str) -> None:
    with db.begin() as conn:
        audit.record(conn, local_operator(), AuditAction.USER_CREATE, target="user:wang")

    with pytest.raises((InternalError, ProgrammingError), match="append-only"), db.begin() as conn:
        conn.execute(text(statement))

    (row,) = _rows(db, "user_create")
    assert row["actor"] == local_operator().actor


def test_an_audit_row_commits_or_rolls_back_with_its_work(db: Engine) -> None:
    with pytest.raises(RuntimeError), db.begin() as conn:
        audit.record(conn, nobody("10.0.0.1"), AuditAction.READ_PERSONAL, record_count=3)
        raise RuntimeError("the read failed")

    assert _rows(db, "read_personal") == []


# -- reading it -------------------------------------------------------------------------------
@pytest.fixture
def history(district: Engine) -> Engine:
    """Three events by two people."""
    with district.begin() as conn:
        for actor, action in (("wang", "login"), ("li", "login"), ("wang", "read_personal")):
            audit.record(conn, nobody(), AuditAction(action), actor=actor)
    return district


def test_admin_reads_the_log_newest_first_with_filters(client: TestClient, history: Engine) -> None:
    everything = client.get("/api/audit").json()
    wang = client.get("/api/audit", params={"actor": "wang"}).json()
    logins = client.get("/api/audit", params={"action": "login"}).json()
    future = client.get("/api/audit", params={"since": "2999-01-01T00:00:00Z"}).json()
    past = client.get("/api/audit", params={"until": "2000-01-01"}).json()

    assert [r["action"] for r in everything["items"]][:3] == [
        "read_personal",
        "login",
        "login",
    ]
    assert [r["action"] for r in wang["items"]] == ["read_personal", "login"]
    assert {r["actor"] for r in logins["items"]} == {"wang", "li"}
    assert future["items"] == past["items"] == []
    assert future["total"] == 0


def test_the_log_is_paged(client: TestClient, history: Engine) -> None:
    first = client.get("/api/audit", params={"actor": "wang", "limit": 1}).json()
    second = client.get(
        "/api/audit", params={"actor": "wang", "limit": 1, "offset": first["next_offset"]}
    ).json()

    assert first["total"] == second["total"] == 2
    assert first["next_offset"] == 1 and second["next_offset"] is None
    assert first["items"][0]["id"] != second["items"][0]["id"]


def test_reading_the_log_is_itself_audited(client: TestClient, history: Engine) -> None:
    client.get("/api/audit", params={"actor": "wang", "limit": 5})

    (row,) = _rows(history, "read_audit")
    assert row["record_count"] == 2
    assert row["detail"] == {"actor": "wang", "limit": 5, "offset": 0, "format": "json"}


def test_csv_export_opens_in_excel_and_cannot_carry_formulas(
    client: TestClient, district: Engine
) -> None:
    with district.begin() as conn:
        audit.record(conn, nobody(), AuditAction.LOGIN_FAILED, actor='=HYPERLINK("x")')
        audit.record(conn, nobody(), AuditAction.LOGIN_FAILED, actor="王联络")

    answer = client.get("/api/audit", params={"format": "csv", "action": "login_failed"})

    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(answer.text.lstrip("\ufeff"))))
    assert [r["actor"] for r in rows] == ["王联络", '\'=HYPERLINK("x")']
    assert set(rows[0]) == set(audit.COLUMNS)


def test_only_admins_read_the_log(
    anonymous: TestClient, client_as: Callable[..., TestClient], client: TestClient
) -> None:
    assert anonymous.get("/api/audit").status_code == 401
    for role in ("gis", "planner", "liaison"):
        assert client_as(role).get("/api/audit").status_code == 403
    assert client.get("/api/audit", params={"action": "rewrite"}).status_code == 422

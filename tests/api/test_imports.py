"""``POST /api/imports/{layer}``: the import over HTTP answers with the same checks."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from tests.accounts import bearer, issue_token
from tests.conftest import count_rows

PARCELS = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"code": code},
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [
                        [120.19 + i * 0.001, 30.30],
                        [120.1905 + i * 0.001, 30.30],
                        [120.1905 + i * 0.001, 30.3005],
                        [120.19 + i * 0.001, 30.30],
                    ]
                ],
            },
        }
        for i, code in enumerate(["HF0101-R21-02", "HF0101-R21-03"])
    ],
}


def _upload(client: TestClient, target: str, name: str, body: bytes, **params: str):
    return client.post(
        f"/api/imports/{target}",
        params=params,
        files={"file": (name, body, "application/octet-stream")},
    )


def test_geojson_upload_imports_and_reports(client: TestClient, district: Engine) -> None:
    before = count_rows(district, "parcels")
    answer = _upload(client, "parcels", "parcels.geojson", json.dumps(PARCELS).encode())
    assert answer.status_code == 201, answer.text
    assert answer.json()["inserted"] == 2
    assert count_rows(district, "parcels") == before + 2


def test_layer_parameter_picks_one_layer_of_a_geopackage(
    client: TestClient, district: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "two.gpkg"
    for name in ("parcels", "old_parcels"):
        gpd.read_file(json.dumps(PARCELS)).to_file(path, layer=name, driver="GPKG")
    body = path.read_bytes()
    refused = _upload(client, "parcels", "two.gpkg", body)
    assert refused.status_code == 415
    assert "parcels (Polygon), old_parcels (Polygon)" in refused.json()["detail"]
    with district.connect() as conn:
        audited = conn.execute(
            text("SELECT detail FROM audit_log WHERE action = 'import_rejected'")
        ).scalar_one()
    assert audited["error"] == "UnsupportedFile" and "old_parcels" in audited["summary"]
    answer = _upload(client, "parcels", "two.gpkg", body, layer="parcels")
    assert answer.status_code == 201, answer.text
    assert answer.json()["inserted"] == 2 and answer.json()["source"] == "two.gpkg, layer parcels"


def test_rejected_upload_lists_problems_by_row_and_writes_nothing(
    client: TestClient, district: Engine
) -> None:
    bad = json.loads(json.dumps(PARCELS))
    bad["features"][1]["properties"]["code"] = "HF0101-Q21-03"
    before = count_rows(district, "parcels")
    answer = _upload(client, "parcels", "parcels.geojson", json.dumps(bad).encode())
    assert answer.status_code == 422
    problems = answer.json()["problems"]
    assert problems[0]["row"] == 2 and "'Q21'" in problems[0]["message"]
    assert count_rows(district, "parcels") == before


def test_csv_without_crs_gets_400_naming_the_option(client: TestClient) -> None:
    body = b"building,unit_label,lon,lat\nx,1-1-101,120.19,30.24\n"
    answer = _upload(client, "households", "h.csv", body)
    assert answer.status_code == 400
    assert "crs" in answer.json()["detail"]


@pytest.mark.parametrize(
    ("name", "status", "says"),
    [
        ("../../etc/passwd", 415, "unsupported file type"),
        ("parcels.exe", 415, "unsupported file type .exe"),
    ],
)
def test_bad_file_names(
    client: TestClient, district: Engine, name: str, status: int, says: str
) -> None:
    answer = _upload(client, "parcels", name, b"x")
    assert answer.status_code == status
    assert says in answer.json()["detail"]
    with district.connect() as conn:
        (audited,) = conn.execute(
            text("SELECT detail FROM audit_log WHERE action = 'import_rejected'")
        ).scalars()
    assert audited["source"] == "upload" and says in audited["summary"]


def test_oversized_upload_gets_413(
    client_for: Callable[[str], TestClient], district: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEO_SERVICE_IMPORT_MAX_UPLOAD_MB", "1")  # read when the app is made
    with client_for(district.url.render_as_string(hide_password=False)) as limited:
        limited.headers.update(bearer(issue_token(district, "admin")))
        answer = _upload(limited, "parcels", "big.geojson", b" " * (3 * 2**20))
    assert answer.status_code == 413
    assert (
        "limit of 1 MiB" in answer.json()["detail"]
        or "the limit is 1 MiB" in answer.json()["detail"]
    )


def test_unknown_layer_and_bad_mode(client: TestClient) -> None:
    assert _upload(client, "roads", "x.geojson", b"{}").status_code == 404
    answer = _upload(client, "parcels", "x.geojson", b"{}", mode="merge")
    assert answer.status_code == 422
    assert "mode" in answer.text


def test_requests_and_visits_are_not_imported_around_their_workflow(client: TestClient) -> None:
    for layer in ("requests", "visits"):
        answer = _upload(client, layer, "x.geojson", b'{"type": "FeatureCollection"}')
        assert answer.status_code == 404
        assert f"/api/{layer}" in answer.json()["detail"]


# -- the service area: changed by an administrator, used by the running app at once -----------
HELSINKI = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"code": "HEL001-R21-01"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [[24.94, 60.17], [24.941, 60.17], [24.941, 60.171], [24.94, 60.17]]
                ],
            },
        }
    ],
}
FINLAND = {"west": 19.0, "south": 59.5, "east": 31.6, "north": 70.1}


def test_an_admin_widens_the_service_area_and_the_running_app_imports_at_once(
    client: TestClient, client_as: Callable[..., TestClient], district: Engine
) -> None:
    body = json.dumps(HELSINKI).encode()
    refused = _upload(client, "parcels", "helsinki.geojson", body)
    assert refused.status_code == 422
    message = refused.json()["problems"][0]["message"]
    assert "GEO_SERVICE_IMPORT_SERVICE_AREA" in message and "/api/imports/service-area" in message

    planner = client_as("planner")
    assert planner.put("/api/imports/service-area", json=FINLAND).status_code == 403
    upside_down = {**FINLAND, "south": 70.1, "north": 59.5}
    bad = client.put("/api/imports/service-area", json=upside_down)
    assert bad.status_code == 400 and "south 70.1 and north 59.5" in bad.json()["detail"]
    assert client.get("/api/imports/service-area").json()["default"] is True

    stored = client.put("/api/imports/service-area", json=FINLAND)
    assert stored.status_code == 200, stored.text
    assert stored.json()["default"] is False and stored.json()["set_by"].startswith("token:")
    # The same app, no restart: the next import reads the stored area.
    assert _upload(client, "parcels", "helsinki.geojson", body).status_code == 201
    refused_here = _upload(client, "parcels", "parcels.geojson", json.dumps(PARCELS).encode())
    assert "lon 19.0..31.6, lat 59.5..70.1 (set by token:" in refused_here.text

    reset = client.delete("/api/imports/service-area")
    assert reset.json() == {**reset.json(), "default": True, "west": 73.0, "set_by": None}
    with district.connect() as conn:
        audited = conn.execute(
            text("SELECT detail->'to' FROM audit_log WHERE action = 'set_service_area' ORDER BY id")
        ).scalars()
        assert list(audited) == [[19.0, 59.5, 31.6, 70.1], [73.0, 3.0, 136.0, 54.0]]


def test_merge_parts_parameter_makes_one_building_of_an_address(
    client: TestClient, district: Engine
) -> None:
    parts = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"address": "翠苑一区9幢", "floors": floors},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        [[x, 30.269], [x + 0.0004, 30.269], [x + 0.0004, 30.2694], [x, 30.269]]
                    ],
                },
            }
            for x, floors in ((120.156, 4), (120.157, 2.5))
        ],
    }
    body = json.dumps(parts).encode()
    refused = _upload(client, "buildings", "parts.geojson", body)
    assert refused.status_code == 422 and "merge_parts=true" in refused.text
    for mode in ("append", "upsert"):
        answer = _upload(client, "buildings", "parts.geojson", body, merge_parts="true", mode=mode)
        assert answer.status_code == 201, answer.text
        assert answer.json()["merged"] == 1
    assert answer.json()["updated"] == 1
    with district.connect() as conn:
        stored = conn.execute(
            text(
                "SELECT floors, ST_NumGeometries(geom) FROM buildings WHERE address = '翠苑一区9幢'"
            )
        ).one()
    assert tuple(stored) == (4.0, 2)


def test_on_invalid_skip_answers_with_every_skipped_row(
    client: TestClient, district: Engine
) -> None:
    bad = json.loads(json.dumps(PARCELS))
    bad["features"][1]["geometry"]["coordinates"] = [
        [[120.2, 30.3], [120.201, 30.3], [120.202, 30.3], [120.2, 30.3]]
    ]  # zero area
    body = json.dumps(bad).encode()
    assert _upload(client, "parcels", "p.geojson", body).status_code == 422
    answer = _upload(client, "parcels", "p.geojson", body, on_invalid="skip")
    assert answer.status_code == 201, answer.text
    report = answer.json()
    assert (report["inserted"], report["skipped_rows"]) == (1, 1)
    (skipped,) = report["skipped"]
    assert (skipped["row"], skipped["key"], skipped["field"]) == (2, "HF0101-R21-03", "geometry")
    assert "cannot be repaired into a polygon" in skipped["message"]

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

"""``/api/parcels/{code}``: one parcel with its land use and the sites on it."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_parcel_by_code_with_its_land_use_and_linked_site(client: TestClient) -> None:
    response = client.get("/api/parcels/XC1003-R21-02")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/geo+json"
    parcel = response.json()
    assert parcel["type"] == "Feature"
    assert parcel["id"] == "XC1003-R21-02"
    assert parcel["geometry"]["type"] == "MultiPolygon"
    props = parcel["properties"]
    assert props["code"] == "XC1003-R21-02"
    assert props["unit_code"] == "XC1003"
    assert props["land_use"] == ["R21"]
    assert props["parcel_index"] == "02"
    assert props["land_use_zh"].startswith("二类住宅用地")
    assert props["land_use_en"].startswith("Class II residential")
    assert props["sites"] == ["AZF-2024-01"]
    # About 290 m by 220 m near latitude 30.
    assert 55_000 < props["area_m2"] < 75_000


def test_parcel_coordinates_are_longitude_then_latitude(client: TestClient) -> None:
    ring = client.get("/api/parcels/XC1003-R21-02").json()["geometry"]["coordinates"][0][0]

    for lon, lat in ring:
        assert 120.15 < lon < 120.17
        assert 30.26 < lat < 30.27


def test_compound_land_use_code_with_a_slash(client: TestClient) -> None:
    parcel = client.get("/api/parcels/GS0201-R21/B1-05").json()

    assert parcel["properties"]["land_use"] == ["R21", "B1"]
    assert parcel["properties"]["sites"] == []
    assert client.get("/api/parcels/GS0201-R21%2FB1-05").json() == parcel


def test_unknown_parcel_is_404_naming_it(client: TestClient) -> None:
    response = client.get("/api/parcels/XC9999-R21-01")

    assert response.status_code == 404
    assert response.json()["error"] == "NotFound"
    assert "'XC9999-R21-01'" in response.json()["detail"]

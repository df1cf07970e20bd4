"""``/api/sites``: sites as GeoJSON in lon/lat, by numeric id or by code."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine

PROPERTIES = {
    "id",
    "code",
    "name",
    "kind",
    "status",
    "progress_pct",
    "start_date",
    "end_date",
    "work_hours_start",
    "work_hours_end",
    "owner",
    "survey",
    "design",
    "contractor",
    "supervisor",
    "liaison_officer",
    "parcels",
}


def _positions(geometry: dict) -> list[list[float]]:
    """Every coordinate pair of a (multi)line or (multi)polygon."""
    coords = geometry["coordinates"]
    while isinstance(coords[0][0], list):
        coords = [pair for part in coords for pair in part]
    return coords


def test_list_is_a_feature_collection_of_every_site(client: TestClient) -> None:
    response = client.get("/api/sites")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/geo+json"
    collection = response.json()
    assert collection["type"] == "FeatureCollection"
    codes = [f["properties"]["code"] for f in collection["features"]]
    assert codes == ["AZF-2024-01", "ROAD-2024-07"]
    for feature in collection["features"]:
        assert set(feature["properties"]) >= PROPERTIES


def test_list_carries_parties_hours_and_linked_parcels(client: TestClient) -> None:
    features = client.get("/api/sites").json()["features"]
    housing = next(f for f in features if f["properties"]["code"] == "AZF-2024-01")

    props = housing["properties"]
    assert housing["id"] == "AZF-2024-01"
    assert props["id"] == 1
    assert props["name"] == "西溪安置房一期"
    assert props["kind"] == "resettlement_housing"
    assert props["status"] == "under_construction"
    assert props["progress_pct"] == 35
    assert (props["start_date"], props["end_date"]) == ("2024-03-01", "2026-06-30")
    assert (props["work_hours_start"], props["work_hours_end"]) == ("07:00:00", "20:00:00")
    parties = [props[p] for p in ("owner", "survey", "design", "contractor", "supervisor")]
    assert parties == ["城投集团", "省勘察院", "市规划设计院", "建工集团", "华东监理"]
    assert props["liaison_officer"] == "王联络"
    assert props["parcels"] == ["XC1003-R21-02"]


def test_empty_list_is_an_empty_feature_collection(db: Engine, client: TestClient) -> None:
    with db.begin() as conn:
        conn.exec_driver_sql("TRUNCATE sites CASCADE")

    assert client.get("/api/sites").json() == {"type": "FeatureCollection", "features": []}


def test_one_site_by_numeric_id_and_by_code_is_the_same_feature(client: TestClient) -> None:
    by_id = client.get("/api/sites/1")
    by_code = client.get("/api/sites/AZF-2024-01")

    assert by_id.status_code == by_code.status_code == 200
    assert by_id.headers["content-type"] == "application/geo+json"
    assert by_id.json() == by_code.json()
    assert by_id.json()["type"] == "Feature"
    assert by_id.json()["geometry"]["type"] == "Polygon"


def test_road_stored_as_a_line_comes_back_as_a_line(client: TestClient) -> None:
    road = client.get("/api/sites/ROAD-2024-07").json()

    assert road["geometry"]["type"] == "LineString"
    assert road["geometry"]["coordinates"][0] == [120.15, 30.27]
    assert road["properties"]["kind"] == "road"
    assert road["properties"]["parcels"] == []
    assert road["properties"]["progress_pct"] is None


def test_coordinates_are_longitude_then_latitude(client: TestClient) -> None:
    for feature in client.get("/api/sites").json()["features"]:
        for lon, lat in _positions(feature["geometry"]):
            assert 119 < lon < 121
            assert 29 < lat < 31


def test_unknown_site_id_is_404_naming_it(client: TestClient) -> None:
    response = client.get("/api/sites/999")

    assert response.status_code == 404
    assert response.json()["error"] == "NotFound"
    assert "'999'" in response.json()["detail"]


def test_unknown_site_code_is_404_naming_it(client: TestClient) -> None:
    response = client.get("/api/sites/NO-SUCH-SITE")

    assert response.status_code == 404
    assert "'NO-SUCH-SITE'" in response.json()["detail"]


def test_huge_or_injected_references_are_plain_404s(client: TestClient) -> None:
    for ref in ("99999999999999999999", "1 OR 1=1", "1'; DROP TABLE sites; --"):
        response = client.get(f"/api/sites/{ref}")
        assert response.status_code == 404, ref
        assert ref in response.json()["detail"]
    assert len(client.get("/api/sites").json()["features"]) == 2


def test_a_code_wins_over_an_equal_numeric_id(db: Engine, client: TestClient) -> None:
    with db.begin() as conn:
        conn.exec_driver_sql("UPDATE sites SET code = '1' WHERE id = 2")

    assert client.get("/api/sites/1").json()["properties"]["id"] == 2
    assert client.get("/api/sites/AZF-2024-01").json()["properties"]["id"] == 1

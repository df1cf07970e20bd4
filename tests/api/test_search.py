"""``/api/search``: parcels, sites, communities and buildings by code, name or address."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_finds_a_parcel_by_part_of_its_code_with_a_point_and_box(client: TestClient) -> None:
    results = client.get("/api/search", params={"q": "XC1003-R21"}).json()["results"]
    assert results[0]["layer"] == "parcels" and results[0]["id"] == "XC1003-R21-02"
    first = results[0]
    assert 120.158 <= first["lon"] <= 120.161 and 30.266 <= first["lat"] <= 30.268
    assert first["bbox"] == [120.158, 30.266, 120.161, 30.268]


def test_finds_sites_by_name_and_communities(client: TestClient) -> None:
    hits = client.get("/api/search", params={"q": "西溪"}).json()["results"]
    assert [(h["layer"], h["id"]) for h in hits] == [("sites", "AZF-2024-01")]
    hits = client.get("/api/search", params={"q": "翠苑"}).json()["results"]
    assert hits[0]["layer"] == "communities" and hits[0]["label"] == "翠苑一区"


def test_answers_are_bounded_and_wildcards_are_literal(client: TestClient) -> None:
    assert client.get("/api/search", params={"q": "%"}).json()["results"] == []
    assert len(client.get("/api/search", params={"q": "0", "limit": 1}).json()["results"]) == 1
    assert client.get("/api/search", params={"q": "x", "limit": 500}).status_code == 422


def test_empty_query_is_refused_and_anonymous_must_sign_in(
    client: TestClient, anonymous: TestClient
) -> None:
    response = client.get("/api/search", params={"q": "  "})
    assert response.status_code == 400 and "q is empty" in response.text
    assert anonymous.get("/api/search", params={"q": "XC"}).status_code == 401

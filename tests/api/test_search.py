"""``/api/search``: parcels, sites, communities and buildings by code, name or address."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pytest
from fastapi.testclient import TestClient
from shapely.geometry import box
from sqlalchemy import Engine

from geo_service.export import export_layer
from geo_service.ingest import import_frame
from geo_service.main import create_app
from geo_service.settings import DatabaseSettings
from layers.base import SEARCH_COLUMN
from tests.accounts import bearer, issue_token
from tests.conftest import demo_district


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


@pytest.fixture
def demo(engine: Engine, service_database_url: str) -> Iterator[TestClient]:
    """A planner's client of the app on the demo district (loaded through the import)."""
    db = demo_district(engine)
    app = create_app(DatabaseSettings(database_url=service_database_url))
    with TestClient(app) as test_client:
        test_client.headers.update(bearer(issue_token(db, "planner")))
        yield test_client


def _hits(client: TestClient, q: str, limit: int = 10) -> list[tuple[str, str]]:
    results = client.get("/api/search", params={"q": q, "limit": limit}).json()["results"]
    return [(r["layer"], r["label"]) for r in results]


def test_huafeng_lists_the_huafeng_sites_first_then_parcels_communities_buildings(
    demo: TestClient,
) -> None:
    hits = _hits(demo, "华丰", limit=50)
    assert hits[:2] == [
        ("sites", "华丰单元XC1003-R21-02地块安置房项目"),
        ("sites", "华丰单元XC1003-A33-05地块九年一贯制学校"),
    ]
    # Names that start with 华丰 (sites, then the community), then addresses that hold it.
    kinds = [layer for layer, _ in hits]
    assert kinds.index("communities") < kinds.index("buildings")
    assert ("communities", "华丰社区") in hits
    assert all(layer == "buildings" for layer in kinds[kinds.index("buildings") :])


def test_an_exact_parcel_code_comes_before_the_sites_named_after_it(demo: TestClient) -> None:
    for q in ("XC1003-R21-02", "xc1003-r21-02"):
        hits = _hits(demo, q)
        assert hits[0] == ("parcels", "XC1003-R21-02")
        assert ("sites", "华丰单元XC1003-R21-02地块安置房项目") in hits[1:]


def test_an_address_prefix_lists_those_buildings_shortest_first(demo: TestClient) -> None:
    hits = _hits(demo, "杭州市拱墅区石桥街道华丰社区1")
    assert hits[0] == ("buildings", "杭州市拱墅区石桥街道华丰社区1幢")
    assert all(
        layer == "buildings" and label.startswith("杭州市拱墅区石桥街道华丰社区1")
        for layer, label in hits
    )


@pytest.mark.parametrize("q", ["hf", "huafeng", "HuaFeng", "hua feng", "ＨＦ"])
def test_pinyin_initials_or_full_pinyin_find_chinese_names(demo: TestClient, q: str) -> None:
    hits = _hits(demo, q, limit=50)
    assert hits[0] == ("sites", "华丰单元XC1003-R21-02地块安置房项目")
    assert ("communities", "华丰社区") in hits


def test_pinyin_ranks_like_the_name_exact_words_first(demo: TestClient) -> None:
    assert _hits(demo, "hfsq")[0] == ("communities", "华丰社区")
    assert _hits(demo, "huafengshequ")[0] == ("communities", "华丰社区")
    assert _hits(demo, "hzsgsqsqjdhfsq1z")[0] == ("buildings", "杭州市拱墅区石桥街道华丰社区1幢")


def test_the_pinyin_is_no_field_of_feeds_exports_or_maps(
    demo: TestClient, engine: Engine, tmp_path: Path
) -> None:
    items = demo.get("/ogc/collections/sites/items", params={"limit": 100}).json()
    assert items["features"] and all(
        SEARCH_COLUMN not in f["properties"] for f in items["features"]
    )
    queryables = demo.get("/ogc/collections/buildings/queryables").json()
    assert SEARCH_COLUMN not in queryables["properties"]
    refused = demo.get("/ogc/collections/sites/items", params={"filter": f"{SEARCH_COLUMN} = 'x'"})
    assert refused.status_code == 400
    overview = demo.get("/maps/overview").text
    assert "huafengdanyuan" not in overview and SEARCH_COLUMN not in overview
    for name in ("communities.csv", "buildings.gpkg"):
        export_layer(engine, name.split(".")[0], tmp_path / name)
    assert SEARCH_COLUMN not in (tmp_path / "communities.csv").read_text(encoding="utf-8")
    assert SEARCH_COLUMN not in gpd.read_file(tmp_path / "buildings.gpkg").columns


def _community(name: str, **extra: object) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name": [name], **{k: [v] for k, v in extra.items()}},
        geometry=[box(120.150, 30.250, 120.152, 30.252)],
        crs="EPSG:4326",
    )


def test_every_import_spells_what_it_wrote_and_a_file_cannot(
    client: TestClient, district: Engine
) -> None:
    # A column of that name in a file is not a field: ignored, and the spelling computed.
    report = import_frame(
        district, "communities", _community("近江社区", search_pinyin="forged"), mode="append"
    )
    assert report.ignored_columns == [SEARCH_COLUMN]
    assert _hits(client, "jjsq") == [("communities", "近江社区")]
    assert _hits(client, "forged") == []
    # An upsert that leaves the name out keeps the parcel's spelling.
    parcel = gpd.GeoDataFrame(
        {"code": ["XC1009-R21-01"], "name": ["华丰新村"]},
        geometry=[box(120.150, 30.260, 120.152, 30.262)],
        crs="EPSG:4326",
    )
    import_frame(district, "parcels", parcel, mode="append")
    import_frame(district, "parcels", parcel.drop(columns=["name"]), mode="upsert")
    assert _hits(client, "hfxc") == [("parcels", "XC1009-R21-01")]
    # Parts merged into one building are spelt once merged.
    parts = gpd.GeoDataFrame(
        {"address": ["华丰新村3幢"] * 2},
        geometry=[box(120.150, 30.250, 120.151, 30.251), box(120.151, 30.250, 120.152, 30.251)],
        crs="EPSG:4326",
    )
    import_frame(district, "buildings", parts, merge_parts=True)
    assert _hits(client, "hfxc3z") == [("buildings", "华丰新村3幢")]
    # One that renames a site spells the new name; the old one no longer finds it.
    sites = gpd.GeoDataFrame(
        {"code": ["AZF-2024-01"], "name": ["文晖安置房"]},
        geometry=[box(120.1585, 30.2665, 120.1605, 30.2675)],
        crs="EPSG:4326",
    )
    import_frame(district, "sites", sites, mode="upsert")
    assert _hits(client, "whazf")[0] == ("sites", "文晖安置房")
    assert _hits(client, "西溪") == []

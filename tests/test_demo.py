"""The demo district and the city generator: the data every demo and benchmark starts from.

No database here: these check the frames and files that the import pipeline later loads.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from click.testing import CliRunner
from geopandas.testing import assert_geodataframe_equal

from geo_service.cli import main
from geo_service.demo import build_demo_district, import_columns, write_city, write_demo_files
from geo_service.landuse import parse_parcel_code
from layers import LAYERS

WEST, SOUTH, EAST, NORTH = 120.15, 30.23, 120.22, 30.32
METRES = "EPSG:4549"  # CGCS2000 Gauss-Kruger CM 120E, for distances and overlaps


@pytest.fixture(scope="module")
def district() -> dict[str, gpd.GeoDataFrame]:
    return build_demo_district()


def test_same_frames_every_call(district: dict[str, gpd.GeoDataFrame]) -> None:
    again = build_demo_district()
    assert list(again) == list(district)
    for layer, frame in district.items():
        assert_geodataframe_equal(again[layer], frame)
        assert shapely.equals_exact(again[layer].geometry.values, frame.geometry.values).all()


def test_one_frame_per_layer_with_exactly_its_import_columns(
    district: dict[str, gpd.GeoDataFrame],
) -> None:
    assert (
        list(district)
        == list(LAYERS)
        == [
            "parcels",
            "sites",
            "communities",
            "buildings",
            "households",
            "monitors",
        ]
    )
    for layer, frame in district.items():
        assert list(frame.columns) == [*import_columns(layer), "geometry"], layer
        assert frame.crs is not None and frame.crs.to_epsg() == 4326
        assert "unit_code" not in frame.columns and "area_m2" not in frame.columns


def test_geometry_types(district: dict[str, gpd.GeoDataFrame]) -> None:
    assert set(district["parcels"].geom_type) == {"MultiPolygon"}
    assert set(district["communities"].geom_type) == {"MultiPolygon"}
    assert set(district["buildings"].geom_type) == {"MultiPolygon"}
    assert set(district["households"].geom_type) == {"Point"}
    sites = district["sites"].set_index("code")
    assert set(sites.geom_type) <= {"Polygon", "MultiPolygon", "LineString"}


def test_named_places_and_parcel_codes(district: dict[str, gpd.GeoDataFrame]) -> None:
    parcels = set(district["parcels"]["code"])
    assert {"XC1003-R21-02", "SC0403-R21-03"} <= parcels
    assert any("/" in code for code in parcels)  # compound land use, e.g. R21/B1
    sites = district["sites"]
    huafeng = sites[sites["parcels"].str.split(";").apply(lambda c: "XC1003-R21-02" in c)]
    assert len(huafeng) == 1 and huafeng.iloc[0]["kind"] == "resettlement_housing"
    wangnan = sites[sites["name"].str.contains("望南")].iloc[0]
    assert "SC0403-R21-03" in wangnan["parcels"].split(";")
    assert "835" in wangnan["description"]
    area_ha = gpd.GeoSeries([wangnan.geometry], crs=4326).to_crs(METRES).area.iloc[0] / 1e4
    assert area_ha == pytest.approx(3.1, rel=0.01)
    qiutao = sites[sites["name"].str.contains("秋涛路")].iloc[0]
    assert qiutao["kind"] == "road" and qiutao.geometry.geom_type == "LineString"
    assert sites["name"].str.contains("武林广场").any()
    names = set(district["communities"]["name"])
    assert {"新工社区", "凤凰社区", "徐家埠社区", "婺江社区"} <= names
    # The four communities along 秋涛路 sit right beside it.
    road = gpd.GeoSeries([qiutao.geometry], crs=4326).to_crs(METRES).iloc[0]
    beside = district["communities"][
        district["communities"]["name"].isin(["新工社区", "凤凰社区", "徐家埠社区", "婺江社区"])
    ].to_crs(METRES)
    assert (beside.distance(road) < 60).all()


def test_counts_are_realistic(district: dict[str, gpd.GeoDataFrame]) -> None:
    assert 8 <= len(district["sites"]) <= 12
    assert 50 <= len(district["parcels"]) <= 70
    assert len(district["communities"]) == 12
    assert 540 <= len(district["buildings"]) <= 660
    assert 18_000 <= len(district["households"]) <= 22_000
    assert district["sites"]["kind"].nunique() == 5
    assert "4a" in set(district["communities"]["acoustic_class"])


def test_every_parcel_code_parses(district: dict[str, gpd.GeoDataFrame]) -> None:
    for code in district["parcels"]["code"]:
        parse_parcel_code(code)
    assert district["parcels"]["code"].is_unique


def test_geometry_valid_and_inside_the_district(district: dict[str, gpd.GeoDataFrame]) -> None:
    for layer, frame in district.items():
        assert frame.is_valid.all(), layer
        assert not frame.is_empty.any(), layer
        x0, y0, x1, y1 = frame.total_bounds
        assert (x0, y0) >= (WEST, SOUTH) and x1 <= EAST and y1 <= NORTH, layer


def test_references_resolve(district: dict[str, gpd.GeoDataFrame]) -> None:
    buildings, households = district["buildings"], district["households"]
    assert buildings["address"].is_unique
    assert set(households["building"]) <= set(buildings["address"])
    assert set(buildings["community"]) <= set(district["communities"]["name"])
    parcels = set(district["parcels"]["code"])
    for codes in district["sites"]["parcels"]:
        assert codes and set(codes.split(";")) <= parcels


def test_polygon_sites_cover_their_parcels(district: dict[str, gpd.GeoDataFrame]) -> None:
    parcels = district["parcels"].set_index("code").geometry
    for site in district["sites"].itertuples():
        if site.geometry.geom_type == "LineString":
            continue
        for code in site.parcels.split(";"):
            assert site.geometry.covers(parcels[code]), (site.code, code)


def test_parcels_and_buildings_do_not_overlap(district: dict[str, gpd.GeoDataFrame]) -> None:
    for layer in ("parcels", "buildings"):
        geoms = district[layer].to_crs(METRES).geometry.values
        left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
        pairs = left < right
        overlap = shapely.area(shapely.intersection(geoms[left[pairs]], geoms[right[pairs]]))
        assert (overlap < 0.01).all(), layer


def test_buildings_sit_inside_their_community(district: dict[str, gpd.GeoDataFrame]) -> None:
    communities = district["communities"].set_index("name").geometry
    buildings = district["buildings"]
    assert buildings["floors"].between(6, 33).all()
    assert (
        communities.loc[buildings["community"]]
        .reset_index(drop=True)
        .contains(buildings.geometry.reset_index(drop=True))
        .all()
    )
    # Slab blocks of about 15 x 60 m.
    area = buildings.to_crs(METRES).area
    assert area.between(150, 1000).all()


def test_households_match_their_buildings(district: dict[str, gpd.GeoDataFrame]) -> None:
    households, buildings = district["households"], district["buildings"]
    counts = households.groupby("building").size()
    expected = buildings.set_index("address")["households_count"]
    assert (counts.loc[expected.index] == expected).all()
    assert not households.duplicated(["building", "unit_label"]).any()
    assert households["unit_label"].str.fullmatch(r"\d+-\d-\d{3,4}").all()
    footprint = buildings.set_index("address").geometry.loc[households["building"]]
    assert (
        footprint.reset_index(drop=True).contains(households.geometry.reset_index(drop=True)).all()
    )


def test_households_are_plausible_and_obviously_fake(
    district: dict[str, gpd.GeoDataFrame],
) -> None:
    households = district["households"]
    assert households["residents"].between(1, 6).all()
    assert households["contact_name"].str.fullmatch(r"示例-.某").all()
    assert households["phone"].str.fullmatch(r"199-0000-\d{4}").all()
    for flag, share in {
        "elderly": 0.2,
        "infant": 0.05,
        "disabled": 0.03,
        "night_shift": 0.08,
    }.items():
        assert households[flag].dtype == bool
        assert households[flag].mean() == pytest.approx(share, abs=0.02), flag


def test_sites_have_households_in_every_impact_band(
    district: dict[str, gpd.GeoDataFrame],
) -> None:
    households = district["households"].to_crs(METRES)
    near = {50: 0, 200: 0}
    for site in district["sites"].to_crs(METRES).itertuples():
        distance = households.distance(site.geometry)
        assert (distance <= 500).any(), site.code
        near = {band: n + int((distance <= band).sum() > 0) for band, n in near.items()}
    assert near[50] >= 5 and near[200] >= 8


def test_sites_attributes(district: dict[str, gpd.GeoDataFrame]) -> None:
    sites = district["sites"]
    building = sites[sites["status"] == "under_construction"]
    assert building["progress_pct"].notna().all()
    assert (sites["end_date"] >= sites["start_date"]).all()
    for party in ("owner", "survey", "design", "contractor", "supervisor", "liaison_officer"):
        assert sites[party].notna().all(), party
    assert (sites["work_hours_start"] == "06:00").any()


def test_write_demo_files(tmp_path: Path, district: dict[str, gpd.GeoDataFrame]) -> None:
    paths = write_demo_files(tmp_path)
    assert list(paths) == list(LAYERS)
    for layer, path in paths.items():
        assert path == tmp_path / f"{layer}.gpkg"
        back = gpd.read_file(path, engine="pyogrio")
        assert len(back) == len(district[layer])
        assert back.crs.to_epsg() == 4326


def test_write_city_small(tmp_path: Path) -> None:
    paths = write_city(tmp_path, households=20_000, sites=12, progress=False)
    assert {p.name for p in paths.values()} == {
        "city_communities.gpkg",
        "city_buildings.gpkg",
        "city_households.gpkg",
        "city_monitors.gpkg",
        "city_parcels.gpkg",
        "city_sites.gpkg",
    }
    frames = {layer: gpd.read_file(path, engine="pyogrio") for layer, path in paths.items()}
    assert pyogrio.read_info(paths["households"])["features"] == 20_000
    households, buildings = frames["households"], frames["buildings"]
    assert len(households) == 20_000
    assert len(frames["sites"]) >= 12
    for layer, frame in frames.items():
        assert list(frame.columns) == [*import_columns(layer), "geometry"], layer
        assert frame.crs.to_epsg() == 4326 and frame.is_valid.all(), layer
        x0, y0, x1, y1 = frame.total_bounds
        assert min(x0 - 120.0, 120.4 - x1, y0 - 30.1, 30.45 - y1) >= 0, layer
    assert int(buildings["households_count"].sum()) == 20_000
    assert set(households["building"]) <= set(buildings["address"])
    assert set(buildings["community"]) <= set(frames["communities"]["name"])
    assert not households.duplicated(["building", "unit_label"]).any()
    parcels = set(frames["parcels"]["code"])
    for codes in frames["sites"]["parcels"]:
        assert set(codes.split(";")) <= parcels
    for code in parcels:
        parse_parcel_code(code)
    sample = households.sample(500, random_state=1)
    footprint = buildings.set_index("address").geometry.loc[sample["building"]]
    assert np.all(footprint.reset_index(drop=True).contains(sample.geometry.reset_index(drop=True)))


def test_write_city_is_deterministic(tmp_path: Path) -> None:
    one = write_city(tmp_path / "one", households=3_000, sites=5, progress=False)
    two = write_city(tmp_path / "two", households=3_000, sites=5, progress=False)
    for layer in one:
        assert_geodataframe_equal(
            gpd.read_file(one[layer], engine="pyogrio"), gpd.read_file(two[layer], engine="pyogrio")
        )


def test_geo_service_demo_city_writes_and_lists_the_files(tmp_path: Path) -> None:
    """``geo-service demo city DIR``: the benchmarks' data set, each file named with its size."""
    args = ["demo", "city", str(tmp_path), "--households", "2000", "--sites", "3"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    for layer in LAYERS:
        assert f"{tmp_path / f'city_{layer}.gpkg'}  " in result.output, layer
    assert pyogrio.read_info(tmp_path / "city_households.gpkg")["features"] == 2_000
    assert "done in " in result.output


def test_geo_service_demo_samples_and_files(tmp_path: Path) -> None:
    samples = CliRunner().invoke(main, ["demo", "samples", str(tmp_path / "samples")])
    assert samples.exit_code == 0, samples.output
    assert {p.name for p in (tmp_path / "samples").iterdir()} == {
        "parcels_epsg4549.gpkg",
        "communities.geojson",
        "buildings_epsg4490.zip",
        "households_lonlat.csv",
        "sites.geojson",
    }
    files = CliRunner().invoke(main, ["demo", "files", str(tmp_path / "files")])
    assert files.exit_code == 0, files.output
    assert sorted(p.name for p in (tmp_path / "files").iterdir()) == sorted(
        f"{layer}.gpkg" for layer in LAYERS
    )


def test_geo_service_demo_refuses_load_options_with_a_file_command(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["demo", "--if-empty", "city", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "--if-empty and --serve are for loading the demo, not for demo city" in result.output
    assert not (tmp_path / "out").exists()


def test_every_site_under_construction_has_a_dust_and_a_noise_monitor_on_its_edge(
    district: dict[str, gpd.GeoDataFrame],
) -> None:
    sites = district["sites"].set_index("code")
    monitors = district["monitors"]
    active = set(sites.index[sites["status"] == "under_construction"])
    assert set(monitors["site"]) == active and len(monitors) == 2 * len(active)
    assert monitors["mn"].is_unique
    assert set(zip(monitors["kind"], monitors["st"], strict=True)) == {
        ("both", "39"),
        ("noise", "23"),
    }
    for site, point in zip(monitors["site"], monitors.geometry, strict=True):
        assert sites.geometry[site].distance(point) < 1e-6  # on the boundary (or the road)

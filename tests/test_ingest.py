"""Imports: files land in the right place, and every bad file is refused whole, by row."""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import geopandas as gpd
import pyproj
import pytest
import shapely
from pydantic import ValidationError
from shapely.geometry import Point, Polygon, box
from sqlalchemy import Engine, text

from geo_service.access import Principal
from geo_service.errors import (
    ImportRejected,
    InvalidServiceArea,
    MissingCRS,
    UnknownCRS,
    UnsupportedFile,
    UploadTooLarge,
)
from geo_service.ingest import area, import_file, import_frame
from geo_service.settings import ImportSettings
from geo_service.spatial import within_metres
from tests.conftest import count_rows

# The check point of DESIGN.md: CGCS2000 lon/lat and its 3-degree Gauss-Kruger zone 40.
# DESIGN.md gives E 40515348.29, N 3349745.54; that pair is the projection of
# (120.159501, 30.267209), about 48 m east and 23 m north of the point it names. The values
# below are PROJ's, confirmed by the independent Kruger series in ``_kruger`` to 1 mm.
LON, LAT = 120.159, 30.267
E_4528, N_4528 = 40515300.094, 3349722.302
DESIGN_E, DESIGN_N = 40515348.29, 3349745.54
ADMIN = Principal(role="admin", username="wang", via="session")


def _kruger(lon: float, lat: float, lon0: float = 120.0, false_e: float = 40_500_000.0) -> tuple:
    """Gauss-Kruger by the Kruger n-series (GRS80), written from the textbook formulas."""
    a, f = 6378137.0, 1 / 298.257222101
    n = f / (2 - f)
    big_a = a / (1 + n) * (1 + n**2 / 4 + n**4 / 64)
    alpha = (
        n / 2 - 2 * n**2 / 3 + 5 * n**3 / 16 + 41 * n**4 / 180,
        13 * n**2 / 48 - 3 * n**3 / 5 + 557 * n**4 / 1440,
        61 * n**3 / 240 - 103 * n**4 / 140,
        49561 * n**4 / 161280,
    )
    phi, dlam = math.radians(lat), math.radians(lon - lon0)
    c = 2 * math.sqrt(n) / (1 + n)
    t = math.sinh(math.atanh(math.sin(phi)) - c * math.atanh(c * math.sin(phi)))
    xi, eta = math.atan2(t, math.cos(dlam)), math.atanh(math.sin(dlam) / math.sqrt(1 + t * t))
    east = eta + sum(
        al * math.cos(2 * j * xi) * math.sinh(2 * j * eta) for j, al in enumerate(alpha, 1)
    )
    north = xi + sum(
        al * math.sin(2 * j * xi) * math.cosh(2 * j * eta) for j, al in enumerate(alpha, 1)
    )
    return false_e + big_a * east, big_a * north


def _geodesic_m(engine: Engine, table: str, where: str, lon: float, lat: float) -> float:
    with engine.connect() as conn:
        return float(
            conn.execute(
                text(
                    f"SELECT ST_Distance(geography(geom), geography(ST_Point(:x, :y, 4326))) "
                    f"FROM {table} WHERE {where}"
                ),
                {"x": lon, "y": lat},
            ).scalar_one()
        )


def _snapshot(engine: Engine) -> dict[str, int]:
    tables = ("parcels", "sites", "site_parcels", "communities", "buildings", "households")
    return {t: count_rows(engine, t) for t in tables}


def _frame(rows: dict, geoms: list, crs: str | None = "EPSG:4326") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(rows, geometry=geoms, crs=crs)


def _parcels(codes: list[str], crs: str = "EPSG:4326") -> gpd.GeoDataFrame:
    geoms = [
        box(120.19 + i * 0.001, 30.30, 120.1905 + i * 0.001, 30.3005) for i in range(len(codes))
    ]
    return _frame({"code": codes}, geoms).to_crs(crs)


@pytest.fixture
def community(db: Engine) -> Engine:
    """One community and one building to hang households on."""
    import_frame(
        db,
        "communities",
        _frame(
            {
                "name": ["新工社区"],
                "street_office": ["望江街道"],
                "district": ["上城区"],
                "acoustic_class": ["2"],
            },
            [box(120.19, 30.24, 120.20, 30.25)],
        ),
        settings=ImportSettings(),
    )
    import_frame(
        db,
        "buildings",
        _frame(
            {"address": ["新工社区1幢"], "community": ["新工社区"], "floors": [6]},
            [box(120.1910, 30.2410, 120.1915, 30.2412)],
        ),
        settings=ImportSettings(),
    )
    return db


# -- CRS ------------------------------------------------------------------------------------
def test_gauss_kruger_check_point_to_the_centimetre() -> None:
    to_4528 = pyproj.Transformer.from_crs("EPSG:4490", "EPSG:4528", always_xy=True)
    east, north = to_4528.transform(LON, LAT)
    assert abs(east - E_4528) < 0.01 and abs(north - N_4528) < 0.01
    series_e, series_n = _kruger(LON, LAT)
    assert abs(east - series_e) < 0.001 and abs(north - series_n) < 0.001
    # EPSG:4549 is the same zone without the 40 prefix.
    plain = pyproj.Transformer.from_crs("EPSG:4490", "EPSG:4549", always_xy=True)
    assert abs(plain.transform(LON, LAT)[0] - (E_4528 - 40_000_000)) < 0.01


def test_design_check_point_figures_belong_to_a_point_48_m_east() -> None:
    back = pyproj.Transformer.from_crs("EPSG:4528", "EPSG:4490", always_xy=True)
    lon, lat = back.transform(DESIGN_E, DESIGN_N)
    assert abs(lon - 120.159501) < 1e-6 and abs(lat - 30.267209) < 1e-6


def test_csv_in_gauss_kruger_zone_with_prefix_lands_on_the_check_point(
    community: Engine, tmp_path: Path
) -> None:
    csv = tmp_path / "households.csv"
    csv.write_text(
        f"building,unit_label,x,y\n新工社区1幢,1-1-101,{E_4528},{N_4528}\n", encoding="utf-8"
    )
    import_file(community, "households", csv, crs="EPSG:4528", settings=ImportSettings())
    assert _geodesic_m(community, "households", "true", LON, LAT) < 0.01


def test_geopackage_in_epsg_4549_imports_to_the_right_place(db: Engine, tmp_path: Path) -> None:
    frame = _parcels(["XC1003-R21-02"]).to_crs("EPSG:4549")
    path = tmp_path / "parcels.gpkg"
    frame.to_file(path, driver="GPKG")
    import_file(db, "parcels", path, settings=ImportSettings())
    centre = _parcels(["XC1003-R21-02"]).geometry[0].centroid
    with db.connect() as conn:
        stored = conn.execute(
            text("SELECT ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)), area_m2 FROM parcels")
        ).one()
    geod = pyproj.Geod(ellps="WGS84")
    assert geod.inv(centre.x, centre.y, stored[0], stored[1])[2] < 0.01
    assert stored[2] == pytest.approx(
        abs(geod.geometry_area_perimeter(frame.to_crs(4326).geometry[0])[0]), rel=1e-6
    )


def test_zipped_shapefile_in_cgcs2000_imports_to_the_right_place(
    community: Engine, tmp_path: Path
) -> None:
    frame = _frame(
        {"building": ["新工社区1幢"], "unit_label": ["1-1-101"]}, [Point(LON, LAT)], crs="EPSG:4490"
    )
    folder = tmp_path / "shp"
    folder.mkdir()
    frame.to_file(folder / "households.shp", encoding="utf-8")
    archive = tmp_path / "households.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for part in folder.iterdir():
            z.write(part, part.name)
    import_file(community, "households", archive, settings=ImportSettings())
    assert _geodesic_m(community, "households", "true", LON, LAT) < 0.01


def test_file_without_crs_is_refused_unless_crs_is_given(community: Engine, tmp_path: Path) -> None:
    csv = tmp_path / "households.csv"
    csv.write_text(
        f"building,unit_label,lon,lat\n新工社区1幢,1-1-101,{LON},{LAT}\n", encoding="utf-8"
    )
    before = _snapshot(community)
    with pytest.raises(MissingCRS, match="does not declare its coordinate reference system"):
        import_file(community, "households", csv, settings=ImportSettings())
    assert _snapshot(community) == before
    import_file(community, "households", csv, crs="EPSG:4490", settings=ImportSettings())
    assert count_rows(community, "households") == 1


def test_unknown_crs_is_named(community: Engine, tmp_path: Path) -> None:
    csv = tmp_path / "households.csv"
    csv.write_text(
        f"building,unit_label,lon,lat\n新工社区1幢,1-1-101,{LON},{LAT}\n", encoding="utf-8"
    )
    with pytest.raises(UnknownCRS, match="EPSG:99999"):
        import_file(community, "households", csv, crs="EPSG:99999", settings=ImportSettings())


def test_500_m_geodesic_buffer_is_right_to_half_a_metre_anywhere(engine: Engine) -> None:
    geod = pyproj.Geod(ellps="WGS84")
    for lon, lat in [
        (120.16, 30.27),
        (87.6, 43.8),
        (126.6, 45.7),
        (109.5, 18.3),
        (0.0, 0.0),
        (-70.0, -60.0),
    ]:
        with engine.connect() as conn:
            ring = conn.execute(
                text(
                    "SELECT ST_AsText(ST_Buffer(geography(ST_Point(:x, :y, 4326)), 500)::geometry)"
                ),
                {"x": lon, "y": lat},
            ).scalar_one()
        for x, y in shapely.from_wkt(ring).exterior.coords:
            assert abs(geod.inv(lon, lat, x, y)[2] - 500) < 0.5


# -- bad input: each refused whole, with the row named, nothing written -----------------------
def _rejected(engine: Engine, layer: str, frame: gpd.GeoDataFrame, **kwargs: str) -> str:
    before = _snapshot(engine)
    with pytest.raises(ImportRejected) as caught:
        import_frame(engine, layer, frame, settings=ImportSettings(), **kwargs)
    assert _snapshot(engine) == before
    return str(caught.value)


def test_invalid_polygon_is_repaired_and_reported(db: Engine) -> None:
    bowtie = Polygon([(120.19, 30.30), (120.191, 30.301), (120.191, 30.30), (120.19, 30.301)])
    frame = _frame(
        {"code": ["XC1003-R21-02", "XC1003-R21-03"]}, [box(120.18, 30.30, 120.181, 30.301), bowtie]
    )
    report = import_frame(db, "parcels", frame, settings=ImportSettings())
    assert [p.row for p in report.repaired] == [2]
    assert "Self-intersection" in report.repaired[0].message
    with db.connect() as conn:
        assert conn.execute(text("SELECT bool_and(ST_IsValid(geom)) FROM parcels")).scalar_one()


def test_invalid_polygon_is_rejected_when_repair_is_off(db: Engine) -> None:
    bowtie = Polygon([(120.19, 30.30), (120.191, 30.301), (120.191, 30.30), (120.19, 30.301)])
    message = _rejected(
        db, "parcels", _frame({"code": ["XC1003-R21-02"]}, [bowtie]), on_invalid="reject"
    )
    assert "row 1: geometry: invalid geometry (Self-intersection" in message
    assert "not repaired" in message


def test_out_of_range_coordinates_name_the_row(community: Engine) -> None:
    frame = _frame(
        {"building": ["新工社区1幢"] * 2, "unit_label": ["1-1-101", "1-1-102"]},
        [Point(LON, LAT), Point(515348.29, 3349745.54)],
    )
    message = _rejected(community, "households", frame)
    assert "row 2: geometry: coordinates out of range" in message
    assert "projected CRS" in message


def test_swapped_lon_lat_is_recognised(community: Engine) -> None:
    frame = _frame(
        {"building": ["新工社区1幢"] * 2, "unit_label": ["1-1-101", "1-1-102"]},
        [Point(LON, LAT), Point(LAT, LON)],
    )
    message = _rejected(community, "households", frame)
    assert "row 2: geometry: longitude and latitude appear swapped" in message


def test_outside_the_service_area_is_refused_naming_the_setting(community: Engine) -> None:
    frame = _frame({"building": ["新工社区1幢"], "unit_label": ["1-1-101"]}, [Point(2.35, 48.85)])
    message = _rejected(community, "households", frame)
    assert (
        "outside the service area, lon 73.0..136.0, lat 3.0..54.0 (the default, "
        "GEO_SERVICE_IMPORT_SERVICE_AREA) (lon=2.350000, lat=48.850000); is the CRS right?"
    ) in message
    assert "geo-service service-area set W S E N" in message
    assert "PUT /api/imports/service-area" in message


def test_a_stored_service_area_applies_to_the_next_import_with_the_same_settings(
    db: Engine,
) -> None:
    """An administrator's area is read at each import: no new settings, no restart."""
    settings = ImportSettings()
    paris = _frame({"code": ["PA0001-R21-01"]}, [box(2.35, 48.85, 2.351, 48.851)])
    with pytest.raises(ImportRejected, match="outside the service area"):
        import_frame(db, "parcels", paris, settings=settings)
    with db.begin() as conn:
        stored = area.set_service_area(conn, (-5, 42, 8, 51), settings=settings, by=ADMIN)
    assert stored.describe() == "lon -5.0..8.0, lat 42.0..51.0 (set by wang)"
    assert import_frame(db, "parcels", paris, settings=settings).inserted == 1
    hangzhou = _parcels(["XC1003-R21-02"])
    with pytest.raises(ImportRejected, match=r"lon -5.0..8.0, lat 42.0..51.0 \(set by wang\)"):
        import_frame(db, "parcels", hangzhou, settings=settings)
    with db.begin() as conn:
        area.reset_service_area(conn, settings=settings, by=ADMIN)
        audited = conn.execute(
            text(
                "SELECT actor, detail FROM audit_log WHERE action = 'set_service_area' ORDER BY id"
            )
        ).all()
    assert import_frame(db, "parcels", hangzhou, settings=settings).inserted == 1
    assert [(a, d["to"], d["default"]) for a, d in audited] == [
        ("wang", [-5.0, 42.0, 8.0, 51.0], False),
        ("wang", [73.0, 3.0, 136.0, 54.0], True),
    ]


@pytest.mark.parametrize(
    ("box", "says"),
    [
        ((8, 42, -5, 51), "west 8.0 and east -5.0 must lie within -180..180 with west < east"),
        ((-5, 51, 8, 42), "south 51.0 and north 42.0"),
        ((-5, 42, 8, 91), "within -90..90"),
        ((-5, 42, 8), "four numbers"),
        ((-5, 42, 8, float("nan")), "finite"),
    ],
)
def test_a_service_area_that_is_no_box_is_refused_and_changes_nothing(
    db: Engine, box: tuple, says: str
) -> None:
    with db.begin() as conn, pytest.raises(InvalidServiceArea, match=says):
        area.set_service_area(conn, box, settings=ImportSettings(), by=ADMIN)
    with db.connect() as conn:
        assert area.current_area(conn, ImportSettings()).set_by is None


def test_the_default_service_area_setting_must_be_a_box() -> None:
    with pytest.raises(ValidationError, match="GEO_SERVICE_IMPORT_SERVICE_AREA is"):
        ImportSettings(service_area=(136.0, 3.0, 73.0, 54.0))


def test_wrong_geometry_type(db: Engine) -> None:
    frame = _frame({"code": ["XC1003-R21-02"]}, [Point(LON, LAT)])
    message = _rejected(db, "parcels", frame)
    assert "row 1: geometry: geometry type Point is not allowed for parcels" in message


def test_duplicate_and_malformed_codes(db: Engine) -> None:
    frame = _parcels(["XC1003-R21-02", "XC1003-R99-03", "XC1003-R21-02", "bad"])
    message = _rejected(db, "parcels", frame)
    assert "row 2: code: land use 'R99'" in message
    assert "row 3: code: duplicate 'XC1003-R21-02': also in row 1" in message
    assert "row 4: code: parcel code 'bad' has 1 part(s)" in message


def test_unknown_reference(community: Engine) -> None:
    frame = _frame(
        {"building": ["新工社区1幢", "不存在的楼"], "unit_label": ["1-1-101", "1-1-101"]},
        [Point(LON, LAT)] * 2,
    )
    message = _rejected(community, "households", frame)
    assert "row 2: building: no buildings with address '不存在的楼'" in message


def test_bad_cells_and_missing_required_values(community: Engine) -> None:
    frame = _frame(
        {
            "building": ["新工社区1幢"] * 3,
            "unit_label": ["1-1-101", "", "1-1-103"],
            "residents": ["2", "3", "two"],
            "elderly": ["是", "否", "maybe"],
        },
        [Point(LON, LAT)] * 3,
    )
    message = _rejected(community, "households", frame)
    assert "row 2: unit_label: is required but empty" in message
    assert "row 3: residents: 'two' is not a number" in message
    assert "row 3: elderly: 'maybe' is not yes/no" in message


def test_values_outside_a_fields_range_are_refused_by_row(community: Engine) -> None:
    """The bounds the table's CHECKs hold, reported by row instead of as a database error."""
    frame = _frame(
        {
            "building": ["新工社区1幢"] * 2,
            "unit_label": ["1-1-101", "1-1-102"],
            "residents": ["2", "60"],
        },
        [Point(LON, LAT)] * 2,
    )
    assert "row 2: residents: '60' is not between 0 and 50" in _rejected(
        community, "households", frame
    )
    sites = _frame(
        {"code": ["X-1"], "name": ["x"], "progress_pct": ["101"]},
        [box(120.19, 30.30, 120.191, 30.301)],
    )
    message = _rejected(community, "sites", sites)
    assert "row 1: progress_pct: '101' is not between 0 and 100" in message


def test_a_blank_cell_of_a_field_with_a_default_takes_the_default(db: Engine) -> None:
    """A site whose kind cell is empty is an 'other' site, as if the column were absent."""
    sites = _frame(
        {"code": ["X-1", "X-2"], "name": ["x", "y"], "kind": ["", "road"], "status": ["", ""]},
        [box(120.19, 30.30, 120.191, 30.301), box(120.192, 30.30, 120.193, 30.301)],
    )
    assert import_frame(db, "sites", sites, settings=ImportSettings()).inserted == 2
    with db.connect() as conn:
        stored = conn.execute(text("SELECT code, kind, status FROM sites ORDER BY code")).all()
    assert stored == [("X-1", "other", "planned"), ("X-2", "road", "planned")]


def test_half_floors_import_and_other_fractions_are_refused(db: Engine) -> None:
    """OpenStreetMap's building:levels has half floors (3.5); 3.25 is a mistake."""
    frame = _frame(
        {"address": ["A1", "A2", "A3"], "building:levels": ["3.5", "6", ""]},
        [box(120.19 + i * 0.001, 30.24, 120.1905 + i * 0.001, 30.2405) for i in range(3)],
    )
    assert import_frame(db, "buildings", frame, settings=ImportSettings()).inserted == 3
    with db.connect() as conn:
        floors = conn.execute(text("SELECT floors FROM buildings ORDER BY address")).scalars()
        assert list(floors) == [3.5, 6.0, None]
    frame["address"] = ["B1", "B2", "B3"]
    frame["building:levels"] = ["3.25", "0", "2.5"]
    message = _rejected(db, "buildings", frame)
    assert "row 1: floors: '3.25' is not a multiple of 0.5 (e.g. 3 or 3.5)" in message
    assert "row 2: floors: '0' is not between 1 and 200" in message
    assert "row 3" not in message


def test_households_without_units_are_one_per_building(community: Engine) -> None:
    """Addresses as households (OpenStreetMap has no flats): a file without a unit column
    imports one household per building, labelled 整栋; a blank unit says what to write."""
    second = _frame({"address": ["新工社区2幢"]}, [box(120.192, 30.241, 120.1925, 30.2412)])
    import_frame(community, "buildings", second, settings=ImportSettings())
    frame = _frame({"building": ["新工社区1幢", "新工社区2幢"]}, [Point(LON, LAT)] * 2)
    report = import_frame(community, "households", frame, settings=ImportSettings())
    assert report.inserted == 2 and report.filled_columns == {"unit_label": "整栋"}
    assert "no unit_label column: every row took '整栋'" in report.summary()
    with community.connect() as conn:
        assert set(conn.execute(text("SELECT unit_label FROM households")).scalars()) == {"整栋"}
    blank = _frame({"building": ["新工社区1幢"], "unit_label": [""]}, [Point(LON, LAT)])
    message = _rejected(community, "households", blank)
    assert (
        "row 1: unit_label: is required but empty; give one, or '整栋' for a building that is one "
        "household (a file without the unit_label column imports one household per building)"
    ) in message


def _parts(address: list[str], **columns: list) -> gpd.GeoDataFrame:
    """Building parts side by side (each touching the next), 50 m wide."""
    geoms = [
        box(120.19 + i * 0.0005, 30.24, 120.1905 + i * 0.0005, 30.2405) for i in range(len(address))
    ]
    return _frame({"address": address, **columns}, geoms)


def test_parts_of_one_address_are_refused_unless_merged(community: Engine) -> None:
    frame = _parts(["新工社区3幢", "新工社区3幢"])
    message = _rejected(community, "buildings", frame)
    assert (
        "row 2: address: duplicate '新工社区3幢': also in row 1; parts of one feature?" in message
    )
    assert "--merge-parts (API merge_parts=true)" in message


def test_merged_parts_become_one_multipolygon_with_combined_fields(community: Engine) -> None:
    """Floors: the tallest part's; households: the sum; the community: the one given."""
    frame = _parts(
        ["新工社区3幢", "新工社区3幢", "新工社区4幢", "新工社区3幢"],
        community=["新工社区", "", "新工社区", None],
        floors=["6", "3.5", "2", ""],
        households_count=["12", "4", "", ""],
    )
    frame.loc[3, "geometry"] = box(120.20, 30.24, 120.2005, 30.2405)  # apart from the others
    report = import_frame(
        community, "buildings", frame, settings=ImportSettings(), merge_parts=True
    )
    assert (report.inserted, report.merged) == (2, 2)
    assert "2 row(s) merged into another part of their feature" in report.summary()
    with community.connect() as conn:
        row = conn.execute(
            text(
                "SELECT b.floors, b.households_count, c.name, ST_NumGeometries(b.geom), "
                "ST_Area(geography(b.geom)), ST_IsValid(b.geom) FROM buildings b "
                "JOIN communities c ON c.id = b.community_id WHERE address = '新工社区3幢'"
            )
        ).one()
    expected = sum(
        abs(pyproj.Geod(ellps="WGS84").geometry_area_perimeter(g)[0])
        for g in frame.geometry[[0, 1, 3]]
    )
    # The two touching parts dissolve into one polygon; the third stays apart.
    assert row[:4] == (6.0, 16, "新工社区", 2) and row[5]
    assert row[4] == pytest.approx(expected, rel=1e-6)


def test_parts_that_disagree_are_refused_by_row(community: Engine) -> None:
    import_frame(
        community,
        "communities",
        _frame({"name": ["凤凰社区"]}, [box(120.18, 30.24, 120.19, 30.25)]),
        settings=ImportSettings(),
    )
    frame = _parts(["新工社区3幢"] * 3, community=["新工社区", "", "凤凰社区"])
    before = _snapshot(community)
    with pytest.raises(ImportRejected) as caught:
        import_frame(community, "buildings", frame, settings=ImportSettings(), merge_parts=True)
    assert _snapshot(community) == before
    assert (
        "row 3: community: differs from row 1, another part of '新工社区3幢': the parts merged "
        "into one must agree"
    ) in str(caught.value)


def test_merging_parts_is_refused_for_points(community: Engine) -> None:
    frame = _frame({"building": ["新工社区1幢"], "unit_label": ["1-1-101"]}, [Point(LON, LAT)])
    with pytest.raises(ImportRejected, match="households are Point, so rows of one key cannot"):
        import_frame(community, "households", frame, settings=ImportSettings(), merge_parts=True)


ZERO_AREA = Polygon([(120.193, 30.241), (120.1935, 30.241), (120.194, 30.241), (120.193, 30.241)])


def test_one_zero_area_polygon_refuses_the_file_by_default(community: Engine) -> None:
    frame = _parts(["新工社区3幢", "新工社区4幢"])
    frame.loc[1, "geometry"] = ZERO_AREA
    message = _rejected(community, "buildings", frame)
    assert "row 2: geometry: invalid geometry (Self-intersection" in message


def test_skip_imports_the_valid_rows_and_reports_every_skipped_one(community: Engine) -> None:
    frame = _parts(
        ["新工社区3幢", "新工社区4幢", "", "新工社区3幢", "新工社区6幢"],
        floors=["6", "5", "4", "3", "0"],
    )
    frame.loc[1, "geometry"] = ZERO_AREA
    report = import_frame(
        community, "buildings", frame, settings=ImportSettings(), on_invalid="skip"
    )
    assert (report.inserted, report.skipped_rows) == (1, 4)
    assert [(p.row, p.key, p.field) for p in report.skipped] == [
        (2, "新工社区4幢", "geometry"),
        (3, None, "address"),
        (4, "新工社区3幢", "address"),
        (5, "新工社区6幢", "floors"),
    ]
    assert "invalid geometry (Self-intersection" in report.skipped[0].message
    assert "4 row(s) skipped, with 4 problem(s):" in report.summary()
    csv_lines = report.skipped_csv().splitlines()
    assert csv_lines[0] == "row,key,field,message" and csv_lines[2].startswith("3,,address,")
    with community.connect() as conn:
        assert set(conn.execute(text("SELECT address FROM buildings")).scalars()) == {
            "新工社区1幢",
            "新工社区3幢",
        }
        detail = conn.execute(
            text("SELECT detail FROM audit_log WHERE action = 'import' ORDER BY id DESC LIMIT 1")
        ).scalar_one()
    assert detail["skipped"] == 4


def test_skip_leaves_out_rows_already_stored(community: Engine) -> None:
    frame = _parts(["新工社区1幢", "新工社区7幢"])
    report = import_frame(
        community, "buildings", frame, settings=ImportSettings(), on_invalid="skip"
    )
    assert (report.inserted, [p.row for p in report.skipped]) == (1, [1])
    assert "already stored" in report.skipped[0].message


def test_a_skipped_site_keeps_its_parcels(db: Engine) -> None:
    import_frame(
        db, "parcels", _parcels(["XC1003-R21-02", "XC1003-S1-01"]), settings=ImportSettings()
    )
    site = box(120.19, 30.30, 120.191, 30.301)
    first = _frame({"code": ["QT-01"], "name": ["x"], "parcels": ["XC1003-R21-02"]}, [site])
    import_frame(db, "sites", first, settings=ImportSettings())
    again = _frame(
        {"code": ["QT-01", "QT-02"], "name": ["x", "y"], "parcels": ["XC1003-S1-01"] * 2},
        [site, site],
    )
    report = import_frame(db, "sites", again, settings=ImportSettings(), on_invalid="skip")
    assert (report.inserted, [p.row for p in report.skipped]) == (1, [1])
    with db.connect() as conn:
        links = conn.execute(
            text(
                "SELECT s.code, p.code FROM site_parcels l JOIN sites s ON s.id = l.site_id "
                "JOIN parcels p ON p.id = l.parcel_id ORDER BY 1"
            )
        ).all()
    assert links == [("QT-01", "XC1003-R21-02"), ("QT-02", "XC1003-S1-01")]


def test_households_of_a_skipped_building_say_why_it_is_missing(community: Engine) -> None:
    """Not silently dropped: refused (or skipped) with the building's own skip as reason,
    until an import stores the building."""
    buildings = _parts(["新工社区4幢"])
    buildings.loc[0, "geometry"] = ZERO_AREA
    import_frame(
        community,
        "buildings",
        buildings,
        settings=ImportSettings(),
        on_invalid="skip",
        source="buildings.gpkg",
    )
    households = _frame(
        {"building": ["新工社区1幢", "新工社区4幢"], "unit_label": ["1-1-101", "1-1-101"]},
        [Point(LON, LAT)] * 2,
    )
    message = _rejected(community, "households", households)
    assert (
        "row 2: building: no buildings with address '新工社区4幢' (row 1 of buildings.gpkg was "
        "skipped on import (geometry: invalid geometry (Self-intersection"
    ) in message
    report = import_frame(
        community, "households", households, settings=ImportSettings(), on_invalid="skip"
    )
    assert report.inserted == 1
    (skipped,) = report.skipped
    assert (skipped.row, skipped.key, skipped.field) == (2, "新工社区4幢/1-1-101", "building")
    assert "row 1 of buildings.gpkg was skipped on import" in skipped.message
    # Once the building is stored, its skip is forgotten and its households import.
    import_frame(community, "buildings", _parts(["新工社区4幢"]), settings=ImportSettings())
    with community.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM import_skips")).scalar_one() == 0
    message = _rejected(
        community,
        "households",
        _frame({"building": ["新工社区9幢"], "unit_label": ["1"]}, [Point(LON, LAT)]),
    )
    assert "(import buildings first)" in message


def test_missing_required_column(db: Engine) -> None:
    frame = _frame({"name": ["x"]}, [box(120.19, 30.30, 120.1905, 30.3005)])
    message = _rejected(db, "parcels", frame)
    assert "no column 'code'" in message
    # The file's own columns only: not the row number the import adds, not the geometry.
    assert message.endswith("its columns are: name")
    assert "_row" not in message


def test_one_bad_row_among_many_writes_nothing(db: Engine) -> None:
    codes = [f"XC1003-R21-{i:02d}" for i in range(1, 40)] + ["XC1003-R21-1x"]
    assert "row 40: code" in _rejected(db, "parcels", _parcels(codes))


def test_broken_wkt_in_csv_names_the_row(db: Engine, tmp_path: Path) -> None:
    csv = tmp_path / "parcels.csv"
    good = box(120.19, 30.30, 120.1905, 30.3005).wkt
    csv.write_text(
        f'code,wkt\nXC1003-R21-02,"{good}"\nXC1003-R21-03,"POLYGON((120.19 30.3,"\n',
        encoding="utf-8",
    )
    before = _snapshot(db)
    with pytest.raises(ImportRejected, match="row 2: geometry: WKT could not be parsed"):
        import_file(db, "parcels", csv, crs="EPSG:4326", settings=ImportSettings())
    assert _snapshot(db) == before


# -- files refused before any row is read ----------------------------------------------------
def test_unsupported_file_type(db: Engine, tmp_path: Path) -> None:
    path = tmp_path / "parcels.xls"
    path.write_bytes(b"not a table")
    with pytest.raises(UnsupportedFile, match=r"unsupported file type \.xls"):
        import_file(db, "parcels", path, settings=ImportSettings())


def _two_layer_geopackage(tmp_path: Path) -> Path:
    """parcels and communities in one GeoPackage, as a planning office sends them."""
    path = tmp_path / "district.gpkg"
    _parcels(["XC1003-R21-02"]).to_file(path, layer="parcels", driver="GPKG")
    communities = _frame({"name": ["新工社区"]}, [box(120.19, 30.24, 120.20, 30.25)])
    communities.to_file(path, layer="communities", driver="GPKG")
    return path


def test_geopackage_with_two_layers_is_refused_naming_them(db: Engine, tmp_path: Path) -> None:
    path = _two_layer_geopackage(tmp_path)
    with pytest.raises(UnsupportedFile) as caught:
        import_file(db, "parcels", path, settings=ImportSettings())
    message = caught.value.message
    assert "holds 2 layers: parcels (Polygon), communities (Polygon)" in message
    assert "--layer NAME" in message and "?layer=NAME" in message
    assert _snapshot(db)["parcels"] == 0


def test_the_layer_option_picks_one_layer_of_a_geopackage(db: Engine, tmp_path: Path) -> None:
    path = _two_layer_geopackage(tmp_path)
    report = import_file(db, "parcels", path, settings=ImportSettings(), file_layer="parcels")
    assert (report.inserted, report.source) == (1, "district.gpkg, layer parcels")
    import_file(db, "communities", path, settings=ImportSettings(), file_layer="communities")
    assert _snapshot(db)["communities"] == 1
    with pytest.raises(UnsupportedFile, match="holds no layer 'roads'; its layers are: parcels"):
        import_file(db, "parcels", path, settings=ImportSettings(), file_layer="roads")


def test_the_layer_option_is_refused_for_a_csv(db: Engine, tmp_path: Path) -> None:
    csv = tmp_path / "parcels.csv"
    csv.write_text(f'code,wkt\nXC1003-R21-02,"{box(120.19, 30.3, 120.2, 30.31).wkt}"\n')
    with pytest.raises(UnsupportedFile, match="CSV file, which holds one table"):
        import_file(
            db, "parcels", csv, crs="EPSG:4326", settings=ImportSettings(), file_layer="parcels"
        )


def test_zip_with_path_traversal_is_refused(db: Engine, tmp_path: Path) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("../../etc/parcels.shp", b"x")
    with pytest.raises(UnsupportedFile, match="points outside the archive"):
        import_file(db, "parcels", archive, settings=ImportSettings())


def test_zip_bomb_is_refused(db: Engine, tmp_path: Path) -> None:
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("parcels.shp", b"\0" * (20 * 2**20))
    with pytest.raises(UploadTooLarge, match="expands over 1000x"):
        import_file(db, "parcels", archive, settings=ImportSettings())


def test_oversized_file_is_refused(db: Engine, tmp_path: Path) -> None:
    path = tmp_path / "parcels.geojson"
    path.write_bytes(b" " * (2 * 2**20))
    with pytest.raises(UploadTooLarge, match="the limit is 1 MiB"):
        import_file(db, "parcels", path, settings=ImportSettings(max_upload_mb=1))


# -- modes ------------------------------------------------------------------------------------
def test_append_refuses_rows_already_stored(db: Engine) -> None:
    import_frame(db, "parcels", _parcels(["XC1003-R21-02"]), settings=ImportSettings())
    message = _rejected(db, "parcels", _parcels(["XC1003-R21-03", "XC1003-R21-02"]))
    assert "row 2: code: already stored; import with mode upsert" in message


def test_upsert_updates_by_natural_key_and_inserts_the_rest(db: Engine) -> None:
    import_frame(db, "parcels", _parcels(["XC1003-R21-02"]), settings=ImportSettings())
    frame = _parcels(["XC1003-R21-03", "XC1003-R21-02"])
    frame["name"] = ["新", "改名"]
    report = import_frame(db, "parcels", frame, mode="upsert", settings=ImportSettings())
    assert (report.inserted, report.updated) == (1, 1)
    with db.connect() as conn:
        assert (
            conn.execute(text("SELECT name FROM parcels WHERE code='XC1003-R21-02'")).scalar_one()
            == "改名"
        )


def test_replace_swaps_the_whole_layer(db: Engine) -> None:
    import_frame(
        db, "parcels", _parcels(["XC1003-R21-02", "XC1003-R21-03"]), settings=ImportSettings()
    )
    report = import_frame(
        db, "parcels", _parcels(["SC0403-R21-03"]), mode="replace", settings=ImportSettings()
    )
    assert (report.deleted, report.inserted) == (2, 1)
    with db.connect() as conn:
        assert conn.execute(text("SELECT array_agg(code) FROM parcels")).scalar_one() == [
            "SC0403-R21-03"
        ]


def test_replace_refuses_a_layer_others_still_reference(community: Engine) -> None:
    import_frame(
        community,
        "households",
        _frame({"building": ["新工社区1幢"], "unit_label": ["1-1-101"]}, [Point(LON, LAT)]),
        settings=ImportSettings(),
    )
    frame = _frame({"address": ["新楼"]}, [box(120.1910, 30.2410, 120.1915, 30.2412)])
    message = _rejected(community, "buildings", frame, mode="replace")
    assert "cannot replace buildings: households still reference them" in message


def test_site_links_parcels_and_takes_a_line_corridor(db: Engine) -> None:
    import_frame(
        db, "parcels", _parcels(["XC1003-R21-02", "XC1003-S1-01"]), settings=ImportSettings()
    )
    sites = _frame(
        {
            "code": ["QT-01", "HF-01"],
            "name": ["秋涛路改造", "华丰安置房"],
            "kind": ["road", "resettlement_housing"],
            "status": ["under_construction", "planned"],
            "progress_pct": ["35", ""],
            "parcels": ["XC1003-S1-01", "XC1003-R21-02"],
            "work_hours_start": ["06:00", ""],
        },
        [
            shapely.LineString([(120.197, 30.24), (120.197, 30.27)]),
            box(120.19, 30.30, 120.191, 30.301),
        ],
    )
    import_frame(db, "sites", sites, settings=ImportSettings())
    with db.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT s.code, GeometryType(s.geom), p.code FROM sites s JOIN site_parcels l ON "
                "l.site_id = s.id JOIN parcels p ON p.id = l.parcel_id ORDER BY 1"
            )
        ).all()
    assert rows == [("HF-01", "POLYGON", "XC1003-R21-02"), ("QT-01", "LINESTRING", "XC1003-S1-01")]


def test_unknown_site_kind_and_parcel(db: Engine) -> None:
    sites = _frame(
        {"code": ["X-1"], "name": ["x"], "kind": ["bridge"], "parcels": ["XC1003-R21-02"]},
        [box(120.19, 30.30, 120.191, 30.301)],
    )
    message = _rejected(db, "sites", sites)
    assert "row 1: kind: 'bridge' is not one of" in message
    assert "row 1: parcels: no parcels with code 'XC1003-R21-02'" in message


def test_distance_query_uses_the_spatial_index(community: Engine) -> None:
    condition = within_metres("geom", "ST_Point(120.19, 30.24, 4326)", "500")
    with community.connect() as conn:
        conn.execute(text("SET enable_seqscan = off"))
        plan = "\n".join(
            conn.execute(text(f"EXPLAIN SELECT id FROM households WHERE {condition}")).scalars()
        )
    assert "ix_households_geom" in plan


def test_within_metres_agrees_with_the_geodesic_distance_at_the_edge(engine: Engine) -> None:
    """The box prefilter never drops a point the exact distance keeps, even near the poles."""
    geod = pyproj.Geod(ellps="WGS84")
    for lon, lat in [(120.16, 30.27), (0.0, 0.0), (25.0, 70.0), (-70.0, -60.0)]:
        for azimuth in range(0, 360, 15):
            for metres in (499.9, 500.1):
                x, y, _ = geod.fwd(lon, lat, azimuth, metres)
                sql = within_metres("ST_Point(:x, :y, 4326)", "ST_Point(:lon, :lat, 4326)", "500")
                with engine.connect() as conn:
                    inside = conn.execute(
                        text(f"SELECT {sql}"), {"x": x, "y": y, "lon": lon, "lat": lat}
                    ).scalar_one()
                assert inside == (metres < 500), (lon, lat, azimuth, metres)


def test_bulk_load_restores_indexes_and_constraints(
    community: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bulk path (constraints dropped and rebuilt) leaves the schema as it found it."""
    monkeypatch.setattr("geo_service.ingest.write.BULK_INDEX_ROWS", 1)
    frame = _frame(
        {"building": ["新工社区1幢"] * 3, "unit_label": ["1-1-101", "1-1-102", "1-1-103"]},
        [Point(LON, LAT)] * 3,
    )

    def schema() -> tuple:
        with community.connect() as conn:
            return (
                sorted(
                    conn.execute(
                        text("SELECT indexdef FROM pg_indexes WHERE tablename = 'households'")
                    ).scalars()
                ),
                sorted(
                    conn.execute(
                        text(
                            "SELECT conname || pg_get_constraintdef(oid) FROM pg_constraint "
                            "WHERE conrelid = 'households'::regclass"
                        )
                    ).scalars()
                ),
            )

    before = schema()
    assert import_frame(community, "households", frame, settings=ImportSettings()).inserted == 3
    assert schema() == before
    # The restored unique constraint still holds.
    message = _rejected(community, "households", frame.iloc[:1])
    assert "already stored" in message


def test_optional_columns_may_be_absent(db: Engine) -> None:
    """A file with only the required columns imports; the rest are stored empty."""
    frame = _frame({"name": ["只有名称社区"]}, [box(120.19, 30.24, 120.20, 30.25)])
    assert import_frame(db, "communities", frame, settings=ImportSettings()).inserted == 1
    with db.connect() as conn:
        row = conn.execute(text("SELECT street_office, acoustic_class FROM communities")).one()
    assert row == (None, "2")

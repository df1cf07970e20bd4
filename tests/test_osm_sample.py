"""A real OpenStreetMap extract (central Helsinki, data/samples/osm) imported end to end with
the commands its README gives, down to the impact list, checked against pyproj.Geod.

Outside the default service area (China), with half floors, buildings in parts that share an
address, buildings without an address, zero-area polygons and no units: what real data
brings, and what the import options are for.
"""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import geopandas as gpd
import pyproj
import pytest
from click.testing import CliRunner
from shapely.geometry import Point, box
from sqlalchemy import Engine, text

from geo_service.cli import main
from geo_service.demo.osm import landuse_mapping
from geo_service.errors import ImportRejected
from geo_service.ingest import import_file
from geo_service.landuse import parse_parcel_code
from geo_service.settings import ImportSettings
from tests.conftest import count_rows

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "samples" / "osm"
GEOD = pyproj.Geod(ellps="WGS84")
# A site drawn on the map: works on Kaivokatu in front of the railway station, 24.9395-24.9435
# E, 60.1695-60.1705 N (about 220 m by 110 m).
SITE = box(24.9395, 60.1695, 24.9435, 60.1705)
OUTER_BAND_M = 500.0  # the model's default bands: 50, 200, 500 m


@pytest.fixture
def cli_env(db: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("GEO_SERVICE_DATABASE_URL", database_url)
    return db


def _run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def _refused(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 2, result.output
    return result.output


def _to_edge_m(lon: float, lat: float, a: tuple, b: tuple) -> float:
    """Geodesic distance from a point to the geodesic from a to b (a short edge: the distance
    along it is unimodal), by golden-section search to well under a millimetre."""
    azimuth, _, length = GEOD.inv(a[0], a[1], b[0], b[1])

    def at(s: float) -> float:
        x, y, _ = GEOD.fwd(a[0], a[1], azimuth, s)
        return GEOD.inv(lon, lat, x, y)[2]

    lo, hi, ratio = 0.0, length, (5**0.5 - 1) / 2
    for _ in range(60):
        m1, m2 = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        lo, hi = (lo, m2) if at(m1) < at(m2) else (m1, hi)
    return min(at(0.0), at(length), at((lo + hi) / 2))


def _to_site_m(lon: float, lat: float) -> float:
    if SITE.covers(Point(lon, lat)):
        return 0.0
    ring = list(SITE.exterior.coords)
    return min(_to_edge_m(lon, lat, a, b) for a, b in pairwise(ring))


def test_helsinki_extract_imports_end_to_end_and_the_list_matches_pyproj(
    cli_env: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    files = tmp_path / "helsinki_import.gpkg"
    written = _run("demo", "osm", str(SAMPLE / "helsinki.gpkg"), str(files), "--unit", "HKI01")
    assert "236 parcels, 486 buildings, 83 households" in written
    assert "left out: construction (3), military (1)" in written

    # Point 9: China by default, named with the setting; an admin moves the area, no restart.
    outside = _refused("import", "parcels", str(files), "--layer", "parcels")
    assert "outside the service area" in outside and "GEO_SERVICE_IMPORT_SERVICE_AREA" in outside
    _run("service-area", "set", "24.9", "60.1", "25.0", "60.2")

    # Point 10: the file holds three layers; each import names its own.
    assert "holds 3 layers: parcels" in _refused("import", "parcels", str(files))

    # Point 12: three zero-area grass polygons refuse the file, unless skipped and reported.
    refused = _refused("import", "parcels", str(files), "--layer", "parcels")
    assert "3 problem(s) in the parcels file" in refused and "cannot be repaired" in refused
    parcels = _run("import", "parcels", str(files), "--layer", "parcels", "--on-invalid", "skip")
    assert "233 inserted" in parcels and "3 row(s) skipped" in parcels
    assert "5 invalid geometr(y/ies) repaired" in parcels
    skipped = (tmp_path / "helsinki_import.gpkg.parcels.skipped.csv").read_text(
        encoding="utf-8-sig"
    )
    assert len(skipped.splitlines()) == 4 and skipped.count("-G1-") == 3

    # Parcels carry the GB 50137 class the mapping table gives their landuse value.
    source = gpd.read_file(files, layer="parcels").set_index("code")
    with cli_env.connect() as conn:
        stored = conn.execute(text("SELECT code, land_use FROM parcels")).all()
    mapping = landuse_mapping()
    for code, land_use in stored:
        assert land_use == [mapping[source.at[code, "landuse"]].gb50137], code
        assert parse_parcel_code(code).unit == "HKI01"

    # Point 11: parts of one address are refused until merged; half floors; no units.
    assert "(and 386 more)" in _refused("import", "buildings", str(files), "--layer", "buildings")
    with pytest.raises(ImportRejected) as caught:
        import_file(cli_env, "buildings", files, settings=ImportSettings(), file_layer="buildings")
    duplicates = [p.message for p in caught.value.problems if "duplicate" in p.message]
    assert len(duplicates) == 4 and "--merge-parts" in duplicates[0]
    assert any("duplicate 'Alvar Aallon katu 3': also in row" in d for d in duplicates)
    buildings = _run(
        "import",
        "buildings",
        str(files),
        "--layer",
        "buildings",
        "--merge-parts",
        "--on-invalid",
        "skip",
    )
    assert "4 row(s) merged into another part of their feature" in buildings
    # 396 buildings without an address, and 3 of them with zero area besides.
    assert "399 row(s) skipped, with 402 problem(s)" in buildings
    with cli_env.connect() as conn:
        floors = dict(conn.execute(text("SELECT address, floors FROM buildings")).all())
        parts_of = conn.execute(
            text(
                "SELECT ST_NumGeometries(geom) FROM buildings WHERE address = 'Alvar Aallon katu 3'"
            )
        ).scalar_one()
    assert len(floors) == 83 and floors["Alvar Aallon katu 3"] == 6.0 and parts_of >= 1
    assert 3.5 in floors.values() and 2.5 in floors.values()
    households = _run("import", "households", str(files), "--layer", "households")
    assert "83 inserted" in households and "every row took '整栋'" in households

    # A drawn site, then its impact list, distance by distance against pyproj.Geod.
    site = tmp_path / "site.geojson"
    gpd.GeoDataFrame(
        {"code": ["HKI-01"], "name": ["Kaivokatu works"], "kind": ["road"]},
        geometry=[SITE],
        crs="EPSG:4326",
    ).to_file(site, driver="GeoJSON")
    _run("import", "sites", str(site))
    listed = tmp_path / "hki.geojson"
    _run("impact", "HKI-01", "--format", "geojson", "-o", str(listed))
    features = json.loads(listed.read_text(encoding="utf-8"))["features"]
    assert len(features) > 10
    for feature in features:
        lon, lat = feature["geometry"]["coordinates"]
        expected = _to_site_m(lon, lat)
        assert abs(feature["properties"]["distance_m"] - expected) < 0.01, feature["properties"]
    # Every household within the outer band is listed, and no other.
    with cli_env.connect() as conn:
        points = conn.execute(
            text(
                "SELECT b.address, ST_X(h.geom), ST_Y(h.geom) FROM households h "
                "JOIN buildings b ON b.id = h.building_id"
            )
        ).all()
    within = {a for a, x, y in points if _to_site_m(x, y) <= OUTER_BAND_M}
    assert {f["properties"]["building"] for f in features} == within
    assert count_rows(cli_env, "households") == 83

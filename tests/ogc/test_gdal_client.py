"""GDAL's OGC API - Features driver as a real client of a running server."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote_plus

import pytest
from pyproj import Transformer
from sqlalchemy import Engine, text

from geo_service.devserver import running_server
from tests.accounts import issue_token

# GDAL is a real client of the service: ``./dev`` installs it, and its absence is a failure.
assert shutil.which("ogrinfo"), "GDAL's ogrinfo is missing: apt-get install -y gdal-bin"


@pytest.fixture
def server(
    district_households: Engine, tmp_path: Path
) -> Iterator[tuple[str, dict[str, str], Path]]:
    """uvicorn on a free port, on the test database; yields its /ogc URL, GDAL's env and the
    server's access log (what GDAL asked for)."""
    with district_households.begin() as conn:  # more parcels than one page of 10 holds
        conn.execute(
            text("""
            INSERT INTO parcels (code, unit_code, land_use, parcel_index, land_use_zh,
                                 land_use_en, geom)
            SELECT 'T' || lpad(i::text, 4, '0') || '-R21-01', 'T' || i, '{R21}', '01',
                   '住宅', 'Residential',
                   ST_Multi(ST_Buffer(ST_SetSRID(ST_MakePoint(120.10 + i * 0.001, 30.20),
                                                 4326), 0.0003))
            FROM generate_series(1, 25) i""")
        )
    url = district_households.url.render_as_string(False)
    log = tmp_path / "server.log"
    with running_server(url, access_log=log) as root:
        token = issue_token(district_households, "admin")
        # As the README says: the token as the Basic password (GDAL 3.12 ignores
        # GDAL_HTTP_HEADERS in its OGC API driver; 3.6 would take either).
        gdal_env = {**os.environ, "GDAL_HTTP_AUTH": "BASIC", "GDAL_HTTP_USERPWD": f"any:{token}"}
        yield root + "/ogc", gdal_env, log


def _run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_ogrinfo_lists_collections(server: tuple[str, dict, Path]) -> None:
    base, env, _ = server
    out = _run(["ogrinfo", "-ro", "-so", f"OAPIF:{base}"], env)
    for layer in ("parcels", "sites", "communities", "buildings", "households", "impact_zones"):
        assert layer in out


def test_ogr2ogr_reads_every_feature_across_pages(
    server: tuple[str, dict, Path], tmp_path: Path, district_households: Engine
) -> None:
    base, env, _ = server
    out = tmp_path / "parcels.json"
    _run(
        ["ogr2ogr", "-f", "GeoJSON", str(out), f"OAPIF:{base}", "parcels", "-oo", "PAGE_SIZE=10"],
        env,
    )
    features = json.loads(out.read_text())["features"]
    with district_households.connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM parcels")).scalar_one()
    assert len(features) == stored == 27
    assert len({f["properties"]["code"] for f in features}) == 27


def test_a_page_size_above_the_maximum_reads_every_feature(
    server: tuple[str, dict, Path], tmp_path: Path
) -> None:
    """GDAL asks for limit=20000; the server gives pages of its maximum, not a 400."""
    base, env, _ = server
    out = tmp_path / "parcels.json"
    args = ["ogr2ogr", "-f", "GeoJSON", str(out), f"OAPIF:{base}", "parcels"]
    _run([*args, "-oo", "PAGE_SIZE=20000"], env)
    assert len(json.loads(out.read_text())["features"]) == 27


def test_spatial_filter_is_honoured(server: tuple[str, dict, Path]) -> None:
    base, env, _ = server
    out = _run(
        [
            "ogrinfo",
            "-ro",
            "-al",
            "-so",
            f"OAPIF:{base}",
            "parcels",
            "-spat",
            "120.1575",
            "30.2655",
            "120.1612",
            "30.2685",
        ],
        env,
    )
    assert "Feature Count: 1" in out


def test_reading_in_cgcs2000_gauss_kruger(server: tuple[str, dict, Path], tmp_path: Path) -> None:
    base, env, _ = server
    out = tmp_path / "gk.json"
    url = f"{base}/collections/parcels/items?crs=EPSG:4549&limit=1000"
    _run(["ogr2ogr", "-f", "GeoJSON", str(out), url, "-oo", "FEATURE_SERVER_PAGING=NO"], env)
    feats = {f["properties"]["code"]: f for f in json.loads(out.read_text())["features"]}
    north, east = feats["XC1003-R21-02"]["geometry"]["coordinates"][0][0][0]
    expected = Transformer.from_crs(4326, 4549).transform(30.266, 120.158)
    assert (north, east) == pytest.approx(expected, abs=0.01)


def _asked(log: Path, collection: str) -> list[str]:
    """The query strings of the items requests the server got for ``collection``."""
    found = re.findall(rf'"GET /ogc/collections/{collection}/items\?(\S*) HTTP', log.read_text())
    return [unquote_plus(q) for q in found]


@pytest.mark.parametrize(
    ("collection", "where", "expected"),
    [
        ("households", "unit_label = '1-2'", ["1-2"]),
        ("parcels", "unit_code = 'XC1003' AND land_use_en LIKE 'Class%'", ["XC1003-R21-02"]),
        ("sites", "start_date >= '2024-01-01'", ["AZF-2024-01"]),  # the road has no dates
        ("sites", "start_date >= '2024-01-01' AND start_date <= '2024-12-31'", ["AZF-2024-01"]),
    ],
)
def test_where_is_evaluated_by_the_server(
    server: tuple[str, dict, Path], tmp_path: Path, collection: str, where: str, expected: list
) -> None:
    """GDAL sends -where as a CQL filter (it looks for filter-lang cql-text, the rel
    "queryables" and the collection's own items path in the OpenAPI); before, it read every
    feature and filtered them itself."""
    base, env, log = server
    out = tmp_path / "out.json"

    _run(["ogr2ogr", "-f", "GeoJSON", str(out), f"OAPIF:{base}", collection, "-where", where], env)

    key = "unit_label" if collection == "households" else "code"
    got = sorted(f["properties"][key] for f in json.loads(out.read_text())["features"])
    assert got == expected
    filtered = [q for q in _asked(log, collection) if "filter-lang=cql-text" in q]
    assert filtered, _asked(log, collection)
    assert all(where.split()[0] in q for q in filtered)

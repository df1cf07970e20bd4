"""QGIS (3.22, Debian's PyQGIS, headless) as a real client of a running server.

``tests/clients/qgis_client.py`` runs in Debian's Python, where PyQGIS lives, and reports
what QGIS saw through an OGC API - Features connection and a vector tile layer, both with
Basic authentication (the API token as the password), exactly as the README tells
analysts to set them up.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from geo_service.devserver import running_server
from layers import COLLECTIONS
from tests.accounts import issue_token, make_user
from tests.api.conftest import SEED
from tests.conftest import empty_database
from tests.ogc.conftest import HOUSEHOLDS, case_work

CLIENT = Path(__file__).resolve().parents[1] / "clients" / "qgis_client.py"
SYSTEM_PYTHON = "/usr/bin/python3"

# QGIS is a real client of the service: ``./dev test`` installs it, its absence is a failure.
_found = subprocess.run([SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True)
assert _found.returncode == 0, "PyQGIS is missing: apt-get install -y python3-qgis"


@pytest.fixture(scope="module")
def district_for_qgis(engine: Engine) -> Engine:
    """The test district with 2,503 households (QGIS reads them in three pages of 1,000).

    Module-scoped, so that QGIS starts once for all the checks below.
    """
    with engine.begin() as conn:
        empty_database(conn)
        conn.exec_driver_sql(SEED)
        conn.exec_driver_sql(HOUSEHOLDS)
        conn.exec_driver_sql(
            "INSERT INTO households (building_id, unit_label, residents, geom) "
            "SELECT 1, 'Q-' || i, 1, ST_SetSRID(ST_MakePoint(120.1556 + i * 1e-7, 30.2687), "
            "4326) FROM generate_series(1, 2500) i"
        )
    case_work(engine)
    return engine


def _qgis(root: str, user: str, token: str) -> dict:
    done = subprocess.run(
        [SYSTEM_PYTHON, str(CLIENT), root, user, token, ",".join(COLLECTIONS)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def seen(district_for_qgis: Engine) -> Iterator[dict]:
    """What QGIS saw of the test district: as a planner, and ``["gis"]`` with a gis token."""
    engine = district_for_qgis
    url = engine.url.render_as_string(False)
    with running_server(url) as root:
        make_user(engine, "qgis-analyst", "planner")
        token = issue_token(engine, None, username="qgis-analyst")
        planner = _qgis(root, "qgis-analyst", token)
        planner["gis"] = _qgis(root, "anyone", issue_token(engine, "gis"))
    yield planner


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_qgis_reads_every_layer_whole_across_pages(seen: dict, district_for_qgis: Engine) -> None:
    layers = seen["layers"]
    for name in ("parcels", "sites", "households", "impact_zones"):
        assert layers[name]["valid"], name
        assert layers[name]["crs"] == "EPSG:4326"
    assert layers["parcels"]["features"] == _count(district_for_qgis, "parcels") == 2
    assert layers["sites"]["features"] == 2
    assert layers["households"]["features"] == 2503
    assert layers["impact_zones"]["features"] > 0


def test_qgis_counts_every_layer_before_reading_it(seen: dict, district_for_qgis: Engine) -> None:
    """featureCount() is the server's numberMatched: impact zones (a view, whose planner
    estimate is far off) once showed 0 in QGIS."""
    for name in COLLECTIONS:
        with district_for_qgis.connect() as conn:
            stored = conn.execute(text(f"SELECT count(*) FROM {name}")).scalar_one()
        layer = seen["layers"][name]
        assert layer["feature_count"] == layer["features"] == stored > 0, name


def test_qgis_shows_a_gis_token_only_the_layers_it_may_read(seen: dict) -> None:
    """Households (personal fields behind them) are not there for gis: an invalid layer,
    not a valid empty one."""
    layers = seen["gis"]["layers"]
    assert layers["households"] == {"valid": False}
    for name in ("parcels", "sites", "communities", "buildings", "impact_zones"):
        assert layers[name]["valid"] and layers[name]["feature_count"] > 0, name


def test_qgis_sees_feature_ids_and_no_personal_fields(seen: dict) -> None:
    layers = seen["layers"]
    assert layers["parcels"]["ids"] == ["GS0201-R21/B1-05", "XC1003-R21-02"]
    assert layers["sites"]["ids"] == ["AZF-2024-01", "ROAD-2024-07"]
    assert layers["households"]["fields"] == [
        "building",
        "unit_label",
        "residents",
        "visited",
        "open_requests",
    ]
    # A polygon site and a road given as a line, both drawn.
    assert sorted(layers["sites"]["geometry_types"]) == [2, 3]  # LineString, Polygon


def test_qgis_selects_by_map_extent(seen: dict) -> None:
    assert seen["layers"]["parcels"]["in_extent"] == ["XC1003-R21-02"]


def test_qgis_draws_the_map_tiles(seen: dict) -> None:
    assert seen["tiles"]["valid"]
    assert seen["tiles"]["errors"] == []
    assert seen["tiles"]["drawn_pixels_sampled"] > 100


def test_the_readme_tells_analysts_what_this_client_does() -> None:
    """The QGIS recipe is prose (dialogs); its URLs and authentication are the client's."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    client = CLIENT.read_text()
    assert "URL\n`http://HOST:8000/ogc`" in readme and "{base}/ogc" in client
    assert "/ogc/tiles/WebMercatorQuad/{z}/{x}/{y}" in readme
    assert "/ogc/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}" in client
    assert "add a Basic configuration with an API token as\nthe password" in readme
    assert 'QgsAuthMethodConfig("Basic")' in client and '"password", token' in client

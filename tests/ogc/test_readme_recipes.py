"""The README's GDAL and pyogrio recipes, run as printed against a live server.

The commands are read from the README's blocks marked ``<!-- recipe: NAME -->``; only the
address (``http://127.0.0.1:8000``) becomes the test server's, and ``$TOKEN`` an API token.
So a recipe that stops working with the real tools (GDAL 3.6's CLI, pyogrio's GDAL 3.12)
fails here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyogrio
import pytest
from pyproj import Transformer
from sqlalchemy import Engine

from geo_service.devserver import running_server
from tests.accounts import issue_token

README = Path(__file__).resolve().parents[2] / "README.md"
PRINTED = "http://127.0.0.1:8000"
# The housing parcel's lower bounds in EPSG:4549 (easting, northing): its corners projected.
_CORNERS = [
    Transformer.from_crs(4326, 4549, always_xy=True).transform(lon, lat)
    for lon in (120.158, 120.161)
    for lat in (30.266, 30.268)
]
CORNER = (min(e for e, _ in _CORNERS), min(n for _, n in _CORNERS))


def recipe(name: str) -> str:
    found = re.search(rf"<!-- recipe: {name} -->\n```\w+\n(.*?)```", README.read_text(), re.S)
    assert found, f"the README has no {name} recipe"
    return found.group(1)


@pytest.fixture
def server(district_households: Engine) -> Iterator[tuple[str, dict[str, str]]]:
    """The test district served on a free port; its root and an environment with TOKEN."""
    token = issue_token(district_households, "gis")
    with running_server(district_households.url.render_as_string(False)) as root:
        yield root, {**os.environ, "TOKEN": token}


def _run(args: list[str], env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _corner(frame) -> tuple[float, float]:
    parcel = frame[frame["code"] == "XC1003-R21-02"].geometry.iloc[0]
    return parcel.bounds[0], parcel.bounds[1]


def test_the_gdal_recipe(server: tuple[str, dict], tmp_path: Path) -> None:
    root, env = server
    script = "set -euo pipefail\n" + recipe("gdal").replace(PRINTED, root)

    listing = _run(["bash", "-c", script], env, tmp_path)

    assert "parcels" in listing and "impact_zones" in listing
    assert len(pyogrio.read_dataframe(tmp_path / "parcels.gpkg")) == 2
    sites = pyogrio.read_dataframe(tmp_path / "sites-2024.gpkg")
    assert list(sites["code"]) == ["AZF-2024-01"]  # from 2024-03-01; the road has no dates
    projected = pyogrio.read_dataframe(tmp_path / "parcels-4549.gpkg")
    assert projected.crs.to_epsg() == 4549
    assert _corner(projected) == pytest.approx(CORNER, abs=0.01)


def test_the_pyogrio_recipe(server: tuple[str, dict], tmp_path: Path) -> None:
    root, env = server
    report = """
import json
corner = parcels_4549[parcels_4549["code"] == "XC1003-R21-02"].geometry.iloc[0].bounds[:2]
print(json.dumps({
    "parcels": len(parcels),
    "sites": sorted(sites["code"]),
    "crs": parcels_4549.crs.to_epsg(),
    "corner": corner,
    "buildings": list(buildings["address"]),
}))
"""
    code = recipe("pyogrio").replace(PRINTED, root) + report

    seen = json.loads(_run([sys.executable, "-c", code], env, tmp_path).splitlines()[-1])

    assert seen["parcels"] == 2 and seen["sites"] == ["AZF-2024-01"]
    assert seen["crs"] == 4549 and seen["corner"] == pytest.approx(CORNER, abs=0.01)
    assert seen["buildings"] == ["翠苑一区1幢"]

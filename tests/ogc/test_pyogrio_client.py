"""pyogrio (the GDAL of its wheel, 3.12, not Debian's 3.6) as a real client of a running server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote_plus

import pyogrio
import pytest
from sqlalchemy import Engine

from geo_service.devserver import running_server
from tests.accounts import issue_token


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "server.log"


@pytest.fixture
def server(district_households: Engine, log: Path) -> Iterator[str]:
    """uvicorn on the test district with 3,003 households; yields its root URL, with
    pyogrio's GDAL holding an admin token (Basic, the token as the password)."""
    with district_households.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO households (building_id, unit_label, residents, geom) "
            "SELECT 1, 'V-' || i, 1, ST_SetSRID(ST_MakePoint(120.1556 + i * 1e-7, 30.2687), "
            "4326) FROM generate_series(1, 3000) i"
        )
    token = issue_token(district_households, "admin")
    pyogrio.set_gdal_config_options(
        {"GDAL_HTTP_AUTH": "BASIC", "GDAL_HTTP_USERPWD": f"any:{token}"}
    )
    try:
        url = district_households.url.render_as_string(False)
        with running_server(url, access_log=log) as root:
            yield root
    finally:
        pyogrio.set_gdal_config_options({"GDAL_HTTP_AUTH": None, "GDAL_HTTP_USERPWD": None})


def test_reading_an_items_url_as_a_file(server: str) -> None:
    """GDAL's /vsicurl/ asks HEAD for the size, then ranges of the answer (about 600 kB)."""
    frame = pyogrio.read_dataframe(f"{server}/ogc/collections/households/items?limit=10000")

    assert len(frame) == 3003
    assert frame.crs.to_epsg() == 4326
    assert set(frame.columns) >= {"building", "unit_label", "residents"}


@pytest.mark.parametrize(
    ("layer", "where", "count"),
    [
        ("households", "unit_label = 'V-17'", 1),
        ("sites", "start_date >= '2024-01-01'", 1),
        ("sites", "kind = 'road' OR progress_pct > 30", 2),
    ],
)
def test_where_is_sent_to_the_server(
    server: str, log: Path, layer: str, where: str, count: int
) -> None:
    frame = pyogrio.read_dataframe(f"OAPIF:{server}/ogc", layer=layer, where=where)

    assert len(frame) == count
    asked = log.read_text()
    assert f"/ogc/collections/{layer}/items?" in asked and "filter-lang=cql-text" in asked
    assert where.split()[0] in unquote_plus(asked)

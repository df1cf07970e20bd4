"""pyogrio (the GDAL of its wheel, 3.12, not Debian's 3.6) as a real client of a running server."""

from __future__ import annotations

from collections.abc import Iterator

import pyogrio
import pytest
from sqlalchemy import Engine

from geo_service.devserver import running_server
from tests.accounts import issue_token


@pytest.fixture
def server(district_households: Engine) -> Iterator[str]:
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
        with running_server(district_households.url.render_as_string(False)) as root:
            yield root
    finally:
        pyogrio.set_gdal_config_options({"GDAL_HTTP_AUTH": None, "GDAL_HTTP_USERPWD": None})


def test_reading_an_items_url_as_a_file(server: str) -> None:
    """GDAL's /vsicurl/ asks HEAD for the size, then ranges of the answer (about 600 kB)."""
    frame = pyogrio.read_dataframe(f"{server}/ogc/collections/households/items?limit=10000")

    assert len(frame) == 3003
    assert frame.crs.to_epsg() == 4326
    assert set(frame.columns) >= {"building", "unit_label", "residents"}

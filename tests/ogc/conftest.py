"""The OGC tests use the API tests' small district, plus buildings and households."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from tests.api.conftest import anonymous, app, client, client_as, district, homes  # noqa: F401

HOUSEHOLDS = """
INSERT INTO buildings (id, address, community_id, floors, households_count, geom)
SELECT 1, '翠苑一区1幢', c.id, 6, 3,
       ST_GeomFromText('MULTIPOLYGON(((120.1555 30.2685, 120.1560 30.2685, 120.1560 30.2690,
                                       120.1555 30.2690, 120.1555 30.2685)))', 4326)
FROM communities c;
INSERT INTO households (building_id, unit_label, residents, contact_name, phone, elderly, geom)
SELECT 1, '1-' || i, 2, '张三' || i, '1380000000' || i, mod(i, 2) = 0,
       ST_SetSRID(ST_MakePoint(120.1556 + i * 0.0001, 30.2686), 4326)
FROM generate_series(1, 3) i;
"""


@pytest.fixture
def district_households(district: Engine) -> Engine:  # noqa: F811
    with district.begin() as conn:
        conn.exec_driver_sql(HOUSEHOLDS)
    return district

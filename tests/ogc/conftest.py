"""The OGC tests use the API tests' small district, plus buildings and households."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, text

from geo_service.access import Principal
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


def case_work(engine: Engine) -> None:
    """Three requests and three visits at the housing site, through the liaison workflow
    (the only way they are written), so that every collection holds features."""
    from geo_service.liaison import requests, visits

    officer = Principal(role="liaison", username="wang", site_ids=frozenset({1}))
    with engine.begin() as conn:
        homes = (
            conn.execute(
                text(
                    "SELECT household_id FROM household_impacts WHERE site_id = 1 "
                    "ORDER BY household_id LIMIT 3"
                )
            )
            .scalars()
            .all()
        )
        for household in homes:
            requests.create(
                conn,
                officer,
                requests.NewRequest(
                    site="AZF-2024-01",
                    category="noise",
                    channel="visit",
                    description="噪声",
                    household=household,
                    reporter_phone="199-0000-0007",
                ),
            )
            visits.log(
                conn,
                officer,
                visits.NewVisit(
                    site="AZF-2024-01",
                    household=household,
                    outcome="met",
                    notes="记录",
                    visited_at=dt.datetime(2026, 11, 30, 10, tzinfo=dt.UTC),
                ),
            )

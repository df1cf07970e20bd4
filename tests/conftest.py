"""Shared fixtures: a real, freshly migrated PostGIS database for the whole run.

The database is ``geo_service_test`` in the embedded cluster (started if needed), or the
one ``GEO_SERVICE_TEST_DATABASE_URL`` names. It is dropped and created anew per run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from geo_service.database import fresh_database, make_engine

TABLES = ("households", "buildings", "communities", "site_parcels", "sites", "parcels")


@pytest.fixture(scope="session")
def database_url() -> str:
    return fresh_database("geo_service_test", os.environ.get("GEO_SERVICE_TEST_DATABASE_URL"))


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def db(engine: Engine) -> Engine:
    """The test database, emptied before the test."""
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    return engine


def count_rows(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())

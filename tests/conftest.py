"""Shared fixtures: a real, freshly migrated PostGIS database for the whole run.

The database is ``geo_service_test`` in the embedded cluster (started if needed), or the
one ``GEO_SERVICE_TEST_DATABASE_URL`` names. It is dropped and created anew per run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from geo_service.database import embedded_cluster, make_engine, migrate
from geo_service.settings import DatabaseSettings

TABLES = ("households", "buildings", "communities", "site_parcels", "sites", "parcels")


def _fresh_database() -> str:
    explicit = os.environ.get("GEO_SERVICE_TEST_DATABASE_URL")
    if explicit:
        url = make_url(explicit)
    else:
        settings = DatabaseSettings()
        cluster = embedded_cluster(settings)
        cluster.up()
        url = make_url(cluster.url("geo_service_test"))
    admin = make_engine(url.set(database="postgres").render_as_string(False), pool_size=1)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()
    return url.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_url() -> str:
    url = _fresh_database()
    migrate(url)
    return url


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

"""Shared fixtures: a real, freshly migrated PostGIS database for the whole run.

The database is ``geo_service_test`` in the embedded cluster (started if needed), or the
one ``GEO_SERVICE_TEST_DATABASE_URL`` names. It is dropped and created anew per run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, Engine, make_url, text

from geo_service.database import embedded_cluster, fresh_database, make_engine
from geo_service.schema import metadata, resettable_tables
from geo_service.settings import DatabaseSettings


@pytest.fixture(scope="session")
def database_url() -> str:
    return fresh_database("geo_service_test", os.environ.get("GEO_SERVICE_TEST_DATABASE_URL"))


@pytest.fixture(scope="session")
def service_database_url(database_url: str) -> str:
    """The test database as the service's own role sees it (it owns no table): the URL the
    app under test connects with, as ``./dev serve`` does. With an explicit test database,
    ``GEO_SERVICE_TEST_SERVICE_DATABASE_URL`` names that role's URL."""
    if os.environ.get("GEO_SERVICE_TEST_DATABASE_URL"):
        return os.environ.get("GEO_SERVICE_TEST_SERVICE_DATABASE_URL", database_url)
    return embedded_cluster(DatabaseSettings()).url(make_url(database_url).database or "")


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def db(engine: Engine) -> Engine:
    """The test database, emptied before the test."""
    with engine.begin() as conn:
        empty_database(conn)
    return engine


def empty_database(conn: Connection) -> None:
    """Every table but the reference data, the audit log included."""
    conn.execute(text(f"TRUNCATE {', '.join(resettable_tables())} RESTART IDENTITY CASCADE"))
    clear_audit_log(conn)


def clear_audit_log(conn: Connection) -> None:
    """Empty the append-only audit log between tests (failed sign-ins in it drive the rate
    limit, so tests must not see each other's).

    Only here, and inside one transaction: the triggers are disabled, the table emptied
    and the triggers enabled again before commit, so no test ever runs without them (the
    ALTER holds an exclusive lock meanwhile). A table owner can do this; the service never
    does, and a production role that does not own the table cannot.
    """
    conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
    conn.execute(text("TRUNCATE audit_log RESTART IDENTITY"))
    conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER USER"))


def count_rows(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


# The demo district's fingerprint per database, taken after it was loaded.
_DEMO_LOADED: dict[str, list[tuple[str, int, int]]] = {}


# Not the district: the audit log (reads append to it), and the users, tokens and sessions
# tests make to call the service.
_CALLERS = ("audit_log", "users", "user_sites", "user_sessions", "api_tokens", "token_sites")


def _fingerprint(conn: Connection) -> list[tuple[str, int, int]]:
    """Every district table's row count and the sum of its rows' hashes."""
    tables = [t.name for t in metadata.sorted_tables if t.name not in _CALLERS]
    parts = [
        f"SELECT '{t}', count(*), coalesce(sum(hashtextextended(x::text, 0)), 0) FROM {t} x"
        for t in tables
    ]
    return [tuple(r) for r in conn.execute(text(" UNION ALL ".join(parts) + " ORDER BY 1"))]


def demo_district(engine: Engine) -> Engine:
    """The test database holding the demo district, as ``load_demo`` leaves it, with an
    empty audit log.

    A load takes tens of seconds and most modules only read the district: when the database
    still holds exactly the rows of the last load (its fingerprint), it is kept; a test that
    changed anything (or emptied the database) makes the next caller load it again."""
    from geo_service.demo import load_demo

    key = engine.url.render_as_string(hide_password=False)
    with engine.begin() as conn:
        if key in _DEMO_LOADED and _DEMO_LOADED[key] == _fingerprint(conn):
            clear_audit_log(conn)
            return engine
        empty_database(conn)
    load_demo(engine)
    with engine.begin() as conn:
        clear_audit_log(conn)
        _DEMO_LOADED[key] = _fingerprint(conn)
    return engine

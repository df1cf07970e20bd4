"""The impact views the database holds are those of ``geo_service/impact/sql/``, one file each.

What PostgreSQL makes of a file is compared with what it holds (``pg_get_viewdef``): the
file's view is created again under a temporary name, so the comparison needs nothing from
the code that applies the files.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, Engine, text

import geo_service.impact
from geo_service.database import downgrade, migrate

SQL = Path(geo_service.impact.__file__).parent / "sql"
FILES = {path.stem: path.read_text("utf-8") for path in SQL.glob("*.sql")}


def _held(conn: Connection) -> dict[str, str]:
    """The definitions of the views in the public schema, but PostGIS's own."""
    rows = conn.execute(
        text("""
SELECT c.relname, pg_get_viewdef(c.oid) FROM pg_class c
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'v'
  AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')""")
    )
    return {name: definition for name, definition in rows}


def _from_file(conn: Connection, name: str) -> str:
    """What PostgreSQL makes of the file's view: created as a temporary view, read back."""
    sql = FILES[name].replace(f"CREATE VIEW {name} AS", f"CREATE TEMP VIEW file_{name} AS", 1)
    assert sql != FILES[name], f"{name}.sql must start its view with CREATE VIEW {name} AS"
    conn.exec_driver_sql(sql)
    return conn.execute(text(f"SELECT pg_get_viewdef('file_{name}'::regclass)")).scalar_one()


def _assert_held_as_the_files_say(engine: Engine) -> None:
    with engine.connect() as conn:
        held = _held(conn)
        assert set(held) == set(FILES)
        for name in FILES:
            assert held[name] == _from_file(conn, name), f"{name} differs from {name}.sql"
        conn.rollback()


def test_each_view_is_its_file(engine: Engine) -> None:
    assert set(FILES) == {"site_noise_phases", "site_impact", "household_impacts", "impact_zones"}
    _assert_held_as_the_files_say(engine)


def test_migrate_replaces_views_that_differ_from_their_files(
    database_url: str, engine: Engine
) -> None:
    """A database whose views another version made (at the head revision already)."""
    with engine.begin() as conn:
        conn.execute(text("DROP VIEW impact_zones"))
        conn.execute(text("CREATE VIEW impact_zones AS SELECT site_id, code FROM site_impact"))
        conn.execute(text("DROP VIEW household_impacts"))
    migrate(database_url)
    _assert_held_as_the_files_say(engine)
    with engine.connect() as conn:
        columns = conn.execute(text("SELECT * FROM impact_zones LIMIT 0")).keys()
    assert "reach" in columns


def test_a_view_exists_from_the_revision_its_file_requires(
    database_url: str, engine: Engine
) -> None:
    """household_impacts needs revision 0004's increasing-bands checks; the others 0003."""
    assert "-- requires revision: 0004" in FILES["household_impacts"]
    try:
        downgrade(database_url, "0003")
        with engine.connect() as conn:
            assert set(_held(conn)) == {"site_noise_phases", "site_impact", "impact_zones"}
        downgrade(database_url, "0002")
        with engine.connect() as conn:
            assert _held(conn) == {}
    finally:
        migrate(database_url)
    _assert_held_as_the_files_say(engine)

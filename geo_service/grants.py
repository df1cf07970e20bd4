"""What the service's database role may do, granted by every ``migrate()`` from the schema.

The tables are owned by the role that runs the migrations. The web service and the CLI's
data commands connect as another role, ``geo_service_app`` (or a login role that is a member
of it), which owns nothing: it reads and writes rows, but it cannot alter a table, drop a
trigger or disable the audit log's append-only triggers, so a leaked service password or an
injected statement cannot rewrite history. The embedded cluster creates this role; in
production a DBA creates it (``CREATE ROLE geo_service_app NOLOGIN``, then a login role
``IN ROLE geo_service_app``), and ``geo-service db up`` grants it what is below.

The privileges follow from the tables' kinds in ``geo_service.schema``: rows of data and
accounts may change, the reference data (``migrate()`` syncs it) and the disclosure key are
read-only, the audit log takes inserts and nothing else.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from geo_service.schema import metadata

SERVICE_ROLE = "geo_service_app"
# The owner's functions that add and detach the readings' monthly partitions.
PARTITION_FUNCTIONS = ("readings_partition(date, text)", "readings_detach(date)")
# Migration 0019's: the retention rule blanks internal notes of the append-only history.
RETENTION_FUNCTIONS = ("request_events_redact(integer[])",)
# ANALYZE is the owner's: the service asks for it after an import through this function,
# which runs as its owner and only analyzes (PostgreSQL 15 has no MAINTAIN privilege).
_ANALYZE = """
CREATE OR REPLACE FUNCTION service_analyze(target regclass) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    EXECUTE format('ANALYZE %s', target);
END $$;
REVOKE ALL ON FUNCTION service_analyze(regclass) FROM PUBLIC;
"""


def table_privileges(info: dict) -> str:
    """The privileges of the service role on a table of this kind."""
    if info.get("append_only") or info.get("event_log"):
        return "SELECT, INSERT"
    if info.get("reference") or info.get("secret"):
        return "SELECT"
    if info.get("account"):
        return "SELECT, INSERT, UPDATE, DELETE"
    return "SELECT, INSERT, UPDATE, DELETE, TRUNCATE"


def sync_grants(conn: Connection) -> None:
    """Grant the service role what it needs on every table, view and sequence that exists;
    nothing is granted where the role does not exist (a database nobody serves from)."""
    conn.execute(text(_ANALYZE))
    if not conn.execute(
        text("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :r)"), {"r": SERVICE_ROLE}
    ).scalar_one():
        return
    role = f'"{SERVICE_ROLE}"'
    conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {role}"))
    existing = set(
        conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars()
    )
    for table in metadata.sorted_tables:
        if table.name in existing:
            conn.execute(text(f'REVOKE ALL ON "{table.name}" FROM {role}'))
            conn.execute(text(f'GRANT {table_privileges(table.info)} ON "{table.name}" TO {role}'))
    views = conn.execute(
        text("SELECT viewname FROM pg_views WHERE schemaname = 'public'")
    ).scalars()
    for view in [*views, "alembic_version"]:
        conn.execute(text(f'GRANT SELECT ON "{view}" TO {role}'))
    conn.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}"))
    conn.execute(text(f"GRANT EXECUTE ON FUNCTION service_analyze(regclass) TO {role}"))
    for function in (*PARTITION_FUNCTIONS, *RETENTION_FUNCTIONS):  # once their migration ran
        if conn.execute(text("SELECT to_regprocedure(:f)"), {"f": function}).scalar():
            conn.execute(text(f"GRANT EXECUTE ON FUNCTION {function} TO {role}"))

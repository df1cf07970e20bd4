"""The schema derived from the layer declarations is the one the migrations build.

Alembic's ``compare_metadata`` finds any table, column, type, nullability, default, index,
unique or foreign key that differs; it does not look at CHECK constraints or triggers, so
those are compared here by name.
"""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import CheckConstraint, Engine, text

from geo_service.schema import data_tables, is_partition, metadata


def _ours(obj, name, type_, reflected, compare_to) -> bool:
    return not (
        type_ == "table" and (name in ("spatial_ref_sys", "alembic_version") or is_partition(name))
    )


def _stored(engine: Engine, sql: str) -> set[tuple]:
    """The rows the catalogue query gives for the declared tables (``:t``)."""
    with engine.connect() as conn:
        return {tuple(row) for row in conn.execute(text(sql), {"t": list(metadata.tables)})}


def test_migrated_database_equals_the_declared_schema(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                "include_object": _ours,
            },
        )
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_every_declared_check_constraint_exists_by_name(engine: Engine) -> None:
    declared = {
        (table.name, c.name)
        for table in metadata.tables.values()
        for c in table.constraints
        if isinstance(c, CheckConstraint)
    }
    stored = _stored(
        engine,
        "SELECT conrelid::regclass::text, conname FROM pg_constraint "
        "WHERE contype = 'c' AND conrelid::regclass::text = ANY(:t)",
    )
    assert declared == stored


def test_every_declared_storage_parameter_is_the_tables(engine: Engine) -> None:
    """``postgresql_with`` (reading_rollups' fillfactor), which Alembic does not compare."""
    declared = {
        (table.name, f"{key}={value}")
        for table in metadata.tables.values()
        for key, value in (table.dialect_options["postgresql"]["with"] or {}).items()
    }
    stored = _stored(
        engine,
        "SELECT relname, unnest(reloptions) FROM pg_class "
        "WHERE relkind IN ('r', 'p') AND relname = ANY(:t)",
    )
    assert ("reading_rollups", "fillfactor=50") in declared
    assert declared == stored


def test_every_data_table_tells_the_tile_cache_of_changes(engine: Engine) -> None:
    with engine.connect() as conn:
        watched = set(
            conn.execute(
                text(
                    "SELECT tgrelid::regclass::text FROM pg_trigger "
                    "WHERE tgname LIKE '%\\_data\\_changed' AND NOT tgisinternal"
                )
            ).scalars()
        )
    assert watched == set(data_tables())
    assert {"households", "site_parcels", "site_equipment"} <= watched

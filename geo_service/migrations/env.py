"""Alembic environment: migrations run against the URL the caller put in the config."""

from __future__ import annotations

from alembic import context
from geoalchemy2 import alembic_helpers
from sqlalchemy import create_engine, pool

from geo_service.schema import is_partition, metadata

target_metadata = metadata


def _include_object(obj, name, type_, reflected, compare_to) -> bool:
    # PostGIS owns spatial_ref_sys and the tiger/topology schemas; they are not ours. The
    # readings' monthly partitions are made at run time.
    return not (type_ == "table" and (name == "spatial_ref_sys" or is_partition(name)))


def run_migrations_online() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            include_object=_include_object,
            compare_type=True,
            # Generated revisions import geoalchemy2 for their geometry columns.
            render_item=alembic_helpers.render_item,
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()

"""Migrations build the schema the schema describes, and can be taken back down."""

from __future__ import annotations

from sqlalchemy import Engine, inspect, text

from geo_service.database import downgrade, migrate
from geo_service.schema import metadata


def test_upgrade_creates_every_table_with_spatial_indexes(engine: Engine) -> None:
    inspector = inspect(engine)
    tables = set(inspector.get_table_names())
    assert set(metadata.tables) <= tables
    for table in ("parcels", "sites", "communities", "buildings", "households"):
        indexes = {ix["name"] for ix in inspector.get_indexes(table)}
        assert f"ix_{table}_geom" in indexes


def test_downgrade_to_base_and_upgrade_again(database_url: str, engine: Engine) -> None:
    downgrade(database_url, "base")
    with engine.connect() as conn:
        left = conn.execute(
            text("SELECT count(*) FROM pg_tables WHERE schemaname='public' AND tablename=ANY(:t)"),
            {"t": list(metadata.tables)},
        ).scalar_one()
    assert left == 0
    migrate(database_url)
    assert set(metadata.tables) <= set(inspect(engine).get_table_names())

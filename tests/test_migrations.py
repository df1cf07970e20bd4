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


def test_downgrade_to_base_and_upgrade_again(database_url: str, db: Engine) -> None:
    """Emptied first: a reading an earlier test left queued for the rollups rightly stops
    0027's downgrade."""
    downgrade(database_url, "base")
    with db.connect() as conn:
        left = conn.execute(
            text("SELECT count(*) FROM pg_tables WHERE schemaname='public' AND tablename=ANY(:t)"),
            {"t": list(metadata.tables)},
        ).scalar_one()
    assert left == 0
    migrate(database_url)
    assert set(metadata.tables) <= set(inspect(db).get_table_names())


def test_0014_spells_the_names_stored_before_it(database_url: str, db: Engine) -> None:
    area = (
        "ST_GeomFromText('POLYGON((120.19 30.30, 120.20 30.30, 120.20 30.31, 120.19 30.30))', 4326)"
    )
    downgrade(database_url, "0013")
    try:
        with db.begin() as conn:
            assert "search_pinyin" not in {c["name"] for c in inspect(conn).get_columns("sites")}
            conn.execute(
                text(
                    f"INSERT INTO communities (name, geom) VALUES ('华丰社区', ST_Multi({area}));"
                    f"INSERT INTO sites (code, name, geom) VALUES ('HF-01', '华丰新村3幢', {area}),"
                    f" ('X-1', 'Depot', {area})"
                )
            )
    finally:
        migrate(database_url)
    with db.connect() as conn:
        spelt = dict(conn.execute(text("SELECT name, search_pinyin FROM sites")).all())
        community = conn.execute(text("SELECT search_pinyin FROM communities")).scalar_one()
    assert spelt == {"华丰新村3幢": "huafengxincun3zhuang hfxc3z", "Depot": None}
    assert community == "huafengshequ hfsq"

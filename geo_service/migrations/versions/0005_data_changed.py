"""Say when the data changes: a NOTIFY on channel ``geo_service_data`` after every statement
that writes a table the maps and feeds draw from.

NOTIFY is transactional: it is delivered when the writing transaction commits, and never if
it rolls back, so a server that LISTENs drops its cached tiles exactly when their data has
changed (``geo_service.tilecache``). A statement trigger costs one call per statement, not
per row: a million-row COPY sends one notification. Nothing is locked, unlike a version
row that every writer would have to update.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNEL = "geo_service_data"
# Every table a layer, a tile or the impact views read (not the accounts or the audit log).
TABLES = (
    "parcels",
    "sites",
    "site_parcels",
    "communities",
    "buildings",
    "households",
    "site_impact_settings",
    "site_equipment",
    "equipment_types",
    "acoustic_limits",
    "impact_model",
)


def upgrade() -> None:
    op.execute(f"""
        CREATE FUNCTION notify_data_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{CHANNEL}', TG_TABLE_NAME);
            RETURN NULL;
        END $$
    """)
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_data_changed "
            f"AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION notify_data_changed()"
        )


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TRIGGER {table}_data_changed ON {table}")
    op.execute("DROP FUNCTION notify_data_changed()")

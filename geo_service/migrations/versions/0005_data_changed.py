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

from geo_service.schema import NOTIFY_CHANNEL, sync_triggers

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(f"""
        CREATE FUNCTION notify_data_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{NOTIFY_CHANNEL}', TG_TABLE_NAME);
            RETURN NULL;
        END $$
    """)
    # One trigger per data table, from the schema's list; ``migrate()`` adds the triggers of
    # tables that later revisions create.
    sync_triggers(op.get_bind())


def downgrade() -> None:
    op.execute("DROP FUNCTION notify_data_changed() CASCADE")  # and every trigger calling it

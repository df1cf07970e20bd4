"""Readings' rollups kept as they arrive (``reading_rollups``), built here from the readings
already stored (``geo_service.monitoring.rollups``); the queue of packets forwarded to
upstream HJ 212 servers (``hj212_forwards``, ``geo_service.monitoring.forward``).

Revision ID: 0024
Revises: 0022
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | Sequence[str] | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As of this revision (own_tables.ROLLUP_VALUE may change later; this migration must not).
VALUE = (
    "CASE kind WHEN 'energy' THEN 10 * log(total / NULLIF(valid_count, 0))"
    " WHEN 'mean' THEN total / NULLIF(valid_count, 0) ELSE total END"
)


def upgrade() -> None:
    op.create_table(
        "reading_rollups",
        sa.Column("monitor_id", sa.Integer(), nullable=False),
        sa.Column("factor", sa.String(length=16), nullable=False),
        sa.Column("statistic", sa.String(length=12), nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("total", sa.Float(), nullable=True),
        sa.Column("valid_count", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), sa.Computed(VALUE, persisted=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('energy', 'mean', 'max', 'min')", name="ck_reading_rollups_kind"
        ),
        sa.ForeignKeyConstraint(["monitor_id"], ["monitors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("monitor_id", "factor", "statistic", "period", "start"),
    )
    op.create_index(
        "ix_reading_rollups_start",
        "reading_rollups",
        ["start"],
        unique=False,
        postgresql_using="brin",
    )
    op.create_table(
        "hj212_forwards",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("packet_id", sa.BigInteger(), nullable=False),
        sa.Column("upstream", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "next_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["packet_id"], ["hj212_packets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_hj212_forwards_due",
        "hj212_forwards",
        ["upstream", "id"],
        unique=False,
        postgresql_where=sa.text("delivered_at IS NULL"),
    )
    op.create_index("ix_hj212_forwards_packet_id", "hj212_forwards", ["packet_id"], unique=False)
    from geo_service.monitoring import rollups
    from geo_service.settings import MonitoringSettings

    # The readings already stored, added as they were then (no queue yet: migration 0027).
    source = "SELECT monitor_id, cn, factor, statistic, at, value, flag FROM readings"
    op.get_bind().execute(rollups.adding(source), rollups.parameters(MonitoringSettings().timezone))


def downgrade() -> None:
    op.drop_index("ix_hj212_forwards_packet_id", table_name="hj212_forwards")
    op.drop_index("ix_hj212_forwards_due", table_name="hj212_forwards")
    op.drop_table("hj212_forwards")
    op.drop_index("ix_reading_rollups_start", table_name="reading_rollups", postgresql_using="brin")
    op.drop_table("reading_rollups")

"""Readings' rollups kept as they arrive (``reading_rollups``), built here from the readings
already stored (``geo_service.monitoring.rollups``).

Revision ID: 0024
Revises: 0019
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | Sequence[str] | None = "0019"
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
    from geo_service.monitoring import rollups
    from geo_service.settings import MonitoringSettings

    rollups.rebuild(op.get_bind(), MonitoringSettings().timezone)


def downgrade() -> None:
    op.drop_index("ix_reading_rollups_start", table_name="reading_rollups", postgresql_using="brin")
    op.drop_table("reading_rollups")

"""The rollups' queue (``reading_rollup_queue``): the readings a batch inserted, kept as
arrays in one row in the batch's transaction and folded into ``reading_rollups`` after the
batch is acknowledged (``geo_service.monitoring.rollups.fold``), so that adding every
reading to four buckets is no longer on the receiver's path to its 9014 (issue 15).

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0027"
down_revision: str | Sequence[str] | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reading_rollup_queue",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column(
            "queued_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("monitor_id", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.Column("cn", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("factor", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("statistic", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("at", postgresql.ARRAY(sa.DateTime(timezone=True)), nullable=False),
        sa.Column("value", postgresql.ARRAY(sa.Float()), nullable=False),
        sa.Column("flag", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    # Before 0027 the rollups were added as readings arrived: queued readings would be lost.
    waiting = op.get_bind().execute(sa.text("SELECT count(*) FROM reading_rollup_queue"))
    if waiting.scalar_one():
        raise RuntimeError(
            "readings wait in reading_rollup_queue: fold them first (geo-service hj212 rollups)"
        )
    op.drop_table("reading_rollup_queue")

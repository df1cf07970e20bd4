"""What the alarm pass reads, made proportional to what it judges (issue 15's alarm lag):
an index on readings (monitor_id, at), so that a monitor's last 20 minutes or its last
reading is found without reading its month (the key's ``at`` follows cn, factor and
statistic), and ``night_backgrounds``, a monitor's night-work background per period kept
once computed, so that the history under it is read once a period, not once a window.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | Sequence[str] | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # On the partitioned table: PostgreSQL builds it on every partition, and on the
    # partitions made ahead later.
    op.create_index("ix_readings_monitor_at", "readings", ["monitor_id", "at"], unique=False)
    op.create_table(
        "night_backgrounds",
        sa.Column("monitor_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=5), nullable=False),
        sa.Column("period_of", sa.Date(), nullable=False),
        sa.Column("basis", sa.Text(), nullable=False),
        sa.Column("background", sa.Float(), nullable=True),
        sa.Column("windows", sa.Integer(), nullable=False),
        sa.Column(
            "computed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["monitor_id"], ["monitors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("monitor_id", "period", "period_of", "basis"),
    )


def downgrade() -> None:
    op.drop_table("night_backgrounds")
    op.drop_index("ix_readings_monitor_at", table_name="readings")

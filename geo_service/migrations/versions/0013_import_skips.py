"""The rows an import skipped (``--on-invalid skip``) in layers that others reference.

So a household whose building was skipped is told which file and row that was and why
(``geo_service.ingest.skips``).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("""
CREATE TABLE import_skips (
    layer varchar(32) NOT NULL,
    key text NOT NULL,
    source text NOT NULL,
    file_row integer NOT NULL,
    reason text NOT NULL,
    at timestamp with time zone NOT NULL DEFAULT now(),
    PRIMARY KEY (layer, key)
)""")


def downgrade() -> None:
    op.execute("DROP TABLE import_skips")

"""The database's disclosure key: the secret that perturbs counts of sensitive attributes.

Counts of vulnerable households shown to readers who may not see the flags are perturbed
by the cell-key method (``geo_service.impact.disclosure``); each household's record key is a
hash of its id with this key. It is made at random here, once, and never leaves the
database, so no one can compute the perturbation and take it off.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("""
CREATE TABLE disclosure_key (
    id boolean PRIMARY KEY DEFAULT true,
    salt text NOT NULL DEFAULT gen_random_uuid()::text,
    CONSTRAINT ck_disclosure_key_one_row CHECK (id)
)""")
    op.execute("INSERT INTO disclosure_key DEFAULT VALUES")


def downgrade() -> None:
    op.execute("DROP TABLE disclosure_key")

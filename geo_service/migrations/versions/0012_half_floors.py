"""Buildings' floors may be half floors (3.5), as OpenStreetMap's building:levels has them.

The column becomes double precision; its CHECK (derived from the field's ``between`` and
``step``) keeps 1..200 in steps of 0.5. Going down rounds half floors up.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE buildings DROP CONSTRAINT ck_buildings_floors")
    op.execute("ALTER TABLE buildings ALTER COLUMN floors TYPE double precision")
    op.execute(
        "ALTER TABLE buildings ADD CONSTRAINT ck_buildings_floors CHECK (floors IS NULL OR "
        "(floors BETWEEN 1 AND 200 AND floors / 0.5 = round(floors / 0.5)))"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE buildings DROP CONSTRAINT ck_buildings_floors")
    op.execute("ALTER TABLE buildings ALTER COLUMN floors TYPE smallint USING ceil(floors)")
    op.execute(
        "ALTER TABLE buildings ADD CONSTRAINT ck_buildings_floors "
        "CHECK (floors IS NULL OR floors BETWEEN 1 AND 200)"
    )

"""Polygon layers keep a Web Mercator copy of their geometry for the vector tiles.

Every tile of parcels, communities and buildings reprojected each polygon it drew
(``ST_Transform`` to EPSG:3857) on every request; at zoom 12 that is some 3,000 buildings,
a fifth of the tile's time. ``geom_3857`` is a stored generated column: PostgreSQL writes it
with the row (imports need no change) and it cannot disagree with ``geom``. Points
(households) are not worth it: their low zooms are grids computed by formula, and the
layer holds a million rows.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("parcels", "communities", "buildings")


def upgrade() -> None:
    for table in TABLES:
        op.execute(
            f"ALTER TABLE {table} ADD COLUMN geom_3857 geometry "
            "GENERATED ALWAYS AS (ST_Transform(geom, 3857)) STORED"
        )


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} DROP COLUMN geom_3857")

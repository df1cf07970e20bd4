"""Bands must increase: the household band lookup is a binary search that relies on it.

``household_impacts`` finds a household's band with ``width_bucket`` over the site's bands
(no subquery per row), which needs them in increasing order; the site settings and the
model now say so as a CHECK (the API refused other bands already). The view itself, and
the rest of what made it fast at city scale (each distance computed once, on the spheroid),
is in ``geo_service/impact/sql/household_impacts.sql``, which names this revision as the
one it needs.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BANDS_INCREASING = """
CREATE FUNCTION bands_increasing(bands double precision[])
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT bands IS NULL OR (array_position(bands, NULL) IS NULL AND NOT EXISTS (
      SELECT FROM generate_subscripts(bands, 1) i
      WHERE i < cardinality(bands) AND bands[i] >= bands[i + 1]))
$$
"""


def upgrade() -> None:
    """The function, and a check with it on the settings and on the model's defaults."""
    op.execute(BANDS_INCREASING)
    op.create_check_constraint(
        "ck_site_impact_bands_increasing", "site_impact_settings", "bands_increasing(bands_m)"
    )
    op.create_check_constraint(
        "ck_impact_model_bands_increasing", "impact_model", "bands_increasing(default_bands_m)"
    )


def downgrade() -> None:
    """The checks, then the function."""
    op.drop_constraint("ck_impact_model_bands_increasing", "impact_model", type_="check")
    op.drop_constraint("ck_site_impact_bands_increasing", "site_impact_settings", type_="check")
    op.execute("DROP FUNCTION bands_increasing(double precision[])")

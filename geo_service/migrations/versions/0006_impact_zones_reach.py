"""impact_zones gained ``reach`` here; the view now lives in ``geo_service/impact/sql/``.

This revision replaced the view with one that had ``reach``, a box around each zone that
costs no buffer to compute, so that tiles and bbox filters need not build every site's
zones (``impact_zones.sql`` explains it). Views are no longer a migration's: every migrate
creates them from their files. The revision stays, empty, so that databases at it or past
it keep their place in the chain.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21
"""

from collections.abc import Sequence

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing: the view is created from its file by every migrate."""


def downgrade() -> None:
    """Nothing: the view is created from its file by every migrate."""

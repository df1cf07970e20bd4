"""Constraint and index names that follow from the layer declarations.

The layers' tables are now derived from ``layers/`` (``geo_service.schema``): a field's CHECK
is ``ck_<table>_<field>``, a natural key of several fields ``uq_<table>_natural_key``, a link
table's index ``ix_<link>_<column>``. Four names of revision 0001 predate that rule.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONSTRAINTS = (
    ("sites", "ck_sites_progress", "ck_sites_progress_pct"),
    ("communities", "ck_communities_class", "ck_communities_acoustic_class"),
    ("households", "uq_households_building_unit", "uq_households_natural_key"),
)
INDEXES = (("ix_site_parcels_parcel", "ix_site_parcels_parcel_id"),)


def upgrade() -> None:
    for table, old, new in CONSTRAINTS:
        op.execute(f"ALTER TABLE {table} RENAME CONSTRAINT {old} TO {new}")
    for old, new in INDEXES:
        op.execute(f"ALTER INDEX {old} RENAME TO {new}")


def downgrade() -> None:
    for table, old, new in CONSTRAINTS:
        op.execute(f"ALTER TABLE {table} RENAME CONSTRAINT {new} TO {old}")
    for old, new in INDEXES:
        op.execute(f"ALTER INDEX {new} RENAME TO {old}")

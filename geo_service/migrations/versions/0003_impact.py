"""Impact: reference tables, per-site settings and equipment.

The views that compute the impact from them are no migration's: they live in
``geo_service/impact/sql/``, one file per view, and every migrate creates them as those
files define them (``geo_service.impact.views``).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Reference tables (filled from geo_service/reference by every migrate), settings."""
    op.create_table(
        "equipment_types",
        sa.Column("code", sa.String(40), primary_key=True),
        sa.Column("name_zh", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.Column("lmax_15m_dba", sa.Float(), nullable=False),
        sa.Column("usage_factor_pct", sa.Float(), nullable=False),
        sa.Column("ppv_25ft_in_s", sa.Float()),
        sa.CheckConstraint(
            "usage_factor_pct > 0 AND usage_factor_pct <= 100", name="ck_equipment_uf"
        ),
    )
    op.create_table(
        "acoustic_limits",
        sa.Column("acoustic_class", sa.String(2), primary_key=True),
        sa.Column("day_dba", sa.Float(), nullable=False),
        sa.Column("night_dba", sa.Float(), nullable=False),
        sa.Column("name_zh", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
    )
    op.create_table(
        "impact_model",
        sa.Column("id", sa.Boolean(), primary_key=True, server_default=sa.true()),
        sa.Column("reference_distance_m", sa.Float(), nullable=False),
        sa.Column("minimum_distance_m", sa.Float(), nullable=False),
        sa.Column("vib_reference_ft", sa.Float(), nullable=False),
        sa.Column("vib_exponent", sa.Float(), nullable=False),
        sa.Column("damage_ppv_in_s", sa.Float(), nullable=False),
        sa.Column("annoyance_ppv_in_s", sa.Float(), nullable=False),
        sa.Column("default_class", sa.String(2), nullable=False),
        sa.Column("boundary_day_dba", sa.Float(), nullable=False),
        sa.Column("boundary_night_dba", sa.Float(), nullable=False),
        sa.Column("default_bands_m", postgresql.ARRAY(sa.Float()), nullable=False),
        sa.Column("default_kinds", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.CheckConstraint("id", name="ck_impact_model_single_row"),
    )
    op.create_table(
        "site_impact_settings",
        sa.Column(
            "site_id", sa.Integer(), sa.ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("bands_m", postgresql.ARRAY(sa.Float())),
        sa.Column("kinds", postgresql.ARRAY(sa.Text())),
        sa.Column("active_phase", sa.Text()),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "bands_m IS NULL OR cardinality(bands_m) BETWEEN 1 AND 10", name="ck_site_impact_bands"
        ),
    )
    op.create_table(
        "site_equipment",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "site_id", sa.Integer(), sa.ForeignKey("sites.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("phase", sa.Text(), nullable=False, server_default="main"),
        sa.Column(
            "equipment_code",
            sa.String(40),
            sa.ForeignKey("equipment_types.code", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column("count", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("night_work", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("attenuation_db", sa.Float(), nullable=False, server_default="0"),
        sa.CheckConstraint("count BETWEEN 1 AND 1000", name="ck_site_equipment_count"),
        sa.CheckConstraint("attenuation_db BETWEEN 0 AND 40", name="ck_site_equipment_att"),
    )
    op.create_index("ix_site_equipment_site", "site_equipment", ["site_id", "phase"])


def downgrade() -> None:
    """Drop the tables (the views that read them are set aside while migrations run)."""
    op.drop_index("ix_site_equipment_site", table_name="site_equipment")
    for table in (
        "site_equipment",
        "site_impact_settings",
        "impact_model",
        "acoustic_limits",
        "equipment_types",
    ):
        op.drop_table(table)

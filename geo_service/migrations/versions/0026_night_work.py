"""Night work: the sites' night-work permits, the exam-site bans (a point, a radius, the
exam hours), a site's night-work overrides beside its rules, and the two alarm kinds they
raise, ``night_work_unpermitted`` and ``quiet_period`` (issue 15, point 7).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0026"
down_revision: str | Sequence[str] | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD = ("noise_laeq", "noise_lmax", "dust", "offline")
_NEW = (*_OLD, "night_work_unpermitted", "quiet_period")


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _kinds(values: Sequence[str], width: int) -> None:
    for table in ("alarms", "monitor_exceedances"):
        op.drop_constraint(f"ck_{table}_kind", table, type_="check")
        op.alter_column(table, "kind", type_=sa.String(length=width), existing_nullable=False)
        op.create_check_constraint(f"ck_{table}_kind", table, _in("kind", values))


def _rules(values: Sequence[str]) -> None:
    op.drop_constraint("ck_alarm_watermarks_rule", "alarm_watermarks", type_="check")
    op.create_check_constraint("ck_alarm_watermarks_rule", "alarm_watermarks", _in("rule", values))


def upgrade() -> None:
    op.create_table(
        "night_work_permits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_code", sa.String(length=64), nullable=False),
        sa.Column("certificate_no", sa.String(length=64), nullable=False),
        sa.Column("issuer", sa.String(length=32), nullable=False),
        sa.Column("first_night", sa.Date(), nullable=False),
        sa.Column("last_night", sa.Date(), nullable=False),
        sa.Column("hours_start", sa.Time(), nullable=False),
        sa.Column("hours_end", sa.Time(), nullable=False),
        sa.Column("activities", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("notice_posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("first_night <= last_night", name="ck_night_work_permits_nights"),
        sa.CheckConstraint("hours_start <> hours_end", name="ck_night_work_permits_hours"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_night_work_permits_site", "night_work_permits", ["site_code", "first_night"]
    )
    op.create_index(
        "ix_night_work_permits_certificate_no", "night_work_permits", ["certificate_no"]
    )
    op.create_table(
        "exam_site_bans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("document_no", sa.Text(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("radius_m", sa.Float(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("radius_m > 0", name="ck_exam_site_bans_radius"),
        sa.CheckConstraint("starts_at < ends_at", name="ck_exam_site_bans_times"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.add_column(
        "monitoring_rules",
        sa.Column(
            "night_work",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
    )
    _kinds(_NEW, 32)
    _rules(("noise", "dust", "night"))


def downgrade() -> None:
    op.execute("DELETE FROM alarm_watermarks WHERE rule = 'night'")
    _rules(("noise", "dust"))
    op.execute(f"DELETE FROM monitor_exceedances WHERE NOT {_in('kind', _OLD)}")
    # Alarms of the new kinds keep their append-only history: with any, this step refuses.
    _kinds(_OLD, 16)
    op.drop_column("monitoring_rules", "night_work")
    op.drop_table("exam_site_bans")
    op.drop_table("night_work_permits")

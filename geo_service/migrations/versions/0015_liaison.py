"""Liaison case work: residents' requests and their append-only events, visits, request
categories (reference data, synced from ``geo_service/reference/request_categories.csv``),
site officers, working-group members and the notification outbox (issue 14).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A request's history cannot be rewritten, even by the table's owner through SQL; emptying
# all data (TRUNCATE, a demo reload) stays possible for the owner.
_APPEND_ONLY = """
CREATE FUNCTION request_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'request_events is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER request_events_append_only BEFORE UPDATE OR DELETE ON request_events
  FOR EACH ROW EXECUTE FUNCTION request_events_append_only();
"""


def upgrade() -> None:
    op.create_table(
        "request_categories",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name_zh", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.Column("acknowledge_hours", sa.Integer(), nullable=False),
        sa.Column("resolve_working_days", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "acknowledge_hours > 0 AND resolve_working_days > 0", name="ck_request_categories_sla"
        ),
        sa.PrimaryKeyConstraint("code"),
        info={"reference": True},
    )
    op.create_table(
        "working_group_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_code", sa.String(length=64), nullable=False),
        sa.Column("organisation", sa.Text(), nullable=False),
        sa.Column("party", sa.String(length=16), nullable=False),
        sa.Column("role", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
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
        sa.CheckConstraint(
            (
                "party IN ('owner', 'survey', 'design', 'contractor', 'supervisor', "
                "'street_office', 'community')"
            ),
            name="ck_working_group_members_party",
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_working_group_members_site_code"),
        "working_group_members",
        ["site_code"],
        unique=False,
    )
    op.create_table(
        "site_officers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_code", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("duty", sa.String(length=8), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.CheckConstraint("duty IN ('lead', 'deputy')", name="ck_site_officers_duty"),
        sa.CheckConstraint(
            "ends_on IS NULL OR ends_on >= starts_on", name="ck_site_officers_dates"
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        info={"account": True},
    )
    op.create_index(
        op.f("ix_site_officers_site_code"), "site_officers", ["site_code"], unique=False
    )
    op.create_table(
        "requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=24), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=24), server_default=sa.text("'new'"), nullable=False),
        sa.Column(
            "priority", sa.String(length=8), server_default=sa.text("'normal'"), nullable=False
        ),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("household_id", sa.BigInteger(), nullable=True),
        sa.Column("reporter_name", sa.String(length=64), nullable=True),
        sa.Column("reporter_phone", sa.String(length=32), nullable=True),
        sa.Column("assignee", sa.String(length=64), nullable=True),
        sa.Column("agency", sa.Text(), nullable=True),
        sa.Column("acknowledge_due", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolve_due", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duplicate_of", sa.String(length=24), nullable=True),
        sa.Column("satisfaction", sa.SmallInteger(), nullable=True),
        sa.Column(
            "escalation_level", sa.SmallInteger(), server_default=sa.text("0"), nullable=False
        ),
        sa.Column("cycle", sa.SmallInteger(), server_default=sa.text("1"), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
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
        sa.CheckConstraint(
            "channel IN ('visit', 'hotline_12345', 'walk_in', 'web', 'open311')",
            name="ck_requests_channel",
        ),
        sa.CheckConstraint(
            "priority IN ('low', 'normal', 'high', 'urgent')", name="ck_requests_priority"
        ),
        sa.CheckConstraint(
            (
                "state IN ('new', 'acknowledged', 'assigned', 'in_progress', 'waiting_resident', "
                "'action_scheduled', 'resolved', 'closed', 'reopened', 'duplicate', 'referred', "
                "'rejected', 'cancelled')"
            ),
            name="ck_requests_state",
        ),
        sa.CheckConstraint(
            "duplicate_of IS NULL OR duplicate_of <> public_id",
            name="ck_requests_not_own_duplicate",
        ),
        sa.CheckConstraint(
            "satisfaction IS NULL OR satisfaction BETWEEN 1 AND 5", name="ck_requests_satisfaction"
        ),
        sa.ForeignKeyConstraint(["household_id"], ["households.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("public_id"),
    )
    op.create_index("ix_requests_category", "requests", ["category"], unique=False)
    op.create_index("ix_requests_geom", "requests", ["geom"], unique=False, postgresql_using="gist")
    op.create_table(
        "visits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.BigInteger(), nullable=True),
        sa.Column("officer", sa.String(length=64), nullable=False),
        sa.Column("visited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("next_visit_due", sa.Date(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
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
        sa.CheckConstraint(
            "outcome IN ('met', 'not_at_home', 'refused', 'moved_out', 'revisit_needed')",
            name="ck_visits_outcome",
        ),
        sa.ForeignKeyConstraint(["household_id"], ["households.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_visits_geom", "visits", ["geom"], unique=False, postgresql_using="gist")
    op.create_index("ix_visits_visited_at", "visits", ["visited_at"], unique=False)
    op.create_table(
        "liaison_outbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("recipient", sa.Text(), nullable=True),
        sa.Column("message", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("webhook", sa.Text(), nullable=True),
        sa.Column(
            "status",
            sa.String(length=16),
            server_default=sa.text("'pending'::character varying"),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed', 'held')", name="ck_liaison_outbox_status"
        ),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_liaison_outbox_due", "liaison_outbox", ["status", "next_attempt_at"], unique=False
    )
    op.create_table(
        "request_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=True),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("from_state", sa.String(length=24), nullable=True),
        sa.Column("to_state", sa.String(length=24), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("clock", sa.String(length=40), nullable=True),
        sa.Column(
            "detail",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.CheckConstraint(
            (
                "kind IN ('created', 'state_change', 'public_note', 'internal_note', "
                "'assignment', 'duplicate', 'sla_warning', 'sla_breach', 'escalation')"
            ),
            name="ck_request_events_kind",
        ),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
        info={"event_log": True},
    )
    op.create_index(
        "ix_request_events_request", "request_events", ["request_id", "id"], unique=False
    )
    op.create_index(
        "uq_request_events_clock",
        "request_events",
        ["request_id", "clock"],
        unique=True,
        postgresql_where=sa.text("clock IS NOT NULL"),
    )
    op.execute(_APPEND_ONLY)


def downgrade() -> None:
    op.execute("DROP TRIGGER request_events_append_only ON request_events")
    op.execute("DROP FUNCTION request_events_append_only()")
    op.drop_index(
        "uq_request_events_clock",
        table_name="request_events",
        postgresql_where=sa.text("clock IS NOT NULL"),
    )
    op.drop_index("ix_request_events_request", table_name="request_events")
    op.drop_table("request_events")
    op.drop_index("ix_liaison_outbox_due", table_name="liaison_outbox")
    op.drop_table("liaison_outbox")
    op.drop_index("ix_visits_visited_at", table_name="visits")
    op.drop_index("ix_visits_geom", table_name="visits", postgresql_using="gist")
    op.drop_table("visits")
    op.drop_index("ix_requests_geom", table_name="requests", postgresql_using="gist")
    op.drop_index("ix_requests_category", table_name="requests")
    op.drop_table("requests")
    op.drop_index(op.f("ix_site_officers_site_code"), table_name="site_officers")
    op.drop_table("site_officers")
    op.drop_index(op.f("ix_working_group_members_site_code"), table_name="working_group_members")
    op.drop_table("working_group_members")
    op.drop_table("request_categories")

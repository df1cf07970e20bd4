"""Rules and alarms of site monitoring: per-site rule overrides, the evaluation's
watermarks and exceedances, alarms with their append-only events, their links to residents'
requests, and the outbox taking alarm notifications beside request ones (issue 15).

Revision ID: 0022
Revises: 0019
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0022"
down_revision: str | Sequence[str] | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As request_events: an alarm's history cannot be rewritten, even by the owner through SQL.
_APPEND_ONLY = """
CREATE FUNCTION alarm_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'alarm_events is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER alarm_events_append_only BEFORE UPDATE OR DELETE ON alarm_events
  FOR EACH ROW EXECUTE FUNCTION alarm_events_append_only();
"""

_KINDS = "kind IN ('noise_laeq', 'noise_lmax', 'dust', 'offline')"
_ACTIVE = "state IN ('open', 'acknowledged', 'replied')"


def _now() -> sa.TextClause:
    return sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "monitoring_rules",
        sa.Column("site_code", sa.String(length=64), nullable=False),
        sa.Column(
            "noise",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "dust",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.PrimaryKeyConstraint("site_code"),
    )
    op.create_table(
        "alarm_watermarks",
        sa.Column("monitor_id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=8), nullable=False),
        sa.Column("judged_until", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("rule IN ('noise', 'dust')", name="ck_alarm_watermarks_rule"),
        sa.ForeignKeyConstraint(["monitor_id"], ["monitors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("monitor_id", "rule"),
    )
    op.create_table(
        "alarms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("monitor_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), server_default=sa.text("'open'"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("windows", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("period", sa.String(length=8), nullable=True),
        sa.Column("worst_value", sa.Float(), nullable=True),
        sa.Column("limit_value", sa.Float(), nullable=True),
        sa.Column("condition_cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reply_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("replied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column(
            "actions",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text("'{}'::text[]"),
            nullable=False,
        ),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.CheckConstraint(_KINDS, name="ck_alarms_kind"),
        sa.CheckConstraint(
            "state IN ('open', 'acknowledged', 'replied', 'closed', 'auto_cleared')",
            name="ck_alarms_state",
        ),
        sa.CheckConstraint("period IS NULL OR period IN ('day', 'night')", name="ck_alarms_period"),
        sa.ForeignKeyConstraint(["monitor_id"], ["monitors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_alarms_monitor", "alarms", ["monitor_id", "started_at"], unique=False)
    op.create_index(
        "uq_alarms_active",
        "alarms",
        ["monitor_id", "kind"],
        unique=True,
        postgresql_where=sa.text(_ACTIVE),
    )
    op.create_table(
        "alarm_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("alarm_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=True),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("once", sa.String(length=40), nullable=True),
        sa.Column(
            "detail",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('opened', 'state_change', 'condition_cleared', 'escalation')",
            name="ck_alarm_events_kind",
        ),
        sa.ForeignKeyConstraint(["alarm_id"], ["alarms.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_alarm_events_alarm", "alarm_events", ["alarm_id", "id"], unique=False)
    op.create_index(
        "uq_alarm_events_once",
        "alarm_events",
        ["alarm_id", "once"],
        unique=True,
        postgresql_where=sa.text("once IS NOT NULL"),
    )
    op.create_table(
        "monitor_exceedances",
        sa.Column("monitor_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period", sa.String(length=8), nullable=True),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("limit_value", sa.Float(), nullable=False),
        sa.Column("valid_fraction", sa.Float(), nullable=False),
        sa.Column("alarm_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(_KINDS, name="ck_monitor_exceedances_kind"),
        sa.ForeignKeyConstraint(["alarm_id"], ["alarms.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["monitor_id"], ["monitors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("monitor_id", "kind", "window_start"),
    )
    op.create_index(
        "ix_monitor_exceedances_alarm_id", "monitor_exceedances", ["alarm_id"], unique=False
    )
    op.create_table(
        "alarm_requests",
        sa.Column("alarm_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.ForeignKeyConstraint(["alarm_id"], ["alarms.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("alarm_id", "request_id"),
    )
    op.create_index("ix_alarm_requests_request_id", "alarm_requests", ["request_id"], unique=False)
    op.alter_column("liaison_outbox", "request_id", existing_type=sa.Integer(), nullable=True)
    op.add_column("liaison_outbox", sa.Column("alarm_id", sa.Integer(), nullable=True))
    op.create_foreign_key(
        "liaison_outbox_alarm_id_fkey",
        "liaison_outbox",
        "alarms",
        ["alarm_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.create_check_constraint(
        "ck_liaison_outbox_about", "liaison_outbox", "num_nonnulls(request_id, alarm_id) = 1"
    )
    op.execute(_APPEND_ONLY)


def downgrade() -> None:
    op.execute("DELETE FROM liaison_outbox WHERE alarm_id IS NOT NULL")
    op.drop_constraint("ck_liaison_outbox_about", "liaison_outbox", type_="check")
    op.drop_constraint("liaison_outbox_alarm_id_fkey", "liaison_outbox", type_="foreignkey")
    op.drop_column("liaison_outbox", "alarm_id")
    op.alter_column("liaison_outbox", "request_id", existing_type=sa.Integer(), nullable=False)
    op.execute("DROP TRIGGER alarm_events_append_only ON alarm_events")
    op.execute("DROP FUNCTION alarm_events_append_only()")
    op.drop_table("alarm_requests")
    op.drop_table("monitor_exceedances")
    op.drop_table("alarm_events")
    op.drop_table("alarms")
    op.drop_table("alarm_watermarks")
    op.drop_table("monitoring_rules")

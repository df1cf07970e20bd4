"""Micro-wishes, visit photos, and the retention rule's one way into the request history:
``micro_wishes``, ``visit_photos``, and ``request_events_redact``, which blanks the text of
internal notes (and nothing else) of finished requests of completed sites.

The append-only trigger of 0015 is replaced by one that lets exactly that change through:
an UPDATE of an ``internal_note`` event whose only difference is a note set to NULL. Every
other UPDATE and every DELETE is still refused, whoever asks. The service role has no
UPDATE on the table at all, so it reaches even that change only through the function, which
runs as the owner and checks the request's state and its site's status itself.

Revision ID: 0019
Revises: 0017
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_GUARD = """
CREATE OR REPLACE FUNCTION request_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- The retention rule's blanking of an internal note's text: nothing else may change.
  IF TG_OP = 'UPDATE' AND OLD.kind = 'internal_note' AND NEW.note IS NULL
     AND (NEW.id, NEW.request_id, NEW.at, NEW.actor, NEW.role, NEW.kind, NEW.from_state,
          NEW.to_state, NEW.clock, NEW.detail)
         IS NOT DISTINCT FROM
         (OLD.id, OLD.request_id, OLD.at, OLD.actor, OLD.role, OLD.kind, OLD.from_state,
          OLD.to_state, OLD.clock, OLD.detail) THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'request_events is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;
"""

_ORIGINAL_GUARD = """
CREATE OR REPLACE FUNCTION request_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'request_events is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;
"""

# Finished requests (not open: resolved or final) of completed sites only, whatever the
# caller passes: a stolen service password cannot blank the notes of a case still worked.
_REDACT = """
CREATE FUNCTION request_events_redact(request_ids integer[]) RETURNS integer
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
  WITH blanked AS (
    UPDATE request_events e SET note = NULL
    FROM requests r JOIN sites s ON s.id = r.site_id
    WHERE e.request_id = r.id AND r.id = ANY(request_ids)
      AND e.kind = 'internal_note' AND e.note IS NOT NULL
      AND s.status = 'completed'
      AND r.state IN ('resolved', 'closed', 'duplicate', 'referred', 'rejected', 'cancelled')
    RETURNING 1)
  SELECT count(*)::integer FROM blanked
$$;
REVOKE ALL ON FUNCTION request_events_redact(integer[]) FROM PUBLIC;
"""


def upgrade() -> None:
    op.create_table(
        "micro_wishes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_code", sa.String(length=64), nullable=False),
        sa.Column("household_id", sa.BigInteger(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "state", sa.String(length=16), server_default=sa.text("'posted'"), nullable=False
        ),
        sa.Column("posted_by", sa.String(length=64), nullable=False),
        sa.Column("claimed_by", sa.Integer(), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column(
            "posted_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fulfilled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
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
            "state IN ('posted', 'claimed', 'fulfilled', 'cancelled')",
            name="ck_micro_wishes_state",
        ),
        sa.CheckConstraint("length(title) BETWEEN 1 AND 200", name="ck_micro_wishes_title"),
        sa.ForeignKeyConstraint(["household_id"], ["households.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["claimed_by"], ["working_group_members.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_micro_wishes_site_code"), "micro_wishes", ["site_code"], unique=False)
    op.create_table(
        "visit_photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(length=16), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("bytes", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "content_type IN ('image/jpeg', 'image/png', 'image/webp')",
            name="ck_visit_photos_type",
        ),
        sa.ForeignKeyConstraint(["visit_id"], ["visits.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_visit_photos_visit_id"), "visit_photos", ["visit_id"], unique=False)
    op.execute(_GUARD)
    op.execute(_REDACT)


def downgrade() -> None:
    op.execute("DROP FUNCTION request_events_redact(integer[])")
    op.execute(_ORIGINAL_GUARD)
    op.drop_index(op.f("ix_visit_photos_visit_id"), table_name="visit_photos")
    op.drop_table("visit_photos")
    op.drop_index(op.f("ix_micro_wishes_site_code"), table_name="micro_wishes")
    op.drop_table("micro_wishes")

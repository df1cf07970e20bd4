"""Mitigation programmes, their cases (one per household) and the cases' events.

The kinds of measure are reference data, filled from ``geo_service/reference`` by every
migrate (``geo_service.mitigation.programmes.sync_kinds``).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("""
CREATE TABLE mitigation_kinds (
    code varchar(40) PRIMARY KEY,
    name_zh text NOT NULL,
    name_en text NOT NULL
);
CREATE TABLE mitigation_programmes (
    id serial PRIMARY KEY,
    site_id integer NOT NULL REFERENCES sites (id) ON DELETE RESTRICT,
    kind varchar(40) NOT NULL REFERENCES mitigation_kinds (code) ON DELETE RESTRICT,
    title text NOT NULL,
    min_leq_day double precision,
    min_leq_night double precision,
    min_exceed_day double precision,
    min_exceed_night double precision,
    match varchar(3) NOT NULL DEFAULT 'any'::character varying,
    max_band integer,
    budget double precision,
    unit_cost_per_m2 double precision,
    created_by text NOT NULL,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    updated_at timestamp with time zone NOT NULL DEFAULT now(),
    CONSTRAINT ck_mitigation_programmes_match CHECK (match IN ('any', 'all')),
    CONSTRAINT ck_mitigation_programmes_rule CHECK (min_leq_day IS NOT NULL
        OR min_leq_night IS NOT NULL OR min_exceed_day IS NOT NULL
        OR min_exceed_night IS NOT NULL),
    CONSTRAINT ck_mitigation_programmes_band CHECK (max_band IS NULL OR max_band >= 1),
    CONSTRAINT ck_mitigation_programmes_costs CHECK ((budget IS NULL OR budget >= 0)
        AND (unit_cost_per_m2 IS NULL OR unit_cost_per_m2 >= 0))
);
CREATE INDEX ix_mitigation_programmes_site_id ON mitigation_programmes (site_id);
CREATE TABLE mitigation_cases (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    programme_id integer NOT NULL REFERENCES mitigation_programmes (id) ON DELETE RESTRICT,
    household_id bigint NOT NULL REFERENCES households (id) ON DELETE RESTRICT,
    state varchar(16) NOT NULL DEFAULT 'eligible'::character varying,
    window_area_m2 double precision,
    contractor text,
    surveyed_at date,
    offered_at date,
    agreed_at date,
    declined_at date,
    scheduled_for date,
    installed_at date,
    verified_at date,
    closed_at date,
    cost double precision,
    note text,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    updated_at timestamp with time zone NOT NULL DEFAULT now(),
    CONSTRAINT ck_mitigation_cases_state CHECK (state IN ('eligible', 'surveyed', 'offered',
        'agreed', 'declined', 'scheduled', 'installed', 'verified', 'closed')),
    CONSTRAINT ck_mitigation_cases_area CHECK (window_area_m2 IS NULL
        OR (window_area_m2 > 0 AND window_area_m2 <= 500)),
    CONSTRAINT ck_mitigation_cases_cost CHECK (cost IS NULL OR (cost >= 0 AND cost <= 10000000))
);
CREATE UNIQUE INDEX uq_mitigation_cases_household
    ON mitigation_cases (programme_id, household_id);
CREATE INDEX ix_mitigation_cases_household ON mitigation_cases (household_id);
CREATE TABLE mitigation_case_events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id bigint NOT NULL REFERENCES mitigation_cases (id) ON DELETE RESTRICT,
    at timestamp with time zone NOT NULL DEFAULT now(),
    actor text NOT NULL,
    role varchar(32) NOT NULL,
    from_state varchar(16),
    to_state varchar(16) NOT NULL,
    changes jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX ix_mitigation_case_events_case_id ON mitigation_case_events (case_id);
""")


def downgrade() -> None:
    op.execute(
        "DROP TABLE mitigation_case_events, mitigation_cases, mitigation_programmes, "
        "mitigation_kinds"
    )

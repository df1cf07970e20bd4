"""Site monitoring: the monitors layer, the raw HJ 212 packets, and the readings in
monthly range partitions (``geo_service.monitoring.partitions`` creates the partitions).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The service role owns nothing, and only a table's owner may add or detach its partitions:
# these run as the owner and do only that (``geo_service.monitoring.partitions``).
PARTITION_FUNCTIONS = """
CREATE FUNCTION readings_partition(month date, zone text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    first date := date_trunc('month', month)::date;
    name text := format('readings_%s', to_char(first, 'YYYY_MM'));
BEGIN
    IF EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = to_regclass('public.' || name)
               AND i.inhparent = 'public.readings'::regclass) THEN
        RETURN name;
    END IF;
    IF to_regclass('public.' || name) IS NOT NULL THEN  -- detached by retention
        RAISE EXCEPTION 'the readings of % are archived (detached by retention)',
            to_char(first, 'YYYY-MM') USING ERRCODE = 'object_not_in_prerequisite_state';
    ELSE
        EXECUTE format(
            'CREATE TABLE public.%I PARTITION OF public.readings FOR VALUES FROM (%L) TO (%L)',
            name,
            first::timestamp AT TIME ZONE zone,
            (first + interval '1 month')::timestamp AT TIME ZONE zone);
    END IF;
    RETURN name;
EXCEPTION WHEN duplicate_table THEN
    RETURN name;  -- another session made it a moment ago
END $$;
REVOKE ALL ON FUNCTION readings_partition(date, text) FROM PUBLIC;

CREATE FUNCTION readings_detach(before date) RETURNS SETOF text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    part text;
BEGIN
    FOR part IN
        SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'public.readings'::regclass
          AND c.relname ~ '^readings_[0-9]{4}_[0-9]{2}$'
          AND to_date(substr(c.relname, 10), 'YYYY_MM') < date_trunc('month', before)::date
        ORDER BY c.relname
    LOOP
        EXECUTE format('ALTER TABLE public.readings DETACH PARTITION public.%I', part);
        RETURN NEXT part;
    END LOOP;
END $$;
REVOKE ALL ON FUNCTION readings_detach(date) FROM PUBLIC;
"""


def upgrade() -> None:
    op.create_table(
        "monitors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mn", sa.String(length=24), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("st", sa.String(length=2), server_default=sa.text("'39'"), nullable=False),
        sa.Column("kind", sa.String(length=8), server_default=sa.text("'both'"), nullable=False),
        sa.Column(
            "placement", sa.String(length=16), server_default=sa.text("'boundary'"), nullable=False
        ),
        sa.Column("faces_building_id", sa.Integer(), nullable=True),
        sa.Column("password", sa.String(length=32), nullable=False),
        sa.Column(
            "crc_mode", sa.String(length=8), server_default=sa.text("'hj212'"), nullable=False
        ),
        sa.Column("units", sa.String(length=8), server_default=sa.text("'ug/m3'"), nullable=False),
        sa.Column("interval_s", sa.Integer(), server_default=sa.text("60"), nullable=False),
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
        sa.CheckConstraint("crc_mode IN ('hj212', 'modbus')", name="ck_monitors_crc_mode"),
        sa.CheckConstraint("kind IN ('noise', 'dust', 'both')", name="ck_monitors_kind"),
        sa.CheckConstraint(
            "placement IN ('boundary', 'facade', 'indoor')", name="ck_monitors_placement"
        ),
        sa.CheckConstraint("st IN ('39', '23', '36')", name="ck_monitors_st"),
        sa.CheckConstraint("units IN ('ug/m3', 'mg/m3')", name="ck_monitors_units"),
        sa.CheckConstraint(
            "interval_s IS NULL OR interval_s BETWEEN 1 AND 86400", name="ck_monitors_interval_s"
        ),
        sa.ForeignKeyConstraint(["faces_building_id"], ["buildings.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("mn"),
    )
    op.create_index("ix_monitors_geom", "monitors", ["geom"], unique=False, postgresql_using="gist")
    op.create_table(
        "hj212_packets",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("peer", sa.Text(), nullable=False),
        sa.Column("via", sa.String(length=8), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("mn", sa.String(length=64), nullable=True),
        sa.Column("monitor_id", sa.Integer(), nullable=True),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("code", sa.SmallInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.CheckConstraint("via IN ('tcp', 'http')", name="ck_hj212_packets_via"),
        sa.ForeignKeyConstraint(["monitor_id"], ["monitors.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_hj212_packets_monitor_id", "hj212_packets", ["monitor_id"], unique=False)
    op.create_index(
        "ix_hj212_packets_received_at",
        "hj212_packets",
        ["received_at"],
        unique=False,
        postgresql_using="brin",
    )
    op.create_table(
        "readings",
        sa.Column("monitor_id", sa.Integer(), nullable=False),
        sa.Column("cn", sa.String(length=4), nullable=False),
        sa.Column("factor", sa.String(length=16), nullable=False),
        sa.Column("statistic", sa.String(length=12), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("flag", sa.String(length=1), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("cn IN ('2011', '2051', '2061', '2031')", name="ck_readings_cn"),
        sa.ForeignKeyConstraint(["monitor_id"], ["monitors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("monitor_id", "cn", "factor", "statistic", "at"),
        postgresql_partition_by="RANGE (at)",
    )
    op.create_index("ix_readings_at", "readings", ["at"], unique=False, postgresql_using="brin")
    op.execute(PARTITION_FUNCTIONS)


def downgrade() -> None:
    op.execute("DROP FUNCTION readings_detach(date)")
    op.execute("DROP FUNCTION readings_partition(date, text)")
    op.drop_index("ix_readings_at", table_name="readings", postgresql_using="brin")
    op.drop_table("readings")
    op.drop_index(
        "ix_hj212_packets_received_at", table_name="hj212_packets", postgresql_using="brin"
    )
    op.drop_index("ix_hj212_packets_monitor_id", table_name="hj212_packets")
    op.drop_table("hj212_packets")
    op.drop_index("ix_monitors_geom", table_name="monitors", postgresql_using="gist")
    op.drop_table("monitors")

"""Foundation: PostGIS, parcels, sites, communities, buildings, households.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import geoalchemy2
import sqlalchemy as sa
from alembic import op

# A lon/lat box grown by at least ``metres`` in every direction: the index-friendly first
# test before an exact geodesic distance. A degree of latitude is 110.57-111.69 km and a
# degree of longitude at least 111.0 km * cos(lat) on GRS80/WGS84, so the box is never short.
EXPAND_METRES = """
CREATE OR REPLACE FUNCTION expand_metres(g geometry, metres double precision)
RETURNS geometry LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT ST_Expand(
    g,
    metres / (111000.0 * cos(radians(least(89.0,
      greatest(abs(ST_YMin(g)), abs(ST_YMax(g))) + metres / 110000.0)))),
    metres / 110000.0)
$$
"""

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the extension (if the role may) and the tables of the foundation."""
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.execute(EXPAND_METRES)
    op.create_table(
        "communities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("street_office", sa.Text(), nullable=True),
        sa.Column("district", sa.Text(), nullable=True),
        sa.Column("acoustic_class", sa.String(length=2), server_default="2", nullable=False),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
                geometry_type="MULTIPOLYGON",
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
            "acoustic_class IN ('0', '1', '2', '3', '4a', '4b')", name="ck_communities_class"
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_index(
        "ix_communities_geom", "communities", ["geom"], unique=False, postgresql_using="gist"
    )
    op.create_table(
        "parcels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("unit_code", sa.String(length=32), nullable=False),
        sa.Column("land_use", sa.ARRAY(sa.String(length=8)), nullable=False),
        sa.Column("parcel_index", sa.String(length=8), nullable=False),
        sa.Column("land_use_zh", sa.Text(), nullable=False),
        sa.Column("land_use_en", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column(
            "area_m2",
            sa.Float(),
            sa.Computed("ST_Area(geography(geom))", persisted=True),
            nullable=False,
        ),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
                geometry_type="MULTIPOLYGON",
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
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_index("ix_parcels_geom", "parcels", ["geom"], unique=False, postgresql_using="gist")
    op.create_index("ix_parcels_unit_code", "parcels", ["unit_code"], unique=False)
    op.create_table(
        "sites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=32), server_default="other", nullable=False),
        sa.Column("status", sa.String(length=32), server_default="planned", nullable=False),
        sa.Column("progress_pct", sa.SmallInteger(), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("work_hours_start", sa.Time(), nullable=True),
        sa.Column("work_hours_end", sa.Time(), nullable=True),
        sa.Column("night_work_permitted", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("owner", sa.Text(), nullable=True),
        sa.Column("survey", sa.Text(), nullable=True),
        sa.Column("design", sa.Text(), nullable=True),
        sa.Column("contractor", sa.Text(), nullable=True),
        sa.Column("supervisor", sa.Text(), nullable=True),
        sa.Column("liaison_officer", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
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
            "GeometryType(geom) IN ('POLYGON','MULTIPOLYGON','LINESTRING','MULTILINESTRING')",
            name="ck_sites_geom_type",
        ),
        sa.CheckConstraint(
            "kind IN ('resettlement_housing', 'road', 'metro', 'school', 'other')",
            name="ck_sites_kind",
        ),
        sa.CheckConstraint(
            "status IN ('planned', 'under_construction', 'completed', 'suspended')",
            name="ck_sites_status",
        ),
        sa.CheckConstraint(
            "end_date IS NULL OR start_date IS NULL OR end_date >= start_date",
            name="ck_sites_dates",
        ),
        sa.CheckConstraint("progress_pct BETWEEN 0 AND 100", name="ck_sites_progress"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_index("ix_sites_geom", "sites", ["geom"], unique=False, postgresql_using="gist")
    op.create_table(
        "buildings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.Column("floors", sa.SmallInteger(), nullable=True),
        sa.Column("households_count", sa.Integer(), nullable=True),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
                geometry_type="MULTIPOLYGON",
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
            "floors IS NULL OR floors BETWEEN 1 AND 200", name="ck_buildings_floors"
        ),
        sa.ForeignKeyConstraint(["community_id"], ["communities.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("address"),
    )
    op.create_index("ix_buildings_community", "buildings", ["community_id"], unique=False)
    op.create_index(
        "ix_buildings_geom", "buildings", ["geom"], unique=False, postgresql_using="gist"
    )
    op.create_table(
        "site_parcels",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("parcel_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["parcel_id"], ["parcels.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("site_id", "parcel_id"),
    )
    op.create_index("ix_site_parcels_parcel", "site_parcels", ["parcel_id"], unique=False)
    op.create_table(
        "households",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("building_id", sa.Integer(), nullable=False),
        sa.Column("unit_label", sa.String(length=32), nullable=False),
        sa.Column("residents", sa.SmallInteger(), nullable=True),
        sa.Column("contact_name", sa.Text(), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("elderly", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("infant", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("disabled", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("night_shift", sa.Boolean(), server_default="false", nullable=False),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
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
            "residents IS NULL OR residents BETWEEN 0 AND 50", name="ck_households_residents"
        ),
        sa.ForeignKeyConstraint(["building_id"], ["buildings.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("building_id", "unit_label", name="uq_households_building_unit"),
    )
    op.create_index(
        "ix_households_geom", "households", ["geom"], unique=False, postgresql_using="gist"
    )


def downgrade() -> None:
    """Drop the tables; the postgis extension stays, other databases' objects may use it."""
    op.execute("DROP FUNCTION IF EXISTS expand_metres(geometry, double precision)")
    op.drop_index("ix_households_geom", table_name="households", postgresql_using="gist")
    op.drop_table("households")
    op.drop_index("ix_site_parcels_parcel", table_name="site_parcels")
    op.drop_table("site_parcels")
    op.drop_index("ix_buildings_geom", table_name="buildings", postgresql_using="gist")
    op.drop_index("ix_buildings_community", table_name="buildings")
    op.drop_table("buildings")
    op.drop_index("ix_sites_geom", table_name="sites", postgresql_using="gist")
    op.drop_table("sites")
    op.drop_index("ix_parcels_unit_code", table_name="parcels")
    op.drop_index("ix_parcels_geom", table_name="parcels", postgresql_using="gist")
    op.drop_table("parcels")
    op.drop_index("ix_communities_geom", table_name="communities", postgresql_using="gist")
    op.drop_table("communities")

"""The stored schema, as SQLAlchemy 2 + GeoAlchemy2 models.

Geometries are stored in EPSG:4326 (what goes on the wire) with one GiST index each.
Metre distances are computed on the spheroid (``geography``, exact to millimetres
anywhere) behind a bounding-box test that uses that index: see ``geo_service.spatial``.
The migrations in ``geo_service/migrations`` create exactly this schema.
"""

from __future__ import annotations

import datetime as dt

from geoalchemy2 import Geometry
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Computed,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

SRID = 4326
SITE_KINDS = ("resettlement_housing", "road", "metro", "school", "other")
SITE_STATUSES = ("planned", "under_construction", "completed", "suspended")
ACOUSTIC_CLASSES = ("0", "1", "2", "3", "4a", "4b")


class Base(DeclarativeBase):
    """Every table records when a row was created and last changed."""


def _geom(kind: str) -> Mapped:
    return mapped_column(Geometry(kind, srid=SRID, spatial_index=False), nullable=False)


def _geometry_index(table: str) -> Index:
    return Index(f"ix_{table}_geom", "geom", postgresql_using="gist")


def _timestamps() -> tuple[Mapped[dt.datetime], Mapped[dt.datetime]]:
    created = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
    updated = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
    return created, updated


site_parcels = Table(
    "site_parcels",
    Base.metadata,
    Column("site_id", ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True),
    Column("parcel_id", ForeignKey("parcels.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_site_parcels_parcel", "parcel_id"),
)


class Parcel(Base):
    """A planning parcel; its code carries the unit, land use and index."""

    __tablename__ = "parcels"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    unit_code: Mapped[str] = mapped_column(String(32), nullable=False)
    land_use: Mapped[list[str]] = mapped_column(ARRAY(String(8)), nullable=False)
    parcel_index: Mapped[str] = mapped_column(String(8), nullable=False)
    land_use_zh: Mapped[str] = mapped_column(Text, nullable=False)
    land_use_en: Mapped[str] = mapped_column(Text, nullable=False)
    name: Mapped[str | None] = mapped_column(Text)
    area_m2: Mapped[float] = mapped_column(
        Float, Computed("ST_Area(geography(geom))", persisted=True)
    )
    geom = _geom("MULTIPOLYGON")
    created_at, updated_at = _timestamps()
    sites: Mapped[list[Site]] = relationship(secondary=site_parcels, back_populates="parcels")

    __table_args__ = (
        Index("ix_parcels_unit_code", "unit_code"),
        _geometry_index("parcels"),
    )


class Site(Base):
    """A construction site: the thing whose impact we compute."""

    __tablename__ = "sites"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False, server_default="other")
    status: Mapped[str] = mapped_column(String(32), nullable=False, server_default="planned")
    progress_pct: Mapped[int | None] = mapped_column(SmallInteger)
    start_date: Mapped[dt.date | None] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    work_hours_start: Mapped[dt.time | None] = mapped_column(Time)
    work_hours_end: Mapped[dt.time | None] = mapped_column(Time)
    night_work_permitted: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default="false"
    )
    owner: Mapped[str | None] = mapped_column(Text)
    survey: Mapped[str | None] = mapped_column(Text)
    design: Mapped[str | None] = mapped_column(Text)
    contractor: Mapped[str | None] = mapped_column(Text)
    supervisor: Mapped[str | None] = mapped_column(Text)
    liaison_officer: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    geom = _geom("GEOMETRY")
    created_at, updated_at = _timestamps()
    parcels: Mapped[list[Parcel]] = relationship(secondary=site_parcels, back_populates="sites")

    __table_args__ = (
        CheckConstraint(f"kind IN {SITE_KINDS}", name="ck_sites_kind"),
        CheckConstraint(f"status IN {SITE_STATUSES}", name="ck_sites_status"),
        CheckConstraint("progress_pct BETWEEN 0 AND 100", name="ck_sites_progress"),
        CheckConstraint(
            "end_date IS NULL OR start_date IS NULL OR end_date >= start_date",
            name="ck_sites_dates",
        ),
        CheckConstraint(
            "GeometryType(geom) IN ('POLYGON','MULTIPOLYGON','LINESTRING','MULTILINESTRING')",
            name="ck_sites_geom_type",
        ),
        _geometry_index("sites"),
    )


class Community(Base):
    """A residential community (小区/社区) with its GB 3096 acoustic class."""

    __tablename__ = "communities"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True, nullable=False)
    street_office: Mapped[str | None] = mapped_column(Text)
    district: Mapped[str | None] = mapped_column(Text)
    acoustic_class: Mapped[str] = mapped_column(String(2), nullable=False, server_default="2")
    geom = _geom("MULTIPOLYGON")
    created_at, updated_at = _timestamps()

    __table_args__ = (
        CheckConstraint(f"acoustic_class IN {ACOUSTIC_CLASSES}", name="ck_communities_class"),
        _geometry_index("communities"),
    )


class Building(Base):
    """A residential building; households reference it by address."""

    __tablename__ = "buildings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    address: Mapped[str] = mapped_column(Text, unique=True, nullable=False)
    community_id: Mapped[int | None] = mapped_column(
        ForeignKey("communities.id", ondelete="RESTRICT")
    )
    floors: Mapped[int | None] = mapped_column(SmallInteger)
    households_count: Mapped[int | None] = mapped_column(Integer)
    geom = _geom("MULTIPOLYGON")
    created_at, updated_at = _timestamps()

    __table_args__ = (
        CheckConstraint("floors IS NULL OR floors BETWEEN 1 AND 200", name="ck_buildings_floors"),
        Index("ix_buildings_community", "community_id"),
        _geometry_index("buildings"),
    )


class Household(Base):
    """A dwelling and its residents; contact and vulnerability fields are personal."""

    __tablename__ = "households"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    building_id: Mapped[int] = mapped_column(
        ForeignKey("buildings.id", ondelete="RESTRICT"), nullable=False
    )
    unit_label: Mapped[str] = mapped_column(String(32), nullable=False)
    residents: Mapped[int | None] = mapped_column(SmallInteger)
    contact_name: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(32))
    elderly: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    infant: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    disabled: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    night_shift: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    geom = _geom("POINT")
    created_at, updated_at = _timestamps()

    __table_args__ = (
        UniqueConstraint("building_id", "unit_label", name="uq_households_building_unit"),
        CheckConstraint(
            "residents IS NULL OR residents BETWEEN 0 AND 50", name="ck_households_residents"
        ),
        _geometry_index("households"),
    )


# -- access control and audit (migration 0002) ---------------------------------------------------
class User(Base):
    """A person who signs in; ``role`` names an entry of ``geo_service.access.ROLES``."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), nullable=False)
    # Argon2id; NULL for a user who only uses API tokens issued for them.
    password_hash: Mapped[str | None] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(32), nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="true")
    created_at, updated_at = _timestamps()

    __table_args__ = (Index("uq_users_username", func.lower(username), unique=True),)


# Site assignments by site code, the stable feature id: they survive a re-import of sites
# (which renews row ids) and resolve to current rows when a request is authorised.
user_sites = Table(
    "user_sites",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("site_code", String(64), primary_key=True),
)


class ApiToken(Base):
    """A token for GIS tools and scripts; only the SHA-256 of its secret is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prefix: Mapped[str] = mapped_column(String(16), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    role: Mapped[str] = mapped_column(String(32), nullable=False)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    label: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_api_tokens_prefix", "prefix"),)


token_sites = Table(
    "token_sites",
    Base.metadata,
    Column("token_id", ForeignKey("api_tokens.id", ondelete="CASCADE"), primary_key=True),
    Column("site_code", String(64), primary_key=True),
)


class AuditLog(Base):
    """One audited event; append-only (triggers refuse UPDATE, DELETE and TRUNCATE).

    No foreign keys: the record of what a user did outlives the user and the site.
    """

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    actor: Mapped[str | None] = mapped_column(Text)
    role: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(32), nullable=False)
    target: Mapped[str | None] = mapped_column(Text)
    record_count: Mapped[int | None] = mapped_column(Integer)
    client: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict] = mapped_column(JSONB, nullable=False, server_default="{}")

    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_actor_at", "actor", "at"),
        Index("ix_audit_log_action_at", "action", "at"),
        # What the sign-in rate limit asks on every failed attempt (geo_service.auth).
        Index(
            "ix_audit_log_failed_actor",
            func.lower(actor),
            "at",
            postgresql_where=text("action = 'login_failed'"),
        ),
        Index(
            "ix_audit_log_failed_client",
            "client",
            "at",
            postgresql_where=text("action = 'login_failed'"),
        ),
    )

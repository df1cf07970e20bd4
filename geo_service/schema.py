"""The stored schema as SQLAlchemy Core tables: the layers' tables derived from their
declarations in ``layers/``, and the service's own tables (accounts, audit, impact settings).

Geometries are stored in EPSG:4326 (what goes on the wire) with one GiST index each.
Metre distances are computed on the spheroid (``geography``, exact to millimetres
anywhere) behind a bounding-box test that uses that index: see ``geo_service.spatial``.

``metadata`` is what the migrations must build: ``tests/test_schema.py`` compares it with
a migrated database (Alembic's ``compare_metadata``, and the CHECK constraints by name), so
the two cannot drift, and ``alembic revision --autogenerate`` writes the migration of a new
layer from its declaration. Nothing queries through these objects: readers build their SQL
with ``geo_service.query`` from the same declarations.
"""

from __future__ import annotations

from collections.abc import Iterable

from geoalchemy2 import Geometry
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Computed,
    Connection,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeEngine

from layers import LAYERS
from layers.base import Field, Layer, Reference

SRID = 4326
MERCATOR_SRID = 3857

# A field's column type when its declaration names none.
_TYPES: dict[str, type[TypeEngine]] = {
    "str": Text,
    "int": Integer,
    "float": Float,
    "bool": Boolean,
    "date": Date,
    "time": Time,
}


def _quoted(values: Iterable[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def _column_type(fld: Field) -> TypeEngine:
    if fld.sql is not None:
        return fld.sql
    if fld.kind == "str_list":
        return ARRAY(Text())
    return _TYPES[fld.kind]()


def _field_column(table: str, fld: Field) -> tuple[Column, list[CheckConstraint]]:
    if fld.computed:
        generated: tuple = (Computed(fld.computed, persisted=True),)
        default = None
    else:
        generated, default = (), None if fld.default is None else text(fld.default)
    column = Column(
        fld.name, _column_type(fld), *generated, nullable=fld.is_nullable, server_default=default
    )
    checks = []
    if fld.choices:
        checks.append(CheckConstraint(f"{fld.name} IN ({_quoted(fld.choices)})"))
    if fld.check:
        checks.append(CheckConstraint(fld.check))
    for check in checks:
        check.name = f"ck_{table}_{fld.name}"
    return column, checks


def _timestamps() -> list[Column]:
    return [
        Column(name, DateTime(timezone=True), server_default=func.now(), nullable=False)
        for name in ("created_at", "updated_at")
    ]


def _reference_column(ref: Reference) -> Column:
    target = LAYERS[ref.layer]
    return Column(
        ref.column,
        BigInteger if target.big_ids else Integer,
        ForeignKey(f"{target.table}.id", ondelete=ref.on_delete),
        nullable=not ref.required,
    )


def layer_table(layer: Layer, metadata: MetaData) -> Table:
    """A stored layer's table: id, fields (references as the ids they resolve to), the
    geometry and its Web Mercator copy, timestamps; the natural key unique; GiST on geom."""
    columns: list[Column] = [
        Column("id", BigInteger if layer.big_ids else Integer, primary_key=True)
    ]
    constraints: list = []
    indexes: list[Index] = []
    key = set(layer.natural_key)
    for fld in layer.fields:
        ref = layer.reference(fld.name)
        if ref is not None and ref.many:
            continue
        if ref is not None:
            column = _reference_column(ref)
        else:
            column, checks = _field_column(layer.table, fld)
            constraints += checks
        if len(key) == 1 and column.name in key:
            column.unique = True
        if fld.index:
            indexes.append(Index(f"ix_{layer.table}_{fld.name}", column.name))
        columns.append(column)
    columns.append(
        Column("geom", Geometry(layer.geometry, srid=SRID, spatial_index=False), nullable=False)
    )
    if layer.mercator:
        columns.append(
            Column(
                layer.mercator,
                Geometry(srid=-1, spatial_index=False),
                Computed(f"ST_Transform(geom, {MERCATOR_SRID})", persisted=True),
            )
        )
    columns += _timestamps()
    if layer.geometry == "GEOMETRY":
        kinds = _quoted(t.upper() for t in layer.geometry_types)
        constraints.append(
            CheckConstraint(f"GeometryType(geom) IN ({kinds})", name=f"ck_{layer.table}_geom_type")
        )
    constraints += [CheckConstraint(sql, name=name) for name, sql in layer.checks]
    if len(key) > 1:
        constraints.append(
            UniqueConstraint(*key_columns(layer), name=f"uq_{layer.table}_natural_key")
        )
    indexes.append(Index(f"ix_{layer.table}_geom", "geom", postgresql_using="gist"))
    return Table(layer.table, metadata, *columns, *constraints, *indexes)


def key_columns(layer: Layer) -> tuple[str, ...]:
    """The natural key as stored columns (a household's building is its ``building_id``)."""
    return tuple(
        ref.column if (ref := layer.reference(name)) is not None else name
        for name in layer.natural_key
    )


def link_tables(layer: Layer, metadata: MetaData) -> list[Table]:
    """The link tables of a layer's many-valued references (``site_parcels``)."""
    tables = []
    for ref in layer.references:
        if ref.link is None:
            continue
        target = LAYERS[ref.layer]
        tables.append(
            Table(
                ref.link.table,
                metadata,
                Column(
                    ref.link.owner_column,
                    ForeignKey(f"{layer.table}.id", ondelete="CASCADE"),
                    primary_key=True,
                ),
                Column(
                    ref.column,
                    ForeignKey(f"{target.table}.id", ondelete=ref.on_delete),
                    primary_key=True,
                ),
                Index(f"ix_{ref.link.table}_{ref.column}", ref.column),
            )
        )
    return tables


# Accounts and the audit log: not data the maps or feeds read (``data_tables``).
ACCOUNT = {"account": True}


def _access_tables(metadata: MetaData) -> None:
    """Users, their site assignments, API tokens (migration 0002)."""
    users = Table(
        "users",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("username", String(64), nullable=False),
        # Argon2id; NULL for a user who only uses API tokens issued for them.
        Column("password_hash", Text),
        # An entry of geo_service.access.ROLES.
        Column("role", String(32), nullable=False),
        Column("active", Boolean, nullable=False, server_default=text("true")),
        *_timestamps(),
        info=ACCOUNT,
    )
    Index("uq_users_username", func.lower(users.c.username), unique=True)
    # Site assignments by site code, the stable feature id: they survive a re-import of
    # sites (which renews row ids) and resolve to current rows when a request is authorised.
    Table(
        "user_sites",
        metadata,
        Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        Column("site_code", String(64), primary_key=True),
        info=ACCOUNT,
    )
    # Only the SHA-256 of a token's secret is stored.
    Table(
        "api_tokens",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("prefix", String(16), nullable=False, index=True),
        Column("token_hash", String(64), unique=True, nullable=False),
        Column("role", String(32), nullable=False),
        Column("user_id", ForeignKey("users.id", ondelete="CASCADE")),
        Column("label", Text),
        Column("created_by", Text),
        Column("created_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
        Column("expires_at", DateTime(timezone=True), nullable=False),
        Column("revoked_at", DateTime(timezone=True)),
        info=ACCOUNT,
    )
    Table(
        "token_sites",
        metadata,
        Column("token_id", ForeignKey("api_tokens.id", ondelete="CASCADE"), primary_key=True),
        Column("site_code", String(64), primary_key=True),
        info=ACCOUNT,
    )


def _audit_table(metadata: MetaData) -> None:
    """One audited event a row; append-only (triggers refuse UPDATE, DELETE and TRUNCATE).

    No foreign keys: the record of what a user did outlives the user and the site.
    """
    audit = Table(
        "audit_log",
        metadata,
        Column("id", BigInteger, Identity(always=True), primary_key=True),
        Column("at", DateTime(timezone=True), server_default=func.now(), nullable=False),
        Column("actor", Text),
        Column("role", String(32)),
        Column("action", String(32), nullable=False),
        Column("target", Text),
        Column("record_count", Integer),
        Column("client", Text),
        Column("detail", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_actor_at", "actor", "at"),
        Index("ix_audit_log_action_at", "action", "at"),
        info={**ACCOUNT, "append_only": True},
    )
    # What the sign-in rate limit asks on every failed attempt (geo_service.auth.throttle).
    failed = text("action = 'login_failed'")
    Index(
        "ix_audit_log_failed_actor", func.lower(audit.c.actor), audit.c.at, postgresql_where=failed
    )
    Index("ix_audit_log_failed_client", audit.c.client, audit.c.at, postgresql_where=failed)


def _impact_tables(metadata: MetaData) -> None:
    """Reference data of the noise model (synced from geo_service/reference by every
    migrate) and each site's settings and planned equipment (migration 0003)."""
    reference = {"reference": True}
    Table(
        "equipment_types",
        metadata,
        Column("code", String(40), primary_key=True),
        Column("name_zh", Text, nullable=False),
        Column("name_en", Text, nullable=False),
        Column("lmax_15m_dba", Float, nullable=False),
        Column("usage_factor_pct", Float, nullable=False),
        Column("ppv_25ft_in_s", Float),
        CheckConstraint("usage_factor_pct > 0 AND usage_factor_pct <= 100", name="ck_equipment_uf"),
        info=reference,
    )
    Table(
        "acoustic_limits",
        metadata,
        Column("acoustic_class", String(2), primary_key=True),
        Column("day_dba", Float, nullable=False),
        Column("night_dba", Float, nullable=False),
        Column("name_zh", Text, nullable=False),
        Column("name_en", Text, nullable=False),
        info=reference,
    )
    Table(
        "impact_model",
        metadata,
        Column("id", Boolean, primary_key=True, server_default=text("true")),
        *(
            Column(name, Float, nullable=False)
            for name in (
                "reference_distance_m",
                "minimum_distance_m",
                "vib_reference_ft",
                "vib_exponent",
                "damage_ppv_in_s",
                "annoyance_ppv_in_s",
            )
        ),
        Column("default_class", String(2), nullable=False),
        Column("boundary_day_dba", Float, nullable=False),
        Column("boundary_night_dba", Float, nullable=False),
        Column("default_bands_m", ARRAY(Float), nullable=False),
        Column("default_kinds", ARRAY(Text), nullable=False),
        CheckConstraint("id", name="ck_impact_model_single_row"),
        CheckConstraint(
            "bands_increasing(default_bands_m)", name="ck_impact_model_bands_increasing"
        ),
        info=reference,
    )
    Table(
        "site_impact_settings",
        metadata,
        Column("site_id", ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True),
        Column("bands_m", ARRAY(Float)),
        Column("kinds", ARRAY(Text)),
        Column("active_phase", Text),
        Column("updated_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
        CheckConstraint(
            "bands_m IS NULL OR cardinality(bands_m) BETWEEN 1 AND 10", name="ck_site_impact_bands"
        ),
        CheckConstraint("bands_increasing(bands_m)", name="ck_site_impact_bands_increasing"),
    )
    Table(
        "site_equipment",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("site_id", ForeignKey("sites.id", ondelete="CASCADE"), nullable=False),
        Column("phase", Text, nullable=False, server_default=text("'main'::text")),
        Column(
            "equipment_code",
            ForeignKey("equipment_types.code", ondelete="RESTRICT"),
            nullable=False,
        ),
        Column("count", Integer, nullable=False, server_default=text("1")),
        Column("night_work", Boolean, nullable=False, server_default=text("false")),
        Column("attenuation_db", Float, nullable=False, server_default=text("0")),
        CheckConstraint("count BETWEEN 1 AND 1000", name="ck_site_equipment_count"),
        CheckConstraint("attenuation_db BETWEEN 0 AND 40", name="ck_site_equipment_att"),
        Index("ix_site_equipment_site", "site_id", "phase"),
    )


def _secret_tables(metadata: MetaData) -> None:
    """The key that perturbs counts of sensitive attributes (``geo_service.impact.disclosure``),
    made at random by migration 0009: the service reads it, nothing writes or empties it."""
    Table(
        "disclosure_key",
        metadata,
        Column("id", Boolean, primary_key=True, server_default=text("true")),
        Column("salt", Text, nullable=False, server_default=text("(gen_random_uuid())::text")),
        CheckConstraint("id", name="ck_disclosure_key_one_row"),
        info={"secret": True},
    )


def build_metadata(layers: Iterable[Layer]) -> MetaData:
    """The whole schema for these stored layers (in dependency order)."""
    metadata = MetaData()
    for layer in layers:
        layer_table(layer, metadata)
        link_tables(layer, metadata)
    _access_tables(metadata)
    _audit_table(metadata)
    _secret_tables(metadata)
    _impact_tables(metadata)
    return metadata


metadata = build_metadata(LAYERS.values())


def data_tables() -> tuple[str, ...]:
    """The tables the maps, feeds and impact views read (not the accounts or the audit
    log): every layer's and link table, and the impact settings and reference data."""
    return tuple(
        t.name
        for t in metadata.sorted_tables
        if not (t.info.get("account") or t.info.get("secret"))
    )


def resettable_tables() -> tuple[str, ...]:
    """What a test (or a demo reload) may empty: all but the reference data synced from
    ``geo_service/reference``, the append-only audit log and the disclosure key."""
    return tuple(
        t.name
        for t in reversed(metadata.sorted_tables)
        if not (t.info.get("reference") or t.info.get("append_only") or t.info.get("secret"))
    )


# Every statement that writes a data table says so on this channel (``geo_service.tilecache``
# listens). NOTIFY is transactional: delivered at commit, never on rollback; a statement
# trigger costs one call per statement, so a million-row COPY sends one notification.
NOTIFY_CHANNEL = "geo_service_data"


def sync_triggers(conn: Connection) -> None:
    """Give every data table that exists its data-changed trigger (migration 0005 made the
    function): a new layer's table is watched without a list to extend."""
    if conn.execute(text("SELECT to_regproc('notify_data_changed')")).scalar() is None:
        return
    existing = conn.execute(
        text("SELECT t FROM unnest(CAST(:tables AS text[])) t WHERE to_regclass(t) IS NOT NULL"),
        {"tables": list(data_tables())},
    ).scalars()
    for table in existing.all():
        conn.execute(
            text(
                f'CREATE OR REPLACE TRIGGER "{table}_data_changed" '
                f'AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "{table}" '
                "FOR EACH STATEMENT EXECUTE FUNCTION notify_data_changed()"
            )
        )

"""The stored schema as SQLAlchemy Core tables: the layers' tables derived from their
declarations in ``layers/``, and the service's own tables (accounts, audit, impact settings),
which ``geo_service.own_tables`` declares.

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

import re
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
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.types import TypeEngine

from geo_service import own_tables
from layers import STORED_LAYERS
from layers.base import SEARCH_COLUMN, Field, Layer, Reference

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
    if fld.kind == "datetime":
        return DateTime(timezone=True)
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
    if fld.between:
        checks.append(CheckConstraint(range_check(fld)))
    if fld.check:
        checks.append(CheckConstraint(fld.check))
    for check in checks:
        check.name = f"ck_{table}_{fld.name}"
    return column, checks


def range_check(fld: Field) -> str:
    """The CHECK of a field's ``between`` and ``step``: the import checks the same in Python."""
    assert fld.between is not None
    low, high = (f"{v:g}" for v in fld.between)
    condition = f"{fld.name} BETWEEN {low} AND {high}"
    if fld.step:
        condition = (
            f"({condition} AND {fld.name} / {fld.step:g} = round({fld.name} / {fld.step:g}))"
        )
    return f"{fld.name} IS NULL OR {condition}"


def _reference_column(ref: Reference) -> Column:
    target = STORED_LAYERS[ref.layer]
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
    columns += own_tables.timestamps()
    if layer.search is not None:
        # Not a field: written by the import (geo_service.pinyin), read only by search.
        columns.append(Column(SEARCH_COLUMN, Text, nullable=True))
        indexes += search_indexes(layer)
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
    indexes += [Index(name, *cols) for name, cols in layer.indexes]
    return Table(layer.table, metadata, *columns, *constraints, *indexes)


def search_indexes(layer: Layer) -> list[Index]:
    """A pg_trgm GIN index on each search key and on the pinyin, which the search's
    ``ILIKE '%...%'`` uses for a query of three characters or more: 1.5-2.5 ms instead of
    17-25 ms on the city's 24,859 buildings, nearly idle (``benchmarks/search.py``). Shorter
    queries have no trigram and scan, as they match most rows anyway."""
    assert layer.search is not None
    return [
        Index(
            f"ix_{layer.table}_{column}_trgm",
            column,
            postgresql_using="gin",
            postgresql_ops={column: "gin_trgm_ops"},
        )
        for column in (*layer.search.keys, SEARCH_COLUMN)
    ]


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
        target = STORED_LAYERS[ref.layer]
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


def build_metadata(layers: Iterable[Layer]) -> MetaData:
    """The whole schema for these stored layers (in dependency order)."""
    metadata = MetaData()
    for layer in layers:
        layer_table(layer, metadata)
        link_tables(layer, metadata)
    own_tables.access_tables(metadata)
    own_tables.audit_table(metadata)
    own_tables.secret_tables(metadata)
    own_tables.impact_tables(metadata)
    own_tables.import_tables(metadata)
    own_tables.monitoring_tables(metadata)
    own_tables.mitigation_tables(metadata)
    own_tables.liaison_tables(metadata)
    own_tables.alarm_tables(metadata)
    own_tables.night_work_tables(metadata)
    own_tables.wish_tables(metadata)
    return metadata


metadata = build_metadata(STORED_LAYERS.values())


def data_tables() -> tuple[str, ...]:
    """The tables the maps, feeds and impact views read (not the accounts or the audit
    log): every layer's and link table, and the impact settings and reference data."""
    return tuple(
        t.name
        for t in metadata.sorted_tables
        if not (t.info.get("account") or t.info.get("secret") or t.info.get("stream"))
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


PARTITION = re.compile(r"readings_\d{4}_\d{2}")


def is_partition(name: str) -> bool:
    """A monthly partition of ``readings`` (made at run time, or detached by retention):
    not in the declared schema, and no migration's to compare."""
    return PARTITION.fullmatch(name) is not None

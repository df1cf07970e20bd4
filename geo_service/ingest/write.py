"""The all-or-nothing writer: rows reach PostgreSQL by ``COPY`` in the import's transaction.

What belongs here: the choice of target (the layer's table, or a staging table merged by
the mode), appends, upserts and replaces, the links of many-valued references, the bulk
path that suspends indexes and constraints, and the CSV encoding COPY reads.
"""

from __future__ import annotations

import contextlib
import io
import queue
import threading
from dataclasses import dataclass

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import Connection, text

from geo_service.errors import ImportRejected, RowProblem
from geo_service.ingest.progress import Progress
from geo_service.ingest.report import ImportReport
from geo_service.pinyin import write_spellings
from geo_service.schema import key_columns
from layers.base import SEARCH_COLUMN, Field, Layer

# Above this many rows into an empty table, GiST indexes are dropped and rebuilt after COPY:
# one sorted build is several times faster than a million index insertions.
BULK_INDEX_ROWS = 50_000


@dataclass
class _Target:
    """Where the rows are COPYed: the layer's table, or a staging table to merge from."""

    table: str
    columns: list[str]
    staging: bool
    restore: list[str]


def open_target(
    conn: Connection,
    layer: Layer,
    mode: str,
    rows: int,
    report: ImportReport,
    present: set[str],
    merge_parts: bool = False,
) -> _Target:
    """Apply the mode's first step and choose the fastest safe way in for these rows.

    Only columns the file has are written: the others keep their defaults on insert and
    their stored values on upsert. Parts to merge are always staged, to be grouped there.
    """
    table = layer.table
    if mode == "replace":
        report.deleted = _delete_all(conn, layer)
    empty = not conn.execute(text(f"SELECT EXISTS (SELECT 1 FROM {table})")).scalar_one()
    from_refs = {r.column: r.field for r in layer.references}
    derived = {f.name for f in layer.fields if f.derived}
    columns = [
        c
        for c in layer.stored_columns
        if c not in _generated(layer) and (c in derived or from_refs.get(c, c) in present)
    ] + ["geom"]
    if _spelt_on_copy(layer, mode, present, merge_parts):
        columns.append(SEARCH_COLUMN)
    if empty and mode != "upsert" and not merge_parts:
        bulk = rows >= BULK_INDEX_ROWS and _owns(conn, table)
        restore = _suspend_checks(conn, table) if bulk else []
        return _Target(table, columns, staging=False, restore=restore)
    conn.execute(
        text(
            f"CREATE TEMP TABLE _import ON COMMIT DROP AS SELECT {', '.join(columns)} "
            f"FROM {table} WITH NO DATA"
        )
    )
    conn.execute(text("ALTER TABLE _import ADD COLUMN _row integer"))
    return _Target("_import", [*columns, "_row"], staging=True, restore=[])


def staged_problems(
    conn: Connection, layer: Layer, target: _Target, mode: str, merge_parts: bool
) -> list[RowProblem]:
    """What only the staged rows can show: keys already stored (append), and parts of one
    key whose values disagree (merged parts)."""
    if not target.staging:
        return []
    problems: list[RowProblem] = []
    key = ", ".join(layer.natural_key)
    if mode == "append":
        clashes = conn.execute(
            text(f"SELECT DISTINCT i._row FROM _import i JOIN {layer.table} t USING ({key})")
        ).scalars()
        problems += [
            RowProblem(
                r,
                "/".join(layer.natural_key),
                "already stored; import with mode upsert to update it, or replace to start over",
            )
            for r in clashes
        ]
    if merge_parts:
        problems += _part_conflicts(conn, layer, target)
    return sorted(problems, key=lambda p: p.row)


def drop_staged(conn: Connection, rows: set[int]) -> None:
    """Leave staged rows out of the import (the rows ``--on-invalid skip`` skips)."""
    if rows:
        conn.execute(text("DELETE FROM _import WHERE _row = ANY(:rows)"), {"rows": sorted(rows)})


def finish_target(
    conn: Connection,
    layer: Layer,
    target: _Target,
    mode: str,
    report: ImportReport,
    progress: Progress,
    merge_parts: bool = False,
) -> None:
    """Rebuild what a bulk load suspended, or merge the staged rows by the mode."""
    table = layer.table
    if not target.staging:
        report.inserted = report.rows - report.skipped_rows
        if target.restore:
            progress.stage("indexing")
            conn.execute(text("SET LOCAL maintenance_work_mem = '1GB'"))
            for statement in target.restore:
                conn.execute(text(statement))
        # As the owner, whichever role imports (``geo_service.grants``).
        conn.execute(text("SELECT service_analyze(CAST(:t AS regclass))"), {"t": table})
        return
    source = _merge_parts(conn, layer, target, report) if merge_parts else "_import"
    key = ", ".join(layer.natural_key)
    cols = ", ".join(target.columns[:-1])
    if mode == "append":
        report.inserted = conn.execute(
            text(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {source}")
        ).rowcount
        _spell(conn, layer, target, source)
        return
    updates = ", ".join(
        f"{c} = EXCLUDED.{c}" for c in target.columns[:-1] if c not in layer.natural_key
    )
    flags = (
        conn.execute(
            text(
                f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {source} "
                f"ON CONFLICT ({key}) DO UPDATE SET {updates}, updated_at = now() "
                "RETURNING (xmax = 0)"
            )
        )
        .scalars()
        .all()
    )
    report.inserted = sum(flags)
    report.updated = len(flags) - report.inserted
    _spell(conn, layer, target, source)


def _spelt_on_copy(layer: Layer, mode: str, present: set[str], merge_parts: bool) -> bool:
    """Whether the rows bring their pinyin (``pinyin.spelt_column``) into the table: yes,
    unless an upsert leaves a search key out (the pinyin must spell the value it keeps) or
    parts are merged (the pinyin of the merged row). Written with the rows, the city's
    24,859 buildings import in 1.5 s, against 2.4 s with an UPDATE after the COPY (0.8 s
    with neither the pinyin nor its trigram indexes; best of 5, loaded machine)."""
    if layer.search is None or merge_parts:
        return False
    return mode != "upsert" or set(layer.search.keys) <= present


def _spell(conn: Connection, layer: Layer, target: _Target, source: str) -> None:
    """The pinyin of the rows just merged from ``source`` that did not bring theirs, read
    back from the table once written."""
    if layer.search is None or SEARCH_COLUMN in target.columns:
        return
    stored = ", ".join(f"m.{c}" for c in key_columns(layer))
    where = f"({stored}) IN (SELECT {', '.join(key_columns(layer))} FROM {source})"
    write_spellings(conn, layer.table, layer.search.keys, where)


def _part_fields(layer: Layer, target: _Target) -> list[tuple[str, Field]]:
    """The staged columns besides the key and the geometry, each with the field it holds."""
    from_refs = {r.column: r.field for r in layer.references}
    return [
        (c, layer.field(from_refs.get(c, c)))
        for c in target.columns[:-1]
        if c != "geom" and c not in layer.natural_key
    ]


def _part_conflicts(conn: Connection, layer: Layer, target: _Target) -> list[RowProblem]:
    """Parts of one key with different values of a field that must be the same (a building's
    community); an empty cell agrees with any value."""
    key = ", ".join(layer.natural_key)
    problems = []
    for column, fld in _part_fields(layer, target):
        if fld.merge != "same" or fld.derived:
            continue
        rows = conn.execute(
            text(
                f"SELECT i._row, min(j._row), i.{layer.natural_key[0]} FROM _import i "
                f"JOIN _import j USING ({key}) WHERE j._row < i._row AND i.{column} IS NOT NULL "
                f"AND j.{column} IS NOT NULL AND i.{column} IS DISTINCT FROM j.{column} "
                f"GROUP BY i._row, i.{layer.natural_key[0]}"
            )
        ).all()
        problems += [
            RowProblem(
                row,
                fld.name,
                f"differs from row {first}, another part of {value!r}: the parts merged into "
                "one must agree (or leave it empty in all but one)",
            )
            for row, first, value in rows
        ]
    return problems


def _merge_parts(conn: Connection, layer: Layer, target: _Target, report: ImportReport) -> str:
    """One row per natural key: the parts' polygons unioned into one multipolygon, each field
    as its declaration says (``Field.merge``: the same value, the largest, the sum)."""
    key = ", ".join(layer.natural_key)
    aggregates = []
    for column, fld in _part_fields(layer, target):
        if fld.merge == "sum":
            aggregates.append(f"sum({column}) AS {column}")
        elif fld.merge == "max" or fld.kind != "bool":
            aggregates.append(f"max({column}) AS {column}")  # "same": the one value there is
        else:
            aggregates.append(f"bool_or({column}) AS {column}")
    conn.execute(
        text(
            f"CREATE TEMP TABLE _merged ON COMMIT DROP AS SELECT {key}, "
            + "".join(f"{a}, " for a in aggregates)
            + f"ST_Multi(ST_Union(geom)) AS geom, min(_row) AS _row FROM _import GROUP BY {key}"
        )
    )
    staged, merged = conn.execute(
        text("SELECT (SELECT count(*) FROM _import), (SELECT count(*) FROM _merged)")
    ).one()
    report.merged = int(staged - merged)
    return "_merged"


def _generated(layer: Layer) -> set[str]:
    return {f.name for f in layer.fields if f.computed}


def write_links(
    conn: Connection, layer: Layer, frame: gpd.GeoDataFrame, lookups: dict[str, dict]
) -> None:
    """A site's parcel list: replace the links of every imported site."""
    ref = next(r for r in layer.references if r.many)
    assert ref.link is not None
    link, owner = ref.link.table, ref.link.owner_column
    found = lookups[ref.field]
    codes = frame[layer.natural_key[0]].tolist()
    ids = dict(
        conn.execute(
            text(
                f"SELECT {layer.natural_key[0]}, id FROM {layer.table} WHERE "
                f"{layer.natural_key[0]} = ANY(:codes)"
            ),
            {"codes": codes},
        ).all()
    )
    pairs = [
        {"owner": ids[c], "target": found[k]}
        for c, cell in zip(codes, frame[ref.field], strict=True)
        for k in cell
    ]
    conn.execute(text(f"DELETE FROM {link} WHERE {owner} = ANY(:ids)"), {"ids": list(ids.values())})
    if pairs:
        conn.execute(
            text(f"INSERT INTO {link} ({owner}, {ref.column}) VALUES (:owner, :target)"), pairs
        )


def _delete_all(conn: Connection, layer: Layer) -> int:
    """Empty a table for a replace; refuse when rows of another layer still point at it."""
    from psycopg2.errors import ForeignKeyViolation
    from sqlalchemy.exc import IntegrityError

    try:
        with conn.begin_nested():
            return conn.execute(text(f"DELETE FROM {layer.table}")).rowcount
    except IntegrityError as exc:
        if isinstance(exc.orig, ForeignKeyViolation):
            referrer = exc.orig.diag.table_name or "another layer"
            raise ImportRejected(
                layer.id,
                summary=f"cannot replace {layer.id}: {referrer} still reference them; "
                f"replace or empty {referrer} first, or import with mode upsert",
            ) from None
        raise


def _owns(conn: Connection, table: str) -> bool:
    """Whether this connection may drop the table's indexes: the service's own role owns
    no table, so its large imports keep them (slower, never refused)."""
    return bool(
        conn.execute(
            text(
                "SELECT pg_has_role(current_user, relowner, 'USAGE') FROM pg_class "
                "WHERE oid = CAST(:t AS regclass)"
            ),
            {"t": table},
        ).scalar_one()
    )


def _suspend_checks(conn: Connection, table: str) -> list[str]:
    """Before a bulk load into an empty table: drop its GiST indexes, unique and foreign-key
    constraints (inside the import's transaction) and return the statements that restore
    them. One sorted index build and one join per foreign key are several times faster than
    a million index insertions and trigger calls; the rows were already checked in Python
    and the restored constraints check them again.
    """
    with contextlib.suppress(Exception), conn.begin_nested():
        # Emptied in this transaction, the table's rows need little WAL (wal_level minimal).
        conn.execute(text(f"TRUNCATE {table}"))
    constraints = conn.execute(
        text(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = CAST(:t AS regclass) AND contype IN ('u', 'f') ORDER BY contype DESC"
        ),
        {"t": table},
    ).all()
    indexes = conn.execute(
        text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = :t AND indexdef ILIKE '%USING gist%'"
        ),
        {"t": table},
    ).all()
    for name, _ in constraints:
        conn.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
    for name, _ in indexes:
        conn.execute(text(f'DROP INDEX "{name}"'))
    return [definition for _, definition in indexes] + [
        f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
        for name, definition in reversed(constraints)
    ]


class Copier:
    """A thread that COPYs encoded batches while the caller prepares the next one.

    The caller must not use the connection until the ``with`` block ends.
    """

    def __init__(self, conn: Connection, table: str, columns: list[str]) -> None:
        self._cursor = conn.connection.driver_connection.cursor()
        self._statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)"
        self._queue: queue.Queue[io.BytesIO | None] = queue.Queue(maxsize=2)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="import-copy", daemon=True)

    def _run(self) -> None:
        while (buffer := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._cursor.copy_expert(self._statement, buffer)
                except BaseException as exc:  # re-raised in the caller's thread
                    self._error = exc

    def put(self, buffer: io.BytesIO) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(buffer)

    def __enter__(self) -> Copier:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None and exc[0] is None:
            raise self._error


def csv_chunk(part: gpd.GeoDataFrame, columns: list[str]) -> io.BytesIO:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    arrays = {}
    for column in columns:
        if column == "geom":
            # PostGIS reads "SRID=4326;<hex WKB>", cheaper than stamping each geometry.
            wkb = pa.array(shapely.to_wkb(part.geometry.to_numpy(), hex=True), type=pa.string())
            arrays[column] = pc.binary_join_element_wise("SRID=4326;", wkb, "")
        else:
            arrays[column] = _arrow_column(part[column])
    buffer = io.BytesIO()
    pacsv.write_csv(
        pa.table(arrays), buffer, pacsv.WriteOptions(include_header=False, quoting_style="needed")
    )
    buffer.seek(0)
    return buffer


def _arrow_column(series: pd.Series):
    """One column as values PostgreSQL's CSV COPY reads (text arrays as ``{a,b}``)."""
    import pyarrow as pa

    if series.dtype == object and any(isinstance(v, list) for v in series.iloc[:50]):
        series = series.map(lambda v: "{" + ",".join(v) + "}" if isinstance(v, list) else None)
    array = pa.Array.from_pandas(series)
    # A column the file did not have is all null; CSV needs a concrete type to write it.
    return array.cast(pa.string()) if pa.types.is_null(array.type) else array

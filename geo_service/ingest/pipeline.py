"""The import pipeline: read, validate every row, then write all or nothing.

``import_file`` and ``import_frame`` belong here, with what ties the steps together: the
mode, the batches, the one transaction and its audit row. Reading is in ``read``, the row
checks in ``check`` and ``geometry``, the COPY writer in ``write``.
"""

from __future__ import annotations

import time
from pathlib import Path

import geopandas as gpd
import pandas as pd
from sqlalchemy import Engine

from geo_service import audit
from geo_service.access import Principal, local_operator
from geo_service.audit import AuditAction
from geo_service.errors import GeoServiceError, ImportRejected, RowProblem
from geo_service.ingest import skips
from geo_service.ingest.area import current_area
from geo_service.ingest.check import check_batch, check_duplicates, frame_for, load_references
from geo_service.ingest.progress import NoProgress, Progress
from geo_service.ingest.read import read_file
from geo_service.ingest.report import ImportReport, SkippedRow
from geo_service.ingest.write import (
    Copier,
    csv_chunk,
    drop_staged,
    finish_target,
    open_target,
    staged_problems,
    write_links,
)
from geo_service.pinyin import spelt_column
from geo_service.settings import ImportSettings
from layers import LAYERS, get_layer
from layers.base import SEARCH_COLUMN, Layer

MODES = ("append", "replace", "upsert")
# What a row with a problem does: invalid geometries repaired (others refuse the import),
# invalid geometries refused, or every row with a problem skipped and reported.
ON_INVALID = ("repair", "reject", "skip")
BATCH_ROWS = 50_000


def import_file(
    engine: Engine,
    layer_id: str,
    path: Path,
    *,
    settings: ImportSettings,
    mode: str = "append",
    crs: str | None = None,
    on_invalid: str = "repair",
    progress: Progress | None = None,
    source: str | None = None,
    principal: Principal | None = None,
    file_layer: str | None = None,
    merge_parts: bool = False,
) -> ImportReport:
    """Import one file into a layer; raises ``ImportRejected`` and writes nothing on any problem.

    ``settings`` come from the caller (the CLI, the API route), which reads them at its edge.
    ``file_layer`` names the layer to read in a file that holds several (a GeoPackage);
    ``merge_parts`` makes rows that share a natural key one feature (``import_frame``).
    """
    progress = progress or NoProgress()
    layer = get_layer(layer_id)
    _check_mode(mode, on_invalid)
    started = time.perf_counter()
    label = (source or path.name) + (f", layer {file_layer}" if file_layer else "")
    progress.stage("reading")
    try:
        frame = read_file(path, crs=crs, settings=settings, name=source, layer=file_layer)
        report = import_frame(
            engine,
            layer.id,
            frame,
            mode=mode,
            on_invalid=on_invalid,
            settings=settings,
            progress=progress,
            source=label,
            principal=principal,
            merge_parts=merge_parts,
        )
    except GeoServiceError as exc:
        record_rejection(engine, principal or local_operator(), layer.id, label, mode, exc)
        raise
    report.seconds = time.perf_counter() - started
    return report


def import_frame(
    engine: Engine,
    layer_id: str,
    frame: gpd.GeoDataFrame,
    *,
    mode: str = "append",
    on_invalid: str = "repair",
    # Optional only until the demo loader passes its own; then required as in import_file.
    settings: ImportSettings | None = None,
    progress: Progress | None = None,
    source: str = "frame",
    principal: Principal | None = None,
    merge_parts: bool = False,
) -> ImportReport:
    """Validate a frame (with a CRS) against a layer and write it in one transaction.

    Rows are checked and encoded batch by batch while a thread COPYs the previous batch,
    so Python and PostgreSQL work at the same time. The first problem stops the writing
    but not the checking: the report lists every problem, and the transaction rolls back.

    With ``merge_parts``, rows that share a natural key are parts of one feature (the
    footprints of one address, as OpenStreetMap maps a building in parts): they are staged,
    checked one by one, and written as one row whose geometry is their union (PostGIS
    ``ST_Union``) and whose fields combine as the layer declares (``Field.merge``).
    """
    settings = settings or ImportSettings()
    progress = progress or NoProgress()
    layer = get_layer(layer_id)
    _check_mode(mode, on_invalid)
    _check_merge(layer, merge_parts)
    started = time.perf_counter()
    frame, ignored, filled = frame_for(layer, frame)
    present = {f.name for f in layer.fields if f.name in frame.columns}
    report = ImportReport(
        layer=layer.id,
        mode=mode,
        source=source,
        rows=len(frame),
        ignored_columns=ignored,
        filled_columns=filled,
    )
    rows = _Rows(layer, frame, skip=on_invalid == "skip", report=report)
    if not merge_parts:
        duplicates: list[RowProblem] = []
        check_duplicates(frame, layer, duplicates)
        frame = _without(frame, rows.skipped_of(duplicates))
    keep = [] if any(r.many for r in layer.references) else None
    try:
        with engine.begin() as conn:
            # Read per import, so an administrator's change applies at once, in every process.
            area = current_area(conn, settings)
            lookups = load_references(conn, layer, frame)
            target = open_target(conn, layer, mode, len(frame), report, present, merge_parts)
            progress.stage("importing", len(frame))
            with Copier(conn, target.table, target.columns) as copier:
                for start in range(0, len(frame), BATCH_ROWS):
                    batch = frame.iloc[start : start + BATCH_ROWS].copy()
                    found: list[RowProblem] = []
                    batch = check_batch(batch, layer, area, on_invalid, lookups, found, report)
                    batch = _without(batch, rows.skipped_of(found))
                    if SEARCH_COLUMN in target.columns and layer.search:
                        batch[SEARCH_COLUMN] = spelt_column(batch, layer.search.keys)
                    if not rows.problems:
                        copier.put(csv_chunk(batch, target.columns))
                    if keep is not None:
                        keep.append(batch)
                    progress.advance(len(batch))
            if not rows.problems:
                late = rows.skipped_of(staged_problems(conn, layer, target, mode, merge_parts))
                drop_staged(conn, late)
                if keep:  # a skipped site keeps the parcels it has
                    keep = [_without(batch, late) for batch in keep]
            if rows.problems:
                raise ImportRejected(layer.id, sorted(rows.problems, key=lambda p: p.row))
            finish_target(conn, layer, target, mode, report, progress, merge_parts)
            if keep:
                write_links(conn, layer, pd.concat(keep), lookups)
            skips.remember(conn, layer, report, replaced=mode == "replace")
            # In the import's transaction: the rows and the record of who wrote them
            # are committed together. Without a principal, whoever runs the code did.
            audit.record(
                conn,
                principal or local_operator(),
                AuditAction.IMPORT,
                target=layer.id,
                record_count=report.rows,
                detail=_audit_detail(report),
            )
    finally:
        progress.close()
    report.skipped.sort(key=lambda p: p.row)
    report.seconds = time.perf_counter() - started
    return report


def _without(frame: gpd.GeoDataFrame, rows: set[int]) -> gpd.GeoDataFrame:
    """The frame less the rows numbered ``rows`` (the same frame, uncopied, when none)."""
    return frame[~frame["_row"].isin(rows)] if rows else frame


class _Rows:
    """Where the problems of rows go: all of them refuse the import, or (``skip``) each row
    with one is left out and listed in the report with its natural key, as ogr2ogr's
    ``-skipfailures`` does but with the reasons."""

    def __init__(
        self, layer: Layer, frame: gpd.GeoDataFrame, *, skip: bool, report: ImportReport
    ) -> None:
        self.problems: list[RowProblem] = []
        self._skip, self._report = skip, report
        self._keys: dict[int, str] = {}  # natural keys, of the rows that have one
        if not skip:  # keys only name skipped rows: a million-row import needs none
            return
        ref_of = {r.column: r.field for r in layer.references}
        fields = [ref_of.get(k, k) for k in layer.natural_key]
        cells = frame[fields].astype("string").apply(lambda c: c.str.strip())
        keys = (
            cells.fillna("")
            .agg("/".join, axis=1)
            .where(cells.notna().all(axis=1) & (cells != "").all(axis=1))
        )
        self._keys = {
            int(r): k for r, k in zip(frame["_row"], keys, strict=True) if isinstance(k, str)
        }

    def skipped_of(self, found: list[RowProblem]) -> set[int]:
        """Refusing: keep the problems, skip nothing. Skipping: report them, skip their rows."""
        if not self._skip:
            self.problems += found
            return set()
        self._report.skipped += [
            SkippedRow(p.row, self._keys.get(p.row) or None, p.field, p.message) for p in found
        ]
        return {p.row for p in found}


def record_rejection(
    engine: Engine, principal: Principal, layer_id: str, source: str, mode: str, exc: Exception
) -> None:
    """Audit a refused import, in a transaction of its own (the import's rolled back).

    Counts and the summary only: problem messages quote cell values, maybe personal ones.
    """
    summary = exc.summary if isinstance(exc, ImportRejected) else getattr(exc, "message", "")
    with engine.begin() as conn:
        audit.record(
            conn,
            principal,
            AuditAction.IMPORT_REJECTED,
            target=layer_id,
            record_count=len(exc.problems) if isinstance(exc, ImportRejected) else 0,
            detail={
                "source": source,
                "mode": mode,
                "error": type(exc).__name__,
                "summary": summary[:200],
            },
        )


def _audit_detail(report: ImportReport) -> dict:
    """What the audit log keeps of an import: counts and the file's name, never its rows."""
    return {
        "source": report.source,
        "mode": report.mode,
        "inserted": report.inserted,
        "updated": report.updated,
        "deleted": report.deleted,
        "merged": report.merged,
        "repaired": len(report.repaired),
        "skipped": report.skipped_rows,
    }


def _check_merge(layer: Layer, merge_parts: bool) -> None:
    """Parts merge into a multipolygon: only layers stored as one can take them."""
    if merge_parts and layer.geometry != "MULTIPOLYGON":
        mergeable = ", ".join(lid for lid, lay in LAYERS.items() if lay.geometry == "MULTIPOLYGON")
        raise ImportRejected(
            layer.id,
            summary=f"merge_parts unions the polygons of rows that share a natural key into "
            f"one multipolygon; {layer.id} are {'/'.join(layer.geometry_types)}, so rows of "
            f"one key cannot be merged (layers that can: {mergeable})",
        )


def _check_mode(mode: str, on_invalid: str) -> None:
    if mode not in MODES:
        raise ImportRejected("?", summary=f"unknown import mode {mode!r}; use one of {MODES}")
    if on_invalid not in ON_INVALID:
        raise ImportRejected(
            "?", summary=f"on_invalid must be one of {', '.join(ON_INVALID)}, not {on_invalid!r}"
        )

"""Import of layer files: read, reproject, validate every row, then write all or nothing.

The same pipeline serves ``geo-service import``, ``POST /api/imports/{layer}`` and the
demo loader. Checks are vectorised (shapely 2, pandas) and the rows reach PostgreSQL by
``COPY``, so a million households import in seconds; problems are reported by row number
(row 1 is the first data row of the file) and nothing is written unless every row passes.
"""

from __future__ import annotations

import contextlib
import io
import queue
import threading
import time
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Protocol

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import shapely
from sqlalchemy import Connection, Engine, text

from geo_service import audit
from geo_service.access import Principal, local_operator
from geo_service.audit import AuditAction
from geo_service.errors import (
    ImportRejected,
    MissingCRS,
    RowProblem,
    UnknownCRS,
    UnsupportedFile,
    UploadTooLarge,
)
from geo_service.settings import ImportSettings
from layers import get_layer
from layers.base import Field, Layer

MODES = ("append", "replace", "upsert")
SUFFIXES = (".geojson", ".json", ".gpkg", ".zip", ".shp", ".csv")
# Above this many rows into an empty table, GiST indexes are dropped and rebuilt after COPY:
# one sorted build is several times faster than a million index insertions.
BULK_INDEX_ROWS = 50_000
BATCH_ROWS = 50_000
_LON = ("lon", "lng", "long", "longitude", "x", "经度")
_LAT = ("lat", "latitude", "y", "纬度")
_WKT = ("wkt", "geometry", "geom", "the_geom", "shape")
_TRUE = {"true", "t", "1", "yes", "y", "是", "有"}
_FALSE = {"false", "f", "0", "no", "n", "否", "无", ""}


# -- progress ---------------------------------------------------------------------------------
class Progress(Protocol):
    """Where a long import reports what it is doing."""

    def stage(self, name: str, total: int | None = None) -> None: ...
    def advance(self, n: int) -> None: ...
    def close(self) -> None: ...


class NoProgress:
    """Silent progress, for the API and tests."""

    def stage(self, name: str, total: int | None = None) -> None:
        pass

    def advance(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


class TqdmProgress:
    """A progress bar per stage on the terminal, for the CLI."""

    def __init__(self) -> None:
        self._bar = None

    def stage(self, name: str, total: int | None = None) -> None:
        from tqdm import tqdm

        self.close()
        self._bar = tqdm(
            total=total,
            desc=f"{name:<10}",
            unit=" rows" if total else "",
            leave=True,
            dynamic_ncols=True,
            bar_format=None if total else "{desc}",
        )

    def advance(self, n: int) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


# -- report -----------------------------------------------------------------------------------
@dataclass
class ImportReport:
    """What an import did; ``repaired`` lists geometries that were fixed, by row."""

    layer: str
    mode: str
    source: str
    rows: int
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    repaired: list[RowProblem] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        lines = [
            f"{self.layer}: {self.rows} row(s) from {self.source} ({self.mode}): "
            f"{self.inserted} inserted, {self.updated} updated, {self.deleted} deleted "
            f"in {self.seconds:.1f} s"
        ]
        if self.repaired:
            lines.append(f"{len(self.repaired)} invalid geometr(y/ies) repaired:")
            lines += [f"  {p}" for p in self.repaired[:20]]
        if self.ignored_columns:
            lines.append(f"ignored columns: {', '.join(self.ignored_columns)}")
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return {
            "layer": self.layer,
            "mode": self.mode,
            "source": self.source,
            "rows": self.rows,
            "inserted": self.inserted,
            "updated": self.updated,
            "deleted": self.deleted,
            "repaired": [p.__dict__ for p in self.repaired],
            "ignored_columns": self.ignored_columns,
            "seconds": round(self.seconds, 3),
        }


# -- entry points -----------------------------------------------------------------------------
def import_file(
    engine: Engine,
    layer_id: str,
    path: Path,
    *,
    mode: str = "append",
    crs: str | None = None,
    on_invalid: str = "repair",
    settings: ImportSettings | None = None,
    progress: Progress | None = None,
    source: str | None = None,
    principal: Principal | None = None,
) -> ImportReport:
    """Import one file into a layer; raises ``ImportRejected`` and writes nothing on any problem."""
    settings = settings or ImportSettings()
    progress = progress or NoProgress()
    layer = get_layer(layer_id)
    _check_mode(mode, on_invalid)
    started = time.perf_counter()
    progress.stage("reading")
    frame = read_file(path, crs=crs, settings=settings, name=source)
    report = import_frame(
        engine,
        layer.id,
        frame,
        mode=mode,
        on_invalid=on_invalid,
        settings=settings,
        progress=progress,
        source=source or path.name,
        principal=principal,
    )
    report.seconds = time.perf_counter() - started
    return report


def import_frame(
    engine: Engine,
    layer_id: str,
    frame: gpd.GeoDataFrame,
    *,
    mode: str = "append",
    on_invalid: str = "repair",
    settings: ImportSettings | None = None,
    progress: Progress | None = None,
    source: str = "frame",
    principal: Principal | None = None,
) -> ImportReport:
    """Validate a frame (with a CRS) against a layer and write it in one transaction.

    Rows are checked and encoded batch by batch while a thread COPYs the previous batch,
    so Python and PostgreSQL work at the same time. The first problem stops the writing
    but not the checking: the report lists every problem, and the transaction rolls back.
    """
    settings = settings or ImportSettings()
    progress = progress or NoProgress()
    layer = get_layer(layer_id)
    _check_mode(mode, on_invalid)
    started = time.perf_counter()
    frame, ignored = _frame_for(layer, frame)
    present = {f.name for f in layer.fields if f.name in frame.columns}
    problems: list[RowProblem] = []
    _check_duplicates(frame, layer, problems)
    report = ImportReport(
        layer=layer.id, mode=mode, source=source, rows=len(frame), ignored_columns=ignored
    )
    keep = [] if any(r.many for r in layer.references) else None
    try:
        with engine.begin() as conn:
            lookups = _load_references(conn, layer, frame)
            target = _open_target(conn, layer, mode, len(frame), report, present)
            progress.stage("importing", len(frame))
            with _Copier(conn, target.table, target.columns) as copier:
                for start in range(0, len(frame), BATCH_ROWS):
                    batch = frame.iloc[start : start + BATCH_ROWS].copy()
                    batch = _check_batch(
                        batch, layer, settings, on_invalid, lookups, problems, report
                    )
                    if not problems:
                        copier.put(_csv_chunk(batch, target.columns))
                    if keep is not None:
                        keep.append(batch)
                    progress.advance(len(batch))
            if problems:
                raise ImportRejected(layer.id, sorted(problems, key=lambda p: p.row))
            _finish_target(conn, layer, target, mode, report, progress)
            if keep:
                _write_links(conn, layer, pd.concat(keep), lookups)
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
    report.seconds = time.perf_counter() - started
    return report


def _audit_detail(report: ImportReport) -> dict:
    """What the audit log keeps of an import: counts and the file's name, never its rows."""
    return {
        "source": report.source,
        "mode": report.mode,
        "inserted": report.inserted,
        "updated": report.updated,
        "deleted": report.deleted,
        "repaired": len(report.repaired),
    }


def _check_mode(mode: str, on_invalid: str) -> None:
    if mode not in MODES:
        raise ImportRejected("?", summary=f"unknown import mode {mode!r}; use one of {MODES}")
    if on_invalid not in ("repair", "reject"):
        raise ImportRejected(
            "?", summary=f"on_invalid must be 'repair' or 'reject', not {on_invalid!r}"
        )


# -- reading ----------------------------------------------------------------------------------
def read_file(
    path: Path, *, crs: str | None, settings: ImportSettings, name: str | None = None
) -> gpd.GeoDataFrame:
    """Read any supported file into a frame with a CRS, or refuse it with the reason.

    ``name`` is what messages call the file (an upload's own name, not our temporary copy).
    """
    name = name or path.name
    size_mb = path.stat().st_size / 2**20
    if size_mb > settings.max_upload_mb:
        raise UploadTooLarge(
            f"{name} is {size_mb:.0f} MiB; the limit is {settings.max_upload_mb} MiB"
        )
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise UnsupportedFile(
            f"{name}: unsupported file type {suffix or '(none)'}; use GeoJSON, GeoPackage, "
            "a zipped Shapefile or CSV with lon/lat or WKT columns"
        )
    if suffix == ".csv":
        frame = _read_csv(path, name)
    else:
        source = _zip_source(path, settings, name) if suffix == ".zip" else str(path)
        frame = _read_vector(source, name, path)
    return _with_crs(frame, crs, name)


def _read_vector(source: str, name: str, path: Path) -> gpd.GeoDataFrame:
    try:
        layers = pyogrio.list_layers(source)
        if len(layers) == 0:
            raise UnsupportedFile(f"{name} holds no vector layer")
        if len(layers) > 1:
            names = ", ".join(str(n) for n in layers[:, 0])
            raise UnsupportedFile(f"{name} holds {len(layers)} layers ({names}); send one per file")
        return pyogrio.read_dataframe(source, use_arrow=True)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        # GDAL names the file by its path here: show the name the user knows instead.
        reason = str(exc).replace(str(path.parent) + "/", "").replace(path.name, name)
        raise UnsupportedFile(f"{name} could not be read: {reason}") from None
    except shapely.errors.GEOSException as exc:
        raise UnsupportedFile(f"{name} could not be read: a geometry is malformed: {exc}") from None


def _zip_source(path: Path, settings: ImportSettings, name: str) -> str:
    """Check an archive before GDAL reads it in place: no traversal, no bomb, one Shapefile."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise UnsupportedFile(f"{name} is not a valid zip archive") from None
    with archive:
        members = archive.infolist()
        total = 0
        for member in members:
            name = PurePosixPath(member.filename.replace("\\", "/"))
            if name.is_absolute() or ".." in name.parts:
                raise UnsupportedFile(
                    f"{name}: member {member.filename!r} points outside the archive"
                )
            total += member.file_size
            if member.compress_size and member.file_size / member.compress_size > 1000:
                raise UploadTooLarge(
                    f"{name}: member {member.filename!r} expands over 1000x (a zip bomb?)"
                )
        if total > settings.max_unzipped_mb * 2**20:
            raise UploadTooLarge(
                f"{name} unpacks to {total / 2**20:.0f} MiB; the limit is "
                f"{settings.max_unzipped_mb} MiB"
            )
        shapefiles = [m.filename for m in members if m.filename.lower().endswith(".shp")]
    if len(shapefiles) != 1:
        found = ", ".join(shapefiles) or "none"
        raise UnsupportedFile(f"{name} must hold exactly one .shp file (found: {found})")
    return f"/vsizip/{path}/{shapefiles[0]}"


def _read_csv(path: Path, name: str) -> gpd.GeoDataFrame:
    """A CSV with lon/lat or WKT columns; cells that are not coordinates are reported by row."""
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise UnsupportedFile(f"{name} is not a readable UTF-8 CSV file: {exc}") from None
    lower = {c.strip().lower(): c for c in table.columns}
    geom_error = pd.Series([None] * len(table), index=table.index, dtype=object)
    wkt = next((lower[c] for c in _WKT if c in lower), None)
    lon = next((lower[c] for c in _LON if c in lower), None)
    lat = next((lower[c] for c in _LAT if c in lower), None)
    if wkt is not None:
        raw = table.pop(wkt).str.strip()
        cells = np.array([v or None for v in raw], dtype=object)  # empty: no geometry
        geoms = shapely.from_wkt(cells, on_invalid="ignore")
        bad = pd.isna(geoms) & (raw != "").to_numpy()
        geom_error[bad] = [f"WKT could not be parsed: {v[:60]!r}" for v in raw[bad]]
    elif lon is not None and lat is not None:
        xs = pd.to_numeric(table.pop(lon).str.strip(), errors="coerce")
        ys = pd.to_numeric(table.pop(lat).str.strip(), errors="coerce")
        bad = xs.isna() | ys.isna()
        geoms = shapely.points(xs.to_numpy(), ys.to_numpy())
        geoms[bad.to_numpy()] = None
        geom_error[bad] = f"{lon}/{lat} are not both numbers"
    else:
        raise UnsupportedFile(
            f"{name} has no geometry columns: give lon and lat columns, or a WKT column "
            f"(columns are: {', '.join(table.columns)})"
        )
    frame = gpd.GeoDataFrame(table, geometry=gpd.GeoSeries(geoms, index=table.index), crs=None)
    frame["_geom_error"] = geom_error
    return frame


def _parse_crs(value: str) -> pyproj.CRS:
    try:
        return pyproj.CRS.from_user_input(value)
    except pyproj.exceptions.CRSError:
        raise UnknownCRS(
            f"unknown coordinate reference system {value!r}; give an EPSG code such as "
            "EPSG:4490, EPSG:4549 or EPSG:4326"
        ) from None


def _with_crs(frame: gpd.GeoDataFrame, crs: str | None, name: str) -> gpd.GeoDataFrame:
    """Give the frame its CRS: the file's, or the one the user named, never a guess."""
    if crs is not None:
        given = _parse_crs(crs)
        if frame.crs is not None and not frame.crs.equals(given):
            raise UnknownCRS(
                f"{name} declares {frame.crs.to_string()} but the import says {given.to_string()}; "
                "drop the option or fix the file"
            )
        return frame.set_crs(given, allow_override=True)
    if frame.crs is None:
        raise MissingCRS(
            f"{name} does not declare its coordinate reference system; give it explicitly "
            "(CLI --crs, API ?crs=), e.g. EPSG:4490 (CGCS2000), EPSG:4549 or EPSG:4326"
        )
    return frame


# -- validation -------------------------------------------------------------------------------
def _frame_for(layer: Layer, frame: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Number the rows and name the columns as the layer does; refuse an empty file."""
    if frame.crs is None:
        raise MissingCRS("the data has no coordinate reference system")
    frame = frame.reset_index(drop=True)
    frame["_row"] = np.arange(1, len(frame) + 1)
    frame, ignored = _map_columns(frame, layer)
    if len(frame) == 0:
        raise ImportRejected(layer.id, summary="the file holds no rows")
    return frame, ignored


def _check_batch(
    batch: gpd.GeoDataFrame,
    layer: Layer,
    settings: ImportSettings,
    on_invalid: str,
    lookups: dict[str, dict],
    problems: list[RowProblem],
    report: ImportReport,
) -> gpd.GeoDataFrame:
    """Check and coerce a batch of rows; add its problems and repairs to the lists."""
    geoms, repaired = _check_geometry(batch, layer, settings, on_invalid, problems)
    report.repaired += repaired
    batch = gpd.GeoDataFrame(batch.drop(columns="geometry"), geometry=geoms, crs="EPSG:4326")
    for fld in layer.fields:
        if not fld.derived:
            _check_field(batch, fld, problems)
    if layer.prepare is not None:
        problems += layer.prepare(batch)
    _apply_references(layer, batch, lookups, problems)
    return batch


def _map_columns(frame: gpd.GeoDataFrame, layer: Layer) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Rename Chinese or alternative headers to field names; refuse a missing required one.

    Shapefiles cut column names to 10 characters; a cut name that only one field can have
    come from is taken as that field.
    """
    rename: dict[str, str] = {}
    known = {f.name for f in layer.fields if not f.derived}
    cuts = Counter(name[:10] for name in known)
    for column in frame.columns:
        key = str(column).strip()
        for fld in layer.fields:
            if fld.derived:
                continue
            shapefile_cut = len(fld.name) > 10 and cuts[fld.name[:10]] == 1
            if (
                key.lower() == fld.name
                or key in fld.aliases
                or key == fld.label_zh
                or (shapefile_cut and key.lower() == fld.name[:10])
            ):
                rename[column] = fld.name
    frame = frame.rename(columns=rename)
    geometry_name = frame.geometry.name
    if geometry_name != "geometry":
        frame = frame.rename_geometry("geometry")
    ignored = [
        str(c)
        for c in frame.columns
        if c not in known and c not in ("geometry", "_row", "_geom_error")
    ]
    missing = [f.name for f in layer.fields if f.required and f.name not in frame.columns]
    if missing:
        raise ImportRejected(
            layer.id,
            summary=f"the file has no column {', '.join(repr(m) for m in missing)} (required for "
            f"{layer.id}); its columns are: {', '.join(str(c) for c in frame.columns)}",
        )
    return frame.drop(columns=ignored), ignored


_POLYGONAL = {"Polygon", "MultiPolygon"}
# shapely.get_type_id: -1 missing, 0 Point ... 7 GeometryCollection (shifted by one here).
_TYPE_NAMES = np.array(
    [
        "",
        "Point",
        "LineString",
        "LinearRing",
        "Polygon",
        "MultiPoint",
        "MultiLineString",
        "MultiPolygon",
        "GeometryCollection",
    ],
    dtype=object,
)


def _check_geometry(
    frame: gpd.GeoDataFrame,
    layer: Layer,
    settings: ImportSettings,
    on_invalid: str,
    problems: list[RowProblem],
) -> tuple[np.ndarray, list[RowProblem]]:
    """Range, reprojection, service area, swapped axes, type and validity, by row."""
    rows = frame["_row"].to_numpy()
    geoms = frame.geometry.to_numpy(dtype=object)
    if shapely.has_z(geoms).any():
        geoms = shapely.force_2d(geoms)
    bad = np.zeros(len(geoms), dtype=bool)

    def report(mask: np.ndarray, message: str | list[str]) -> None:
        idx = np.flatnonzero(mask & ~bad)
        texts = message if isinstance(message, list) else None
        for k, i in enumerate(idx):
            problems.append(RowProblem(int(rows[i]), "geometry", texts[k] if texts else message))
        bad[idx] = True

    if "_geom_error" in frame:
        errors = frame["_geom_error"].to_numpy(dtype=object)
        has = pd.notna(errors)
        report(has, [str(e) for e in errors[has & ~bad]])
    report(shapely.is_missing(geoms) | shapely.is_empty(geoms), "missing or empty geometry")

    source_crs = frame.crs
    area = settings.service_area

    def swapped(box: np.ndarray) -> None:
        """Rows outside the area that fall inside it once x and y are exchanged."""
        hit = ~bad & ~_inside(box, area) & _inside(box[:, [1, 0, 3, 2]], area)
        report(
            hit,
            [
                f"longitude and latitude appear swapped (x={box[i, 0]:.6f}, y={box[i, 1]:.6f}); "
                "x must be the longitude"
                for i in np.flatnonzero(hit)
            ],
        )

    if source_crs.is_geographic:
        bounds = shapely.bounds(geoms)
        swapped(bounds)
        out = ~bad & (
            (np.abs(bounds[:, [0, 2]]) > 180).any(1) | (np.abs(bounds[:, [1, 3]]) > 90).any(1)
        )
        report(
            out,
            [
                f"coordinates out of range for {source_crs.to_string()} (x={bounds[i, 0]:.6g}, "
                f"y={bounds[i, 1]:.6g}); is the file in a projected CRS?"
                for i in np.flatnonzero(out)
            ],
        )
        lonlat = geoms.copy()
    else:
        lonlat = np.array(
            gpd.GeoSeries(np.where(bad, None, geoms), crs=source_crs).to_crs("EPSG:4326"),
            dtype=object,
        )
    lon_bounds = shapely.bounds(lonlat)
    lon_bounds[bad] = 0
    not_finite = ~bad & ~np.isfinite(lon_bounds).all(1)
    report(not_finite, f"coordinates could not be transformed from {source_crs.to_string()}")
    swapped(lon_bounds)
    w, s, e, n = area
    outside = ~bad & ~_inside(lon_bounds, area)
    report(
        outside,
        [
            f"outside the service area {w}..{e} E, {s}..{n} N (lon={lon_bounds[i, 0]:.6f}, "
            f"lat={lon_bounds[i, 1]:.6f}); is the CRS right?"
            for i in np.flatnonzero(outside)
        ],
    )

    lonlat, repaired = _repair(lonlat, rows, bad, layer, on_invalid, problems, report)
    lonlat = _conform_type(lonlat, layer, bad, report)
    lonlat[bad] = None
    return lonlat, repaired


def _inside(bounds: np.ndarray, area: tuple[float, float, float, float]) -> np.ndarray:
    w, s, e, n = area
    return (bounds[:, 0] >= w) & (bounds[:, 2] <= e) & (bounds[:, 1] >= s) & (bounds[:, 3] <= n)


def _repair(geoms, rows, bad, layer, on_invalid, problems, report):
    """Make invalid geometries valid when asked and when the result keeps its kind."""
    repaired: list[RowProblem] = []
    invalid = ~bad & ~shapely.is_valid(np.where(bad, None, geoms))
    idx = np.flatnonzero(invalid)
    if len(idx) == 0:
        return geoms, repaired
    reasons = shapely.is_valid_reason(geoms[idx])
    if on_invalid == "reject":
        report(
            invalid,
            [f"invalid geometry ({r}); not repaired because repair is off" for r in reasons],
        )
        return geoms, repaired
    fixed = shapely.make_valid(geoms[idx])
    polygonal = any(t in _POLYGONAL for t in layer.geometry_types)
    for k, (i, geom) in enumerate(zip(idx, fixed, strict=True)):
        if polygonal and shapely.get_type_id(geom) == 7:  # collection: keep the polygons
            parts = [p for p in shapely.get_parts(geom) if p.geom_type in _POLYGONAL]
            geom = shapely.union_all(parts) if parts else None
        if geom is None or geom.is_empty or (polygonal and geom.geom_type not in _POLYGONAL):
            report(
                np.isin(np.arange(len(geoms)), [i]),
                f"invalid geometry ({reasons[k]}) that cannot be repaired into a polygon",
            )
            continue
        geoms[i] = geom
        repaired.append(RowProblem(int(rows[i]), "geometry", f"repaired: {reasons[k]}"))
    return geoms, repaired


def _conform_type(geoms: np.ndarray, layer: Layer, bad: np.ndarray, report) -> np.ndarray:
    """Promote to the stored type (Polygon -> MultiPolygon) or report the wrong kind."""
    allowed = set(layer.geometry_types)
    types = _TYPE_NAMES[shapely.get_type_id(geoms) + 1]
    if "MultiPolygon" in allowed and "Polygon" not in allowed:
        single = types == "Polygon"
        geoms[single] = shapely.multipolygons(geoms[single][:, None]) if single.any() else []
        types[single] = "MultiPolygon"
    if "Point" in allowed:
        multi = (types == "MultiPoint") & (shapely.get_num_geometries(geoms) == 1)
        if multi.any():
            geoms[multi] = shapely.get_geometry(geoms[multi], 0)
            types[multi] = "Point"
    wrong = ~bad & ~np.isin(types, list(allowed))
    expected = "/".join(layer.geometry_types)
    report(
        wrong,
        [
            f"geometry type {types[i]} is not allowed for {layer.id} (expected {expected})"
            for i in np.flatnonzero(wrong)
        ],
    )
    return geoms


def _check_field(frame: gpd.GeoDataFrame, fld: Field, problems: list[RowProblem]) -> None:
    """Coerce one column to its kind in place; report cells that do not fit.

    Columns that already have the right type (numbers and booleans from a GeoPackage) skip
    the text path; text stays in pandas' string dtype, so a million cells cost little.
    """
    if fld.name not in frame.columns:
        frame[fld.name] = None
    raw = frame[fld.name]
    rows = frame["_row"]
    typed = (fld.kind == "bool" and raw.dtype == bool) or (
        fld.kind in ("int", "float") and pd.api.types.is_numeric_dtype(raw.dtype)
    )
    as_text = raw if typed else raw.astype("string").str.strip()
    blank = raw.isna() if typed else (raw.isna() | (as_text == "")).fillna(True)

    def report(mask: pd.Series, message: str) -> None:
        for r, v in zip(rows[mask], raw[mask], strict=True):
            problems.append(RowProblem(int(r), fld.name, message.format(value=v)))

    if fld.required:
        report(blank, "is required but empty")
    if fld.kind == "str":
        value = as_text.where(~blank)
        if fld.choices:
            report(
                ~blank & ~value.isin(fld.choices),
                f"{{value!r}} is not one of {', '.join(fld.choices)}",
            )
    elif fld.kind in ("int", "float"):
        number = pd.to_numeric(as_text.where(~blank), errors="coerce").astype(float)
        report(~blank & number.isna(), "{value!r} is not a number")
        value = number
        if fld.kind == "int":
            report(number.notna() & (number != number.round()), "{value!r} is not a whole number")
            value = number.round().astype("Int64")
    elif fld.kind == "bool":
        if typed:
            value = raw
        else:
            lowered = as_text.str.lower().fillna("")
            report(
                ~lowered.isin(_TRUE | _FALSE), "{value!r} is not yes/no (true/false, 1/0, 是/否)"
            )
            value = lowered.isin(_TRUE)
    elif fld.kind == "date":
        parsed = pd.to_datetime(as_text.where(~blank), errors="coerce", format="ISO8601")
        report(~blank & parsed.isna(), "{value!r} is not a date (YYYY-MM-DD)")
        value = parsed.dt.date.astype(object).where(parsed.notna(), None)
    elif fld.kind == "time":
        parsed = pd.to_datetime(as_text.where(~blank), errors="coerce", format="mixed")
        ok = as_text.str.fullmatch(r"\d{1,2}:\d{2}(:\d{2})?").fillna(False)
        report(~blank & (parsed.isna() | ~ok), "{value!r} is not a time of day (HH:MM)")
        value = parsed.dt.time.astype(object).where(parsed.notna() & ok, None)
    elif fld.kind == "str_list":
        texts = as_text.fillna("").astype(object)
        value = pd.Series(
            [[p.strip() for p in s.replace(",", ";").split(";") if p.strip()] for s in texts],
            index=texts.index,
            dtype=object,
        )
    else:  # pragma: no cover - the Field type lists every kind
        raise AssertionError(fld.kind)
    frame[fld.name] = value


def _check_duplicates(frame: gpd.GeoDataFrame, layer: Layer, problems: list[RowProblem]) -> None:
    """A natural key may appear once in a file."""
    ref_of = {r.column: r.field for r in layer.references}
    keys = [ref_of.get(k, k) for k in layer.natural_key]
    if any(k not in frame.columns for k in keys):
        return
    values = frame[keys].astype("string").apply(lambda c: c.str.strip()).replace("", pd.NA)
    dup = values.duplicated(keep=False) & values.notna().all(axis=1)
    if not dup.any():
        return
    rows = frame["_row"][dup]
    first = rows.groupby([values[k][dup] for k in keys], sort=False).transform("min")
    for row, first_row, *values in zip(rows, first, *(values[k][dup] for k in keys), strict=True):
        if row != first_row:
            key = "/".join(str(v) for v in values)
            problems.append(
                RowProblem(
                    int(row), "/".join(keys), f"duplicate {key!r}: also in row {int(first_row)}"
                )
            )


# -- writing ----------------------------------------------------------------------------------
@dataclass
class _Target:
    """Where the rows are COPYed: the layer's table, or a staging table to merge from."""

    table: str
    columns: list[str]
    staging: bool
    restore: list[str]


def _open_target(
    conn: Connection,
    layer: Layer,
    mode: str,
    rows: int,
    report: ImportReport,
    present: set[str],
) -> _Target:
    """Apply the mode's first step and choose the fastest safe way in for these rows.

    Only columns the file has are written: the others keep their defaults on insert and
    their stored values on upsert.
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
    if empty and mode != "upsert":
        restore = _suspend_checks(conn, table) if rows >= BULK_INDEX_ROWS else []
        return _Target(table, columns, staging=False, restore=restore)
    conn.execute(
        text(
            f"CREATE TEMP TABLE _import ON COMMIT DROP AS SELECT {', '.join(columns)} "
            f"FROM {table} WITH NO DATA"
        )
    )
    conn.execute(text("ALTER TABLE _import ADD COLUMN _row integer"))
    return _Target("_import", [*columns, "_row"], staging=True, restore=[])


def _finish_target(
    conn: Connection,
    layer: Layer,
    target: _Target,
    mode: str,
    report: ImportReport,
    progress: Progress,
) -> None:
    """Rebuild what a bulk load suspended, or merge the staged rows by the mode."""
    table = layer.table
    if not target.staging:
        report.inserted = report.rows
        if target.restore:
            progress.stage("indexing")
            conn.execute(text("SET LOCAL maintenance_work_mem = '1GB'"))
            for statement in target.restore:
                conn.execute(text(statement))
        conn.execute(text(f"ANALYZE {table}"))
        return
    key = ", ".join(layer.natural_key)
    cols = ", ".join(target.columns[:-1])
    if mode == "append":
        clashes = (
            conn.execute(
                text(f"SELECT i._row FROM _import i JOIN {table} t USING ({key}) ORDER BY 1")
            )
            .scalars()
            .all()
        )
        if clashes:
            raise ImportRejected(
                layer.id,
                [
                    RowProblem(
                        r,
                        "/".join(layer.natural_key),
                        "already stored; import with mode upsert to update it, "
                        "or replace to start over",
                    )
                    for r in clashes
                ],
            )
        report.inserted = conn.execute(
            text(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _import")
        ).rowcount
        return
    updates = ", ".join(
        f"{c} = EXCLUDED.{c}" for c in target.columns[:-1] if c not in layer.natural_key
    )
    flags = (
        conn.execute(
            text(
                f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _import "
                f"ON CONFLICT ({key}) DO UPDATE SET {updates}, updated_at = now() "
                "RETURNING (xmax = 0)"
            )
        )
        .scalars()
        .all()
    )
    report.inserted = sum(flags)
    report.updated = len(flags) - report.inserted


def _generated(layer: Layer) -> set[str]:
    return {f.name for f in layer.fields if f.computed}


def _load_references(conn: Connection, layer: Layer, frame: gpd.GeoDataFrame) -> dict[str, dict]:
    """Fetch the ids of every key the file names, once, before the batches."""
    lookups: dict[str, dict] = {}
    for ref in layer.references:
        target = get_layer(ref.layer)
        cells = frame[ref.field] if ref.field in frame.columns else pd.Series([], dtype=object)
        if ref.many:
            cells = cells.astype("string").str.replace(",", ";").str.split(";").explode()
        wanted = cells.dropna().astype(str).str.strip().unique().tolist()
        lookups[ref.field] = dict(
            conn.execute(
                text(f"SELECT {ref.key}, id FROM {target.table} WHERE {ref.key} = ANY(:keys)"),
                {"keys": wanted},
            ).all()
        )
    return lookups


def _apply_references(
    layer: Layer, batch: gpd.GeoDataFrame, lookups: dict[str, dict], problems: list[RowProblem]
) -> None:
    """Turn natural keys of other layers into ids; report the rows whose target is missing."""
    for ref in layer.references:
        target = get_layer(ref.layer)
        found = lookups[ref.field]
        cells = batch[ref.field]
        keys = cells.explode() if ref.many else cells
        # A hash index maps a million keys to positions in C; -1 marks a key not found.
        codes = pd.Index(list(found), dtype=object).get_indexer(keys.astype(object))
        missing = keys[(codes < 0) & keys.notna().to_numpy()]
        for index, value in missing.items():
            problems.append(
                RowProblem(
                    int(batch.at[index, "_row"]),
                    ref.field,
                    f"no {target.id} with {ref.key} {value!r} (import {target.id} first)",
                )
            )
        if not ref.many:
            ids = pd.array(np.array([*found.values(), 0])[codes], dtype="Int64")
            ids[codes < 0] = pd.NA
            batch[ref.column] = ids


def _write_links(
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


class _Copier:
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

    def __enter__(self) -> _Copier:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None and exc[0] is None:
            raise self._error


def _csv_chunk(part: gpd.GeoDataFrame, columns: list[str]) -> io.BytesIO:
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

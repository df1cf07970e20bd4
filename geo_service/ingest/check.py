"""The row checks: columns named as the layer does, fields coerced to their kinds, duplicate
natural keys and references to other layers, each problem reported by row.

Geometry checks are in ``geometry``; ``check_batch`` runs both on one batch.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy import BigInteger, Connection, Integer, SmallInteger, text

from geo_service.errors import ImportRejected, MissingCRS, RowProblem
from geo_service.ingest import skips
from geo_service.ingest.area import ServiceArea
from geo_service.ingest.geometry import check_geometry
from geo_service.ingest.report import ImportReport
from layers import get_layer
from layers.base import Field, Layer

# Where ``load_references`` keeps, beside a reference's ids, why keys it did not find were
# skipped by an earlier import.
_SKIPPED = "skipped:"
# Columns the import adds to a frame: never the user's, never shown as theirs.
_INTERNAL = ("geometry", "_row", "_geom_error")
_TRUE = {"true", "t", "1", "yes", "y", "是", "有"}
_FALSE = {"false", "f", "0", "no", "n", "否", "无", ""}


def frame_for(
    layer: Layer, frame: gpd.GeoDataFrame
) -> tuple[gpd.GeoDataFrame, list[str], dict[str, str]]:
    """Number the rows and name the columns as the layer does; refuse an empty file.

    Returns the frame, the columns ignored and the columns filled in because the file has
    none (``Field.when_absent``: households without units).
    """
    if frame.crs is None:
        raise MissingCRS("the data has no coordinate reference system")
    frame = frame.reset_index(drop=True)
    frame["_row"] = np.arange(1, len(frame) + 1)
    frame, ignored = _map_columns(frame, layer)
    if len(frame) == 0:
        raise ImportRejected(layer.id, summary="the file holds no rows")
    filled = {
        f.name: f.when_absent
        for f in layer.fields
        if f.when_absent is not None and f.name not in frame.columns
    }
    for name, value in filled.items():
        frame[name] = value
    return frame, ignored, filled


def check_batch(
    batch: gpd.GeoDataFrame,
    layer: Layer,
    service_area: ServiceArea,
    on_invalid: str,
    lookups: dict[str, dict],
    problems: list[RowProblem],
    report: ImportReport,
) -> gpd.GeoDataFrame:
    """Check and coerce a batch of rows; add its problems and repairs to the lists."""
    geoms, repaired = check_geometry(batch, layer, service_area, on_invalid, problems)
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
    original = [c for c in frame.columns if c != frame.geometry.name]
    rename: dict[str, str] = {}
    known = {f.name for f in layer.fields if not f.derived}
    cuts = Counter(name[:10] for name in known)
    for column in frame.columns:
        key = str(column).strip()
        for fld in layer.fields:
            if fld.derived:
                continue
            shapefile_cut = len(fld.name) > 10 and cuts[fld.name[:10]] == 1
            if fld.is_header(key) or (shapefile_cut and key.lower() == fld.name[:10]):
                rename[column] = fld.name
    frame = frame.rename(columns=rename)
    geometry_name = frame.geometry.name
    if geometry_name != "geometry":
        frame = frame.rename_geometry("geometry")
    ignored = [str(c) for c in frame.columns if c not in known and c not in _INTERNAL]
    missing = [
        f.name
        for f in layer.fields
        if f.required and f.when_absent is None and f.name not in frame.columns
    ]
    if missing:
        # The file's own columns, as the user named them: not ours (_row), not the geometry.
        own = [str(c) for c in original if str(c) not in _INTERNAL]
        raise ImportRejected(
            layer.id,
            summary=f"the file has no column {', '.join(repr(m) for m in missing)} (required for "
            f"{layer.id}); its columns are: {', '.join(own) or '(none)'}",
        )
    return frame.drop(columns=ignored), ignored


# What each integer column type holds, so an out-of-range number is a row problem, not a
# database error.
_INT_RANGES = {
    SmallInteger: (-(2**15), 2**15 - 1),
    Integer: (-(2**31), 2**31 - 1),
    BigInteger: (-(2**63), 2**63 - 1),
}


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
        report(blank, "is required but empty" + _what_to_add(fld))
    if fld.kind == "str":
        value = as_text.where(~blank)
        longest = getattr(fld.sql, "length", None)
        if longest:  # the value itself is not repeated: it may be personal
            lengths = value.str.len()
            for r, n in zip(rows[lengths > longest], lengths[lengths > longest], strict=True):
                problems.append(
                    RowProblem(int(r), fld.name, f"is {n} characters long; at most {longest}")
                )
        if fld.pattern:
            regex, allowed = fld.pattern
            bad = ~blank & ~value.str.fullmatch(regex).fillna(False).astype(bool)
            report(bad, f"{{value!r}} may hold {allowed}")
        if fld.choices:
            report(
                ~blank & ~value.isin(fld.choices),
                f"{{value!r}} is not one of {', '.join(fld.choices)}",
            )
    elif fld.kind in ("int", "float"):
        number = pd.to_numeric(as_text.where(~blank), errors="coerce").astype(float)
        report(~blank & number.isna(), "{value!r} is not a number")
        value = number
        _check_range(fld, number, report)
        if fld.kind == "int":
            report(number.notna() & (number != number.round()), "{value!r} is not a whole number")
            low, high = _INT_RANGES.get(type(fld.sql), _INT_RANGES[Integer])
            outside = number.notna() & ~number.between(low, high)
            report(outside, f"{{value!r}} is not between {low} and {high}")
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
    if fld.blank_value is not None and not fld.required:
        value = value.where(~blank, fld.blank_value)
    frame[fld.name] = value


def _what_to_add(fld: Field) -> str:
    """For a field a file may leave out (a unit), how to say there is none."""
    if fld.when_absent is None:
        return ""
    return (
        f"; give one, or {fld.when_absent!r} for a building that is one household (a file "
        f"without the {fld.name} column imports one household per building)"
    )


def _check_range(fld: Field, number: pd.Series, report: Callable[[pd.Series, str], None]) -> None:
    """The field's bounds and step, as its CHECK has them (``geo_service.schema``)."""
    if fld.between is not None:
        low, high = fld.between
        report(
            number.notna() & ~number.between(low, high),
            f"{{value!r}} is not between {low:g} and {high:g}",
        )
    if fld.step:
        steps = number / fld.step
        report(
            number.notna() & (steps != steps.round()),
            f"{{value!r}} is not a multiple of {fld.step:g} (e.g. 3 or {3 + fld.step:g})",
        )


def check_duplicates(frame: gpd.GeoDataFrame, layer: Layer, problems: list[RowProblem]) -> None:
    """A natural key may appear once in a file."""
    ref_of = {r.column: r.field for r in layer.references}
    keys = [ref_of.get(k, k) for k in layer.natural_key]
    if any(k not in frame.columns for k in keys):
        return
    values = frame[keys].astype("string").apply(lambda c: c.str.strip()).replace("", pd.NA)
    dup = values.duplicated(keep=False) & values.notna().all(axis=1)
    if not dup.any():
        return
    hint = (
        "; parts of one feature? import with --merge-parts (API merge_parts=true) to make "
        "them one multipolygon"
        if layer.geometry == "MULTIPOLYGON"
        else ""
    )
    rows = frame["_row"][dup]
    first = rows.groupby([values[k][dup] for k in keys], sort=False).transform("min")
    for row, first_row, *values in zip(rows, first, *(values[k][dup] for k in keys), strict=True):
        if row != first_row:
            key = "/".join(str(v) for v in values)
            problems.append(
                RowProblem(
                    int(row),
                    "/".join(keys),
                    f"duplicate {key!r}: also in row {int(first_row)}{hint}",
                )
            )


def load_references(conn: Connection, layer: Layer, frame: gpd.GeoDataFrame) -> dict[str, dict]:
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
        missing = [k for k in wanted if k not in lookups[ref.field]]
        lookups[_SKIPPED + ref.field] = skips.why_missing(conn, target.id, missing)
    return lookups


def _apply_references(
    layer: Layer, batch: gpd.GeoDataFrame, lookups: dict[str, dict], problems: list[RowProblem]
) -> None:
    """Turn natural keys of other layers into ids; report the rows whose target is missing."""
    for ref in layer.references:
        target = get_layer(ref.layer)
        found, skipped = lookups[ref.field], lookups[_SKIPPED + ref.field]
        cells = batch[ref.field]
        keys = cells.explode() if ref.many else cells
        # A hash index maps a million keys to positions in C; -1 marks a key not found.
        codes = pd.Index(list(found), dtype=object).get_indexer(keys.astype(object))
        missing = keys[(codes < 0) & keys.notna().to_numpy()]
        for index, value in missing.items():
            why = skipped.get(value) or f"import {target.id} first"
            problems.append(
                RowProblem(
                    int(batch.at[index, "_row"]),
                    ref.field,
                    f"no {target.id} with {ref.key} {value!r} ({why})",
                )
            )
        if not ref.many:
            ids = pd.array(np.array([*found.values(), 0])[codes], dtype="Int64")
            ids[codes < 0] = pd.NA
            batch[ref.column] = ids

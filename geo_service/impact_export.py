"""Household lists of a site as files liaison teams work from: CSV, XLSX, GeoJSON, GPKG.

Every file names the site, the parameters used (bands, phase, equipment levels) and when it
was made, so a printed list can be traced back. Column headers in Chinese or English.
Personal columns appear only when the caller passes them (see ``geo_service.access``).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Connection

from geo_service import audit
from geo_service.access import Principal
from geo_service.audit import AuditAction
from geo_service.formats import HOUSEHOLD_LIST, HouseholdListFormat, spreadsheet_frame
from geo_service.impact import (
    LIST_COLUMNS,
    SiteRef,
    Sort,
    affected_households,
    count_affected,
    site_parameters,
)
from layers import get_layer


def labels(personal: tuple[str, ...], lang: str) -> dict[str, str]:
    """Column name -> header in the chosen language, personal columns from the layer."""
    idx = 1 if lang == "zh" else 2
    names = {col[0]: col[idx] for col in LIST_COLUMNS}
    households = get_layer("households")
    for name in personal:
        names[name] = households.field(name).label(lang)
    return names


def metadata(
    site: SiteRef,
    parameters: dict[str, Any],
    *,
    sort: str,
    lang: str,
    personal: tuple[str, ...],
    count: int,
) -> dict[str, Any]:
    """What every export says about itself."""
    return {
        "site": {"id": site.id, "code": site.code, "name": site.name},
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "households": count,
        "sort": sort,
        "language": lang,
        "personal_fields": list(personal),
        "bands_m": parameters["bands_m"],
        "phase": parameters["phase"],
        "leq_day_at_reference_dba": parameters["leq_day_at_reference_dba"],
        "leq_night_at_reference_dba": parameters["leq_night_at_reference_dba"],
        "reference_distance_m": parameters["reference_distance_m"],
        "equipment": [
            {k: line[k] for k in ("phase", "equipment", "count", "night_work", "attenuation_db")}
            for line in parameters["equipment"]
        ],
        "model": parameters["model"],
    }


def filename(site: SiteRef, fmt: str, generated_at: str) -> str:
    stamp = generated_at.replace(":", "").replace("-", "")[:15]
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in site.code)
    return f"{safe}-households-{stamp}{HOUSEHOLD_LIST[fmt].extension}"


def export_file(
    conn: Connection,
    site: SiteRef,
    principal: Principal,
    *,
    personal: tuple[str, ...],
    fmt: HouseholdListFormat,
    sort: Sort,
    lang: str,
    limit: int | None = None,
    offset: int = 0,
) -> tuple[bytes, str]:
    """A site's household list as a file and its name; an export of personal fields is
    audited in the caller's transaction. The API and the CLI both write files through here."""
    rows = affected_households(
        conn, site.id, personal=personal, sort=sort, limit=limit, offset=offset
    )
    total = len(rows) if limit is None else count_affected(conn, site.id)
    meta = metadata(
        site, site_parameters(conn, site.id), sort=sort, lang=lang, personal=personal, count=total
    )
    if personal:
        audit.record(
            conn,
            principal,
            AuditAction.EXPORT_PERSONAL,
            target=f"site:{site.code}",
            record_count=len(rows),
            detail={"format": fmt, "fields": list(personal), "offset": offset},
        )
    return render(rows, meta, fmt, lang), filename(site, fmt, meta["generated_at"])


@dataclass(frozen=True)
class HouseholdFile:
    """A list on its way into one format: its rows, metadata and column headers."""

    rows: list[dict[str, Any]]
    meta: dict[str, Any]
    lang: str
    names: dict[str, str]

    @property
    def columns(self) -> list[str]:
        """The columns the rows hold (all of them for an empty list), in header order."""
        return [c for c in self.names if not self.rows or c in self.rows[0]]

    @cached_property
    def table(self) -> pd.DataFrame:
        """The rows as a frame, with the coordinates the spatial formats need."""
        return pd.DataFrame(self.rows, columns=[*self.columns, "lon", "lat"])

    @property
    def headed(self) -> pd.DataFrame:
        """The table a person reads: no coordinates, headers in the chosen language."""
        return self.table[self.columns].rename(columns=self.names)


def render(
    rows: list[dict[str, Any]], meta: dict[str, Any], fmt: HouseholdListFormat, lang: str
) -> bytes:
    """The list in one format, with its metadata inside the file."""
    names = labels(tuple(meta["personal_fields"]), lang)
    return WRITERS[fmt](HouseholdFile(rows, meta, lang, names))


def json_page(meta: dict[str, Any], households: bytes) -> bytes:
    """The JSON list around a households array PostgreSQL wrote (the same document as
    ``render(rows, meta, "json", lang)``); only the metadata is serialised here."""
    head = json.dumps(meta, ensure_ascii=False, default=str).encode()
    return b"".join((b'{"metadata": ', head, b', "households": ', households, b"}"))


def _flat(meta: dict[str, Any]) -> dict[str, str]:
    return {
        k: json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else str(v)
        for k, v in meta.items()
    }


def _json(file: HouseholdFile) -> bytes:
    return json.dumps(
        {"metadata": file.meta, "households": file.rows}, ensure_ascii=False, default=str
    ).encode()


def _geojson(file: HouseholdFile) -> bytes:
    """Points in CRS84, the metadata beside the features (GIS tools ignore the member)."""
    features = [
        {
            "type": "Feature",
            "id": row["household_id"],
            "geometry": {"type": "Point", "coordinates": [row["lon"], row["lat"]]},
            "properties": {c: row.get(c) for c in file.columns},
        }
        for row in file.rows
    ]
    return json.dumps(
        {"type": "FeatureCollection", "metadata": file.meta, "features": features},
        ensure_ascii=False,
        default=str,
    ).encode()


def _csv(file: HouseholdFile) -> bytes:
    """The metadata as ``#`` lines above the header row."""
    out = io.StringIO()
    for key, value in _flat(file.meta).items():
        out.write(f"# {key}: {value}\n")
    spreadsheet_frame(file.headed).to_csv(out, index=False)
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # BOM: Excel opens it as UTF-8


def _xlsx(file: HouseholdFile) -> bytes:
    """The list on one sheet, the metadata on a second."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "住户" if file.lang == "zh" else "Households"
    table = spreadsheet_frame(file.headed)
    sheet.append(list(table.columns))
    for record in table.itertuples(index=False):
        sheet.append([None if pd.isna(v) else v for v in record])
    sheet.freeze_panes = "A2"
    info = book.create_sheet("参数" if file.lang == "zh" else "Parameters")
    for key, value in _flat(file.meta).items():
        info.append([key, value])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _gpkg(file: HouseholdFile) -> bytes:
    """Points in EPSG:4326, the metadata as the layer's GDAL metadata."""
    import geopandas as gpd
    import shapely

    table = file.table
    frame = gpd.GeoDataFrame(
        table[file.columns],
        # float: an empty list has object columns, which shapely refuses.
        geometry=shapely.points(table["lon"].astype(float), table["lat"].astype(float)),
        crs="EPSG:4326",
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "households.gpkg"
        frame.to_file(
            path,
            layer="households",
            driver="GPKG",
            engine="pyogrio",
            layer_metadata=_flat(file.meta),
        )
        return path.read_bytes()


# One writer per format ``formats.HOUSEHOLD_LIST`` offers.
WRITERS: dict[str, Callable[[HouseholdFile], bytes]] = {
    "json": _json,
    "csv": _csv,
    "xlsx": _xlsx,
    "geojson": _geojson,
    "gpkg": _gpkg,
}

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
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from sqlalchemy import Connection

from geo_service import audit
from geo_service.access import Principal
from geo_service.audit import AuditAction
from geo_service.impact import (
    LIST_COLUMNS,
    SiteRef,
    Sort,
    affected_households,
    count_affected,
    site_parameters,
)
from layers import get_layer

Format = Literal["json", "csv", "xlsx", "geojson", "gpkg"]
MEDIA_TYPES: dict[str, str] = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "geojson": "application/geo+json",
    "gpkg": "application/geopackage+sqlite3",
}


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
    return f"{safe}-households-{stamp}.{fmt}"


def export_file(
    conn: Connection,
    site: SiteRef,
    principal: Principal,
    *,
    personal: tuple[str, ...],
    fmt: Format,
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


def render(rows: list[dict[str, Any]], meta: dict[str, Any], fmt: Format, lang: str) -> bytes:
    """The list in one format, with its metadata inside the file."""
    personal = tuple(meta["personal_fields"])
    names = labels(personal, lang)
    columns = [c for c in names if not rows or c in rows[0]]
    if fmt == "json":
        return json.dumps(
            {"metadata": meta, "households": rows}, ensure_ascii=False, default=str
        ).encode()
    if fmt == "geojson":
        features = [
            {
                "type": "Feature",
                "id": row["household_id"],
                "geometry": {"type": "Point", "coordinates": [row["lon"], row["lat"]]},
                "properties": {c: row.get(c) for c in columns},
            }
            for row in rows
        ]
        return json.dumps(
            {"type": "FeatureCollection", "metadata": meta, "features": features},
            ensure_ascii=False,
            default=str,
        ).encode()
    table = pd.DataFrame(rows, columns=[*columns, "lon", "lat"])
    if fmt == "csv":
        out = io.StringIO()
        for key, value in _flat(meta).items():
            out.write(f"# {key}: {value}\n")
        table[columns].rename(columns=names).to_csv(out, index=False)
        return ("\ufeff" + out.getvalue()).encode("utf-8")  # BOM: Excel opens it as UTF-8
    if fmt == "xlsx":
        return _xlsx(table[columns].rename(columns=names), meta, lang)
    if fmt == "gpkg":
        return _gpkg(table, columns, meta)
    raise ValueError(fmt)


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


def _xlsx(table: pd.DataFrame, meta: dict[str, Any], lang: str) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "住户" if lang == "zh" else "Households"
    sheet.append(list(table.columns))
    for record in table.itertuples(index=False):
        sheet.append([None if pd.isna(v) else v for v in record])
    sheet.freeze_panes = "A2"
    info = book.create_sheet("参数" if lang == "zh" else "Parameters")
    for key, value in _flat(meta).items():
        info.append([key, value])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _gpkg(table: pd.DataFrame, columns: list[str], meta: dict[str, Any]) -> bytes:
    import geopandas as gpd
    import shapely

    frame = gpd.GeoDataFrame(
        table[columns],
        # float: an empty list has object columns, which shapely refuses.
        geometry=shapely.points(table["lon"].astype(float), table["lat"].astype(float)),
        crs="EPSG:4326",
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "households.gpkg"
        frame.to_file(
            path, layer="households", driver="GPKG", engine="pyogrio", layer_metadata=_flat(meta)
        )
        return path.read_bytes()

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
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd
from sqlalchemy import Connection

from geo_service import audit
from geo_service.access import Principal
from geo_service.audit import AuditAction
from geo_service.formats import (
    HOUSEHOLD_LIST,
    HouseholdListFormat,
    comment_line,
    spreadsheet_frame,
)
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


# What a file is called and what its parameters sheet says, in the list's language.
_FILE_WORD = {"zh": "住户名单", "en": "households"}
_YES_NO = {"zh": ("是", "否"), "en": ("Yes", "No")}
PARAMETER_LABELS: dict[str, tuple[str, str]] = {
    "site": ("工地", "Site"),
    "generated_at": ("生成时间", "Generated at"),
    "households": ("住户数", "Households"),
    "sort": ("排序", "Sort"),
    "language": ("语言", "Language"),
    "personal_fields": ("个人信息字段", "Personal fields"),
    "bands_m": ("影响圈层（米）", "Bands (m)"),
    "phase": ("施工阶段", "Phase"),
    "leq_day_at_reference_dba": ("参考距离昼间声级 dB(A)", "Day Leq at reference dB(A)"),
    "leq_night_at_reference_dba": ("参考距离夜间声级 dB(A)", "Night Leq at reference dB(A)"),
    "reference_distance_m": ("参考距离（米）", "Reference distance (m)"),
    "equipment": ("施工设备", "Equipment"),
    "model": ("预测模型", "Model"),
}
_SORT_WORDS = {"distance": ("由近及远", "Nearest first"), "address": ("按门牌", "By address")}


def filename(site: SiteRef, fmt: str, generated_at: str, lang: str = "zh") -> str:
    """``<site code>-住户名单-<date>.xlsx``: the date is the machine's local one, the day a
    person made the list (``generated_at`` is UTC, a day behind before 08:00 in Hangzhou)."""
    day = dt.datetime.fromisoformat(generated_at).astimezone().date().isoformat()
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in site.code)
    return f"{safe}-{_FILE_WORD.get(lang, 'households')}-{day}{HOUSEHOLD_LIST[fmt].extension}"


def content_disposition(name: str) -> str:
    """An attachment header for any file name: an ASCII fallback, the real name in
    ``filename*`` (RFC 6266; HTTP headers are Latin-1, a Chinese name is not)."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c != '"' else "_" for c in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}"


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
    return render(rows, meta, fmt, lang), filename(site, fmt, meta["generated_at"], lang)


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
        """The table a person reads: no coordinates, 是/否 for true and false (a spreadsheet
        shows TRUE/FALSE), headers in the chosen language; safe in a spreadsheet."""
        yes, no = _YES_NO.get(self.lang, _YES_NO["en"])
        table = self.table[self.columns].copy()
        for column in table.columns:
            if table[column].map(lambda v: isinstance(v, bool)).any():
                table[column] = table[column].map(
                    lambda v: (yes if v else no) if isinstance(v, bool) else v
                )
        return spreadsheet_frame(table.rename(columns=self.names))


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
        out.write(comment_line(key, value))
    file.headed.to_csv(out, index=False)
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # BOM: Excel opens it as UTF-8


def _xlsx(file: HouseholdFile) -> bytes:
    """The list on one sheet, ready to print and filter; the parameters on a second."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "住户" if file.lang == "zh" else "Households"
    table = file.headed
    sheet.append(list(table.columns))
    for record in table.itertuples(index=False):
        sheet.append([None if pd.isna(v) else v for v in record])
    ready_to_print(sheet)
    info = book.create_sheet("参数" if file.lang == "zh" else "Parameters")
    for label, value in parameter_rows(file.meta, file.lang):
        info.append([label, value])
    _fit_columns(info, wrap_header=False)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def ready_to_print(sheet: Any) -> None:
    """Header frozen and filtered; on paper A4 landscape, one page wide, the header on every
    page: the door-knocking list is printed and carried."""
    from openpyxl.styles import Alignment, Font

    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    sheet.print_title_rows = "1:1"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0  # as many pages down as the list needs
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    _fit_columns(sheet, wrap_header=True)


# Widths in characters: a Chinese character takes two; a long header wraps rather than
# widening its column past this.
_MAX_WIDTH = 40
_HEADER_WIDTH = 16


def display_width(value: object) -> int:
    """How many character widths a cell's text takes (CJK and full-width count two)."""
    text_ = "" if value is None else str(value)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text_)


def _fit_columns(sheet: Any, *, wrap_header: bool) -> None:
    """Each column as wide as its widest value (a wrapped header counts up to a limit)."""
    from openpyxl.utils import get_column_letter

    for index, column in enumerate(sheet.iter_cols(), start=1):
        head, *cells = [display_width(c.value) for c in column]
        widest = max([*cells, min(head, _HEADER_WIDTH) if wrap_header else head])
        sheet.column_dimensions[get_column_letter(index)].width = min(widest + 2, _MAX_WIDTH)


def parameter_rows(meta: dict[str, Any], lang: str) -> list[tuple[str, str]]:
    """The metadata as a person reads it, labels and words in the list's language; one row
    per equipment line."""
    i = 0 if lang == "zh" else 1
    yes, no = _YES_NO.get(lang, _YES_NO["en"])
    households = get_layer("households")
    fields = [households.field(f).label(lang) for f in meta["personal_fields"]]
    words: dict[str, str] = {
        "site": f"{meta['site']['code']} {meta['site']['name'] or ''}".strip(),
        "sort": _SORT_WORDS.get(meta["sort"], (meta["sort"],) * 2)[i],
        "language": "中文" if meta["language"] == "zh" else "English",
        "personal_fields": "、".join(fields) or ("无" if lang == "zh" else "none"),
        "bands_m": ", ".join(f"{b:g}" for b in meta["bands_m"]),
    }
    rows = []
    for key, value in meta.items():
        label = PARAMETER_LABELS.get(key, (key, key))[i]
        if key == "equipment":
            for line in value:
                night = ("夜间施工 " if lang == "zh" else "night work ") + (
                    yes if line["night_work"] else no
                )
                rows.append(
                    (
                        label,
                        f"{line['phase']}: {line['equipment']} × {line['count']}, "
                        f"{night}, -{line['attenuation_db']:g} dB",
                    )
                )
            continue
        if key in words:
            shown = words[key]
        elif isinstance(value, dict | list):
            shown = json.dumps(value, ensure_ascii=False)
        else:
            shown = str(value)
        rows.append((label, shown))
    return rows


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

"""The output formats, each declared once, and the formats each surface offers.

A format is its name (the ``f=`` or ``format=`` value), media type, file extensions and a
label. A surface (OGC items, household lists, layer export, the audit log) offers some of
them under the names its clients send; the values it accepts, its CLI choices, its OpenAPI
content types and the errors that name the accepted values all come from its ``Offer``.
The writers stay beside their logic (``impact_export``, ``export``, ``ogc.routes``), keyed
by the offered names, so a new format is one line here and one writer there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args


@dataclass(frozen=True)
class OutputFormat:
    """One format: what clients ask for, what the answer says it is, what files are named."""

    name: str
    media_type: str
    extensions: tuple[str, ...]
    label: str

    @property
    def essence(self) -> str:
        """The media type without parameters (``text/csv``), as links name it."""
        return self.media_type.partition(";")[0].strip()

    @property
    def extension(self) -> str:
        """The extension a written file gets; the others are read as this format too."""
        return self.extensions[0]


JSON = OutputFormat("json", "application/json", (".json",), "JSON")
GEOJSON = OutputFormat("geojson", "application/geo+json", (".geojson", ".json"), "GeoJSON")
GEOJSONSEQ = OutputFormat(
    "geojsonseq", "application/geo+json-seq", (".geojsons",), "GeoJSON text sequence"
)
HTML = OutputFormat("html", "text/html; charset=utf-8", (".html",), "HTML page")
CSV = OutputFormat("csv", "text/csv; charset=utf-8", (".csv",), "CSV")
XLSX = OutputFormat(
    "xlsx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    (".xlsx",),
    "Excel workbook",
)
GPKG = OutputFormat("gpkg", "application/geopackage+sqlite3", (".gpkg",), "GeoPackage")
FORMATS: dict[str, OutputFormat] = {
    f.name: f for f in (JSON, GEOJSON, GEOJSONSEQ, HTML, CSV, XLSX, GPKG)
}


# A text cell starting with one of these is run as a formula by Excel, WPS and LibreOffice
# (OWASP, "CSV Injection"): ``=HYPERLINK(...)`` in an imported name would become a live link.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


# C0 control characters but tab, line feed and return: XML 1.0 (so XLSX) cannot hold them
# and openpyxl refuses the whole workbook; Word and WPS put \x0b and \x0c in pasted text.
NOT_IN_A_CELL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def spreadsheet_text(value: object) -> object:
    """A value safe in a spreadsheet cell: text that would start a formula gets a leading
    ``'`` (shown as text, never run), control characters a workbook cannot hold are dropped;
    numbers, stored as numbers, are left alone."""
    if not isinstance(value, str):
        return value
    value = NOT_IN_A_CELL.sub("", value)
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def comment_line(label: str, value: object) -> str:
    """A ``# label: value`` line above a CSV's header row that no spreadsheet runs: the value
    (a filter from the query string among them) is kept on its line, and a comma in it that
    would start a cell with a formula (``a,=HYPERLINK(...)``, quoted or not) gets the ``'``
    as a cell's first character does. Other values are written as they are, so a reader
    that skips ``#`` lines still does."""
    text = " ".join(str(spreadsheet_text(value)).splitlines())
    first, *after = text.split(",")
    cells = [first] + [
        "'" + c if c.lstrip(" ").lstrip('"').startswith(FORMULA_STARTS) else c for c in after
    ]
    return f"# {label}: {','.join(cells)}\n"


def spreadsheet_frame(frame: Any) -> Any:
    """A copy of a pandas frame with every text cell made ``spreadsheet_text``."""
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    safe = frame.copy()
    for column in safe.columns:
        kind = safe[column].dtype
        if not (is_numeric_dtype(kind) or is_bool_dtype(kind)):  # text, whatever its dtype
            safe[column] = safe[column].map(spreadsheet_text)
    return safe


def either(words: list[str]) -> str:
    """``a, b or c``: the accepted values as an error message or a help text says them."""
    return " or ".join(filter(None, (", ".join(words[:-1]), words[-1])))


@dataclass(frozen=True)
class Offer:
    """The formats one surface offers, in the order it lists them, under the names its
    clients send (on OGC items ``f=json`` is GeoJSON, as OGC API - Features has it)."""

    formats: Mapping[str, OutputFormat]

    @classmethod
    def of(cls, *names: str) -> Offer:
        """The registry's formats under their own names."""
        return cls({name: FORMATS[name] for name in names})

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.formats)

    def __getitem__(self, name: str) -> OutputFormat:
        return self.formats[name]

    def __contains__(self, name: object) -> bool:
        return name in self.formats

    def content(self) -> dict[str, dict]:
        """The OpenAPI ``content`` of an answer that may come in any of these formats."""
        return {f.media_type: {} for f in self.formats.values()}

    def named_by(self, suffix: str) -> str | None:
        """The offered format a file name's suffix (``.GPKG`` too) asks for, if any."""
        suffix = suffix.lower()
        return next((n for n, f in self.formats.items() if suffix in f.extensions), None)

    def spoken(self) -> str:
        """The names as a sentence says them: ``json or html``."""
        return either(list(self.names))

    def spoken_extensions(self) -> str:
        """The extensions files get, as a sentence says them: ``.geojson, .gpkg or .csv``."""
        return either([f.extension for f in self.formats.values()])


# Literal types, so that FastAPI validates and documents the parameter, and the offer from them.
HouseholdListFormat = Literal["json", "csv", "xlsx", "geojson", "gpkg"]
AuditLogFormat = Literal["json", "csv"]
RequestExportFormat = Literal["csv", "xlsx"]
AlarmListFormat = Literal["json", "csv", "xlsx"]
ReadingsFormat = Literal["json", "csv", "xlsx"]

OGC_ITEMS = Offer({"json": GEOJSON, "html": HTML, "csv": CSV, "geojsonseq": GEOJSONSEQ})
OGC_FEATURE = Offer({"json": GEOJSON, "html": HTML})
HOUSEHOLD_LIST = Offer.of(*get_args(HouseholdListFormat))
LAYER_EXPORT = Offer.of("geojson", "gpkg", "csv")
AUDIT_LOG = Offer.of(*get_args(AuditLogFormat))
REQUEST_EXPORT = Offer.of(*get_args(RequestExportFormat))
ALARM_LIST = Offer.of(*get_args(AlarmListFormat))
READINGS = Offer.of(*get_args(ReadingsFormat))

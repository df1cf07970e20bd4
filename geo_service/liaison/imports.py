"""Imports of visits and requests from the spreadsheets teams keep (XLSX, CSV), all or nothing.

A working group that knocked on doors for months before the service existed has a sheet per
site: 楼栋, 房号, 走访日期, 走访结果 (已见面, 不在家…), 诉求类别, 反映人电话. This reads such a
sheet for one site and records every row through the same functions as the API
(``visits.log``, ``requests.create``), so a visit or request imported is checked, dated,
given its SLA clocks and its ``created`` event exactly like one typed in; nothing is
written unless every row passes, and each problem names its row (row 1 is the first data
row, as in every import), its column as the file heads it, and what is wrong, in the
caller's language.

Headings are the layers' (``layers/visits.py``, ``layers/requests.py``: the field's name,
Chinese or English label, or an alias); coded values are their ``Choice`` codes or labels
(or a ``Choice`` alias: 需回访), categories their code or name from the categories data.

A row's household is found among the households the site affects: by its id (``住户编号``),
else by building and unit (``楼栋`` + ``户号``/``房号``/``门牌``), else by the unit alone
when exactly one affected household has it, or when it is the whole address
(``翠苑一区1幢1-1-101``). No match, or several, is a row error; so is a household that
exists but that the site does not affect.

A request keeps its reporting time (``反映时间``): its due times are computed from it, so a
request imported long after it was made may be overdue at once, and the next SLA pass
records its breach and escalates it, as it would have at the time. Times without a zone
are Beijing time; a date alone is its midnight.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal
from xml.etree.ElementTree import ParseError
from zipfile import BadZipFile

from sqlalchemy import Connection, Engine, text

from geo_service import audit
from geo_service.access import Principal
from geo_service.errors import GeoServiceError, ImportRejected, RowProblem, UnsupportedFile
from geo_service.impact import SiteRef
from geo_service.ingest import record_rejection
from geo_service.liaison import calendar, requests, visits
from geo_service.liaison.categories import Category, all_categories
from layers import LAYERS, WORKFLOW_LAYERS
from layers.base import Field

Kind = Literal["visits", "requests"]
KINDS: tuple[Kind, ...] = ("visits", "requests")
SUFFIXES = (".csv", ".xlsx")
# The most rows and columns a sheet is read to. A site's households are thousands; an XLSX
# under the body limit can still unpack to millions of rows (a sheet compresses a
# thousandfold), which would take gigabytes to hold: refused when the reading gets there.
MAX_ROWS = 50_000
MAX_COLUMNS = 200
Lang = Literal["zh", "en"]

_HOUSEHOLDS = LAYERS["households"]
# Columns that find the household; the building and unit as the households layer heads them.
_BUILDING = _HOUSEHOLDS.field("building")
_UNIT = _HOUSEHOLDS.field("unit_label")
# A request's own columns that are not layer fields: when it was made, and a point.
_REPORTED_AT = Field(
    "reported_at",
    "反映时间",
    "Reported at",
    kind="datetime",
    aliases=("反映日期", "登记时间", "登记日期", "受理日期", "created_at"),
)
_LON = Field("lon", "经度", "Longitude", kind="float", aliases=("lng", "longitude"))
_LAT = Field("lat", "纬度", "Latitude", kind="float", aliases=("latitude",))


def _columns(kind: Kind) -> tuple[Field, ...]:
    """The fields a sheet of this kind may have: the layer's that a visit or request is
    recorded with (a state, an assignee or a satisfaction come from the work that follows,
    through the state machine, so such columns are reported as ignored)."""
    layer = WORKFLOW_LAYERS[kind]
    made_with = {
        f.name for f in fields(visits.NewVisit if kind == "visits" else requests.NewRequest)
    }
    own = tuple(f for f in layer.fields if f.name in made_with and f.name != "site")
    extra = (_REPORTED_AT, _LON, _LAT) if kind == "requests" else ()
    return (*own, _BUILDING, _UNIT, *extra)


# -- messages, in the caller's language ---------------------------------------------------------
_MESSAGES: dict[str, tuple[str, str]] = {
    "missing_column": (
        "缺少必填列“{column}”（可用：{accepted}）",
        "no {column} column ({accepted})",
    ),
    "twice": ("列“{a}”和“{b}”是同一项", "columns {a!r} and {b!r} say the same thing"),
    "no_household_columns": (
        "缺少住户列：住户编号，或楼栋加户号（房号、门牌）",
        "no household columns: a household id, or building and unit (户号, 房号, 门牌)",
    ),
    "empty": ("必填，不能为空", "is required"),
    "not_datetime": (
        "“{value}”不是日期或时间（如 2026-11-02 14:30）",
        "{value!r} is not a date or time (e.g. 2026-11-02 14:30)",
    ),
    "not_date": ("“{value}”不是日期（如 2026-11-02）", "{value!r} is not a date (e.g. 2026-11-02)"),
    "not_number": ("“{value}”不是数字", "{value!r} is not a number"),
    "not_id": (
        "“{value}”不是住户编号（正整数）",
        "{value!r} is not a household id (a whole number)",
    ),
    "future": ("“{value}”晚于现在", "{value!r} is in the future"),
    "years": (
        f"“{{value}}”不在 {calendar.YEARS.start} 至 {calendar.YEARS.stop - 1} 年之间",
        f"{{value!r}} is not from {calendar.YEARS.start} to {calendar.YEARS.stop - 1}",
    ),
    "choice": ("“{value}”不是以下之一：{allowed}", "{value!r} is not one of: {allowed}"),
    "category": (
        "没有“{value}”这一诉求类别；类别有：{allowed}",
        "no request category {value!r}; categories are: {allowed}",
    ),
    "no_household_id": ("没有编号为 {value} 的住户", "no household has the id {value}"),
    "no_household": ("没有住户“{value}”", "no household {value!r}"),
    "not_affected": (
        "住户“{value}”不在工地 {site} 影响的住户之中",
        "household {value!r} is not among the households site {site} affects",
    ),
    "ambiguous": (
        "户号“{value}”对应多户（{buildings}）：请填楼栋",
        "unit {value!r} matches several households ({buildings}): give the building",
    ),
    "where": (
        "请说明位置：住户、经纬度或地址",
        "say where: a household, lon and lat, or an address",
    ),
    "refused": ("无法登记：{reason}", "could not be recorded: {reason}"),
    "rejected": ("{count} 处问题，未导入任何{what}", "{count} problem(s); no {what} were imported"),
    "empty_file": ("文件“{name}”没有数据行", "{name} has no data rows"),
}
_WHAT = {"visits": ("走访记录", "visits"), "requests": ("诉求", "requests")}


def _say(lang: Lang, key: str, **args: Any) -> str:
    zh, en = _MESSAGES[key]
    return (zh if lang == "zh" else en).format(**args)


class _CellError(Exception):
    """A cell that cannot be read; ``key`` and ``args`` make its message in either language."""

    def __init__(self, key: str, **args: Any) -> None:
        super().__init__(key)
        self.key, self.args_ = key, args


# -- reading the sheet -------------------------------------------------------------------------
@dataclass(frozen=True)
class Sheet:
    """A table as the file has it: its headings and its data rows (row 1 first)."""

    name: str
    headings: list[str]
    rows: list[list[Any]]


def read_sheet(path: Path, name: str | None = None) -> Sheet:
    """The first sheet of an XLSX workbook, or a CSV file (UTF-8, or GB18030 as Chinese
    Excel saves CSV); fully empty rows are dropped, as a spreadsheet's trailing ones are."""
    name = name or path.name
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        rows = _xlsx_rows(path, name)
    elif suffix == ".csv":
        rows = _csv_rows(path, name)
    else:
        raise UnsupportedFile(
            f"{name}: unsupported file type {suffix or '(none)'}; visits and requests are "
            "imported from XLSX or CSV"
        )
    rows = [r for r in rows if any(_blank(c) is not None for c in r)]
    if not rows:
        raise UnsupportedFile(f"{name} has no heading row")
    headings = [str(c).strip() if c is not None else "" for c in rows[0]]
    width = len(headings)
    body = [list(r[:width]) + [None] * (width - len(r)) for r in rows[1:]]
    return Sheet(name, headings, body)


def _xlsx_rows(path: Path, name: str) -> list[list[Any]]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    # A file named .xlsx that is no zip (BadZipFile), or a zip whose sheet is no XML
    # (ParseError), is the uploader's mistake, not the server's.
    unreadable = (InvalidFileException, BadZipFile, ParseError, KeyError, OSError, ValueError)
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except unreadable as exc:
        raise UnsupportedFile(f"{name} is not a readable XLSX workbook: {exc}") from None
    try:
        rows = book.worksheets[0].iter_rows(values_only=True, max_col=MAX_COLUMNS)
        return _bounded((list(r) for r in rows), name)
    except (*unreadable, IndexError) as exc:
        raise UnsupportedFile(f"{name} is not a readable XLSX workbook: {exc}") from None
    finally:
        book.close()


def _bounded(rows: Iterator[list[Any]], name: str) -> list[list[Any]]:
    """The rows, refused as soon as there are more than ``MAX_ROWS`` (and a heading)."""
    kept = list(itertools.islice(rows, MAX_ROWS + 2))
    if len(kept) > MAX_ROWS + 1:
        raise UnsupportedFile(
            f"{name} has more than {MAX_ROWS} rows; import it in parts of at most {MAX_ROWS}"
        )
    return kept


def _csv_rows(path: Path, name: str) -> list[list[Any]]:
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return _bounded(csv.reader(io.StringIO(raw.decode(encoding))), name)
        except UnicodeDecodeError:
            continue
        except csv.Error as exc:
            raise UnsupportedFile(f"{name} is not a readable CSV file: {exc}") from None
    raise UnsupportedFile(f"{name} is neither UTF-8 nor GB18030 text")


def _blank(value: Any) -> Any:
    """None for an empty cell; text stripped."""
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


# -- cells to values ---------------------------------------------------------------------------
_CHINESE_DATE = re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日\s*(.*)$")


def _datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, dt.time())
    else:
        moment = _parse_datetime(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=calendar.TZ)


def _parse_datetime(cell: str) -> dt.datetime:
    written = cell.strip()
    chinese = _CHINESE_DATE.match(written)
    if chinese:
        y, m, d, rest = chinese.groups()
        written = f"{y}-{int(m):02d}-{int(d):02d} {rest}".strip()
    written = re.sub(r"^(\d{4})[/.](\d{1,2})[/.](\d{1,2})", r"\1-\2-\3", written)
    written = re.sub(r"^(\d{4})-(\d)\b", r"\1-0\2", written)
    written = re.sub(r"^(\d{4}-\d{2})-(\d)\b", r"\1-0\2", written)
    try:
        return dt.datetime.fromisoformat(written)
    except ValueError:
        raise _CellError("not_datetime", value=cell) from None


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        moment = _parse_datetime(str(value))
    except _CellError:
        raise _CellError("not_date", value=str(value)) from None
    if moment.time() != dt.time():
        raise _CellError("not_date", value=str(value))
    return moment.date()


def _text(value: Any) -> str:
    """A cell as text: a phone number a spreadsheet stored as a number reads as its digits."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _CellError("not_number", value=_text(value)) from None


def _household_id(value: Any) -> int:
    written = _text(value)
    if not written.isdigit():
        raise _CellError("not_id", value=written)
    return int(written)


def _choice(fld: Field, value: Any, lang: Lang) -> str:
    """The code of a coded cell given as its code, either label, or an alias."""
    written = _text(value)
    for choice in fld.choices or ():
        words = (str(choice), choice.label_zh, choice.label_en.lower(), *choice.aliases)
        if written in words or written.lower() in words:
            return str(choice)
    allowed = "、".join(c.label(lang) for c in fld.choices or ())
    raise _CellError("choice", value=written, allowed=allowed)


def _category(categories: list[Category], value: Any, lang: Lang) -> str:
    written = _text(value)
    for c in categories:
        if written in (c.code, c.name_zh) or written.lower() == c.name_en.lower():
            return c.code
    allowed = "、".join(c.name_zh if lang == "zh" else c.name_en for c in categories)
    raise _CellError("category", value=written, allowed=allowed)


# -- households ----------------------------------------------------------------------------------
@dataclass
class _Households:
    """The households the site affects, by the ways a sheet names them."""

    conn: Connection
    site: SiteRef
    ids: set[int] = field(default_factory=set)
    by_address: dict[tuple[str, str], int] = field(default_factory=dict)
    by_unit: dict[str, list[tuple[str, int]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        rows = self.conn.execute(
            text(
                "SELECT h.id, b.address, h.unit_label FROM household_impacts hi "
                "JOIN households h ON h.id = hi.household_id "
                "JOIN buildings b ON b.id = h.building_id WHERE hi.site_id = :s"
            ),
            {"s": self.site.id},
        )
        for household, address, unit in rows:
            self.ids.add(household)
            self.by_address[(address, unit)] = household
            self.by_unit.setdefault(unit, []).append((address, household))
            self.by_unit.setdefault(f"{address}{unit}", []).append((address, household))
            self.by_unit.setdefault(f"{address} {unit}", []).append((address, household))

    def find(self, household: Any, building: Any, unit: Any) -> int:
        if household is not None:
            found = _household_id(household)
            if found not in self.ids:
                self._refuse_id(found)
            return found
        unit_text = _text(unit)
        if building is not None:
            key = (_text(building), unit_text)
            if key in self.by_address:
                return self.by_address[key]
            return self._refuse_address(*key)
        matches = self.by_unit.get(unit_text, [])
        if len(matches) > 1:
            buildings = "、".join(sorted({a for a, _ in matches})[:5])
            raise _CellError("ambiguous", value=unit_text, buildings=buildings)
        if not matches:
            return self._refuse_address(None, unit_text)
        return matches[0][1]

    def _refuse_id(self, household: int) -> None:
        known = self.conn.execute(
            text("SELECT 1 FROM households WHERE id = :h"), {"h": household}
        ).first()
        if known is None:
            raise _CellError("no_household_id", value=household)
        raise _CellError("not_affected", value=household, site=self.site.code)

    def _refuse_address(self, building: str | None, unit: str) -> int:
        where = (
            "b.address = :b AND h.unit_label = :u"
            if building
            else (
                "h.unit_label = :u OR b.address || h.unit_label = :u "
                "OR b.address || ' ' || h.unit_label = :u"
            )
        )
        known = self.conn.execute(
            text(
                "SELECT 1 FROM households h JOIN buildings b ON b.id = h.building_id "
                f"WHERE {where} LIMIT 1"
            ),
            {"b": building, "u": unit},
        ).first()
        shown = f"{building} {unit}" if building else unit
        if known is None:
            raise _CellError("no_household", value=shown)
        raise _CellError("not_affected", value=shown, site=self.site.code)


# -- the import ----------------------------------------------------------------------------------
@dataclass
class WorkflowImport:
    """What an import did: how many rows it recorded, and the columns it left aside."""

    kind: Kind
    site: str
    source: str
    rows: int
    ids: list[str | int] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    filled_columns: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "site": self.site,
            "source": self.source,
            "rows": self.rows,
            "inserted": len(self.ids),
            "ids": self.ids,
            "ignored_columns": self.ignored_columns,
            "filled_columns": self.filled_columns,
        }

    def summary(self) -> str:
        lines = [f"{self.kind}: {len(self.ids)} row(s) of {self.source} recorded for {self.site}"]
        if self.ignored_columns:
            lines.append(f"ignored columns: {', '.join(self.ignored_columns)}")
        lines += [f"no {n} column: every row took {v!r}" for n, v in self.filled_columns.items()]
        return "\n".join(lines)


@dataclass
class _Plan:
    """A sheet's headings read as fields: field name -> column index and heading."""

    kind: Kind
    lang: Lang
    index: dict[str, int]
    heading: dict[str, str]
    ignored: list[str]

    def cell(self, row: list[Any], name: str) -> Any:
        at = self.index.get(name)
        return None if at is None else _blank(row[at])

    def column(self, name: str) -> str:
        """The heading a problem names: the file's own, or the field's label when absent."""
        if name in self.heading:
            return self.heading[name]
        fld = next(f for f in _columns(self.kind) if f.name == name)
        return fld.label(self.lang)


def _plan(sheet: Sheet, kind: Kind, lang: Lang) -> _Plan:
    index: dict[str, int] = {}
    heading: dict[str, str] = {}
    ignored: list[str] = []
    problems: list[RowProblem] = []
    columns = _columns(kind)
    for at, text_ in enumerate(sheet.headings):
        fld = next((f for f in columns if text_ and f.is_header(text_)), None)
        if fld is None:
            if text_:
                ignored.append(text_)
            continue
        if fld.name in index:
            problems.append(RowProblem(0, text_, _say(lang, "twice", a=heading[fld.name], b=text_)))
            continue
        index[fld.name], heading[fld.name] = at, text_
    required = {
        "visits": ("visited_at", "outcome"),
        "requests": ("category", "description", "reported_at"),
    }[kind]
    for name in required:
        if name not in index:
            fld = next(f for f in columns if f.name == name)
            accepted = "、".join(dict.fromkeys((fld.label_zh, fld.name, *fld.aliases)))
            problems.append(
                RowProblem(
                    0,
                    fld.label(lang),
                    _say(lang, "missing_column", column=fld.label(lang), accepted=accepted),
                )
            )
    if kind == "visits" and "household" not in index and "unit_label" not in index:
        problems.append(RowProblem(0, _UNIT.label(lang), _say(lang, "no_household_columns")))
    if problems:
        raise _rejected(kind, lang, problems)
    return _Plan(kind, lang, index, heading, ignored)


def _rejected(kind: Kind, lang: Lang, problems: list[RowProblem]) -> ImportRejected:
    what = _WHAT[kind][0 if lang == "zh" else 1]
    return ImportRejected(
        layer=kind,
        problems=problems,
        summary=_say(lang, "rejected", count=len(problems), what=what),
    )


class _Row:
    """One data row's cells read as values; problems collected by column, not raised."""

    def __init__(self, plan: _Plan, number: int, cells: list[Any]) -> None:
        self.plan, self.number, self.cells = plan, number, cells
        self.problems: list[RowProblem] = []

    def value(
        self, name: str, read: Callable[[Any], Any] = lambda v: v, *, required: bool = False
    ) -> Any:
        cell = self.plan.cell(self.cells, name)
        if cell is None:
            if required:
                self.fail(name, "empty")
            return None
        try:
            return read(cell)
        except _CellError as err:
            self.fail(name, err.key, **err.args_)
            return None

    def fail(self, name: str, key: str, **args: Any) -> None:
        self.problems.append(
            RowProblem(self.number, self.plan.column(name), _say(self.plan.lang, key, **args))
        )

    def household(self, households: _Households, *, required: bool) -> int | None:
        household = self.plan.cell(self.cells, "household")
        building = self.plan.cell(self.cells, "building")
        unit = self.plan.cell(self.cells, "unit_label")
        if household is None and unit is None:
            if required:
                self.fail("unit_label" if "unit_label" in self.plan.index else "household", "empty")
            return None
        try:
            return households.find(household, building, unit)
        except _CellError as err:
            column = "household" if household is not None else "unit_label"
            self.fail(column, err.key, **err.args_)
            return None


def _past(moment: dt.datetime | None, row: _Row, name: str, now: dt.datetime) -> None:
    if moment is not None and moment > now + dt.timedelta(minutes=5):
        row.fail(name, "future", value=row.plan.cell(row.cells, name))
    elif moment is not None and not calendar.plausible(moment):
        row.fail(name, "years", value=row.plan.cell(row.cells, name))


def _visit(
    row: _Row, site: SiteRef, households: _Households, now: dt.datetime
) -> visits.NewVisit | None:
    layer = WORKFLOW_LAYERS["visits"]
    lang = row.plan.lang
    household = row.household(households, required=True)
    at = row.value("visited_at", _datetime, required=True)
    _past(at, row, "visited_at", now)
    outcome = row.value(
        "outcome", lambda v: _choice(layer.field("outcome"), v, lang), required=True
    )
    officer = row.value("officer", _text)
    notes = row.value("notes", _text)
    due = row.value("next_visit_due", _date)
    if row.problems:
        return None
    return visits.NewVisit(
        site=site.code,
        household=household,
        outcome=outcome,
        visited_at=at,
        notes=notes,
        next_visit_due=due,
        officer=officer,
    )


def _request(
    row: _Row, site: SiteRef, households: _Households, categories: list[Category], now: dt.datetime
) -> tuple[requests.NewRequest, dt.datetime] | None:
    layer = WORKFLOW_LAYERS["requests"]
    lang = row.plan.lang
    category = row.value("category", lambda v: _category(categories, v, lang), required=True)
    description = row.value("description", _text, required=True)
    at = row.value("reported_at", _datetime, required=True)
    _past(at, row, "reported_at", now)
    channel = row.value("channel", lambda v: _choice(layer.field("channel"), v, lang))
    priority = row.value("priority", lambda v: _choice(layer.field("priority"), v, lang))
    household = row.household(households, required=False)
    lon, lat = row.value("lon", _number), row.value("lat", _number)
    address = row.value("address", _text)
    has_household = any(
        row.plan.cell(row.cells, n) is not None for n in ("household", "unit_label")
    )
    point_refused = any(
        p.field in (row.plan.column("lon"), row.plan.column("lat")) for p in row.problems
    )
    if not has_household and address is None and (lon is None or lat is None) and not point_refused:
        row.fail("address", "where")
    if row.problems:
        return None
    new = requests.NewRequest(
        site=site.code,
        category=category,
        channel=channel or "visit",
        description=description,
        household=household,
        lon=None if household else lon,
        lat=None if household else lat,
        address=address,
        reporter_name=row.value("reporter_name", _text),
        reporter_phone=row.value("reporter_phone", _text),
        priority=priority or "normal",
        agency=row.value("agency", _text),
    )
    return new, at


def _rows(sheet: Sheet) -> Iterator[tuple[int, list[Any]]]:
    yield from enumerate(sheet.rows, start=1)


def import_sheet(
    conn: Connection,
    principal: Principal,
    kind: Kind,
    site_ref: str,
    sheet: Sheet,
    *,
    lang: Lang = "zh",
    now: dt.datetime | None = None,
) -> WorkflowImport:
    """Record every row of the sheet for the site, in the caller's transaction, or raise
    ``ImportRejected`` with every row's problems (the caller rolls back)."""
    site = requests.site_for_work(conn, principal, site_ref)
    if kind not in KINDS:
        raise UnsupportedFile(f"{kind!r} cannot be imported here; import visits or requests")
    now = now or dt.datetime.now(dt.UTC)
    plan = _plan(sheet, kind, lang)
    if not sheet.rows:
        raise UnsupportedFile(_say(lang, "empty_file", name=sheet.name))
    households = _Households(conn, site)
    categories = all_categories(conn)
    done = WorkflowImport(
        kind, site.code, sheet.name, len(sheet.rows), ignored_columns=plan.ignored
    )
    if kind == "requests" and "channel" not in plan.index:
        done.filled_columns["channel"] = "visit"
    problems: list[RowProblem] = []
    for number, cells in _rows(sheet):
        row = _Row(plan, number, cells)
        made = (
            _visit(row, site, households, now)
            if kind == "visits"
            else _request(row, site, households, categories, now)
        )
        if made is not None:
            _record(conn, principal, kind, made, row, done)
        problems += row.problems
    if problems:
        raise _rejected(kind, lang, problems)
    _audit(conn, principal, plan, done)
    return done


def _record(
    conn: Connection, principal: Principal, kind: Kind, made: Any, row: _Row, done: WorkflowImport
) -> None:
    """One row through the API's own function, in a savepoint: a refusal there (a rule the
    sheet's columns cannot show) becomes the row's problem and the import goes on checking."""
    savepoint = conn.begin_nested()
    try:
        if kind == "visits":
            done.ids.append(visits.log(conn, principal, made))
        else:
            new, at = made
            done.ids.append(requests.create(conn, principal, new, now=at))
    except GeoServiceError as exc:
        savepoint.rollback()
        column = "household" if "household" in exc.message else "description"
        row.fail(column, "refused", reason=exc.message)
        return
    savepoint.commit()


def _audit(conn: Connection, principal: Principal, plan: _Plan, done: WorkflowImport) -> None:
    """The import itself, with the personal columns it wrote (names, never values)."""
    personal = [
        plan.heading[f.name]
        for f in WORKFLOW_LAYERS[plan.kind].personal_fields
        if f.name in plan.index
    ]
    audit.record(
        conn,
        principal,
        audit.AuditAction.IMPORT,
        target=f"{plan.kind}:{done.site}",
        record_count=len(done.ids),
        detail={"source": done.source, "inserted": len(done.ids), "personal_columns": personal},
    )


def import_file(
    engine: Engine,
    principal: Principal,
    kind: Kind,
    site: str,
    path: Path,
    *,
    name: str | None = None,
    lang: Lang = "zh",
    now: dt.datetime | None = None,
) -> WorkflowImport:
    """Read and import a file in one transaction; a refusal is audited in its own."""
    source = name or path.name
    try:
        with engine.begin() as conn:
            requests.site_for_work(conn, principal, site)  # a 403 before the file is read
            sheet = read_sheet(path, source)
            return import_sheet(conn, principal, kind, site, sheet, lang=lang, now=now)
    except GeoServiceError as exc:
        record_rejection(engine, principal, kind, source, "append", exc)
        raise

"""What a spatial layer is: its fields, which of them are personal, its id, its style, and
how it is stored.

This is the one declaration of a layer: the table (``geo_service.schema`` derives the
SQLAlchemy ``Table`` from it, and a test holds the migrations to it), the query builder
(``geo_service.query``) and through it the API, the OGC API, the maps, search, exports and
imports all read layers from here. Adding a layer means one module in this package, one
line in ``layers/__init__.py`` and one generated migration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from sqlalchemy.types import TypeEngine

if TYPE_CHECKING:
    import geopandas as gpd

    from geo_service.errors import RowProblem

FieldKind = Literal["str", "int", "float", "bool", "date", "time", "datetime", "str_list"]

# The units a number may be in, with their words in Chinese and English: a heading names the
# unit after the field's label, and a page writes it after the value (``geo_service.display``).
Unit = Literal["m²", "m", "%", "dB(A)", "µg/m³"]
UNITS: dict[str, tuple[str, str]] = {
    "m²": ("平方米", "m²"),
    "m": ("米", "m"),
    "%": ("%", "%"),
    "dB(A)": ("dB(A)", "dB(A)"),
    "µg/m³": ("微克/立方米", "µg/m³"),
}


class Choice(str):
    """A coded value with the words people read for it.

    It is its code (a ``str``): stored, checked, filtered and served as the code alone, so
    a field's choices are declared once, with their labels, where the field is.
    """

    label_zh: str
    label_en: str
    # Other words teams write for it in their spreadsheets (需回访 for 需再访), read by imports.
    aliases: tuple[str, ...]

    def __new__(
        cls, code: str, label_zh: str, label_en: str, aliases: tuple[str, ...] = ()
    ) -> Choice:
        choice = super().__new__(cls, code)
        choice.label_zh, choice.label_en, choice.aliases = label_zh, label_en, aliases
        return choice

    def __getnewargs__(self) -> tuple[str, str, str, tuple[str, ...]]:  # type: ignore[override]
        """Copies and pickles keep the labels (a ``str`` would give its text alone)."""
        return (str(self), self.label_zh, self.label_en, self.aliases)

    def label(self, lang: str) -> str:
        return self.label_zh if lang == "zh" else self.label_en


# What a code that becomes a feature id (and so a URL path and a label) may hold.
CODE = (r"[\w.\-/]+", "letters, digits, '.', '-', '/' and '_' only")


@dataclass(frozen=True)
class Field:
    """One attribute as users see it: in files, feeds and popups.

    ``personal`` fields (PIPL) never leave the service without an entitled reader;
    ``sensitive`` ones (health, vulnerability) need the strictest handling.
    ``derived`` fields are computed by the service and ignored in imported files.
    ``secret`` fields (a monitor's HJ 212 password) are imported and stored, and read by no
    query but the one that needs them (the receiver's): no feed, export or page, whoever asks.
    """

    name: str
    label_zh: str
    label_en: str
    kind: FieldKind = "str"
    required: bool = False
    personal: bool = False
    sensitive: bool = False
    derived: bool = False
    secret: bool = False
    # The codes a value may be, each with its labels; or, for codes of a reference table
    # (land-use classes), how one reads: ``describe(code, lang)``.
    choices: tuple[Choice, ...] | None = None
    describe: Callable[[str, str], str] | None = None
    # What a number measures in: written after the value on the pages, and after the label
    # in a heading (``heading``).
    unit: Unit | None = None
    # A regular expression every value must match whole (checked on import), with the
    # words that say what it allows, e.g. for codes that become feature ids and URLs.
    pattern: tuple[str, str] | None = None
    aliases: tuple[str, ...] = ()
    # The values a number may take: inclusive bounds, and for a float the step it comes in
    # (floors: 0.5, so 3.5 is a half floor and 3.25 a mistake). The import reports a value
    # outside them by row; the table's CHECK (``geo_service.schema``) is derived from them.
    between: tuple[float, float] | None = None
    step: float | None = None
    # The value every row takes when a file has no such column, for a required field that
    # can do without it (a household's unit: a building without units is one household).
    when_absent: str | None = None
    # How the parts of one feature (rows sharing a natural key, merged on import with
    # ``merge_parts``) combine: the same value in every part (an empty cell agrees with
    # any), the largest (a building's floors) or the sum (its households).
    merge: Literal["same", "max", "sum"] = "same"
    # How it is stored (geo_service.schema): the column type (by default from ``kind``),
    # a server default (SQL), a CHECK on its values (SQL), the SQL of a generated column.
    # A column is NOT NULL when the field is required, has a default or is generated,
    # unless ``nullable`` says otherwise.
    sql: TypeEngine | None = None
    default: str | None = None
    check: str | None = None
    computed: str | None = None
    index: bool = False
    nullable: bool | None = None

    def label(self, lang: str) -> str:
        return self.label_zh if lang == "zh" else self.label_en

    def is_header(self, key: str) -> bool:
        """Whether a file's column heading names this field: its name (any case), an alias,
        its Chinese label (with or without the unit), or its English label."""
        key = key.strip()
        return (
            key.lower() == self.name
            or key in self.aliases
            or key in (self.label_zh, self.heading("zh"))
            or key.lower() in (self.label_en.lower(), self.heading("en").lower())
        )

    def heading(self, lang: str) -> str:
        """The label with its unit, for a column of bare numbers (files, feeds, popups):
        面积（平方米）, Area (m²); a unit that holds parentheses itself follows after a
        space (限值 dB(A)), never in nested ones."""
        label = self.label(lang)
        if self.unit is None:
            return label
        words = UNITS[self.unit][0 if lang == "zh" else 1]
        if "(" in words:
            return f"{label} {words}"
        return f"{label}（{words}）" if lang == "zh" else f"{label} ({words})"

    def value_label(self, code: str, lang: str) -> str | None:
        """How a coded value reads, or None when the field has no labels for it."""
        if self.describe is not None:
            return self.describe(code, lang)
        for choice in self.choices or ():
            if choice == code:
                return choice.label(lang)
        return None

    @property
    def blank_value(self) -> object:
        """What an empty cell stores: the column's default when it has a literal one (a
        site's kind 'other'), since a NOT NULL column cannot take the NULL of a blank."""
        sql = self.default
        if sql is None:
            return None
        if len(sql) >= 2 and sql[0] == sql[-1] == "'":
            return sql[1:-1].replace("''", "'")
        return {"true": True, "false": False}.get(sql.lower())

    @property
    def is_nullable(self) -> bool:
        if self.nullable is not None:
            return self.nullable
        return not (self.required or self.default is not None or self.computed)


@dataclass(frozen=True)
class Link:
    """The table that links a layer's rows to several rows of another (``site_parcels``):
    its name and the column that holds the owner's id (the other one is the reference's
    ``column``)."""

    table: str
    owner_column: str


@dataclass(frozen=True)
class Reference:
    """A file column naming a row of another layer by its natural key.

    E.g. a household's ``building`` column holds the building's address; the import
    resolves it to ``building_id`` and reports rows whose building does not exist.
    With a ``link`` the cell holds several keys, separated by ';' (a site's parcels), and
    the ids go to the link table instead of a column of the layer.
    """

    field: str
    layer: str
    key: str
    column: str
    required: bool = True
    link: Link | None = None
    # What deleting the referenced row does (a foreign key's ON DELETE).
    on_delete: str = "RESTRICT"

    @property
    def many(self) -> bool:
        return self.link is not None


# The column of a searchable layer's table holding its keys' pinyin (``geo_service.pinyin``):
# written with every row, read only by search; no field, so no feed, file or popup shows it.
SEARCH_COLUMN = "search_pinyin"


@dataclass(frozen=True)
class Search:
    """How the search box finds a layer's features: the fields it matches (and, by their
    pinyin, a Chinese name typed in Latin letters), the one it shows as the label and the
    ones (first not empty) it shows beside it. The keys are the layer's own text fields
    (stored in its table, not references), which the import spells as it writes them.

    ``rank`` orders the kinds among equally good matches (an exact, prefix or contained
    match), lowest first: a planner typing a project's name wants its sites before the
    parcels, communities and hundreds of buildings whose names share the words.
    """

    keys: tuple[str, ...]
    label: str
    detail: tuple[str, ...] = ()
    rank: int = 100


@dataclass(frozen=True)
class WorkCount:
    """A count of the liaison work done about a feature (a household's visits, its open
    requests): no column of the layer's table, but rows of a workflow layer's table that
    point at it (``household_id``). Only a query made for a reader entitled to a site's
    liaison work carries it (``geo_service.query.LayerQuery.work_sites``), counting the
    work of the sites they may read; for anyone else the property is not there at all.
    """

    field: Field
    table: str
    # Count only rows in an open state (requests: ``geo_service.liaison.states``).
    open_only: bool = False


@dataclass(frozen=True)
class Latest:
    """A feature's latest reading of some factors (a monitor's last LAeq, PM10): no column
    of the layer's table, but the newest row of ``readings`` that points at it, within
    ``within_hours`` (older is no "latest value": null). Every reader of the layer has it."""

    field: Field
    factors: tuple[str, ...]
    statistics: tuple[str, ...] = ("Rtd", "Avg", "Data")
    within_hours: int = 24


# A layer's own checks and derivations on an imported frame (already in EPSG:4326):
# it may add derived columns and returns the problems it found, by row.
Prepare = Callable[["gpd.GeoDataFrame"], list["RowProblem"]]


@dataclass(frozen=True)
class Layer:
    """A spatial layer of the service."""

    id: str
    title_zh: str
    title_en: str
    description: str
    table: str
    geometry_types: tuple[str, ...]
    feature_id: str
    natural_key: tuple[str, ...]
    fields: tuple[Field, ...]
    references: tuple[Reference, ...] = ()
    popup_fields: tuple[str, ...] = ()
    style: dict = field(default_factory=dict)
    prepare: Prepare | None = None
    # Computed by the service (a view such as impact_zones): served, never imported.
    computed: bool = False
    # The date fields a feature's time runs between (the OGC ``datetime`` parameter).
    temporal: tuple[str, str] | None = None
    # A computed layer's column holding a box around each feature that is cheap to compute
    # (impact_zones: from the site alone); box filters test it first, so that only the
    # features near the box are computed.
    reach: str | None = None
    # A stored EPSG:3857 copy of the geometry (migration 0007) the tiles draw from.
    mercator: str | None = None
    search: Search | None = None
    # Storage (geo_service.schema): whether row ids need 64 bits, and table CHECKs
    # (name, SQL) that span fields.
    big_ids: bool = False
    checks: tuple[tuple[str, str], ...] = ()
    # Indexes over several columns (name, columns as stored), for the lists that read the
    # table by them: a board's first page (a site's newest) reads 50 rows, not the table.
    indexes: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # Counts of the liaison work about each feature, for entitled readers only.
    work_counts: tuple[WorkCount, ...] = ()
    # Latest readings about each feature (a monitor's), for every reader of the layer.
    latest: tuple[Latest, ...] = ()

    def title(self, lang: str) -> str:
        return self.title_zh if lang == "zh" else self.title_en

    @property
    def public_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if not f.personal and not f.secret)

    @property
    def readable_fields(self) -> tuple[Field, ...]:
        """Every field an entitled reader may be shown: all but the secret ones."""
        return tuple(f for f in self.fields if not f.secret)

    @property
    def personal_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.personal)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def geometry(self) -> str:
        """The geometry column's type: the one kind the layer holds (POINT, MULTIPOLYGON),
        or GEOMETRY for several, which the table then checks against ``geometry_types``."""
        kinds = {t.upper() for t in self.geometry_types}
        return kinds.pop() if len(kinds) == 1 else "GEOMETRY"

    @property
    def sensitive_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.sensitive)

    def reference(self, field_name: str) -> Reference | None:
        """The reference a field is, if it is one."""
        return next((r for r in self.references if r.field == field_name), None)

    @property
    def stored_columns(self) -> tuple[str, ...]:
        """Columns an import writes: the fields plus the ids that references resolve to."""
        names = [f.name for f in self.fields if f.name not in {r.field for r in self.references}]
        names += [r.column for r in self.references if not r.many]
        return tuple(names)

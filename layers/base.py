"""What a spatial layer is: its fields, which of them are personal, its id, its style.

The import, the exports, the API and the maps read layers from here, so adding a layer
means adding one module to this package and one line to ``layers/__init__.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import geopandas as gpd

    from geo_service.errors import RowProblem

FieldKind = Literal["str", "int", "float", "bool", "date", "time", "str_list"]


@dataclass(frozen=True)
class Field:
    """One attribute as users see it: in files, feeds and popups.

    ``personal`` fields (PIPL) never leave the service without an entitled reader;
    ``sensitive`` ones (health, vulnerability) need the strictest handling.
    ``derived`` fields are computed by the service and ignored in imported files.
    """

    name: str
    label_zh: str
    label_en: str
    kind: FieldKind = "str"
    required: bool = False
    personal: bool = False
    sensitive: bool = False
    derived: bool = False
    choices: tuple[str, ...] | None = None
    aliases: tuple[str, ...] = ()

    def label(self, lang: str) -> str:
        return self.label_zh if lang == "zh" else self.label_en


@dataclass(frozen=True)
class Reference:
    """A file column naming a row of another layer by its natural key.

    E.g. a household's ``building`` column holds the building's address; the import
    resolves it to ``building_id`` and reports rows whose building does not exist.
    """

    field: str
    layer: str
    key: str
    column: str
    required: bool = True
    many: bool = False  # several keys in one cell, separated by ';' (a site's parcels)


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

    def title(self, lang: str) -> str:
        return self.title_zh if lang == "zh" else self.title_en

    @property
    def public_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if not f.personal)

    @property
    def personal_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.personal)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def stored_columns(self) -> tuple[str, ...]:
        """Columns an import writes: the fields plus the ids that references resolve to."""
        names = [f.name for f in self.fields if f.name not in {r.field for r in self.references}]
        names += [r.column for r in self.references if not r.many]
        return tuple(names)

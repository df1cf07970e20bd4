"""Residential communities and the GB 3096-2008 acoustic class of each."""

from __future__ import annotations

from sqlalchemy import String

from geo_service.noise import model
from layers.base import Choice, Field, Layer, Search

# GB 3096-2008 receiving-zone classes, with their limits and names in
# geo_service/reference/noise.yaml: the one list of them.
ACOUSTIC_CLASSES = tuple(
    Choice(code, f"{code} 类：{zone['name_zh']}", f"Class {code}: {zone['name_en']}")
    for code, zone in model()["receiving_zones"].items()
)


def describe_acoustic_class(code: str, lang: str) -> str:
    """A class as its label reads, for fields that hold one without checking it."""
    found = next((c for c in ACOUSTIC_CLASSES if c == code), None)
    return found.label(lang) if found else code


LAYER = Layer(
    id="communities",
    title_zh="居住社区",
    title_en="Residential communities",
    description="Residential communities with their street office and GB 3096 acoustic class.",
    table="communities",
    geometry_types=("MultiPolygon",),
    feature_id="id",
    mercator="geom_3857",
    natural_key=("name",),
    fields=(
        Field("name", "社区名称", "Name", required=True, aliases=("社区名称", "名称")),
        Field("street_office", "街道", "Street office", aliases=("街道",)),
        Field("district", "区", "District", aliases=("区", "行政区")),
        Field(
            "acoustic_class",
            "声环境功能区",
            "Acoustic class (GB 3096)",
            choices=ACOUSTIC_CLASSES,
            aliases=("声环境功能区",),
            sql=String(2),
            default="'2'",
        ),
    ),
    search=Search(keys=("name",), label="name", detail=("street_office",), rank=3),
    popup_fields=("name", "street_office", "district", "acoustic_class"),
    style={"color": "#1f77b4", "weight": 2, "fillOpacity": 0.08},
)

"""Impact zones: distance bands and noise-limit zones around each site (a database view).

Computed by the service (the view of ``geo_service/impact/sql/impact_zones.sql``), never
imported; served read-only as a collection and in the map tiles.
"""

from __future__ import annotations

from layers.base import Choice, Field, Layer
from layers.communities import describe_acoustic_class

ZONE_KINDS = (
    Choice("band", "距离圈层", "Distance band"),
    Choice("noise_day", "昼间噪声达标线", "Day noise-limit contour"),
    Choice("noise_night", "夜间噪声达标线", "Night noise-limit contour"),
)


def describe_band(band: str, lang: str) -> str:
    """A band by its number, counted outwards from the site."""
    return f"第 {band} 圈" if lang == "zh" else f"Band {band}"


LAYER = Layer(
    id="impact_zones",
    title_zh="影响范围",
    title_en="Impact zones",
    description="Distance bands and day/night noise-limit zones around each construction site.",
    table="impact_zones",
    geometry_types=("MultiPolygon", "Polygon"),
    feature_id="id",
    natural_key=("id",),
    fields=(
        Field("site_code", "工地编号", "Site code"),
        Field("kind", "类型", "Kind", choices=ZONE_KINDS),
        Field("band", "距离带", "Band", kind="int", describe=describe_band),
        Field("inner_m", "内径", "Inner radius", kind="float", unit="m"),
        Field("outer_m", "外径", "Outer radius", kind="float", unit="m"),
        Field(
            "acoustic_class",
            "声环境功能区",
            "Acoustic class (GB 3096)",
            describe=describe_acoustic_class,
        ),
        Field("limit_dba", "限值", "Limit", kind="float", unit="dB(A)"),
    ),
    reach="reach",
    popup_fields=("site_code", "kind", "band", "outer_m", "limit_dba"),
    style={
        "color": "#9467bd",
        "weight": 1,
        "fillOpacity": 0.15,
        "color_by": "kind",
        # Innermost band first; contours are dashed lines.
        "band_colors": ["#b30000", "#e34a33", "#fc8d59", "#fdbb84", "#fdd49e"],
        "zone_colors": {"noise_day": "#6a3d9a", "noise_night": "#1f3a93"},
    },
    computed=True,
)

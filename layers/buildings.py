"""Residential buildings; households name their building by its address."""

from __future__ import annotations

from sqlalchemy import Float

from layers.base import Field, Layer, Reference, Search

LAYER = Layer(
    id="buildings",
    title_zh="楼栋",
    title_en="Buildings",
    description="Residential buildings with their community, floors and number of households.",
    table="buildings",
    geometry_types=("MultiPolygon",),
    feature_id="id",
    mercator="geom_3857",
    natural_key=("address",),
    fields=(
        Field("address", "地址", "Address", required=True, aliases=("地址",)),
        Field("community", "所属社区", "Community", aliases=("所属社区", "社区"), index=True),
        # Whole or half floors, as OpenStreetMap's building:levels has them (3.5: a half
        # floor under the roof or a mezzanine).
        Field(
            "floors",
            "层数",
            "Floors",
            kind="float",
            aliases=("层数", "building:levels"),
            sql=Float(),
            between=(1, 200),
            step=0.5,
            merge="max",
        ),
        Field("households_count", "户数", "Households", kind="int", aliases=("户数",), merge="sum"),
    ),
    references=(Reference("community", "communities", "name", "community_id", required=False),),
    search=Search(keys=("address",), label="address", detail=("community",), rank=4),
    popup_fields=("address", "community", "floors", "households_count"),
    style={"color": "#7f7f7f", "weight": 1, "fillOpacity": 0.4},
)

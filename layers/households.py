"""Households: the people a site affects. Contact and vulnerability fields are personal."""

from __future__ import annotations

from sqlalchemy import SmallInteger, String

from layers.base import Field, Layer, Reference, WorkCount

# The unit of a household that is a whole building (a house, or an address with no units, as
# OpenStreetMap has them): what a file without a unit column imports, one per building.
WHOLE_BUILDING = "整栋"

LAYER = Layer(
    id="households",
    title_zh="住户",
    title_en="Households",
    description="Dwellings with their building, unit and number of residents.",
    table="households",
    geometry_types=("Point",),
    feature_id="id",
    natural_key=("building_id", "unit_label"),
    fields=(
        Field("building", "楼栋地址", "Building", required=True, aliases=("楼栋地址", "楼栋")),
        Field(
            "unit_label",
            "单元户号",
            "Unit",
            required=True,
            aliases=("单元户号", "户号", "房号", "门牌", "门牌号"),
            sql=String(32),
            when_absent=WHOLE_BUILDING,
        ),
        Field(
            "residents",
            "常住人数",
            "Residents",
            kind="int",
            aliases=("常住人数",),
            sql=SmallInteger(),
            between=(0, 50),
        ),
        Field("contact_name", "联系人", "Contact name", personal=True, aliases=("联系人",)),
        Field(
            "phone",
            "联系电话",
            "Phone",
            personal=True,
            aliases=("联系电话", "电话"),
            sql=String(32),
        ),
        *(
            Field(name, zh, en, kind="bool", personal=True, sensitive=True, default="false")
            for name, zh, en in (
                ("elderly", "老人", "Elderly resident"),
                ("infant", "婴幼儿", "Infant"),
                ("disabled", "残障人士", "Disabled resident"),
                ("night_shift", "夜班工作者", "Night-shift worker"),
            )
        ),
    ),
    big_ids=True,
    # For readers of the sites' liaison work: how often the household was called on, and
    # how many of its requests are still open (over the sites the reader may read).
    work_counts=(
        WorkCount(Field("visited", "走访次数", "Visits", kind="int", derived=True), "visits"),
        WorkCount(
            Field("open_requests", "未办结诉求", "Open requests", kind="int", derived=True),
            "requests",
            open_only=True,
        ),
    ),
    references=(Reference("building", "buildings", "address", "building_id"),),
    popup_fields=("building", "unit_label", "residents"),
    style={"color": "#ff7f0e", "radius": 3},
)

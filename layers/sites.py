"""Construction sites: polygons, or corridors given as lines for road works."""

from __future__ import annotations

from sqlalchemy import SmallInteger, String

from layers.base import CODE, Choice, Field, Layer, Link, Reference, Search

SITE_KINDS = (
    Choice("resettlement_housing", "安置房", "Resettlement housing"),
    Choice("road", "道路", "Road"),
    Choice("metro", "地铁", "Metro"),
    Choice("school", "学校", "School"),
    Choice("other", "其他", "Other"),
)
SITE_STATUSES = (
    Choice("planned", "规划中", "Planned"),
    Choice("under_construction", "施工中", "Under construction"),
    Choice("completed", "已完工", "Completed"),
    Choice("suspended", "停工", "Suspended"),
)

LAYER = Layer(
    id="sites",
    title_zh="建设工地",
    title_en="Construction sites",
    description="Construction sites with their status, parties, work hours and linked parcels.",
    table="sites",
    geometry_types=("MultiPolygon", "Polygon", "LineString", "MultiLineString"),
    feature_id="code",
    natural_key=("code",),
    fields=(
        Field(
            "code",
            "工地编号",
            "Site code",
            required=True,
            aliases=("工地编号",),
            sql=String(64),
            pattern=CODE,
        ),
        Field("name", "项目名称", "Name", required=True, aliases=("项目名称", "名称")),
        Field(
            "kind",
            "类型",
            "Kind",
            choices=SITE_KINDS,
            aliases=("类型",),
            sql=String(32),
            default="'other'",
        ),
        Field(
            "status",
            "状态",
            "Status",
            choices=SITE_STATUSES,
            aliases=("状态",),
            sql=String(32),
            default="'planned'",
        ),
        Field(
            "progress_pct",
            "形象进度",
            "Progress",
            kind="int",
            unit="%",
            sql=SmallInteger(),
            between=(0, 100),
        ),
        Field("start_date", "开工日期", "Start date", kind="date"),
        Field("end_date", "竣工日期", "End date", kind="date"),
        Field("work_hours_start", "施工开始时间", "Work hours from", kind="time"),
        Field("work_hours_end", "施工结束时间", "Work hours to", kind="time"),
        Field(
            "night_work_permitted",
            "夜间施工许可",
            "Night work permitted",
            kind="bool",
            default="false",
        ),
        Field("owner", "建设单位", "Owner"),
        Field("survey", "勘察单位", "Survey"),
        Field("design", "设计单位", "Design"),
        Field("contractor", "施工单位", "Contractor"),
        Field("supervisor", "监理单位", "Supervisor"),
        Field("liaison_officer", "联络人", "Liaison officer"),
        Field("description", "说明", "Description"),
        Field("parcels", "关联地块", "Parcels", kind="str_list"),
    ),
    references=(
        Reference(
            "parcels",
            "parcels",
            "code",
            "parcel_id",
            required=False,
            link=Link("site_parcels", "site_id"),
            on_delete="CASCADE",
        ),
    ),
    temporal=("start_date", "end_date"),
    checks=(
        ("ck_sites_dates", "end_date IS NULL OR start_date IS NULL OR end_date >= start_date"),
    ),
    search=Search(keys=("code", "name"), label="name", detail=("code",), rank=1),
    popup_fields=("code", "name", "kind", "status", "progress_pct", "contractor"),
    style={
        "color": "#d62728",
        "weight": 2,
        "fillOpacity": 0.25,
        "color_by": "status",
        "status_colors": {
            "planned": "#1f77b4",
            "under_construction": "#d62728",
            "completed": "#2ca02c",
            "suspended": "#7f7f7f",
        },
        # Kind is drawn as the outline's dash pattern (solid: housing and others).
        "kind_dash": {"road": "10 6", "metro": "2 6", "school": "12 4 2 4"},
    },
)

"""Door-to-door visits (入户走访): which household a site's officer called on, when, and
what came of it. The officer's notes are personal.

Written by the visit log (``geo_service.liaison.visits``), never by the generic import;
served as the ``visits`` collection with its public fields, at the household's point.
"""

from __future__ import annotations

from sqlalchemy import DateTime, String

from layers.base import Choice, Field, Layer, Reference

OUTCOMES = (
    Choice("met", "已见面", "Met"),
    Choice("not_at_home", "不在家", "Not at home"),
    Choice("refused", "拒绝", "Refused"),
    Choice("moved_out", "已搬离", "Moved out"),
    Choice("revisit_needed", "需再访", "Revisit needed", aliases=("需回访",)),
)

LAYER = Layer(
    id="visits",
    title_zh="入户走访",
    title_en="Visits",
    description="Visits of a site's liaison officers to the households around it.",
    table="visits",
    geometry_types=("Point",),
    feature_id="id",
    natural_key=("id",),
    fields=(
        Field("site", "工地编号", "Site code", required=True),
        Field("household", "住户", "Household", kind="int", aliases=("住户编号",)),
        Field("officer", "走访人", "Officer", required=True, sql=String(64), aliases=("走访人员",)),
        Field(
            "visited_at",
            "走访时间",
            "Visited at",
            kind="datetime",
            sql=DateTime(timezone=True),
            required=True,
            index=True,
            aliases=("走访日期",),
        ),
        Field(
            "outcome",
            "走访结果",
            "Outcome",
            choices=OUTCOMES,
            sql=String(16),
            required=True,
            aliases=("结果",),
        ),
        Field("notes", "走访记录", "Notes", personal=True, aliases=("走访情况", "备注")),
        Field(
            "next_visit_due",
            "下次走访",
            "Next visit due",
            kind="date",
            aliases=("下次走访日期", "回访日期"),
        ),
    ),
    references=(
        Reference("site", "sites", "code", "site_id"),
        Reference(
            "household", "households", "id", "household_id", required=False, on_delete="SET NULL"
        ),
    ),
    # A site's coverage and dashboard: its visits per household.
    indexes=(("ix_visits_site_household", ("site_id", "household_id")),),
    popup_fields=("site", "officer", "visited_at", "outcome"),
    style={"color": "#31a354", "radius": 4},
)

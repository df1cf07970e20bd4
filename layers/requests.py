"""Residents' requests (居民诉求): what a household or passer-by asked of a site's working
group, where, and how far it has got. Reporter contacts are personal.

Written by the request workflow (``geo_service.liaison.requests``), never by the generic
import: a state, a due time or an event written around the state machine would be a record
nobody can trust. Served as the ``requests`` collection with its public fields.
"""

from __future__ import annotations

from sqlalchemy import DateTime, SmallInteger, String

from layers.base import Choice, Field, Layer, Reference

CHANNELS = (
    Choice("visit", "入户走访", "Door-to-door visit"),
    Choice("hotline_12345", "12345 热线", "12345 hotline"),
    Choice("walk_in", "来访", "Walk-in"),
    Choice("web", "网上", "Web"),
    Choice("open311", "Open311 客户端", "Open311 client"),
)
PRIORITIES = (
    Choice("low", "低", "Low"),
    Choice("normal", "一般", "Normal"),
    Choice("high", "高", "High"),
    Choice("urgent", "紧急", "Urgent"),
)
# The states of geo_service.liaison.states, in the order a request usually passes them.
STATES = (
    Choice("new", "新登记", "New"),
    Choice("acknowledged", "已受理", "Acknowledged"),
    Choice("assigned", "已分派", "Assigned"),
    Choice("in_progress", "处理中", "In progress"),
    Choice("waiting_resident", "待居民回复", "Waiting for the resident"),
    Choice("action_scheduled", "已排期", "Action scheduled"),
    Choice("resolved", "已解决", "Resolved"),
    Choice("closed", "已办结", "Closed"),
    Choice("reopened", "已重开", "Reopened"),
    Choice("duplicate", "重复", "Duplicate"),
    Choice("referred", "已转办", "Referred"),
    Choice("rejected", "不予受理", "Rejected"),
    Choice("cancelled", "已撤销", "Cancelled"),
)


def _moment(name: str, zh: str, en: str) -> Field:
    return Field(name, zh, en, kind="datetime", sql=DateTime(timezone=True), derived=True)


LAYER = Layer(
    id="requests",
    title_zh="居民诉求",
    title_en="Residents' requests",
    description="Requests and complaints of residents, with their category, state and due times.",
    table="requests",
    geometry_types=("Point",),
    feature_id="public_id",
    natural_key=("public_id",),
    fields=(
        Field("public_id", "诉求编号", "Request id", required=True, sql=String(24), derived=True),
        Field("site", "工地编号", "Site code", required=True),
        Field(
            "category",
            "类别",
            "Category",
            required=True,
            sql=String(32),
            index=True,
            aliases=("诉求类别", "问题类别"),
        ),
        Field(
            "channel",
            "来源渠道",
            "Channel",
            choices=CHANNELS,
            sql=String(16),
            required=True,
            aliases=("渠道", "来源"),
        ),
        Field("state", "状态", "State", choices=STATES, sql=String(24), default="'new'"),
        Field(
            "priority", "优先级", "Priority", choices=PRIORITIES, sql=String(8), default="'normal'"
        ),
        Field(
            "description", "诉求内容", "Description", required=True, aliases=("问题描述", "内容")
        ),
        Field("address", "地址", "Address"),
        Field("household", "住户", "Household", kind="int", aliases=("住户编号",)),
        Field(
            "reporter_name",
            "反映人",
            "Reporter",
            personal=True,
            sql=String(64),
            aliases=("反映人姓名", "姓名"),
        ),
        Field(
            "reporter_phone",
            "联系电话",
            "Reporter phone",
            personal=True,
            sql=String(32),
            aliases=("反映人电话", "电话"),
        ),
        Field("assignee", "承办人", "Assignee", sql=String(64)),
        Field("agency", "责任单位", "Agency responsible"),
        _moment("acknowledge_due", "受理时限", "Acknowledge by"),
        _moment("resolve_due", "办结时限", "Resolve by"),
        _moment("acknowledged_at", "受理时间", "Acknowledged at"),
        _moment("resolved_at", "办结时间", "Resolved at"),
        _moment("closed_at", "关闭时间", "Closed at"),
        # While waiting for the resident the resolve clock stands still (since this moment).
        _moment("paused_since", "暂停计时", "SLA paused since"),
        Field("duplicate_of", "重复于", "Duplicate of", sql=String(24), derived=True),
        Field(
            "satisfaction", "满意度", "Satisfaction", kind="int", sql=SmallInteger(), between=(1, 5)
        ),
        Field(
            "escalation_level",
            "督办级别",
            "Escalation level",
            kind="int",
            sql=SmallInteger(),
            default="0",
            derived=True,
        ),
        Field(
            "cycle", "办理轮次", "Cycle", kind="int", sql=SmallInteger(), default="1", derived=True
        ),
    ),
    references=(
        Reference("site", "sites", "code", "site_id"),
        Reference(
            "household", "households", "id", "household_id", required=False, on_delete="SET NULL"
        ),
    ),
    checks=(
        ("ck_requests_not_own_duplicate", "duplicate_of IS NULL OR duplicate_of <> public_id"),
    ),
    # Newest first, of a site (the board) and of all (the city's list, Open311).
    indexes=(
        ("ix_requests_site_created", ("site_id", "created_at", "id")),
        ("ix_requests_created", ("created_at", "id")),
    ),
    popup_fields=("public_id", "category", "state", "description"),
    style={"color": "#e6550d", "radius": 5},
)

"""The demo's micro-wishes (微心愿): a few per site, posted for households the site affects
and worked through ``geo_service.liaison.wishes`` as a working group would, so each state
is there (posted, claimed, fulfilled, cancelled) with its dates and audit rows.

Claims are made in the name of the site's working-group members; a site that has none yet
gets one community member (fictional, like every resident of the demo).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, Engine, text

from geo_service.access import local_operator
from geo_service.liaison import wishes
from geo_service.liaison.calendar import TZ

# Title (shown to the working group), description (personal), the state it ends in.
WISHES = (
    ("楼道加装扶手", "示例：3 单元独居老人，上下楼不便，希望加装楼道扶手。", "fulfilled"),
    ("修理破损信报箱", "示例：1 单元信报箱门脱落。", "fulfilled"),
    ("陪同老人就医", "示例：住户行动不便，每月需到医院复诊一次。", "claimed"),
    ("施工期间代收快递", "示例：白天上班，快递无法送达。", "posted"),
    ("更换楼道感应灯", "示例：2 单元楼道灯坏了两周。", "claimed"),
    ("孩子学习用书桌", "示例：困难家庭，孩子上小学，缺少书桌。", "posted"),
    ("清理屋顶落尘", "示例：施工扬尘积在阳台雨棚上。", "cancelled"),
)
_PER_SITE = 4
_START = dt.datetime(2026, 10, 12, 9, 30, tzinfo=TZ)
_PATH = {
    "posted": (),
    "claimed": ("claimed",),
    "fulfilled": ("claimed", "fulfilled"),
    "cancelled": ("cancelled",),
}


def load_wishes(engine: Engine) -> None:
    """Replace the micro-wishes with the demo's, a few per site."""
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM micro_wishes"))
        codes = list(conn.execute(text("SELECT code FROM sites ORDER BY code")).scalars())
        for n, code in enumerate(codes):
            _site(conn, code, n)


def _member(conn: Connection, code: str) -> int:
    found = conn.execute(
        text("SELECT id FROM working_group_members WHERE site_code = :c ORDER BY id LIMIT 1"),
        {"c": code},
    ).scalar()
    if found is not None:
        return int(found)
    return int(
        conn.execute(
            text(
                "INSERT INTO working_group_members (site_code, organisation, party, role, name, "
                "phone) VALUES (:c, '示例社区居委会', 'community', '网格员', '示例-周某', "
                "'199-0000-0900') RETURNING id"
            ),
            {"c": code},
        ).scalar_one()
    )


def _site(conn: Connection, code: str, n: int) -> None:
    households = list(
        conn.execute(
            text(
                "SELECT hi.household_id FROM household_impacts hi JOIN sites s "
                "ON s.id = hi.site_id WHERE s.code = :c ORDER BY hi.distance_m, "
                "hi.household_id LIMIT :k"
            ),
            {"c": code, "k": _PER_SITE},
        ).scalars()
    )
    operator, member = local_operator(), _member(conn, code)
    for i in range(_PER_SITE):
        title, description, final = WISHES[(n + i) % len(WISHES)]
        at = _START + dt.timedelta(days=3 * i + n)
        wish = wishes.NewWish(
            site=code,
            title=title,
            description=description,
            household=households[i] if i < len(households) else None,
            due_on=(at + dt.timedelta(days=30)).date(),
        )
        wish_id = wishes.post(conn, operator, wish, now=at)
        for step, target in enumerate(_PATH[final], start=1):
            chosen = member if target == "claimed" else None
            when = at + dt.timedelta(days=2 * step)
            wishes.transition(conn, operator, wish_id, target, member=chosen, now=when)

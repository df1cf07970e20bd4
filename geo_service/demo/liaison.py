"""The demo's liaison season: a working group per site, a season of door-to-door visits on
the 秋涛路 road works, and about 120 residents' requests in every category and state.

Everything goes through the liaison functions a team uses (``groups``, ``visits.log``,
``requests.create`` and ``move``), dated back over the weeks before the load, so every
request has its events and its SLA clocks, and a final SLA pass records the breaches and
escalations of those left overdue, as the server's scheduler would have. Deterministic: the
generator is seeded from the district's seed; the dates count back from the day of the load
(a season ends today), so what is overdue is overdue now.

The officers are users ``liaison-<site>`` (lead) and ``liaison-<site>-2`` (deputy), without
a password: an administrator gives them one (``geo-service user password``) or a token.
Every name and phone is fictional (示例-, 199-0000-NNNN), as in the rest of the demo.
"""

from __future__ import annotations

import datetime as dt
import zlib
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, text

from geo_service import auth
from geo_service.access import Principal, local_operator
from geo_service.liaison import groups, requests, sla, visits
from geo_service.liaison.calendar import TZ
from geo_service.liaison.categories import all_categories
from geo_service.settings import LiaisonSettings
from layers.requests import CHANNELS

ROAD = "QT-01"
REQUESTS = 120
SEASON_DAYS = 56
_PARTIES = ("owner", "survey", "design", "contractor", "supervisor")
_MEMBER_ROLES = {
    "owner": "项目负责人",
    "survey": "勘察负责人",
    "design": "设计负责人",
    "contractor": "项目经理",
    "supervisor": "总监理工程师",
    "street_office": "街道联络员",
    "community": "社区书记",
}
_SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
# The last visit's outcome per household on the road works, per 100 households.
_OUTCOMES = {"met": 68, "not_at_home": 14, "revisit_needed": 8, "refused": 4, "moved_out": 2}
_UNVISITED = 4
# How far each request gets, per 120: every state, with overdue ones among the open.
_STATES = {
    "new": 8,
    "acknowledged": 8,
    "assigned": 10,
    "in_progress": 16,
    "waiting_resident": 8,
    "action_scheduled": 8,
    "resolved": 12,
    "closed": 24,
    "reopened": 6,
    "duplicate": 6,
    "referred": 5,
    "rejected": 4,
    "cancelled": 5,
}
_PATHS = {
    "new": (),
    "acknowledged": ("acknowledged",),
    "assigned": ("acknowledged", "assigned"),
    "in_progress": ("acknowledged", "assigned", "in_progress"),
    "waiting_resident": ("acknowledged", "assigned", "in_progress", "waiting_resident"),
    "action_scheduled": ("acknowledged", "assigned", "in_progress", "action_scheduled"),
    "resolved": ("acknowledged", "assigned", "in_progress", "resolved"),
    "closed": ("acknowledged", "assigned", "in_progress", "resolved", "closed"),
    "reopened": ("acknowledged", "assigned", "in_progress", "resolved", "reopened"),
    "duplicate": ("duplicate",),
    "referred": ("acknowledged", "referred"),
    "rejected": ("acknowledged", "rejected"),
    "cancelled": ("acknowledged", "cancelled"),
}
_NOTES = {
    "acknowledged": "已受理，将尽快联系住户",
    "in_progress": "施工方已到现场核实",
    "waiting_resident": "待住户确认上门时间",
    "action_scheduled": "已排期处理",
    "resolved": "已处理完毕，住户认可",
    "closed": "回访满意，办结",
    "reopened": "住户反映问题仍存在",
    "referred": "非本工地职责，转交属地街道",
    "rejected": "经核实不属于施工影响",
    "cancelled": "住户撤回诉求",
}


def _rng(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def clear_liaison(conn: Connection) -> None:
    """Empty the liaison work and the monitors' alarms before the sites, households and
    monitors they point at are replaced (TRUNCATE: the events refuse DELETE, being
    append-only)."""
    conn.execute(
        text(
            "TRUNCATE request_events, requests, visit_photos, visits, micro_wishes, "
            "liaison_outbox, working_group_members, site_officers, alarm_events, "
            "alarm_requests, monitor_exceedances, alarm_watermarks, alarms"
        )
    )


def load_liaison(engine: Engine, seed: int, *, today: dt.date | None = None) -> None:
    """Working groups for every site, then the season's visits and requests."""
    today = today or dt.datetime.now(TZ).date()
    admin = local_operator()
    with engine.begin() as conn:
        sites = [dict(r) for r in conn.execute(text(_SITES)).mappings()]
        officers = {s["code"]: _working_group(conn, admin, s, seed) for s in sites}
    with engine.begin() as conn:
        _visits(conn, officers[ROAD], seed, today)
        _requests(conn, sites, officers, seed, today)
        sla.run(conn, LiaisonSettings(), now=dt.datetime.now(dt.UTC))


_SITES = """
SELECT s.id, s.code, s.owner, s.survey, s.design, s.contractor, s.supervisor,
       (SELECT c.name FROM communities c ORDER BY c.geom <-> s.geom LIMIT 1) AS community,
       (SELECT c.street_office FROM communities c ORDER BY c.geom <-> s.geom LIMIT 1)
           AS street_office
FROM sites s ORDER BY s.code
"""


def _person(rng: np.random.Generator) -> str:
    return f"示例-{_SURNAMES[int(rng.integers(len(_SURNAMES)))]}某"


def _phone(rng: np.random.Generator) -> str:
    return f"199-0000-{int(rng.integers(10_000)):04d}"


def _working_group(
    conn: Connection, admin: Principal, site: dict[str, Any], seed: int
) -> list[Principal]:
    """The site's lead and deputy (users of their own) and its members: the five parties
    the site names, the street office and the community beside it."""
    rng = _rng(seed, f"group:{site['code']}")
    names = [f"liaison-{site['code'].lower()}", f"liaison-{site['code'].lower()}-2"]
    for name in names:
        exists = conn.execute(text("SELECT 1 FROM users WHERE username = :u"), {"u": name})
        if exists.first() is None:
            auth.create_user(conn, name, "liaison", password=None, sites=[site["code"]], by=admin)
        else:
            auth.set_user_sites(conn, name, [site["code"]], by=admin)
    start = dt.date(2024, 1, 1)
    for name, duty in zip(names, ("lead", "deputy"), strict=True):
        groups.add_officer(conn, admin, site["code"], name, duty, start, None)
    organisations = [(p, site[p]) for p in _PARTIES if site[p]]
    organisations += [("street_office", site["street_office"]), ("community", site["community"])]
    for party, organisation in organisations:
        if organisation:
            member = groups.Member(
                organisation, party, _person(rng), _MEMBER_ROLES[party], _phone(rng)
            )
            groups.add_member(conn, admin, site["code"], member)
    return [
        Principal(role="liaison", username=n, site_ids=frozenset({site["id"]}), via="local")
        for n in names
    ]


def _affected(conn: Connection, site_code: str) -> list[int]:
    """The households a site affects, in door-knocking order (nearest first)."""
    return list(
        conn.execute(
            text(
                "SELECT hi.household_id FROM household_impacts hi JOIN sites s "
                "ON s.id = hi.site_id WHERE s.code = :c ORDER BY hi.distance_m, hi.household_id"
            ),
            {"c": site_code},
        ).scalars()
    )


def _at(day: dt.date, hour: float) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), TZ) + dt.timedelta(hours=hour)


def _visits(conn: Connection, officers: list[Principal], seed: int, today: dt.date) -> None:
    """Door by door along the road over the season: a first call, a second one where
    nobody was home or a revisit was asked, the next visit due for those still open."""
    rng = _rng(seed, "visits")
    homes = _affected(conn, ROAD)
    outcomes = list(_OUTCOMES)
    weights = np.array([_OUTCOMES[o] for o in outcomes], dtype=float)
    weights /= weights.sum()
    calls_by: dict[int, list[visits.NewVisit]] = {0: [], 1: []}
    for n, household in enumerate(homes):
        if rng.random() * 100 < _UNVISITED:
            continue
        # Door-knocking order: the nearest households early in the season.
        day = today - dt.timedelta(days=SEASON_DAYS - int(n * (SEASON_DAYS - 14) / len(homes)))
        last = str(rng.choice(outcomes, p=weights))
        calls = (
            [("not_at_home", day)] if last in ("met", "not_at_home") and rng.random() < 0.3 else []
        )
        calls.append((last, day + dt.timedelta(days=7 * len(calls))))
        for outcome, when in calls:
            due = None
            if outcome in ("not_at_home", "revisit_needed"):
                due = when + dt.timedelta(days=int(rng.integers(5, 21)))
            calls_by[n % 2].append(
                visits.NewVisit(
                    site=ROAD,
                    household=household,
                    outcome=outcome,
                    visited_at=_at(when, 9 + float(rng.random()) * 9),
                    notes="示例：住户反映夜间施工噪声"
                    if outcome == "met" and rng.random() < 0.2
                    else None,
                    next_visit_due=due,
                )
            )
    for who, batch in calls_by.items():
        visits.log_many(conn, officers[who], batch)


def _requests(
    conn: Connection,
    sites: list[dict[str, Any]],
    officers: dict[str, list[Principal]],
    seed: int,
    today: dt.date,
) -> None:
    """About 120 requests, half of them on the road works, in all 15 categories, each moved
    along its path a day or so per step; the duplicates repeat an earlier one of their site."""
    rng = _rng(seed, "requests")
    categories = [c.code for c in all_categories(conn)]
    plan = [state for state, n in _STATES.items() for _ in range(n)]
    rng.shuffle(plan)
    homes = {s["code"]: _affected(conn, s["code"]) for s in sites}
    codes = [s["code"] for s in sites if homes[s["code"]]]
    made: dict[str, list[str]] = {}
    settings = LiaisonSettings()
    for n, state in enumerate(plan):
        code = ROAD if n % 2 == 0 else codes[int(rng.integers(len(codes)))]
        if state == "duplicate" and not made.get(code):
            code = next(c for c in made if made[c])
        lead, deputy = officers[code]
        # Closed and reopened ones started early; new ones in the last days.
        back = int(rng.integers(1, 4)) if state == "new" else int(rng.integers(8, SEASON_DAYS))
        at = _at(today - dt.timedelta(days=back), 8 + float(rng.random()) * 10)
        household = homes[code][int(rng.integers(len(homes[code])))]
        public_id = requests.create(
            conn,
            lead,
            requests.NewRequest(
                site=code,
                category=categories[n % len(categories)],
                channel=str(CHANNELS[int(rng.integers(len(CHANNELS) - 1))]),
                description=f"示例诉求 {n + 1}：{_DESCRIPTIONS[n % len(_DESCRIPTIONS)]}",
                household=household,
                reporter_name=_person(rng),
                reporter_phone=_phone(rng),
                priority="high" if rng.random() < 0.15 else "normal",
            ),
            now=at,
        )
        step = dt.timedelta(hours=float(rng.integers(4, 30)))
        for target in _PATHS[state]:
            at += step
            requests.move(
                conn,
                lead,
                public_id,
                target,
                settings,
                note=_NOTES.get(target),
                assignee=deputy.username if target == "assigned" else None,
                duplicate_of=made[code][0] if target == "duplicate" else None,
                satisfaction=int(rng.integers(3, 6)) if target == "closed" else None,
                now=at,
            )
        made.setdefault(code, []).append(public_id)


_DESCRIPTIONS = (
    "夜间施工噪声影响休息",
    "工地扬尘落在阳台",
    "墙面出现新裂缝",
    "施工车辆占用小区车位",
    "围挡遮挡小区出入口",
    "楼道堆放施工材料",
    "信报箱损坏",
    "消防通道被占用",
    "道路开挖后未恢复",
    "老人出行不便，希望加装扶手",
)

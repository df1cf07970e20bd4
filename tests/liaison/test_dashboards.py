"""The dashboards on a hand-made town whose answers are known: every figure, the medians and
the on-time rate, the small-cell rule (below, at the threshold, the complement), who may
see which dashboard, and the page in zh and en with local scripts only.

The town: south of the housing site (AZF-2024-01) one building of 10 households, the first
3 elderly (a vulnerable cell under the threshold); north of the road (ROAD-2024-07) one
building of 12 households, the first 5 elderly (a cell of exactly the threshold). No
household is near both sites, so the all-sites cell is the two sites' cells together.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import geopandas as gpd
import pytest
from fastapi.testclient import TestClient
from shapely.geometry import Point, box
from sqlalchemy import Engine, text

from geo_service.impact.disclosure import SMALL
from geo_service.ingest import import_frame
from geo_service.liaison import requests as cases
from geo_service.settings import ImportSettings, LiaisonSettings
from tests.liaison.conftest import MONDAY, OTHER, SITE, officer

HOUR, DAY = dt.timedelta(hours=1), dt.timedelta(days=1)
SALTS = [f"salt-{n}" for n in range(12)]


def _building(engine: Engine, name: str, lon: float, lat: float, elderly: list[bool]) -> None:
    settings = ImportSettings()
    import_frame(
        engine,
        "buildings",
        gpd.GeoDataFrame(
            {"address": [name], "community": ["翠苑一区"]},
            geometry=[box(lon - 1e-4, lat - 1e-4, lon + 1e-4, lat + 1e-4)],
            crs=4326,
        ),
        settings=settings,
    )
    import_frame(
        engine,
        "households",
        gpd.GeoDataFrame(
            {
                "building": [name] * len(elderly),
                "unit_label": [f"1-1-{101 + n}" for n in range(len(elderly))],
                "elderly": elderly,
            },
            geometry=[Point(lon + n * 1e-6, lat) for n in range(len(elderly))],
            crs=4326,
        ),
        settings=settings,
    )


def _affected(engine: Engine, code: str) -> list[int]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT hi.household_id FROM household_impacts hi JOIN sites s "
                    "ON s.id = hi.site_id WHERE s.code = :c ORDER BY hi.household_id"
                ),
                {"c": code},
            ).scalars()
        )


@pytest.fixture
def town(officers: Engine) -> Engine:
    _building(officers, "南苑1幢", 120.1595, 30.2630, [True] * 3 + [False] * 7)
    _building(officers, "北苑1幢", 120.1650, 30.2715, [True] * 5 + [False] * 7)
    with officers.begin() as conn:  # a level to select the households by (the programme)
        conn.execute(
            text(
                "INSERT INTO site_equipment (site_id, equipment_code, count) "
                "VALUES (1, 'excavator', 2)"
            )
        )
    site, road = _affected(officers, SITE), _affected(officers, OTHER)
    assert (len(site), len(road), set(site) & set(road)) == (10, 12, set())
    return officers


def _visit(client: TestClient, site: str, household: int, outcome: str = "met") -> None:
    answer = client.post(
        f"/api/sites/{site}/visits",
        json={
            "household": household,
            "outcome": outcome,
            "visited_at": "2026-11-30T10:30:00+08:00",
        },
    )
    assert answer.status_code == 201, answer.text


def _moves(engine: Engine, public_id: str, steps: list[tuple[str, dt.datetime]]) -> None:
    settings = LiaisonSettings()
    for target, at in steps:
        with engine.begin() as conn:
            cases.move(conn, officer(), public_id, target, settings, assignee="wang", now=at)


@pytest.fixture
def season(town: Engine, new_request: Callable[..., str], client_as: Callable[..., TestClient]):
    """Visits, requests and a programme with known figures."""
    site, road = _affected(town, SITE), _affected(town, OTHER)
    wang, li = client_as("liaison", sites=[SITE]), client_as("liaison", sites=[OTHER])
    for household in site[:2] + site[3:5]:  # 2 of the 3 elderly, 4 of 10 in all
        _visit(wang, SITE, household)
    _visit(wang, SITE, site[5], "not_at_home")  # an attempt, not a visit
    for household in road[:5]:  # every elderly one of the road
        _visit(li, OTHER, household)
    # AZF: acknowledged after 2, 4 and 9 hours; resolved after 3 and 30 days (the second
    # late: 10 working days from 28 September end in mid-October); the third open, overdue.
    quick = new_request(household=site[0])
    late = new_request(category="dust", household=site[1])
    open_ = new_request(category="dust")
    _moves(
        town,
        quick,
        [
            ("acknowledged", MONDAY + 2 * HOUR),
            ("assigned", MONDAY + 3 * HOUR),
            ("in_progress", MONDAY + 4 * HOUR),
            ("resolved", MONDAY + 3 * DAY),
        ],
    )
    _moves(
        town,
        late,
        [
            ("acknowledged", MONDAY + 4 * HOUR),
            ("assigned", MONDAY + 5 * HOUR),
            ("in_progress", MONDAY + 6 * HOUR),
            ("resolved", MONDAY + 30 * DAY),
        ],
    )
    _moves(town, open_, [("acknowledged", MONDAY + 9 * HOUR)])
    # The road: one request made now, not yet due.
    new_request(site=OTHER, category="noise", at=dt.datetime.now(dt.UTC))
    admin = client_as("admin")
    programme = admin.post(
        f"/api/sites/{SITE}/mitigation/programmes",
        json={"kind": "sound_insulation_windows", "title": "隔声窗", "rule": {"min_leq_day": 0}},
    )
    assert programme.status_code == 201, programme.text
    enrolled = admin.post(f"/api/mitigation/programmes/{programme.json()['id']}/enrol")
    assert enrolled.json()["created"] == 10
    with town.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO micro_wishes (site_code, title, posted_by, state) VALUES "
                "(:s, '扶手', 'wang', 'fulfilled'), (:s, '信箱', 'wang', 'fulfilled'), "
                "(:s, '陪诊', 'wang', 'posted'), (:o, '路灯', 'li', 'claimed')"
            ),
            {"s": SITE, "o": OTHER},
        )
    return town


def test_a_site_dashboard_shows_each_figure(
    season: Engine, client_as: Callable[..., TestClient]
) -> None:
    board = client_as("liaison", sites=[SITE]).get(f"/api/dashboards/sites/{SITE}").json()
    assert board["site"]["code"] == SITE and board["exact"] is True
    assert board["households"] == {
        "households": 10,
        "visited": 4,
        "visited_pct": 40.0,
        "vulnerable": {"households": 3, "visited": 2, "visited_pct": 66.7},
    }
    requests = board["requests"]
    assert (requests["requests"], requests["open"], requests["overdue"]) == (3, 1, 1)
    assert requests["median_acknowledge_hours"] == 4.0  # of 2, 4, 9
    assert requests["median_resolve_days"] == 16.5  # of 3 and 30
    assert (requests["resolved"], requests["on_time"], requests["on_time_pct"]) == (2, 1, 50.0)
    by_category = {r["category"]: r for r in requests["by_category"]}
    assert set(by_category) == {"noise", "dust"}
    assert (by_category["dust"]["open"], by_category["dust"]["overdue"]) == (1, 1)
    assert by_category["dust"]["name_zh"] == "扬尘"
    by_community = {r["community"]: (r["requests"], r["open"]) for r in requests["by_community"]}
    # Two through their households' building; the third was placed inside the site.
    assert by_community == {"翠苑一区": (2, 0), None: (1, 1)}
    funnel = board["mitigation"]
    assert funnel["cases"] == 10 and funnel["reached"]["eligible"] == 10
    assert funnel["reached"]["surveyed"] == 0 and len(funnel["programmes"]) == 1
    assert board["wishes"] == {"posted": 1, "claimed": 0, "fulfilled": 2, "cancelled": 0}


def test_the_all_sites_dashboard_counts_each_household_once_and_lists_the_sites(
    season: Engine, client_as: Callable[..., TestClient]
) -> None:
    board = client_as("admin").get("/api/dashboards").json()
    assert [s["site"]["code"] for s in board["sites"]] == [SITE, OTHER]
    whole = board["all"]
    assert whole["households"] == {
        "households": 22,
        "visited": 9,
        "visited_pct": 40.9,
        "vulnerable": {"households": 8, "visited": 7, "visited_pct": 87.5},
    }
    assert (whole["requests"]["requests"], whole["requests"]["open"]) == (4, 2)
    assert whole["requests"]["overdue"] == 1
    assert whole["wishes"]["fulfilled"] == 2 and whole["wishes"]["claimed"] == 1
    road = board["sites"][1]
    assert road["mitigation"] == {
        "programmes": [],
        "cases": 0,
        "reached": road["mitigation"]["reached"],
    }
    assert whole["mitigation"]["cases"] == 10
    # A liaison officer's "all sites" are their own.
    own = client_as("liaison", sites=[OTHER]).get("/api/dashboards").json()
    assert [s["site"]["code"] for s in own["sites"]] == [OTHER]
    assert own["all"]["households"]["households"] == 12


def _set_salt(engine: Engine, salt: str) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE disclosure_key SET salt = :s"), {"s": salt})


def test_vulnerable_cells_under_the_threshold_are_hidden_from_planners(
    season: Engine, client_as: Callable[..., TestClient]
) -> None:
    planner = client_as("planner")
    for salt in SALTS:
        _set_salt(season, salt)
        board = planner.get(f"/api/dashboards/sites/{SITE}").json()
        # 3 elderly households: every count of the cell hidden, whatever the key ...
        assert board["households"]["vulnerable"] == {
            "households": SMALL,
            "visited": SMALL,
            "visited_pct": None,
        }
        # ... while the counts of no sensitive attribute stay exact.
        assert board["households"]["households"] == 10 and board["exact"] is False
        # The same cell as /coverage shows: one rule.
        cover = planner.get(f"/api/sites/{SITE}/coverage").json()["vulnerable"]
        assert cover["households"] == cover["visited"] == SMALL


def test_a_cell_of_exactly_the_threshold_can_be_shown_perturbed(
    season: Engine, client_as: Callable[..., TestClient]
) -> None:
    planner = client_as("planner")
    shown = []
    for salt in SALTS:
        _set_salt(season, salt)
        cell = planner.get(f"/api/dashboards/sites/{OTHER}").json()["households"]["vulnerable"]
        cover = planner.get(f"/api/sites/{OTHER}/coverage").json()["vulnerable"]
        assert (cell["households"], cell["visited"]) == (cover["households"], cover["visited"])
        shown.append(cell["households"])
    numbers = [n for n in shown if n != SMALL]
    # 5 households is not too small a cell: shown when its shift is not negative, 5 to 9.
    assert numbers and all(5 <= n <= 9 for n in numbers)
    assert SMALL in shown  # ... and "<5" when the shift takes it under 5
    # The road's officer reads the exact count.
    own = client_as("liaison", sites=[OTHER]).get(f"/api/dashboards/sites/{OTHER}").json()
    assert own["households"]["vulnerable"] == {"households": 5, "visited": 5, "visited_pct": 100.0}


def test_the_total_less_the_shown_cells_does_not_give_back_a_hidden_one(
    season: Engine, client_as: Callable[..., TestClient]
) -> None:
    """The complementary-cell attack: the all-sites cell (8) less the road's (5) would be
    the housing site's hidden 3, if both were exact."""
    planner = client_as("planner")
    guesses = []
    for salt in SALTS:
        _set_salt(season, salt)
        board = planner.get("/api/dashboards").json()
        hidden = board["sites"][0]["households"]["vulnerable"]["households"]
        road = board["sites"][1]["households"]["vulnerable"]["households"]
        total = board["all"]["households"]["vulnerable"]["households"]
        assert hidden == SMALL
        if SMALL not in (road, total):
            guesses.append(total - road)
    assert guesses  # the attacker had something to subtract ...
    # ... and it is mostly wrong, and not even in the same place every time.
    assert sum(g == 3 for g in guesses) <= len(guesses) // 2
    assert len(set(guesses)) > 1
    # Exact for the administrator: 8 = 3 + 5.
    exact = client_as("admin").get("/api/dashboards").json()
    assert exact["all"]["households"]["vulnerable"]["households"] == 8


def test_who_may_see_which_dashboard(
    season: Engine, client_as: Callable[..., TestClient], anonymous: TestClient
) -> None:
    assert anonymous.get("/api/dashboards").status_code == 401
    assert anonymous.get(f"/api/dashboards/sites/{SITE}").status_code == 401
    page = anonymous.get("/dashboards", headers={"Accept": "text/html"})
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    gis = client_as("gis")
    assert gis.get("/api/dashboards").status_code == 403
    assert gis.get(f"/api/dashboards/sites/{SITE}").status_code == 403
    other = client_as("liaison", sites=[OTHER]).get(f"/api/dashboards/sites/{SITE}")
    assert other.status_code == 403 and SITE in other.json()["detail"]
    assert client_as("liaison", sites=[OTHER]).get("/api/dashboards/sites/NOPE").status_code == 404
    # A working-group member sees their site's figures, but not the funnel (which lists
    # households' cases), and the vulnerable cell perturbed.
    member = client_as("member", sites=[SITE]).get(f"/api/dashboards/sites/{SITE}").json()
    assert member["mitigation"] is None and member["requests"]["requests"] == 3
    assert member["households"]["vulnerable"]["households"] == SMALL
    planner = client_as("planner").get(f"/api/dashboards/sites/{SITE}").json()
    assert planner["mitigation"]["cases"] == 10


_SRC = re.compile(r'<(?:script|link)\b[^>]*(?:src|href)="([^"]+)"')


@pytest.mark.parametrize(
    ("lang", "first", "heading"),
    [("zh", "受影响住户", "全部工地看板"), ("en", "Affected households", "All sites dashboard")],
)
def test_the_page_renders_in_both_languages_with_local_scripts_only(
    season: Engine, client_as: Callable[..., TestClient], lang: str, first: str, heading: str
) -> None:
    planner = client_as("planner")
    page = planner.get(f"/dashboards?lang={lang}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert f'<span class="primary">{heading}</span>' in html
    assert f'<span class="primary">{first}</span>' in html
    assert 'id="households">22<' in html and f'href="/dashboards/sites/{SITE}"' in html
    sources = [s for s in _SRC.findall(html) if not s.startswith(("/dashboards", "/api/", "?"))]
    assert "/static/maps/vendor/echarts@6.1.0/dist/echarts.min.js" in sources
    for source in sources:
        assert source.startswith("/") and not source.startswith("//"), source
        assert planner.get(source).status_code == 200, source
    site_page = planner.get(f"/dashboards/sites/{SITE}?lang={lang}").text
    assert 'id="households">10<' in site_page and 'id="chart-funnel"' in site_page
    assert 'id="on-time">50.0%<' in site_page

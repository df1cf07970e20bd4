"""The small district of ``tests/api/conftest.py``, its officers and a request maker.

``wang`` is a liaison officer of AZF-2024-01 (and its lead), ``li`` of ROAD-2024-07; the
domain functions are called as ``wang`` (``officer``) so tests read like the work."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from sqlalchemy import Engine

from geo_service.access import Principal
from geo_service.liaison import groups
from geo_service.liaison import requests as cases
from geo_service.liaison.calendar import TZ
from geo_service.settings import LiaisonSettings
from tests.accounts import make_user
from tests.api.conftest import anonymous, app, client, client_as, district, homes  # noqa: F401

SITE, OTHER = "AZF-2024-01", "ROAD-2024-07"
# Monday 28 September 2026, 10:00 in Hangzhou: the week before National Day.
MONDAY = dt.datetime(2026, 9, 28, 10, 0, tzinfo=TZ)


@pytest.fixture
def officers(district: Engine) -> Engine:  # noqa: F811 - the imported fixture
    make_user(district, "wang", "liaison", password=None, sites=[SITE])
    make_user(district, "li", "liaison", password=None, sites=[OTHER])
    make_user(district, "zhao", "liaison", password=None, sites=[SITE])
    with district.begin() as conn:
        groups.add_officer(conn, admin(), SITE, "wang", "lead", dt.date(2026, 1, 1), None)
    return district


def admin() -> Principal:
    return Principal(role="admin", username="admin-1", via="token")


def officer(name: str = "wang", site_ids: frozenset[int] = frozenset({1})) -> Principal:
    return Principal(role="liaison", username=name, site_ids=site_ids, via="token")


@pytest.fixture
def settings() -> LiaisonSettings:
    return LiaisonSettings(manager="陈主任")


@pytest.fixture
def new_request(officers: Engine) -> Callable[..., str]:
    """``new_request(at=..., site=..., category=...)``: a request recorded by wang."""

    def make(at: dt.datetime = MONDAY, site: str = SITE, category: str = "noise", **kw) -> str:
        fields = {
            "lon": 120.159,
            "lat": 30.267,
            "reporter_name": "示例-赵某",
            "reporter_phone": "199-0000-0009",
            **kw,
        }
        who = officer() if site == SITE else officer("li", frozenset({2}))
        with officers.begin() as conn:
            return cases.create(
                conn,
                who,
                cases.NewRequest(
                    site=site,
                    category=category,
                    channel="hotline_12345",
                    description="夜里打桩太吵",
                    **fields,
                ),
                now=at,
            )

    return make

"""Monitors of the small district and a way to give them minute readings.

``noisy`` (boundary), ``indoor`` (indoors: limits 10 dB lower) and ``dusty`` are monitors of
AZF-2024-01 beside the seed's; ``minutes(mn, start, n, ...)`` writes ``n`` minutes of data as
the receiver stores CN 2051 packets."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, text

from geo_service.liaison.calendar import TZ
from geo_service.monitoring import partitions
from tests.api.conftest import anonymous, app, client, client_as, district, homes  # noqa: F401

# Monday 1 June 2026 in Hangzhou.
DAY = dt.date(2026, 6, 1)


def local(hour: int, minute: int = 0, day: dt.date = DAY) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=TZ)


@pytest.fixture
def monitors(district: Engine) -> Engine:  # noqa: F811 - the imported fixture
    with district.begin() as conn:
        conn.execute(
            text("""
INSERT INTO monitors (mn, site_id, name, st, kind, placement, password, interval_s, geom,
                      created_at)
VALUES ('NOISY', 1, 'boundary noise', '23', 'noise', 'boundary', 'pw', 60,
        ST_SetSRID(ST_MakePoint(120.1586, 30.2666), 4326), '2026-01-01'),
       ('INDOOR', 1, 'indoor noise', '23', 'noise', 'indoor', 'pw', 60,
        ST_SetSRID(ST_MakePoint(120.1587, 30.2666), 4326), '2026-01-01'),
       ('DUSTY', 1, 'dust', '39', 'dust', 'boundary', 'pw', 60,
        ST_SetSRID(ST_MakePoint(120.1588, 30.2666), 4326), '2026-01-01')""")
        )
        # The seed's monitor reports nothing in these tests: out of the way.
        conn.execute(text("DELETE FROM monitors WHERE mn = 'AZF202401-01'"))
        partitions.ensure(conn, [dt.date(2026, 5, 1), dt.date(2026, 6, 1)])
    return district


@pytest.fixture
def minutes(monitors: Engine) -> Callable[..., None]:
    """``minutes(mn, start, n, leq=..., lmax=..., pm10=..., flag=..., flags={i: 'M'})``."""

    def write(
        mn: str,
        start: dt.datetime,
        n: int,
        *,
        leq: float | None = None,
        lmax: float | None = None,
        pm10: float | None = None,
        flag: str | None = None,
        flags: dict[int, str] | None = None,
    ) -> None:
        rows = []
        for i in range(n):
            at = start + dt.timedelta(minutes=i)
            f = (flags or {}).get(i, flag)
            for factor, statistic, value in (
                ("Leq", "Data", leq),
                ("LMx", "Data", lmax),
                ("a34002", "Avg", pm10),
            ):
                if value is not None:
                    rows.append(
                        {"mn": mn, "f": factor, "s": statistic, "at": at, "v": value, "flag": f}
                    )
        with monitors.begin() as conn:
            conn.execute(
                text("""
INSERT INTO readings (monitor_id, cn, factor, statistic, at, value, flag, received_at)
SELECT id, '2051', :f, :s, :at, :v, :flag, :at FROM monitors WHERE mn = :mn"""),
                rows,
            )

    return write

"""Rollups kept as readings arrive equal a recomputation from the stored readings, whatever
the order, the batches, the repeats and the late packets; the API's aggregates read them."""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from geo_service.database import make_engine
from geo_service.monitoring import hj212, partitions, rollups, rules
from geo_service.monitoring.receiver import Receiver
from geo_service.monitoring.store import DatabaseSink
from tests.api.conftest import app, client, district  # noqa: F401
from tests.api.test_monitors import MN, monitors  # noqa: F401

ZONE = ZoneInfo(partitions.ZONE)
# 22:50 local on 1 June 2026: three hours of minutes cross 20-minute, hour and day buckets.
FIRST = dt.datetime(2026, 6, 1, 22, 50, tzinfo=ZONE)
FLAGS = ("N", "T", "D", "M", None)

# One minute packet: (minute after FIRST, Leq, its flag, LMx, PM10 in ug/m3, its flag).
minutes = st.tuples(
    st.integers(0, 179),
    st.floats(30, 110, allow_nan=False).map(lambda v: round(v, 1)),
    st.sampled_from(FLAGS),
    st.floats(40, 120, allow_nan=False).map(lambda v: round(v, 1)),
    st.floats(0, 900, allow_nan=False).map(lambda v: round(v, 1)),
    st.sampled_from(FLAGS),
)


def packet(minute: int, leq: float, flag: str | None, lmx: float, pm10: float, dflag) -> bytes:
    at = (FIRST + dt.timedelta(minutes=minute)).strftime("%Y%m%d%H%M%S")
    leq_flag = f",Leq-Flag={flag}" if flag else ""
    dust_flag = f",a34002-Flag={dflag}" if dflag else ""
    return hj212.build(
        qn=f"{at}000",
        st="23",
        cn="2051",
        pw="123456",
        mn=MN,
        cp=f"DataTime={at};Leq-Data={leq}{leq_flag};LMx-Data={lmx};a34002-Avg={pm10}{dust_flag}",
    )


@pytest.fixture
def sink(monitors: Engine, service_database_url: str) -> Iterator[DatabaseSink]:  # noqa: F811
    engine = make_engine(service_database_url)
    yield DatabaseSink(engine)
    engine.dispose()


def _bucket(at: dt.datetime, minutes: int) -> dt.datetime:
    local = at.astimezone(ZONE)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    since = int((local - midnight).total_seconds() // 60)
    return midnight + dt.timedelta(minutes=since // minutes * minutes)


def recomputed(engine: Engine) -> dict[tuple, tuple[float | None, int, int]]:
    """The rollups from the stored readings, computed here in Python: what they must be."""
    noise_valid = rules.noise_rule().valid_flags
    dust_valid = frozenset(rules.monitoring_data()["dust_valid_flags"])
    with engine.connect() as conn:
        readings = conn.execute(
            text("SELECT factor, statistic, at, value, flag FROM readings WHERE cn = '2051'")
        ).all()
    buckets: dict[tuple, list[tuple[float, bool]]] = defaultdict(list)
    for r in readings:
        valid = (r.flag or "N") in (noise_valid if r.factor in rollups.NOISE else dust_valid)
        for period, width in rollups.periods().items():
            buckets[(r.factor, r.statistic, period, _bucket(r.at, width))].append((r.value, valid))
    out = {}
    for key, values in buckets.items():
        valid = [v for v, ok in values if ok]
        if not valid:
            value = None
        elif key[0] == "Leq":
            value = rules.energy_mean(valid)
        elif key[0] == "LMx":
            value = max(valid)
        else:
            value = sum(valid) / len(valid)
        out[key] = (value, len(valid), len(values))
    return out


def kept(engine: Engine) -> dict[tuple, tuple[float | None, int, int]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT factor, statistic, period, start, value, valid_count, count"
                " FROM reading_rollups"
            )
        ).all()
    return {
        (r.factor, r.statistic, r.period, r.start): (r.value, r.valid_count, r.count) for r in rows
    }


def _same(a: dict, b: dict) -> bool:
    if a.keys() != b.keys():
        return False
    for key in a:
        (va, na, ca), (vb, nb, cb) = a[key], b[key]
        if (na, ca) != (nb, cb) or (va is None) != (vb is None):
            return False
        if va is not None and not math.isclose(va, vb, rel_tol=1e-9, abs_tol=1e-9):
            return False
    return True


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    packets=st.lists(minutes, min_size=1, max_size=60),
    cuts=st.lists(st.integers(0, 60), max_size=6),
    repeats=st.lists(st.integers(0, 59), max_size=5),
)
def test_rollups_kept_as_packets_arrive_equal_a_recomputation_from_the_readings(
    sink: DatabaseSink,
    monitors: Engine,  # noqa: F811
    packets: list[tuple],
    cuts: list[int],
    repeats: list[int],
) -> None:
    with monitors.begin() as conn:
        conn.execute(text("DELETE FROM readings"))
        conn.execute(text("DELETE FROM reading_rollups"))
        conn.execute(text("DELETE FROM reading_rollup_queue"))
    raws = [packet(*p) for p in packets]  # in any order: late and out-of-order minutes
    raws += [raws[i % len(raws)] for i in repeats]  # and packets sent again
    edges = sorted({0, len(raws), *(c % (len(raws) + 1) for c in cuts)})
    receiver = Receiver(sink)
    for n, (start, end) in enumerate(itertools.pairwise(edges)):  # in batches of any size
        receiver.receive_many([(raw, "127.0.0.1:1", "tcp", None) for raw in raws[start:end]])
        if n % 2:  # folded now and then, as the receiver's settling keeps up or falls behind
            sink.settle()
    sink.settle()
    incremental = kept(monitors)
    assert _same(incremental, recomputed(monitors))
    with monitors.begin() as conn:  # and the SQL rebuild agrees
        rollups.rebuild(conn, partitions.ZONE)
    assert _same(kept(monitors), incremental)


def _queued(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM reading_rollup_queue")).scalar_one()


def test_rollups_are_folded_after_the_answers_and_survive_a_stop_before_the_fold(
    sink: DatabaseSink,
    monitors: Engine,  # noqa: F811
    service_database_url: str,
) -> None:
    receiver = Receiver(sink)
    outcome, answer = receiver.receive(packet(0, 60.0, "N", 70.0, 100.0, "N"), "127.0.0.1:1")
    assert outcome.accepted and answer is None  # stored (no ack asked)
    receiver.receive(packet(0, 60.0, "N", 70.0, 100.0, "N"), "127.0.0.1:1")  # a repeat
    # Answered with its readings stored and queued, not yet in the buckets.
    assert kept(monitors) == {} and _queued(monitors) == 1

    # The receiver stopped there: another process's sink folds what it left, exactly once.
    engine = make_engine(service_database_url)
    try:
        DatabaseSink(engine).settle()
    finally:
        engine.dispose()
    assert _queued(monitors) == 0 and _same(kept(monitors), recomputed(monitors))
    assert kept(monitors)[("Leq", "Data", "20min", FIRST.replace(minute=40))] == (60.0, 1, 1)
    sink.settle()  # nothing left: nothing added twice
    assert _same(kept(monitors), recomputed(monitors))


def test_a_rebuild_leaves_the_queued_readings_to_their_fold(
    sink: DatabaseSink,
    monitors: Engine,  # noqa: F811
) -> None:
    receiver = Receiver(sink)
    receiver.receive(packet(0, 60.0, "N", 70.0, 100.0, "N"), "127.0.0.1:1")
    sink.settle()
    receiver.receive(packet(1, 70.0, "N", 90.0, 300.0, "N"), "127.0.0.1:1")  # queued
    with monitors.begin() as conn:
        rollups.rebuild(conn, partitions.ZONE)
    leq = ("Leq", "Data", "20min", FIRST.replace(minute=40))
    assert kept(monitors)[leq][1:] == (1, 1)  # the folded minute only
    sink.settle()
    assert kept(monitors)[leq][1:] == (2, 2) and _same(kept(monitors), recomputed(monitors))


def test_folds_running_at_once_add_each_reading_once(
    sink: DatabaseSink,
    monitors: Engine,  # noqa: F811
) -> None:
    receiver = Receiver(sink)
    for minute in range(40):
        receiver.receive(packet(minute, 60.0 + minute % 7, "N", 80.0, 90.0, "N"), "127.0.0.1:1")
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: rollups.fold(sink.engine, partitions.ZONE, rows=3), range(4)))
    assert _queued(monitors) == 0 and _same(kept(monitors), recomputed(monitors))


def test_the_api_aggregates_are_the_rollups_with_their_valid_counts(
    client: TestClient,  # noqa: F811
    monitors: Engine,  # noqa: F811
) -> None:
    body = b"".join(
        [
            packet(0, 60.0, "N", 70.0, 100.0, "N"),  # 22:50, the day's last 20 minutes
            packet(1, 70.0, "N", 90.0, 300.0, "D"),  # a fault minute of dust
            packet(10, 50.0, "M", 95.0, 50.0, "N"),  # 23:00: maintenance noise minute
            packet(1, 99.0, "N", 99.0, 999.0, "N"),  # a repeat with other values: ignored
        ]
    )
    assert client.post("/api/ingest/hj212", content=body).json()["accepted"] == 4
    got = client.get(
        f"/api/monitors/{MN}/readings",
        params={"from": "2026-06-01T22:00+08:00", "to": "2026-06-02T00:00+08:00", "agg": "20min"},
    ).json()["readings"]
    by = {(r["at"], r["factor"]): (r["value"], r["n"], r["count"]) for r in got}
    first, second = "2026-06-01T14:40:00+00:00", "2026-06-01T15:00:00+00:00"
    assert by[(first, "Leq")] == (round(10 * math.log10((1e6 + 1e7) / 2), 1), 2, 2)  # 67.4
    assert by[(first, "LMx")] == (90.0, 2, 2)
    assert by[(first, "a34002")] == (100.0, 1, 2)  # the fault minute left out
    assert by[(second, "Leq")] == (None, 0, 1)  # a window with no valid minute
    daily = client.get(
        f"/api/monitors/{MN}/readings",
        params={"from": "2026-06-01T00:00+08:00", "to": "2026-06-02T00:00+08:00", "agg": "1d"},
    ).json()["readings"]
    assert {(r["factor"], r["count"]) for r in daily} == {("Leq", 3), ("LMx", 3), ("a34002", 3)}

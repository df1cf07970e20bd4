"""The receiver on the database: frames that arrive together are kept in one transaction and
each is answered only once it is stored; a repeat inside a batch changes nothing; a frame the
database refuses is refused alone, and a database that does not answer refuses the batch."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text

from geo_service.database import make_engine
from geo_service.monitoring import hj212, partitions
from geo_service.monitoring.receiver import Receiver, start
from geo_service.monitoring.store import DatabaseSink
from tests.api.conftest import district  # noqa: F401
from tests.api.test_monitors import MN, monitors  # noqa: F401

PW = "123456"  # DESIGN.md's acoustic monitor, imported by ``monitors``


def minute(n: int, leq: float = 55.0, factor: str = "Leq", day: str = "20260601") -> bytes:
    """Minute data (CN 2051) of the noise monitor, ``n`` minutes after 08:00 local time."""
    at = f"{day}{8 + n // 60:02d}{n % 60:02d}00"
    return hj212.build(
        qn=f"{at}000",
        st="23",
        cn="2051",
        pw=PW,
        mn=MN,
        cp=f"DataTime={at};{factor}-Data={leq},{factor}-Flag=N",
        flag=5,  # asks for a 9014
    )


@pytest.fixture
def sink(monitors: Engine, service_database_url: str) -> Iterator[DatabaseSink]:  # noqa: F811
    """The sink as the service has it: connected as the service's own role."""
    engine = make_engine(service_database_url)
    yield DatabaseSink(engine)
    engine.dispose()


def _scalar(engine: Engine, sql: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar_one()


def test_many_frames_over_one_connection_are_stored_before_each_is_acknowledged(
    sink: DatabaseSink,
    monitors: Engine,  # noqa: F811
) -> None:
    frames = [minute(n, 50.0 + n % 20) for n in range(600)]

    async def run() -> list[tuple[bytes, int]]:
        server = await start(Receiver(sink), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"".join(frames))  # all at once, as a device catching up after an outage
        await writer.drain()
        seen = []
        for _ in frames:
            answer = await asyncio.wait_for(reader.readline(), 30)
            qn = hj212.parse(answer).qn or ""
            # When the answer comes, its reading is in the database already.
            at = dt.datetime.strptime(qn[:14], "%Y%m%d%H%M%S").replace(
                tzinfo=dt.timezone(dt.timedelta(hours=8))
            )
            with monitors.connect() as conn:
                stored = conn.execute(
                    text("SELECT count(*) FROM readings WHERE at = :at"), {"at": at}
                ).scalar_one()
            seen.append((answer, stored))
        writer.close()
        server.close()
        await server.wait_closed()
        return seen

    seen = asyncio.run(run())
    assert [hj212.parse(a).cn for a, _ in seen] == ["9014"] * len(frames)
    assert [hj212.parse(a).qn for a, _ in seen] == [hj212.parse(f).qn for f in frames]  # in order
    assert all(stored == 1 for _, stored in seen)
    assert _scalar(monitors, "SELECT count(*) FROM readings") == len(frames)
    assert _scalar(monitors, "SELECT count(*) FROM hj212_packets WHERE accepted") == len(frames)
    # Kept in batches: fewer transactions than frames.
    assert _scalar(monitors, "SELECT count(DISTINCT xmin::text) FROM hj212_packets") < len(frames)


def test_a_repeat_inside_one_batch_is_kept_raw_and_adds_no_reading(
    sink: DatabaseSink,
    monitors: Engine,  # noqa: F811
) -> None:
    receiver = Receiver(sink)
    batch = [minute(0), minute(1), minute(0)]
    results = receiver.receive_many([(raw, "127.0.0.1:1", "tcp", None) for raw in batch])
    assert [o.accepted for o, _ in results] == [True, True, True]
    assert all(hj212.parse(answer).cn == "9014" for _, answer in results)
    assert _scalar(monitors, "SELECT count(*) FROM readings") == 2
    assert _scalar(monitors, "SELECT count(*) FROM hj212_packets") == 3
    receiver.receive_many([(minute(1), "127.0.0.1:1", "tcp", None)])  # and in a later batch
    assert _scalar(monitors, "SELECT count(*) FROM readings") == 2


def test_a_frame_the_database_refuses_does_not_sink_the_others_of_its_batch(
    sink: DatabaseSink,
    monitors: Engine,  # noqa: F811
) -> None:
    with monitors.begin() as conn:  # 2016-08 archived by retention
        partitions.ensure(conn, [dt.date(2016, 8, 1)])
        conn.execute(text("ALTER TABLE readings DETACH PARTITION readings_2016_08"))
    try:
        batch = [
            minute(0),
            minute(1, factor="a" * 20),  # a factor code longer than the table holds
            minute(2),
            minute(3, day="20160801"),
            minute(4),
        ]
        results = Receiver(sink).receive_many([(r, "127.0.0.1:1", "tcp", None) for r in batch])
    finally:
        with monitors.begin() as conn:
            conn.execute(text("DROP TABLE readings_2016_08"))
    verdicts = [(o.accepted, o.code) for o, _ in results]
    refused = (False, hj212.Return.REFUSED)
    assert verdicts == [(True, 1), refused, (True, 1), refused, (True, 1)]
    assert "value too long" in results[1][0].reason
    assert "2016-08 are archived" in results[3][0].reason
    assert hj212.parse(results[1][1]).data().items["QnRtn"] == "2"  # told, so it may resend
    assert _scalar(monitors, "SELECT count(*) FROM readings") == 3
    with monitors.connect() as conn:
        kept = conn.execute(text("SELECT accepted FROM hj212_packets ORDER BY id")).scalars()
        assert sorted(kept) == [False, False, True, True, True]  # every frame kept raw


def test_a_database_that_does_not_answer_refuses_every_frame_of_the_batch(
    sink: DatabaseSink,
    monitors: Engine,  # noqa: F811
) -> None:
    receiver = Receiver(sink)
    receiver.receive_many([(minute(0), "127.0.0.1:1", "tcp", None)])  # the device is known
    sink.engine = create_engine("postgresql+psycopg2://nobody@127.0.0.1:9/none")  # then it goes
    dust = hj212.build(
        qn="20260601080000000", st="39", cn="2051", pw="s3cret-pw", mn="DUST-MG-01", cp=""
    )  # a device not seen since the database went: it cannot be checked now
    batch = [minute(1), dust, minute(2)]
    results = receiver.receive_many([(raw, "127.0.0.1:1", "tcp", None) for raw in batch])
    assert [(o.accepted, o.code) for o, _ in results] == [(False, 2)] * 3
    assert all("database is unavailable" in o.reason for o, _ in results)
    assert hj212.parse(results[0][1]).data().items["QnRtn"] == "2"  # told: it sends again
    assert _scalar(monitors, "SELECT count(*) FROM readings") == 1

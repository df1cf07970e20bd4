"""Accepted packets go on unchanged to upstream HJ 212 servers, from a queue kept with the
packet: an upstream that is down gets them once it is back, and a restarted service sends
what the stopped one had queued. The upstream here is an asyncio server on loopback."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from geo_service.database import DatabaseSettings, make_engine
from geo_service.main import create_app
from geo_service.monitoring import hj212
from geo_service.monitoring.forward import Forwarder
from geo_service.monitoring.receiver import Receiver
from geo_service.monitoring.store import DatabaseSink
from geo_service.settings import MonitoringSettings
from tests.api.conftest import district  # noqa: F401
from tests.api.test_monitors import monitors  # noqa: F401
from tests.monitoring.test_store import minute

WRONG_PW = hj212.frame(minute(9)[6:-6].decode().replace("PW=123456", "PW=000000"))


class Upstream:
    """A regulator's platform: an asyncio HJ 212 server in a thread of its own, which keeps
    the frames it gets and acknowledges those that ask, as a platform does."""

    def __init__(self, port: int) -> None:
        self.port, self.frames = port, []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    def start(self) -> Upstream:
        async def listen() -> asyncio.Server:
            return await asyncio.start_server(self._connection, "127.0.0.1", self.port)

        self.server = asyncio.run_coroutine_threadsafe(listen(), self.loop).result(5)
        return self

    def stop(self) -> None:
        async def close() -> None:
            assert self.server is not None
            self.server.close()
            for writer in self.writers:
                writer.close()
            await self.server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(5)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.writers.append(writer)
        buffer = b""
        while chunk := await reader.read(65536):
            frames, buffer = hj212.cut(buffer + chunk)
            for raw in frames:
                self.frames.append(raw + b"\r\n")
                packet = hj212.parse(raw)
                if packet.ack_requested:
                    writer.write(hj212.acknowledgement(packet))

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def until(condition: Callable[[], bool], what: str) -> None:
    """Wait for ``condition`` (a deadline, not a measurement: the test asserts the outcome)."""
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.02)


def queue(engine: Engine) -> list:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT upstream, attempts, last_error, delivered_at IS NOT NULL AS delivered"
                " FROM hj212_forwards ORDER BY id"
            )
        ).all()


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    up = Upstream(free_port())
    yield up
    up.close()


def settings_for(*ports: int) -> MonitoringSettings:
    return MonitoringSettings(
        forward=",".join(f"127.0.0.1:{p}" for p in ports),
        forward_poll_s=0.02,
        forward_retry_s=0.05,
        forward_retry_max_s=0.2,
    )


def test_a_restarted_service_sends_what_the_stopped_one_queued_while_the_upstream_was_down(
    monitors: Engine,  # noqa: F811
    service_database_url: str,
    upstream: Upstream,
) -> None:
    database = DatabaseSettings(database_url=service_database_url)
    monitoring = settings_for(upstream.port)  # not listening yet: the platform is down
    body = minute(0) + WRONG_PW + minute(1)
    with TestClient(create_app(database, monitoring=monitoring)) as client:
        got = client.post("/api/ingest/hj212", content=body).json()
        assert [p["accepted"] for p in got["packets"]] == [True, False, True]
        until(lambda: all(r.attempts >= 2 for r in queue(monitors)), "retries")
    waiting = queue(monitors)
    assert len(waiting) == 2  # the refused packet is not forwarded
    assert not any(r.delivered for r in waiting) and all(r.last_error for r in waiting)

    upstream.start()  # the platform is back; so is the service, a new instance of it
    with TestClient(create_app(database, monitoring=monitoring)) as client:
        until(lambda: len(upstream.frames) == 2, "the queued packets upstream")
        client.post("/api/ingest/hj212", content=minute(2))
        until(lambda: len(upstream.frames) == 3, "a new packet upstream")
    assert upstream.frames == [minute(0), minute(1), minute(2)]  # unchanged, in order
    assert all(r.delivered and r.last_error is None for r in queue(monitors))


def test_an_upstream_down_for_a_while_gets_what_came_meanwhile_and_each_upstream_its_own(
    monitors: Engine,  # noqa: F811
    service_database_url: str,
    upstream: Upstream,
) -> None:
    other = Upstream(free_port()).start()
    settings = settings_for(upstream.port, other.port)
    engine = make_engine(service_database_url)
    receiver = Receiver(DatabaseSink(engine, upstreams=settings.upstreams))
    forwarder = Forwarder.configured(engine, settings)
    assert forwarder is not None
    upstream.start()

    def arrive(*raws: bytes) -> None:
        receiver.receive_many([(raw, "127.0.0.1:1", "tcp", None) for raw in raws])

    async def run() -> None:
        forwarder.start()
        try:
            await asyncio.to_thread(arrive, minute(0), minute(1))
            await asyncio.to_thread(until, lambda: len(upstream.frames) == 2, "the first two")
            upstream.stop()  # down for a while
            await asyncio.to_thread(arrive, minute(2), minute(3))
            await asyncio.to_thread(
                until,
                lambda: any(r.last_error and r.attempts >= 2 for r in queue(monitors)),
                "failed attempts",
            )
            upstream.start()
            await asyncio.to_thread(until, lambda: len(upstream.frames) == 4, "all four")
            await asyncio.to_thread(until, lambda: len(other.frames) == 4, "all four, other")
        finally:
            await forwarder.stop()

    try:
        asyncio.run(run())
    finally:
        other.close()
        engine.dispose()
    expected = [minute(n) for n in range(4)]
    assert upstream.frames == expected and other.frames == expected
    assert all(r.delivered for r in queue(monitors))


def test_an_upstream_that_is_not_host_and_port_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="is not host:port"):
        MonitoringSettings(forward="10.0.0.5:9212,platform.example")
    assert MonitoringSettings(forward=" a:1, b:2,a:1").upstreams == ("a:1", "b:2")

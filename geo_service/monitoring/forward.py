"""Accepted packets forwarded unchanged to upstream HJ 212 servers (a regulator's platform).

The sink queues each accepted frame for every upstream (``hj212_forwards``) in the
transaction that keeps the frame, so a restart of the service loses none: whichever
``Forwarder`` runs next (another process, or this one started again) sends what is due.
A forwarder keeps one TCP connection per upstream; it leases a batch of due rows (so two
server processes never send the same row at once, and a process that dies mid-send gives its
lease back by letting it expire), writes the frames as they arrived (raw + CRLF), and marks
them delivered once the upstream has answered each frame that asks for an answer (Flag's A
bit, as devices send them; a frame that asks none is delivered once written). When the
upstream is down or does not answer, they wait ``retry_s``, doubling to ``retry_max_s``.
Delivery is at least once: a batch cut by a broken connection is sent again whole, and an
HJ 212 server keys data by MN and QN.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from dataclasses import dataclass, field

from sqlalchemy import Engine, text

from geo_service.settings import MonitoringSettings

log = logging.getLogger(__name__)

BATCH = 500
LEASE_S = 60.0  # a leased batch is sent within this, or is due again
CONNECT_TIMEOUT_S = 10.0
STOP_GRACE_S = 2.0  # a stopping service lets the batch in hand finish this long
ACK_TIMEOUT_S = 30.0  # the upstream's 9014s to a batch come within this, or it is sent again

_LEASE = text("""
UPDATE hj212_forwards f SET attempts = f.attempts + 1,
       next_at = now() + make_interval(secs => CAST(:lease AS float8))
FROM hj212_packets p
WHERE p.id = f.packet_id AND f.id IN (
    SELECT id FROM hj212_forwards
    WHERE upstream = :upstream AND delivered_at IS NULL AND next_at <= now()
    ORDER BY id LIMIT :batch FOR UPDATE SKIP LOCKED)
RETURNING f.id, p.raw""")
_DELIVERED = text(
    "UPDATE hj212_forwards SET delivered_at = now(), last_error = NULL WHERE id = ANY(:ids)"
)
_RELEASE = text("""
UPDATE hj212_forwards SET next_at = now(), attempts = greatest(attempts - 1, 0)
WHERE id = ANY(:ids) AND delivered_at IS NULL""")
_FAILED = text("""
UPDATE hj212_forwards SET last_error = :error,
       next_at = now() + make_interval(secs => least(
           CAST(:max_s AS float8), CAST(:retry_s AS float8) * 2 ^ (attempts - 1)))
WHERE id = ANY(:ids)""")


@dataclass
class Forwarder:
    """Sends the queue to ``upstreams`` until cancelled (``run``)."""

    engine: Engine
    upstreams: tuple[str, ...]
    poll_s: float = 1.0
    retry_s: float = 5.0
    retry_max_s: float = 600.0
    ack_timeout_s: float = ACK_TIMEOUT_S
    _links: dict[str, tuple[asyncio.StreamReader, asyncio.StreamWriter]] = field(
        default_factory=dict
    )
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task | None = None

    @classmethod
    def configured(cls, engine: Engine, settings: MonitoringSettings) -> Forwarder | None:
        """The forwarder the settings ask for (None without upstreams)."""
        if not settings.upstreams:
            return None
        return cls(
            engine,
            settings.upstreams,
            poll_s=settings.forward_poll_s,
            retry_s=settings.forward_retry_s,
            retry_max_s=settings.forward_retry_max_s,
        )

    def start(self) -> None:
        """Send in the background (on the running event loop) until ``stop``."""
        self._stopping = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self.run())

    async def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """Finish the batch in hand (up to ``grace_s``), then stop; a batch cut short is
        given back to the queue, due at once for the next start."""
        if self._task is None:
            return
        self._stopping.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), grace_s)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None

    async def run(self) -> None:
        try:
            await asyncio.gather(*(self._upstream(u) for u in self.upstreams))
        finally:
            for _, writer in self._links.values():
                writer.close()

    async def _upstream(self, upstream: str) -> None:
        while not self._stopping.is_set():
            try:
                sent = await self.deliver(upstream)
            except Exception:  # a database restart must not end the loop; the next poll retries
                log.exception("forwarding to %s failed", upstream)
                sent = 0
            if sent < BATCH:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.poll_s)

    async def deliver(self, upstream: str) -> int:
        """One leased batch sent to ``upstream``: how many frames were delivered."""
        rows = await asyncio.to_thread(self._execute, _LEASE, upstream=upstream)
        if not rows:
            return 0
        rows.sort(key=lambda r: r.id)  # UPDATE ... RETURNING keeps no order: arrival's, again
        ids, frames = [r.id for r in rows], [bytes(r.raw) for r in rows]
        try:
            reader, writer = await self._link(upstream)
            writer.write(b"".join(raw + b"\r\n" for raw in frames))
            await writer.drain()
            await asyncio.wait_for(_answers(reader, _asking(frames)), self.ack_timeout_s)
        except asyncio.CancelledError:  # stopped mid-batch: its lease back, not a minute later
            self._drop(upstream)
            self._execute(_RELEASE, ids=ids)
            raise
        except (OSError, TimeoutError, EOFError) as error:
            self._drop(upstream)
            reason = f"{type(error).__name__}: {error}"[:500]
            await asyncio.to_thread(self._execute, _FAILED, ids=ids, error=reason)
            return 0
        await asyncio.to_thread(self._execute, _DELIVERED, ids=ids)
        return len(ids)

    def _execute(self, statement, **params) -> list:
        params = {"lease": LEASE_S, "batch": BATCH, **params}
        params |= {"retry_s": self.retry_s, "max_s": self.retry_max_s}
        with self.engine.begin() as conn:
            result = conn.execute(statement, params)
            return result.all() if result.returns_rows else []

    async def _link(self, upstream: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        link = self._links.get(upstream)
        if link is not None and not link[1].is_closing():
            return link
        host, _, port = upstream.rpartition(":")
        link = await asyncio.wait_for(asyncio.open_connection(host, int(port)), CONNECT_TIMEOUT_S)
        self._links[upstream] = link
        return link

    def _drop(self, upstream: str) -> None:
        link = self._links.pop(upstream, None)
        if link is not None:
            link[1].close()


_QN = re.compile(rb"QN=(\d{14}(?:\d{3})?)[;&]")
_FLAG = re.compile(rb";Flag=(\d+);")


def _asking(frames: list[bytes]) -> set[bytes]:
    """The QNs of the frames that ask for an answer (Flag's A bit): the upstream's 9014s to
    these say it has them; a frame that asks none is delivered once written. (The frames
    were checked when they came: their headers are read here, not checked again.)"""
    asking = set()
    for raw in frames:
        head = raw.partition(b"CP=&&")[0]
        qn, flag = _QN.search(head), _FLAG.search(head)
        if qn and flag and int(flag.group(1)) & 1:
            asking.add(qn.group(1))
    return asking


async def _answers(reader: asyncio.StreamReader, waiting: set[bytes]) -> None:
    """Read the upstream's answers until each frame that asked has one (EOFError if the
    connection closes first: the batch is sent again)."""
    while waiting:
        line = await reader.readline()
        if not line:
            raise EOFError("the upstream closed the connection before answering")
        qn = _QN.search(line)
        if qn:
            waiting.discard(qn.group(1))


def start(forwarder: Forwarder | None) -> Forwarder | None:
    """``forwarder`` started, if there is one (the settings may ask for none)."""
    if forwarder is not None:
        forwarder.start()
    return forwarder


async def stop(forwarder: Forwarder | None) -> None:
    if forwarder is not None:
        await forwarder.stop()

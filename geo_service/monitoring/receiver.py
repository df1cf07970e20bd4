"""The HJ 212 receiver: packets from monitors over TCP (or forwarded over HTTP), checked
against the device they name, kept raw, acknowledged, and handed on as readings.

The protocol's work is here (framing, the device's checksum mode and password, the answers,
split packets); what is kept and where is the ``Sink``'s (the database's, in the service).
Every frame is kept raw by the sink, accepted or not, with the reason: the Noise Law has a
builder keep the raw records.

Group commit: the frames that arrive within ``GroupCommit.wait_s`` of each other (from any
connection, up to ``max_frames``) go to the sink together, which writes them in one
transaction; each is answered only once its batch has committed, so a 9014 means stored.
One frame per transaction capped the receiver at about 1,000 frames/s (one commit, one WAL
flush each); a batch of 200 costs little more than one. Frames are read (checked, parsed)
in one worker while the batch before them is kept in another. After a batch's answers the
sink settles (``Sink.settle``) in a worker of its own, while the next batch is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hmac
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from geo_service.monitoring import hj212
from geo_service.monitoring.hj212 import Packet, PacketError, Return

log = logging.getLogger(__name__)

DATA_COMMANDS = frozenset(hj212.DATA_INTERVALS)  # real-time, minute, hourly, daily data
READ_LIMIT = 64 * 1024
IDLE_TIMEOUT_S = 300.0  # a device sends at least every few minutes; a silent peer goes
BATCH_WAIT_S = 0.005  # a batch waits this long for company after its first frame...
BATCH_FRAMES = 500  # ...or until it has this many
IN_FLIGHT = 1000  # frames of one connection read but not yet answered (then reading waits)
# Settling at most this often: a device's next second goes into the buckets its last one
# did, so one settle of a second's batches updates each bucket once where a settle after
# each batch (several a second) updated it each time (four buckets a reading: the database
# spent more on the rollups than on the readings).
SETTLE_INTERVAL_S = 1.0

Arrival = tuple[bytes, str, str, dt.datetime | None]  # raw, peer, via, received


@dataclass(frozen=True)
class Device:
    """What the receiver checks a packet against: the monitor its MN names."""

    mn: str
    password: str
    crc_mode: hj212.CrcMode = "hj212"
    st: str | None = None  # the system code it must send, when known


@dataclass(frozen=True)
class Outcome:
    """What became of one frame: accepted, or refused with the standard's code and why."""

    accepted: bool
    code: Return
    reason: str
    packet: Packet | None = None


class Unavailable(Exception):
    """The sink cannot answer now (its database is down): the frame is refused with QnRtn 2,
    so the device sends it again, rather than taken for a stranger's."""


class Sink(Protocol):
    """Where the receiver's results go (the service's is the database)."""

    def device(self, mn: str) -> Device | None:
        """The device ``mn`` names, None if none does; raises ``Unavailable``."""

    def record_many(self, frames: Sequence[Frame]) -> list[Outcome]:
        """Keep frames as received with their verdicts, and the readings of those that
        completed a data packet; each frame all or nothing. The verdicts as kept, in order
        (a store may refuse readings the protocol accepted); never raises for one bad frame."""

    def settle(self) -> None:
        """The work deferred off the answers' path (the database's rollups), done once the
        answers are out; what was kept before a restart, too. May raise: tried again later."""


@dataclass(frozen=True)
class Frame:
    """One frame as received, its verdict, and the whole data packet it completed (a split
    packet's last part completes it) with its CP read, if any."""

    received: dt.datetime
    peer: str
    via: str
    raw: bytes
    outcome: Outcome
    device: Device | None
    data: Packet | None
    values: hj212.Data | None = None


def _unverified(raw: bytes, key: bytes, pattern: bytes = rb"[^;&]*") -> str | None:
    """A header field read before the checksum is checked: to pick the device's checksum
    mode, and to address a refusal to a device we know."""
    found = re.search(rb"(?:^|[;#0-9])" + key + rb"=(" + pattern + rb")(?:;|$)", raw)
    return found.group(1).decode("ascii", "replace") if found else None


@dataclass
class Receiver:
    """Frames in, answers out; one per service, shared by every connection."""

    sink: Sink
    reassembly: hj212.Reassembly = field(default_factory=hj212.Reassembly)
    _commits: GroupCommit | None = field(default=None, repr=False)

    def check(self, raw: bytes) -> tuple[Outcome, Device | None]:
        """The verdict on one frame (the device's checksum mode is the one its MN names)."""
        mn = _unverified(raw, b"MN")
        try:
            device = self.sink.device(mn) if mn else None
        except Unavailable as error:
            return Outcome(False, Return.REFUSED, str(error)), None
        try:
            packet = hj212.parse(raw, device.crc_mode if device else "hj212")
        except PacketError as refused:
            return Outcome(False, refused.code, str(refused)), device
        if device is None:
            return Outcome(False, Return.MN_ERROR, f"no monitor has MN {packet.mn}", packet), None
        if not hmac.compare_digest(packet.pw.encode(), device.password.encode()):
            return Outcome(False, Return.PW_ERROR, "wrong password (PW)", packet), device
        if device.st and packet.st not in (device.st, "91"):
            reason = f"ST={packet.st}, but monitor {device.mn} sends ST={device.st}"
            return Outcome(False, Return.ST_ERROR, reason, packet), device
        return Outcome(True, Return.READY, "accepted", packet), device

    def receive(
        self, raw: bytes, peer: str, via: str = "tcp", received: dt.datetime | None = None
    ) -> tuple[Outcome, bytes | None]:
        """Handle one frame: its verdict and the answer to send back, if any."""
        return self.receive_many([(raw, peer, via, received)])[0]

    def receive_many(self, arrivals: Sequence[Arrival]) -> list[tuple[Outcome, bytes | None]]:
        """Handle frames in their order of arrival, kept in one go: verdicts and answers."""
        return self.keep(self.read(arrivals))

    def read(self, arrivals: Sequence[Arrival]) -> list[Frame]:
        """Frames checked and parsed, in their order of arrival (one caller at a time: split
        packets are put together here)."""
        return [self._frame(*arrival) for arrival in arrivals]

    def keep(self, frames: Sequence[Frame]) -> list[tuple[Outcome, bytes | None]]:
        """Read frames kept in one go: their verdicts as kept, and the answers."""
        outcomes = self.sink.record_many(frames)
        return [
            (outcome, self.answer(f.raw, outcome, f.device))
            for f, outcome in zip(frames, outcomes, strict=True)
        ]

    def _frame(self, raw: bytes, peer: str, via: str, received: dt.datetime | None) -> Frame:
        """The frame's verdict; for the frame that completes a data packet, its CP read too:
        a value that is not a number refuses that frame alone, before its batch is kept."""
        outcome, device = self.check(raw)
        packet, data, values = outcome.packet, None, None
        if outcome.accepted:
            assert packet is not None
            whole = self.reassembly.add(packet)
            if whole is not None and whole.cn in DATA_COMMANDS:
                try:
                    data, values = whole, whole.data()
                except PacketError as refused:
                    data, outcome = None, Outcome(False, refused.code, str(refused), packet)
        received = received or dt.datetime.now(dt.UTC)
        return Frame(received, peer, via, raw, outcome, device, data, values)

    def answer(self, raw: bytes, outcome: Outcome, device: Device | None) -> bytes | None:
        """What the device is sent back: 9014 when it asked, 9011 for a refusal."""
        packet = outcome.packet
        if outcome.accepted:
            assert packet is not None and device is not None
            return hj212.acknowledgement(packet, device.crc_mode) if packet.ack_requested else None
        # A refusal answers only a device we know: a stranger learns nothing about which
        # MNs exist. A packet that could not be read is answered from its unverified header.
        if device is None:
            return None
        qn = packet.qn if packet else _unverified(raw, b"QN", rb"\d{14}(?:\d{3})?")
        # Their own PW back, never the device's: the answer goes to whoever sent it.
        pw = packet.pw if packet else (_unverified(raw, b"PW") or "")
        return hj212.refusal(outcome.code, mn=device.mn, pw=pw, qn=qn, crc_mode=device.crc_mode)

    def commits(self) -> GroupCommit:
        """The group commit of the running event loop (made on first use)."""
        loop = asyncio.get_running_loop()
        if self._commits is None or self._commits.loop is not loop:
            self._commits = GroupCommit(self, loop)
        return self._commits

    async def serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """One device's connection: frames until it closes, is idle too long, or floods.
        Reading goes on while earlier frames wait for their batch; answers go back in order."""
        host, port = writer.get_extra_info("peername")[:2]
        peer = f"{host}:{port}"
        waiting: asyncio.Queue[asyncio.Future | None] = asyncio.Queue(IN_FLIGHT)
        answering = asyncio.create_task(_answer(waiting, writer))
        commits, buffer = self.commits(), b""
        try:
            while True:
                chunk = await asyncio.wait_for(reader.read(READ_LIMIT), IDLE_TIMEOUT_S)
                if not chunk:
                    break
                frames, buffer = hj212.cut(buffer + chunk)
                for raw in frames:
                    await waiting.put(commits.submit((raw, peer, "tcp", None)))
        except (TimeoutError, ConnectionError):
            pass
        finally:
            await waiting.put(None)  # the frames read so far are still answered
            await answering
            writer.close()


async def _answer(waiting: asyncio.Queue, writer: asyncio.StreamWriter) -> None:
    """Each frame's answer once its batch has committed, in the order the frames came (a
    device whose connection broke is still drained, so reading never waits on it)."""
    broken = False
    while (pending := await waiting.get()) is not None:
        try:
            _, answer = await pending
        except Exception:
            continue
        if answer and not broken:
            writer.write(answer)
        if waiting.empty() and not broken:
            try:
                await writer.drain()
            except ConnectionError:
                broken = True


@dataclass
class GroupCommit:
    """Frames from every connection, read and handed to the sink in batches (one
    transaction each), as a pipeline of two worker threads.

    Frames are read (checked against their device, parsed) as they come, while the batch
    before them is kept: reading is Python and keeping mostly waits on the database, so the
    two overlap (one after the other, a batch of 500 real-time packets took 75 ms to read
    and 125 ms to keep). A batch starts with the first frame read that finds no batch
    waiting, waits ``wait_s`` for more (or until ``max_frames``), and is kept; frames read
    while it is kept form the next batch, which goes as soon as the first is done."""

    receiver: Receiver
    loop: asyncio.AbstractEventLoop
    wait_s: float = BATCH_WAIT_S
    max_frames: int = BATCH_FRAMES
    settle_interval_s: float = SETTLE_INTERVAL_S
    _arrived: list[tuple[Arrival, asyncio.Future]] = field(default_factory=list)
    _read: list[tuple[Frame, asyncio.Future]] = field(default_factory=list)
    _full: asyncio.Event = field(default_factory=asyncio.Event)
    _reading: asyncio.Task | None = None
    _keeping: asyncio.Task | None = None
    _settling: asyncio.Task | None = None
    _unsettled: bool = False

    def submit(self, arrival: Arrival) -> asyncio.Future:
        """A future of the frame's (outcome, answer), set once its batch committed."""
        done = self.loop.create_future()
        self._arrived.append((arrival, done))
        if self._reading is None:
            self._reading = self.loop.create_task(self._read_arrived())
        return done

    async def _read_arrived(self) -> None:
        try:
            while self._arrived:
                taken = self._arrived[: self.max_frames]
                del self._arrived[: self.max_frames]
                try:
                    frames = await asyncio.to_thread(
                        self.receiver.read, [arrival for arrival, _ in taken]
                    )
                except Exception as error:
                    _fail([done for _, done in taken], error)
                    continue
                self._read.extend(zip(frames, (done for _, done in taken), strict=True))
                if len(self._read) >= self.max_frames:
                    self._full.set()
                if self._keeping is None:
                    self._keeping = self.loop.create_task(self._keep())
        finally:
            self._reading = None

    async def _keep(self) -> None:
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._full.wait(), self.wait_s)
            while self._read:
                batch = self._read[: self.max_frames]
                del self._read[: self.max_frames]
                self._full.clear()
                await self._commit(batch)
        finally:
            self._keeping = None

    async def _commit(self, batch: list[tuple[Frame, asyncio.Future]]) -> None:
        try:
            results = await asyncio.to_thread(self.receiver.keep, [frame for frame, _ in batch])
        except Exception as error:
            _fail([done for _, done in batch], error)
            return
        for (_, done), result in zip(batch, results, strict=True):
            if not done.done():
                done.set_result(result)
        self.settle_soon()

    def settle_soon(self) -> None:
        """Have the sink settle in a worker thread: now, or again once the settling under
        way is done and ``settle_interval_s`` has passed since it began (batches committed
        meanwhile settle together)."""
        self._unsettled = True
        if self._settling is None:
            self._settling = self.loop.create_task(self._settle())

    async def _settle(self) -> None:
        try:
            while self._unsettled:
                self._unsettled = False
                started = self.loop.time()
                try:
                    await asyncio.to_thread(self.receiver.sink.settle)
                except Exception:  # the database away: the next batch settles it all
                    log.warning("could not settle the kept frames; will try again", exc_info=True)
                    return
                await asyncio.sleep(started + self.settle_interval_s - self.loop.time())
        finally:
            self._settling = None


def _fail(waiting: list[asyncio.Future], error: Exception) -> None:
    for done in waiting:
        if not done.done():
            done.set_exception(error)


async def start(receiver: Receiver, host: str, port: int) -> asyncio.Server:
    """Listening once this returns (``port=0`` picks one: ``server.sockets[0]``)."""
    receiver.commits().settle_soon()  # what a receiver kept before it stopped
    # reuse_port: each of ``serve``'s worker processes listens, the kernel shares them out.
    return await asyncio.start_server(
        receiver.serve_connection, host, port, limit=READ_LIMIT, reuse_port=port != 0
    )


async def serve(
    receiver: Receiver, host: str, port: int, ready: Callable[[int], Awaitable[None]] | None = None
) -> None:
    """Listen until cancelled; ``ready`` gets the bound port."""
    server = await start(receiver, host, port)
    async with server:
        if ready:
            await ready(server.sockets[0].getsockname()[1])
        await server.serve_forever()

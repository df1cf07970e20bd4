"""The HJ 212 receiver: packets from monitors over TCP (or forwarded over HTTP), checked
against the device they name, kept raw, acknowledged, and handed on as readings.

The protocol's work is here (framing, the device's checksum mode and password, the answers,
split packets); what is kept and where is the ``Sink``'s (the database's, in the service).
Every frame is offered to ``Sink.keep_raw`` first, accepted or not, with the reason: the
Noise Law has a builder keep the raw records.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from geo_service.monitoring import hj212
from geo_service.monitoring.hj212 import Packet, PacketError, Return

DATA_COMMANDS = frozenset(hj212.DATA_INTERVALS)  # real-time, minute, hourly, daily data
READ_LIMIT = 64 * 1024
IDLE_TIMEOUT_S = 300.0  # a device sends at least every few minutes; a silent peer goes


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


class Sink(Protocol):
    """Where the receiver's results go (the service's is the database)."""

    def device(self, mn: str) -> Device | None: ...

    def record(self, frame: Frame) -> Outcome:
        """Keep one frame as received with its verdict, and its readings when it completed
        a data packet; all or nothing. The verdict as kept (a store may refuse readings
        the protocol accepted)."""


@dataclass(frozen=True)
class Frame:
    """One frame as received, its verdict, and the whole data packet it completed (a split
    packet's last part completes it), if any."""

    received: dt.datetime
    peer: str
    via: str
    raw: bytes
    outcome: Outcome
    device: Device | None
    data: Packet | None


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

    def check(self, raw: bytes) -> tuple[Outcome, Device | None]:
        """The verdict on one frame (the device's checksum mode is the one its MN names)."""
        mn = _unverified(raw, b"MN")
        device = self.sink.device(mn) if mn else None
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
        received = received or dt.datetime.now(dt.UTC)
        outcome, device = self.check(raw)
        packet, data = outcome.packet, None
        if outcome.accepted:
            assert packet is not None
            whole = self.reassembly.add(packet)
            if whole is not None and whole.cn in DATA_COMMANDS:
                data = whole
        outcome = self.sink.record(Frame(received, peer, via, raw, outcome, device, data))
        return outcome, self.answer(raw, outcome, device)

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

    async def serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """One device's connection: frames until it closes, is idle too long, or floods."""
        host, port = writer.get_extra_info("peername")[:2]
        peer = f"{host}:{port}"
        buffer = b""
        try:
            while True:
                chunk = await asyncio.wait_for(reader.read(READ_LIMIT), IDLE_TIMEOUT_S)
                if not chunk:
                    break
                frames, buffer = hj212.cut(buffer + chunk)
                for raw in frames:
                    _, answer = await asyncio.to_thread(self.receive, raw, peer)
                    if answer:
                        writer.write(answer)
                await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()


async def start(receiver: Receiver, host: str, port: int) -> asyncio.Server:
    """Listening once this returns (``port=0`` picks one: ``server.sockets[0]``)."""
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

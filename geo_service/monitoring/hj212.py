"""HJ 212-2017 packets: cut from a byte stream, checked, parsed, and built (acknowledgements,
the simulator, forwarding).

HJ 212 is the national protocol of online monitors (dust and noise at construction sites
included). A frame is ``##`` + 4-digit length of the data segment + data segment + 4 hex
digits of CRC + CRLF; the data segment is ``QN=..;ST=..;CN=..;PW=..;MN=..;Flag=..;CP=&&..&&``.
No maintained Python implementation exists on PyPI, and its checksum is not a textbook
CRC (the previous value's high byte, not its low byte, meets the next byte: no CRC library
parameterises that), so both are here, with the packets of ../shared/DESIGN.md as tests.

What real devices do, and what this module therefore accepts: a declared length off by
one or more while the checksum is right (``Packet.length_ok`` says so), 14-digit QNs (no
milliseconds), no Flag, the Modbus CRC-16 instead of the standard's (``crc_mode``).
What it refuses, with the standard's return code (``QnRtn``): a wrong checksum (9), a
malformed QN (7), ST (5), CN (8), Flag (6), a missing MN (4) or PW (3), anything else (100).

Example::

    >>> p = parse(b"##0087QN=20160801085857223;ST=91;CN=9014;PW=123456;"
    ...           b"MN=010000A8900016F000169DC0;Flag=4;CP=&&&&3240")
    >>> p.cn, p.mn, p.ack_requested
    ('9014', '010000A8900016F000169DC0', False)
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Literal, NamedTuple

CrcMode = Literal["hj212", "modbus"]

MAX_SEGMENT = 9999  # four decimal digits of length
MAX_FRAME = 2 + 4 + MAX_SEGMENT + 4 + 2
FLAG_VERSION_2017 = 1  # V5..V0 = 000001
# The data commands and the interval their DataTime starts (real-time data is an instant).
DATA_INTERVALS: dict[str, dt.timedelta | None] = {
    "2011": None,  # real-time: DataTime is the sampling instant
    "2051": dt.timedelta(minutes=1),
    "2061": dt.timedelta(hours=1),
    "2031": dt.timedelta(days=1),
}


class Return(IntEnum):
    """QnRtn, the standard's answer codes (CN 9011); the receiver refuses with these."""

    READY = 1
    REFUSED = 2
    PW_ERROR = 3
    MN_ERROR = 4
    ST_ERROR = 5
    FLAG_ERROR = 6
    QN_ERROR = 7
    CN_ERROR = 8
    CRC_ERROR = 9
    UNKNOWN = 100


class PacketError(ValueError):
    """A packet the receiver refuses: why, in words, and the standard's return code."""

    def __init__(self, code: Return, message: str) -> None:
        super().__init__(message)
        self.code = code


def _table(poly: int) -> tuple[int, ...]:
    out = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
        out.append(crc)
    return tuple(out)


_TABLE = _table(0xA001)


def crc_hj212(data: bytes) -> int:
    """Appendix A: start 0xFFFF; per byte ``crc = (crc >> 8) ^ byte``, then eight reflected
    rounds with 0xA001; as a table, ``crc = T[(crc >> 8) ^ byte]``. ``"123456789"`` -> 0x2F80."""
    crc = 0xFFFF
    for byte in data:
        crc = _TABLE[(crc >> 8) ^ byte]
    return crc


def crc_modbus(data: bytes) -> int:
    """CRC-16/MODBUS, which some devices send instead. ``"123456789"`` -> 0x4B37."""
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ _TABLE[(crc ^ byte) & 0xFF]
    return crc


CHECKSUMS = {"hj212": crc_hj212, "modbus": crc_modbus}


class Reading(NamedTuple):
    """One value of one factor in a packet: ``a34002`` ``Avg`` 86.0, flag ``N`` (a tuple:
    ten a packet, thousands a second, made four times faster than a frozen dataclass)."""

    factor: str
    statistic: str
    value: float
    flag: str | None = None


@dataclass(frozen=True)
class Data:
    """A packet's CP: the interval's start (or the sampling instant, CN 2011), the readings,
    and every other item as text (``RtdInterval``, ``QnRtn``, ...)."""

    data_time: dt.datetime | None
    readings: tuple[Reading, ...]
    items: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Packet:
    """One checked frame; ``cp`` is the text between ``CP=&&`` and ``&&``."""

    qn: str | None
    st: str
    cn: str
    pw: str
    mn: str
    flag: int | None
    pnum: int | None
    pno: int | None
    cp: str
    declared_length: int
    length_ok: bool

    @property
    def ack_requested(self) -> bool:
        """Flag's A bit: the device waits for a CN 9014 answer."""
        return bool(self.flag is not None and self.flag & 1)

    @property
    def split(self) -> bool:
        """Flag's D bit: one part of a packet split in PNUM parts."""
        return bool(self.flag is not None and self.flag & 2) or self.pnum is not None

    def data(self) -> Data:
        return parse_cp(self.cp)


_HEADER = re.compile(rb"##(\d{4})")
_QN = re.compile(r"\d{14}(\d{3})?")
_FIELD = re.compile(r"[A-Za-z][A-Za-z0-9]*")
# A value as the standard writes one (N14.2 and the like: digits, a point, a sign), or with
# an exponent, as some devices send it; finite.
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,3})?")


def _checked(data: bytes, crc_mode: CrcMode) -> tuple[str, int, bool]:
    """The data segment, its declared length, and whether the length was right."""
    data = data.removesuffix(b"\r\n")
    header = _HEADER.match(data)
    if header is None:
        raise PacketError(Return.UNKNOWN, "a packet starts with ## and 4 digits of length")
    if len(data) > MAX_FRAME:
        raise PacketError(Return.UNKNOWN, f"a packet is at most {MAX_FRAME} bytes")
    segment, sent = data[6:-4], data[-4:]
    if len(data) < 10 or not re.fullmatch(rb"[0-9A-Fa-f]{4}", sent):
        raise PacketError(Return.CRC_ERROR, "the packet does not end in 4 hex digits of CRC")
    computed = CHECKSUMS[crc_mode](segment)
    if computed != int(sent, 16):
        raise PacketError(
            Return.CRC_ERROR,
            f"CRC {sent.decode()} does not match the data segment ({computed:04X}, {crc_mode})",
        )
    try:
        text = segment.decode("ascii")
    except UnicodeDecodeError:
        raise PacketError(Return.UNKNOWN, "the data segment is not ASCII") from None
    declared = int(header.group(1))
    return text, declared, declared == len(segment)


def _header_fields(text: str) -> tuple[dict[str, str], str]:
    head, marker, rest = text.partition("CP=&&")
    if not marker or not rest.endswith("&&"):
        raise PacketError(Return.UNKNOWN, "the data segment has no CP=&&...&&")
    fields: dict[str, str] = {}
    for item in filter(None, head.split(";")):
        key, eq, value = item.partition("=")
        if not eq or not _FIELD.fullmatch(key):
            raise PacketError(Return.UNKNOWN, f"{item!r} is not a KEY=value field")
        fields[key] = value
    return fields, rest[:-2]


def _number(fields: dict[str, str], key: str, code: Return) -> int | None:
    value = fields.get(key)
    if value is None:
        return None
    if not value.isdigit():
        raise PacketError(code, f"{key}={value!r} is not a number")
    return int(value)


def parse(data: bytes, crc_mode: CrcMode = "hj212") -> Packet:
    """One frame (with or without its CRLF), checked; raises ``PacketError``."""
    text, declared, length_ok = _checked(data, crc_mode)
    fields, cp = _header_fields(text)
    qn = fields.get("QN")
    if qn is not None and not _QN.fullmatch(qn):
        raise PacketError(Return.QN_ERROR, f"QN={qn!r} is not YYYYMMDDhhmmss[zzz]")
    st, cn = fields.get("ST", ""), fields.get("CN", "")
    if not re.fullmatch(r"\d{2}", st):
        raise PacketError(Return.ST_ERROR, f"ST={st!r} is not a 2-digit system code")
    if not re.fullmatch(r"\d{4}", cn):
        raise PacketError(Return.CN_ERROR, f"CN={cn!r} is not a 4-digit command code")
    if not fields.get("MN"):
        raise PacketError(Return.MN_ERROR, "the packet has no MN (device number)")
    if "PW" not in fields:
        raise PacketError(Return.PW_ERROR, "the packet has no PW (password)")
    flag = _number(fields, "Flag", Return.FLAG_ERROR)
    pnum = _number(fields, "PNUM", Return.FLAG_ERROR)
    pno = _number(fields, "PNO", Return.FLAG_ERROR)
    if (pnum is not None or pno is not None) and (
        pnum is None or pno is None or not 1 <= pno <= pnum
    ):
        raise PacketError(Return.FLAG_ERROR, f"PNO={pno} of PNUM={pnum} is not a part")
    return Packet(qn, st, cn, fields["PW"], fields["MN"], flag, pnum, pno, cp, declared, length_ok)


def _time(value: str) -> dt.datetime:
    """``YYYYMMDDhhmmss`` (local time of the device; the receiver gives it a zone)."""
    try:  # by hand: strptime was a quarter of reading a packet's CP
        if len(value) != 14 or not value.isdigit():
            raise ValueError(value)
        return dt.datetime(
            *(int(value[i:j]) for i, j in ((0, 4), (4, 6), (6, 8), (8, 10), (10, 12), (12, 14)))
        )
    except ValueError:
        raise PacketError(Return.UNKNOWN, f"DataTime={value!r} is not YYYYMMDDhhmmss") from None


def parse_cp(cp: str) -> Data:
    """``;`` separates items, ``,`` the fields of one factor (``a34002-Avg=86.0,a34002-Flag=N``).
    A factor's ``-Flag`` applies to its values in the same item."""
    data_time, readings, items = None, [], {}
    for item in filter(None, cp.split(";")):
        values: list[tuple[str, str, float]] = []
        flags: dict[str, str] = {}
        for part in item.split(","):
            key, eq, value = part.partition("=")
            if not eq:
                raise PacketError(Return.UNKNOWN, f"CP item {part!r} is not KEY=value")
            if key == "DataTime":
                data_time = _time(value)
                continue
            factor, dash, statistic = key.rpartition("-")
            if not dash:
                items[key] = value
            elif statistic == "Flag":
                flags[factor] = value
            else:
                # float() alone takes nan, inf, 1_0 and spaces, and 1e999 is inf.
                if not _NUMBER.fullmatch(value) or not math.isfinite(number := float(value)):
                    raise PacketError(Return.UNKNOWN, f"{key}={value!r} is not a number")
                values.append((factor, statistic, number))
        readings.extend(Reading(f, s, v, flags.get(f)) for f, s, v in values)
    return Data(data_time, tuple(readings), items)


def frame(segment: str, crc_mode: CrcMode = "hj212") -> bytes:
    """``##`` + length + segment + CRC + CRLF."""
    body = segment.encode("ascii")
    if len(body) > MAX_SEGMENT:
        raise ValueError(f"a data segment is at most {MAX_SEGMENT} bytes")
    return b"##%04d%s%04X\r\n" % (len(body), body, CHECKSUMS[crc_mode](body))


def build(
    *,
    st: str,
    cn: str,
    pw: str,
    mn: str,
    cp: str,
    qn: str | None = None,
    flag: int | None = FLAG_VERSION_2017 << 2,
    crc_mode: CrcMode = "hj212",
) -> bytes:
    """A packet from its fields (the simulator's, and the receiver's answers)."""
    fields = [("QN", qn), ("ST", st), ("CN", cn), ("PW", pw), ("MN", mn), ("Flag", flag)]
    head = "".join(f"{k}={v};" for k, v in fields if v is not None)
    return frame(f"{head}CP=&&{cp}&&", crc_mode)


def acknowledgement(packet: Packet, crc_mode: CrcMode = "hj212") -> bytes:
    """CN 9014, data acknowledgement: the answer to a data packet whose Flag asks for one."""
    return build(
        qn=packet.qn, st="91", cn="9014", pw=packet.pw, mn=packet.mn, cp="", crc_mode=crc_mode
    )


def refusal(
    code: Return, *, mn: str, pw: str, qn: str | None, crc_mode: CrcMode = "hj212"
) -> bytes:
    """CN 9011 with QnRtn: the answer to a refused packet, addressed to its device."""
    cp = f"QN={qn};QnRtn={int(code)}" if qn else f"QnRtn={int(code)}"
    return build(qn=qn, st="91", cn="9011", pw=pw, mn=mn, cp=cp, crc_mode=crc_mode)


def cut(buffer: bytes) -> tuple[list[bytes], bytes]:
    """The complete frames in a stream buffer, and what remains (an incomplete frame).

    Frames end at CRLF (the declared length is not trusted: real devices get it wrong);
    bytes before a ``##`` are noise and dropped; a remainder longer than any frame can be is
    dropped too, so a peer cannot make the receiver hold unbounded bytes."""
    frames = []
    while True:
        start = buffer.find(b"##")
        if start < 0:  # keep a last "#": it may be the first half of the next "##"
            return frames, buffer[-1:] if buffer.endswith(b"#") else b""
        end = buffer.find(b"\r\n", start)
        if end < 0:
            rest = buffer[start:]
            return frames, rest if len(rest) <= MAX_FRAME else b""
        frames.append(buffer[start:end])
        buffer = buffer[end + 2 :]


@dataclass
class Reassembly:
    """Split packets (Flag's D bit, PNUM/PNO) put back together: the parts of one QN from one
    device, in PNO order, make one packet whose CP is their CPs joined by ``;``.

    Bounded: at most ``limit`` packets are waiting; the oldest waiting is dropped first."""

    limit: int = 1000
    _parts: dict[tuple[str, str | None, str], dict[int, Packet]] = field(default_factory=dict)

    def add(self, packet: Packet) -> Packet | None:
        """The whole packet once its last part has come, else None."""
        if not packet.split or packet.pnum is None or packet.pno is None:
            return packet
        key = (packet.mn, packet.qn, packet.cn)
        parts = self._parts.setdefault(key, {})
        parts[packet.pno] = packet
        if len(self._parts) > self.limit:
            self._parts.pop(next(iter(self._parts)))
        if len(parts) < packet.pnum:
            return None
        del self._parts[key]
        ordered = [parts[n] for n in sorted(parts)]
        first = ordered[0]
        return Packet(
            first.qn,
            first.st,
            first.cn,
            first.pw,
            first.mn,
            None if first.flag is None else first.flag & ~0b10,  # whole: no D bit
            None,
            None,
            ";".join(p.cp for p in ordered if p.cp),
            sum(p.declared_length for p in ordered),
            all(p.length_ok for p in ordered),
        )


def split(
    *, st: str, cn: str, pw: str, mn: str, qn: str, items: Iterable[str], per_packet: int
) -> list[bytes]:
    """A long CP cut into parts of ``per_packet`` items (the simulator's split packets)."""
    items = list(items)
    chunks = [items[i : i + per_packet] for i in range(0, len(items), per_packet)]
    flag = (FLAG_VERSION_2017 << 2) | 0b11  # D (split) and A (acknowledge)
    return [
        frame(
            f"QN={qn};ST={st};CN={cn};PW={pw};MN={mn};Flag={flag};"
            f"PNUM={len(chunks)};PNO={n};CP=&&{';'.join(chunk)}&&"
        )
        for n, chunk in enumerate(chunks, start=1)
    ]

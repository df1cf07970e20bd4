"""The HJ 212 receiver over a real TCP connection on loopback: acknowledgements, refusals
with the standard's return codes, split packets, streams cut anywhere, Modbus devices.

The receiver's sink here keeps what it is given in lists: these tests hold the protocol;
the database's sink has its own tests on PostGIS."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from geo_service.monitoring import hj212
from geo_service.monitoring.receiver import Device, Frame, Outcome, Receiver, serve
from tests.monitoring.test_hj212 import PACKETS

NOISE = Device("010000A8900016F000169DC0", "123456", st="23")
MODBUS = Device("MODBUS-01", "654321", crc_mode="modbus", st="39")


@dataclass
class Kept:
    raw: list[tuple[bytes, Outcome]] = field(default_factory=list)
    stored: list[tuple[str, hj212.Packet]] = field(default_factory=list)

    def device(self, mn: str) -> Device | None:
        return {d.mn: d for d in (NOISE, MODBUS)}.get(mn)

    def record_many(self, frames: Sequence[Frame]) -> list[Outcome]:
        for frame in frames:
            assert frame.peer.startswith("127.0.0.1:") and frame.via == "tcp"
            self.raw.append((frame.raw, frame.outcome))
            if frame.data is not None:
                assert frame.device is not None
                self.stored.append((frame.device.mn, frame.data))
        return [frame.outcome for frame in frames]

    def settle(self) -> None:
        pass


def _exchange(kept: Kept, chunks: list[bytes], answers: int) -> list[bytes]:
    """Send ``chunks`` over one connection; read ``answers`` lines back."""

    async def run() -> list[bytes]:
        bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def ready(port: int) -> None:
            bound.set_result(port)

        server = asyncio.create_task(serve(Receiver(kept), "127.0.0.1", 0, ready))
        port = await bound
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for chunk in chunks:
            writer.write(chunk)
            await writer.drain()
            await asyncio.sleep(0.01)
        got = [await asyncio.wait_for(reader.readline(), 5) for _ in range(answers)]
        writer.close()
        await asyncio.sleep(0.05)  # the receiver finishes what it has read
        server.cancel()
        return got

    return asyncio.run(run())


def test_a_packet_that_asks_is_stored_and_acknowledged_with_9014() -> None:
    kept = Kept()
    (answer,) = _exchange(kept, [PACKETS[2] + b"\r\n"], 1)
    assert answer == PACKETS[3] + b"\r\n"  # DESIGN.md's acknowledgement of it
    ((mn, packet),) = kept.stored
    assert mn == NOISE.mn and packet.data().readings[0].value == 50.1
    assert [o.accepted for _, o in kept.raw] == [True]


def test_refusals_answer_with_9011_and_the_return_code_and_keep_the_raw_packet() -> None:
    kept = Kept()
    wrong_pw = PACKETS[2].replace(b"PW=123456", b"PW=000000")
    wrong_pw = hj212.frame(wrong_pw[6:-4].decode()).removesuffix(b"\r\n")
    wrong_crc = PACKETS[2][:-4] + b"0000"
    stranger = hj212.build(
        qn="20240601220100000", st="23", cn="2011", pw="1", mn="NOBODY", cp="LA-Rtd=1"
    )
    answers = _exchange(kept, [wrong_pw + b"\r\n", wrong_crc + b"\r\n", stranger], 2)
    codes = [hj212.parse(a).data().items["QnRtn"] for a in answers]
    assert codes == ["3", "9"]  # wrong password, wrong CRC; the stranger gets no answer
    assert hj212.parse(answers[0]).pw == "000000"  # their own PW back, never the device's
    assert kept.stored == []
    reasons = [(o.accepted, o.code, o.reason) for _, o in kept.raw]
    assert reasons[0][:2] == (False, hj212.Return.PW_ERROR)
    assert reasons[1][:2] == (False, hj212.Return.CRC_ERROR)
    assert reasons[2] == (False, hj212.Return.MN_ERROR, "no monitor has MN NOBODY")


def test_split_packets_cut_anywhere_in_the_stream_are_stored_once_whole() -> None:
    kept = Kept()
    parts = hj212.split(
        st="23",
        cn="2051",
        pw="123456",
        mn=NOISE.mn,
        qn="20240601220100000",
        items=["DataTime=20240601220000", "Leq-Data=57.3", "LMx-Data=71.2"],
        per_packet=2,
    )
    stream = b"".join(parts)
    chunks = [stream[:10], stream[10:150], stream[150:]]  # cut mid-frame
    answers = _exchange(kept, chunks, 2)
    assert all(hj212.parse(a).cn == "9014" for a in answers)  # each part asked (Flag=7)
    ((_, whole),) = kept.stored
    data = whole.data()
    assert data.data_time == dt.datetime(2024, 6, 1, 22, 0)
    assert [(r.factor, r.value) for r in data.readings] == [("Leq", 57.3), ("LMx", 71.2)]


def test_a_modbus_device_is_checked_and_answered_in_modbus() -> None:
    kept = Kept()
    raw = hj212.build(
        qn="20240601220100000",
        st="39",
        cn="2011",
        pw=MODBUS.password,
        mn=MODBUS.mn,
        cp="a34002-Rtd=55.0",
        flag=5,
        crc_mode="modbus",
    )
    (answer,) = _exchange(kept, [raw], 1)
    assert hj212.parse(answer, crc_mode="modbus").cn == "9014"
    assert len(kept.stored) == 1


def test_a_wrong_system_code_is_refused_with_5() -> None:
    kept = Kept()
    raw = hj212.build(
        qn="20240601220100000",
        st="39",
        cn="2011",
        pw="123456",
        mn=NOISE.mn,
        cp="LA-Rtd=50.0",
        flag=5,
    )
    (answer,) = _exchange(kept, [raw], 1)
    assert hj212.parse(answer).data().items["QnRtn"] == "5" and kept.stored == []


@dataclass
class Slow(Kept):
    """A sink whose database takes 50 ms a batch: when frames are read, batches kept and
    the sink settled."""

    looked_up: list[float] = field(default_factory=list)
    keeping: list[tuple[float, float, int]] = field(default_factory=list)
    settled: list[float] = field(default_factory=list)

    def device(self, mn: str) -> Device | None:
        self.looked_up.append(time.monotonic())
        return super().device(mn)

    def record_many(self, frames: Sequence[Frame]) -> list[Outcome]:
        start = time.monotonic()
        time.sleep(0.05)
        self.keeping.append((start, time.monotonic(), len(frames)))
        return super().record_many(frames)

    def settle(self) -> None:
        self.settled.append(time.monotonic())


def test_frames_are_read_while_the_batch_before_them_is_kept_and_settled_once_a_second() -> None:
    sink = Slow()

    async def run() -> list[tuple[Outcome, bytes | None]]:
        commits = Receiver(sink).commits()
        waiting = []
        for n in range(40):  # a frame every 10 ms for 0.4 s
            qn = f"2016080108{n:02d}00000"
            cp, flag = f"DataTime=2016080108{n:02d}00;LA-Rtd=50", 5  # 5: A, ask for 9014
            raw = hj212.build(qn=qn, st="23", cn="2011", pw="123456", mn=NOISE.mn, cp=cp, flag=flag)
            waiting.append(commits.submit((raw.strip(), "127.0.0.1:1", "tcp", None)))
            await asyncio.sleep(0.01)
        answers = await asyncio.gather(*waiting)
        await asyncio.sleep(1.2)  # the settle after the last batch, a second after the first
        return answers

    answers = asyncio.run(run())

    assert [o.accepted for o, _ in answers] == [True] * 40
    assert [a[1] is not None and b"CN=9014" in a[1] for a in answers] == [True] * 40
    assert sum(n for _, _, n in sink.keeping) == 40 and len(sink.keeping) < 40
    # Reading did not wait for the database: devices were looked up while a batch was kept.
    assert any(start < t < end for t in sink.looked_up for start, end, _ in sink.keeping)
    # Every batch settled, the batches of a second together: two settles, a second apart.
    assert len(sink.settled) == 2 and sink.settled[1] - sink.settled[0] >= 1.0
    assert sink.settled[-1] > sink.keeping[-1][1]

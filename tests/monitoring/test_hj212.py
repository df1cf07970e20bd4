"""HJ 212-2017 packets: the test packets of ../shared/DESIGN.md parse and check; broken ones
are refused with the standard's return code; split packets, acknowledgements, stream cuts."""

from __future__ import annotations

import datetime as dt

import pytest

from geo_service.monitoring import hj212
from geo_service.monitoring.hj212 import PacketError, Reading, Return

# DESIGN.md "Site monitoring": each passes the Appendix A CRC.
PACKETS = [
    b"##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&1C80",
    b"##0239QN=20180821142509000;ST=39;CN=2011;PW=123456;MN=690000D5800028F889221AC0;Flag=4;CP=&&DataTime=20180821142509;a34004-Rtd=0.0;a34002-Rtd=0.0;a34001-Rtd=0.0;LA-Rtd=0.0;a01001-Rtd=0.0;a01002-Rtd=0.0;a01006-Rtd=0.0;a01007-Rtd=0.0;a01008-Rtd=0&&E541",
    b"##0122QN=20160801085857223;ST=23;CN=2011;PW=123456;MN=010000A8900016F000169DC0;Flag=5;CP=&&DataTime=20160801085857;LA-Rtd=50.1&&0880",
    b"##0087QN=20160801085857223;ST=91;CN=9014;PW=123456;MN=010000A8900016F000169DC0;Flag=4;CP=&&&&3240",
    b"##0231QN=20240601220100000;ST=39;CN=2051;PW=123456;MN=010000A8900016F000169DC0;Flag=5;CP=&&DataTime=20240601220000;a34002-Avg=86.0,a34002-Max=120.0,a34002-Min=60.0,a34002-Flag=N;a34004-Avg=41.0,a34004-Flag=N;Leq-Data=57.3;LMx-Data=71.2&&4680",
]


def test_the_checksum_is_appendix_a_and_modbus_is_the_other_one() -> None:
    assert hj212.crc_hj212(b"123456789") == 0x2F80
    assert hj212.crc_modbus(b"123456789") == 0x4B37


@pytest.mark.parametrize("raw", PACKETS)
def test_every_design_packet_parses_with_its_length_and_checksum(raw: bytes) -> None:
    packet = hj212.parse(raw)
    assert packet.length_ok and packet.declared_length == len(raw) - 10
    assert packet.mn and packet.pw and packet.qn
    assert hj212.parse(raw + b"\r\n") == packet  # with its CRLF as on the wire


def test_real_time_dust_and_weather_data() -> None:
    packet = hj212.parse(PACKETS[1])
    data = packet.data()
    assert (packet.st, packet.cn, packet.flag, packet.ack_requested) == ("39", "2011", 4, False)
    assert data.data_time == dt.datetime(2018, 8, 21, 14, 25, 9)
    assert [r.factor for r in data.readings][:4] == ["a34004", "a34002", "a34001", "LA"]
    assert {r.statistic for r in data.readings} == {"Rtd"}
    assert len(data.readings) == 9


def test_minute_data_with_flags_and_noise_statistics() -> None:
    data = hj212.parse(PACKETS[4]).data()
    assert data.data_time == dt.datetime(2024, 6, 1, 22, 0)  # the interval's start
    assert data.readings == (
        Reading("a34002", "Avg", 86.0, "N"),
        Reading("a34002", "Max", 120.0, "N"),
        Reading("a34002", "Min", 60.0, "N"),
        Reading("a34004", "Avg", 41.0, "N"),
        Reading("Leq", "Data", 57.3),
        Reading("LMx", "Data", 71.2),
    )


def test_other_cp_items_are_kept_as_text() -> None:
    data = hj212.parse(PACKETS[0]).data()
    assert data.items == {"RtdInterval": "30"} and data.readings == ()


def test_the_acknowledgement_of_a_packet_that_asks_is_the_design_9014_packet() -> None:
    asked = hj212.parse(PACKETS[2])
    assert asked.ack_requested  # Flag=5: version 2017, A bit
    assert hj212.acknowledgement(asked) == PACKETS[3] + b"\r\n"


def _with_crc(segment: bytes, declared: int | None = None) -> bytes:
    length = len(segment) if declared is None else declared
    return b"##%04d%s%04X" % (length, segment, hj212.crc_hj212(segment))


def test_a_wrong_declared_length_is_accepted_when_the_checksum_is_right() -> None:
    segment = PACKETS[2][6:-4]
    packet = hj212.parse(_with_crc(segment, len(segment) + 1))
    assert not packet.length_ok and packet.data().readings[0].value == 50.1


def test_a_14_digit_qn_and_no_flag_are_accepted() -> None:
    packet = hj212.parse(
        _with_crc(b"QN=20240601220100;ST=23;CN=2011;PW=123456;MN=M1;CP=&&LA-Rtd=61.5&&")
    )
    assert packet.qn == "20240601220100" and packet.flag is None and not packet.ack_requested


@pytest.mark.parametrize(
    ("raw", "code", "words"),
    [
        (PACKETS[2][:-4] + b"0881", Return.CRC_ERROR, "CRC 0881"),
        (PACKETS[2].replace(b"LA-Rtd=50.1", b"LA-Rtd=50.2"), Return.CRC_ERROR, "CRC"),
        (PACKETS[2][:-4], Return.CRC_ERROR, "4 hex digits"),
        (b"#0122" + PACKETS[2][6:], Return.UNKNOWN, "starts with ##"),
        (_with_crc(b"QN=2016;ST=23;CN=2011;PW=1;MN=M1;CP=&&&&"), Return.QN_ERROR, "QN='2016'"),
        (_with_crc(b"QN=20160801085857223;ST=X;CN=2011;PW=1;MN=M1;CP=&&&&"), Return.ST_ERROR, "ST"),
        (_with_crc(b"QN=20160801085857223;ST=23;CN=20;PW=1;MN=M1;CP=&&&&"), Return.CN_ERROR, "CN"),
        (_with_crc(b"QN=20160801085857223;ST=23;CN=2011;PW=1;CP=&&&&"), Return.MN_ERROR, "MN"),
        (_with_crc(b"QN=20160801085857223;ST=23;CN=2011;MN=M1;CP=&&&&"), Return.PW_ERROR, "PW"),
        (_with_crc(b"ST=23;CN=2011;PW=1;MN=M1;Flag=x;CP=&&&&"), Return.FLAG_ERROR, "Flag"),
        (
            _with_crc(b"ST=23;CN=2011;PW=1;MN=M1;Flag=7;PNUM=2;PNO=3;CP=&&&&"),
            Return.FLAG_ERROR,
            "PNO",
        ),
        (_with_crc(b"ST=23;CN=2011;PW=1;MN=M1;CP=LA-Rtd=1"), Return.UNKNOWN, "CP=&&"),
        (_with_crc("ST=23;CN=2011;PW=1;MN=噪声;CP=&&&&".encode()), Return.UNKNOWN, "ASCII"),
    ],
)
def test_broken_packets_are_refused_with_the_standards_return_code(
    raw: bytes, code: Return, words: str
) -> None:
    with pytest.raises(PacketError, match=words) as refused:
        hj212.parse(raw)
    assert refused.value.code == code


def test_a_broken_cp_is_refused_when_its_data_is_read() -> None:
    packet = hj212.parse(_with_crc(b"ST=23;CN=2011;PW=1;MN=M1;CP=&&LA-Rtd=loud&&"))
    with pytest.raises(PacketError, match="LA-Rtd='loud' is not a number"):
        packet.data()
    packet = hj212.parse(_with_crc(b"ST=23;CN=2011;PW=1;MN=M1;CP=&&DataTime=2024-06-01&&"))
    with pytest.raises(PacketError, match="DataTime"):
        packet.data()


def test_a_modbus_device_is_checked_with_modbus() -> None:
    raw = hj212.build(
        st="39", cn="2011", pw="123456", mn="M2", cp="a34002-Rtd=55.0", crc_mode="modbus"
    )
    assert hj212.parse(raw, crc_mode="modbus").data().readings[0].value == 55.0
    with pytest.raises(PacketError) as refused:
        hj212.parse(raw)  # the standard's CRC does not match a Modbus checksum
    assert refused.value.code == Return.CRC_ERROR


def test_a_refusal_answers_with_9011_and_the_return_code() -> None:
    packet = hj212.parse(PACKETS[2])
    raw = hj212.refusal(Return.PW_ERROR, mn=packet.mn, pw=packet.pw, qn=packet.qn)
    answer = hj212.parse(raw)
    assert (answer.cn, answer.st, answer.mn) == ("9011", "91", packet.mn)
    assert answer.data().items == {"QN": packet.qn, "QnRtn": "3"}


def test_split_packets_are_put_back_together_in_part_order() -> None:
    items = [f"a3400{i}-Rtd={i}.0" for i in (1, 2, 4, 5)]
    parts = hj212.split(
        st="39", cn="2011", pw="123456", mn="M3", qn="20240601220100000", items=items, per_packet=3
    )
    assert len(parts) == 2
    first, second = (hj212.parse(p) for p in parts)
    assert first.flag == 7 and first.split and (first.pnum, first.pno) == (2, 1)
    joined = hj212.Reassembly()
    assert joined.add(second) is None  # out of order: waits for part 1
    whole = joined.add(first)
    assert whole is not None and not whole.split
    assert [r.factor for r in whole.data().readings] == ["a34001", "a34002", "a34004", "a34005"]
    assert joined.add(hj212.parse(PACKETS[2])).cp == "DataTime=20160801085857;LA-Rtd=50.1"


def test_waiting_parts_are_bounded() -> None:
    joined = hj212.Reassembly(limit=2)
    for n in range(5):
        part = hj212.parse(
            hj212.split(
                st="39",
                cn="2011",
                pw="1",
                mn=f"M{n}",
                qn="20240601220100000",
                items=["LA-Rtd=1", "LA-Rtd=2"],
                per_packet=1,
            )[0]
        )
        assert joined.add(part) is None
    assert len(joined._parts) == 2


def test_a_stream_is_cut_at_crlf_and_keeps_an_incomplete_frame() -> None:
    stream = b"noise" + PACKETS[2] + b"\r\n" + PACKETS[1] + b"\r\n" + PACKETS[4][:50]
    frames, rest = hj212.cut(stream)
    assert frames == [PACKETS[2], PACKETS[1]] and rest == PACKETS[4][:50]
    frames, rest = hj212.cut(rest + PACKETS[4][50:] + b"\r\n#")
    assert frames == [PACKETS[4]] and rest == b"#"
    frames, rest = hj212.cut(b"##0100" + b"x" * hj212.MAX_FRAME)
    assert frames == [] and rest == b""  # no peer makes the receiver hold unbounded bytes

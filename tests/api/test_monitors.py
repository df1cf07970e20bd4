"""Monitors report over HJ 212: forwarded over HTTP or over a real TCP connection, their
readings appear in the API; refusals change nothing but the raw log; partitions are made
ahead and detached; a monitor's password never leaves the service."""

from __future__ import annotations

import datetime as dt
import socket

import geopandas as gpd
import pytest
from fastapi.testclient import TestClient
from shapely.geometry import Point
from sqlalchemy import Engine, text

from geo_service.database import DatabaseSettings
from geo_service.ingest import import_frame
from geo_service.main import create_app
from geo_service.monitoring import hj212, partitions
from geo_service.settings import ImportSettings, MonitoringSettings
from tests.accounts import bearer, issue_token
from tests.monitoring.test_hj212 import PACKETS

MN = "010000A8900016F000169DC0"  # DESIGN.md's acoustic monitor (ST 23, PW 123456)


@pytest.fixture
def monitors(district: Engine) -> Engine:
    """Two monitors of AZF-2024-01: DESIGN.md's noise monitor, and a dust one in mg/m3."""
    import_frame(
        district,
        "monitors",
        gpd.GeoDataFrame(
            {
                "mn": [MN, "DUST-MG-01"],
                "site": ["AZF-2024-01"] * 2,
                "st": ["23", "39"],
                "kind": ["noise", "dust"],
                "placement": ["boundary", "facade"],
                "password": ["123456", "s3cret-pw"],
                "units": ["ug/m3", "mg/m3"],
            },
            geometry=[Point(120.1586, 30.2666), Point(120.1604, 30.2674)],
            crs="EPSG:4326",
        ),
        settings=ImportSettings(),
    )
    return district


def _count(engine: Engine, sql: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar_one()


def test_a_forwarded_packet_becomes_a_reading_and_a_repeat_changes_nothing(
    client: TestClient, monitors: Engine
) -> None:
    body = PACKETS[2] + b"\r\n"
    first = client.post("/api/ingest/hj212", content=body)
    assert first.status_code == 200, first.text
    assert first.json()["accepted"] == 1
    (answer,) = first.json()["packets"]
    assert answer["answer"] == PACKETS[3].decode()  # 9014, as DESIGN.md has it

    got = client.get(
        f"/api/monitors/{MN}/readings",
        params={"from": "2016-08-01T00:00+08:00", "to": "2016-08-02T00:00+08:00"},
    ).json()
    assert got["readings"] == [
        {
            "at": "2016-08-01T00:58:57+00:00",  # 08:58:57 in Hangzhou
            "cn": "2011",
            "factor": "LA",
            "statistic": "Rtd",
            "value": 50.1,
            "flag": None,
        }
    ]
    client.post("/api/ingest/hj212", content=body)
    assert _count(monitors, "SELECT count(*) FROM readings") == 1
    assert _count(monitors, "SELECT count(*) FROM hj212_packets WHERE accepted") == 2


def test_refused_packets_are_kept_raw_with_the_reason_and_add_no_reading(
    anonymous: TestClient, monitors: Engine
) -> None:
    wrong_pw = hj212.frame(PACKETS[2][6:-4].decode().replace("PW=123456", "PW=999999"))
    body = wrong_pw + PACKETS[2][:-4] + b"FFFF\r\n" + b"garbage\n"
    got = anonymous.post("/api/ingest/hj212", content=body).json()
    assert [(p["accepted"], p["code"]) for p in got["packets"]] == [
        (False, 3),
        (False, 9),
        (False, 100),
    ]
    assert "QnRtn=3" in got["packets"][0]["answer"]
    assert _count(monitors, "SELECT count(*) FROM readings") == 0
    with monitors.connect() as conn:
        kept = conn.execute(
            text("SELECT via, accepted, code, reason FROM hj212_packets ORDER BY id")
        ).all()
    assert [(k.via, k.accepted, k.code) for k in kept] == [
        ("http", False, 3),
        ("http", False, 9),
        ("http", False, 100),
    ]
    assert "CRC" in kept[1].reason


def test_bad_ingest_bodies_and_reading_queries_get_a_clear_400(
    client: TestClient, monitors: Engine
) -> None:
    assert client.post("/api/ingest/hj212", content=b"\r\n").status_code == 400
    url = f"/api/monitors/{MN}/readings"
    for params, words in (
        ({"from": "yesterday"}, "is not a time"),
        ({"from": "2026-06-01T00:00"}, "no time zone"),
        ({"from": "2026-06-01T00:00Z", "to": "2026-08-01T00:00Z"}, "at most 31 days"),
    ):
        refused = client.get(url, params=params)
        assert refused.status_code == 400 and words in refused.text, (params, refused.text)
    assert client.get(url, params={"agg": "5min"}).status_code == 422
    missing = client.get("/api/monitors/NOPE/readings")
    assert missing.status_code == 404 and "NOPE" in missing.text
    # A span with nothing in it is an empty list, raw or rolled up, not null.
    for agg in ("raw", "20min"):
        span = {"from": "2001-01-01T00:00Z", "to": "2001-01-02T00:00Z"}
        got = client.get(url, params={"agg": agg, **span})
        assert got.status_code == 200 and got.json()["readings"] == [], got.text


def dust_minute(m: int, value: str, flag: str = "N") -> bytes:
    """Minute data (CN 2051) of the dust monitor (mg/m3), ``m`` minutes after 2026-06-01 10:00."""
    t = f"20260601{10 + m // 60:02d}{m % 60:02d}"
    cp = f"DataTime={t}00;a34002-Avg={value},a34002-Flag={flag}"
    return hj212.build(qn=f"{t}00000", st="39", cn="2051", pw="s3cret-pw", mn="DUST-MG-01", cp=cp)


def test_a_packet_whose_value_is_not_a_number_is_refused_alone(
    client: TestClient, monitors: Engine
) -> None:
    """Its checksum and password are right, so the receiver took it: a batch's other
    packets were left unanswered when its CP failed to read only as the batch was kept."""

    bad = ["nan", "inf", "1_0", "1e999", " 1.0", "0x10"]
    refused = [dust_minute(1 + i, v) for i, v in enumerate(bad)]
    packets = [dust_minute(0, "0.080"), *refused, dust_minute(9, "8E-2")]
    got = client.post("/api/ingest/hj212", content=b"".join(packets)).json()

    assert got["accepted"] == 2 and got["refused"] == len(bad)
    reasons = [p["reason"] for p in got["packets"] if not p["accepted"]]
    assert reasons == [f"a34002-Avg={v!r} is not a number" for v in bad]
    assert all("QnRtn=" in p["answer"] for p in got["packets"] if not p["accepted"])
    values = _count(monitors, "SELECT string_agg(value::text, ',' ORDER BY at) FROM readings")
    assert values == "80,80"  # ug/m3: 0.080 and 8E-2 mg/m3
    assert _count(monitors, "SELECT count(*) FROM hj212_packets WHERE NOT accepted") == len(bad)


def test_dust_in_mg_m3_is_stored_in_ug_m3_and_aggregates_by_hour(
    client: TestClient, monitors: Engine
) -> None:
    packets = [
        dust_minute(m, v, f)
        for m, v, f in ((0, "0.080", "N"), (1, "0.100", "N"), (2, "0.900", "D"), (61, "0.050", "N"))
    ]
    got = client.post("/api/ingest/hj212", content=b"".join(packets)).json()
    assert got["accepted"] == 4
    hourly = client.get(
        "/api/monitors/DUST-MG-01/readings",
        params={"from": "2026-06-01T00:00+08:00", "to": "2026-06-02T00:00+08:00", "agg": "1h"},
    ).json()["readings"]
    # The fault minute (flag D) is left out of the mean; values in ug/m3.
    assert [(r["at"], r["value"], r["n"]) for r in hourly] == [
        ("2026-06-01T02:00:00+00:00", 90.0, 2),
        ("2026-06-01T03:00:00+00:00", 50.0, 1),
    ]


def test_a_packet_over_tcp_on_loopback_is_acknowledged_and_readable(
    district: Engine, monitors: Engine, service_database_url: str
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_app(
        DatabaseSettings(database_url=service_database_url),
        monitoring=MonitoringSettings(port=port),
    )
    with TestClient(app) as client:
        client.headers.update(bearer(issue_token(district, "gis")))
        with socket.create_connection(("127.0.0.1", port), timeout=5) as device:
            device.sendall(PACKETS[2][:40])  # a frame in two pieces, as TCP may deliver it
            device.sendall(PACKETS[2][40:] + b"\r\n")
            answer = device.makefile("rb").readline()
        assert answer == PACKETS[3] + b"\r\n"
        got = client.get(
            f"/api/monitors/{MN}/readings",
            params={"from": "2016-08-01T00:00+08:00", "to": "2016-08-02T00:00+08:00"},
        ).json()
        assert [r["value"] for r in got["readings"]] == [50.1]
    with monitors.connect() as conn:
        assert conn.execute(text("SELECT via FROM hj212_packets")).scalar_one() == "tcp"


def test_partitions_are_made_ahead_and_old_ones_detached(monitors: Engine) -> None:
    now = dt.datetime(2026, 12, 15, tzinfo=dt.UTC)
    with monitors.begin() as conn:
        made = partitions.ensure_ahead(conn, now, ahead=2)
        assert made == ["readings_2026_12", "readings_2027_01", "readings_2027_02"]
        partitions.ensure(conn, [dt.date(2026, 9, 1), dt.date(2026, 10, 1)])
        monitor = conn.execute(text("SELECT id FROM monitors LIMIT 1")).scalar_one()
        for day in (dt.date(2026, 9, 30), dt.date(2026, 10, 1)):
            conn.execute(
                text(
                    "INSERT INTO night_backgrounds (monitor_id, period, period_of, basis,"
                    " background, windows) VALUES (:m, 'night', :d, 'b', 41.5, 24)"
                ),
                {"m": monitor, "d": day},
            )
        detached = partitions.detach_older_than(conn, now, keep_months=3)
        assert "readings_2026_09" in detached and max(detached) == "readings_2026_09"
        assert "readings_2026_10" in partitions.attached(conn)
        assert "readings_2026_09" not in partitions.attached(conn)
        # Detached, not dropped: the month is still there to archive.
        assert conn.execute(text("SELECT to_regclass('readings_2026_09')")).scalar()
        # The night-work backgrounds of the detached months go; October's stays.
        kept = conn.execute(text("SELECT period_of FROM night_backgrounds")).scalars().all()
        assert kept == [dt.date(2026, 10, 1)]
        # A month begins at midnight in Hangzhou: 2026-11-30 16:00 UTC is December there.
        assert partitions.month_of(dt.datetime(2026, 11, 30, 16, tzinfo=dt.UTC)) == dt.date(
            2026, 12, 1
        )
        for name in detached:  # other tests' months, made on demand
            conn.execute(text(f"DROP TABLE {name}"))


def test_readings_of_an_archived_month_are_refused_and_the_packet_kept(
    client: TestClient, monitors: Engine
) -> None:
    with monitors.begin() as conn:
        partitions.ensure(conn, [dt.date(2016, 8, 1)])
        conn.execute(text("ALTER TABLE readings DETACH PARTITION readings_2016_08"))
    try:
        got = client.post("/api/ingest/hj212", content=PACKETS[2]).json()
        (packet,) = got["packets"]
        assert (packet["accepted"], packet["code"]) == (False, 2)
        assert "2016-08 are archived" in packet["reason"]
        assert "QnRtn=2" in packet["answer"]
        assert _count(monitors, "SELECT count(*) FROM hj212_packets WHERE NOT accepted") == 1
    finally:
        with monitors.begin() as conn:
            conn.execute(text("DROP TABLE readings_2016_08"))


def test_a_monitors_password_never_leaves_the_service(client: TestClient, monitors: Engine) -> None:
    items = client.get("/ogc/collections/monitors/items").json()  # an administrator
    assert len(items["features"]) == 3  # the seed's, and the two imported here
    for feature in items["features"]:
        assert "password" not in feature["properties"]
        assert "mn" in feature["properties"]
    queryables = client.get("/ogc/collections/monitors/queryables").json()
    assert "password" not in queryables["properties"]
    exported = client.get("/ogc/collections/monitors/items", params={"f": "csv"})
    assert not any(pw in exported.text for pw in ("123456", "s3cret", "seed-pw"))


def test_the_simulator_plays_a_day_to_the_receiver_over_tcp_and_into_a_file(
    district: Engine, monitors: Engine, service_database_url: str, tmp_path
) -> None:
    from click.testing import CliRunner

    from geo_service.cli import main

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_app(
        DatabaseSettings(database_url=service_database_url),
        monitoring=MonitoringSettings(port=port),
    )
    runner = CliRunner()
    with TestClient(app):
        sent = runner.invoke(
            main,
            [
                "hj212",
                "simulate",
                "--monitor",
                f"{MN}:123456:noise",
                "--start",
                "2026-06-01",
                "--days",
                "1",
                "--to",
                f"tcp://127.0.0.1:{port}",
            ],
        )
    assert sent.exit_code == 0, sent.output
    assert "sent 1,440 packets" in sent.output and "1,440 acknowledged" in sent.output
    assert _count(monitors, "SELECT count(*) FROM readings WHERE factor = 'Leq'") == 1440

    out = tmp_path / "day.hj212"
    written = runner.invoke(
        main, ["hj212", "simulate", "--monitor", "M-1:pw:dust", "--days", "1", "-o", str(out)]
    )
    assert written.exit_code == 0, written.output
    frames, rest = hj212.cut(out.read_bytes())
    assert len(frames) == 1440 and rest == b""
    bad = runner.invoke(main, ["hj212", "simulate", "--monitor", "M-1:pw", "-o", str(out)])
    assert bad.exit_code == 2 and "is not MN:PW:KIND" in bad.output


def test_readings_export_as_csv_and_xlsx_with_local_times_and_no_live_formula(
    client: TestClient, monitors: Engine
) -> None:
    import io

    from openpyxl import load_workbook

    packets = [
        hj212.build(
            qn="20260601100000000",
            st="23",
            cn="2051",
            pw="123456",
            mn=MN,
            cp=f"DataTime=20260601100000;{factor}-Data={value}",
        )
        for factor, value in (("Leq", "61.5"), ("@SUM(A1)", "-3"))  # a device's code, not a formula
    ]
    assert client.post("/api/ingest/hj212", content=b"".join(packets)).json()["accepted"] == 2
    url = f"/api/monitors/{MN}/readings"
    day = {"from": "2026-06-01T00:00+08:00", "to": "2026-06-02T00:00+08:00"}

    got = client.get(url, params={**day, "format": "csv"})
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    assert f"readings_{MN}_raw.csv" in got.headers["content-disposition"]
    lines = got.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("时间 Time,命令 Command,因子 Factor")
    assert "2026-06-01 10:00:00,2051,'@SUM(A1),Data,-3.0," in lines  # local time; text, not run
    assert "2026-06-01 10:00:00,2051,Leq,Data,61.5," in lines

    book = client.get(url, params={**day, "format": "xlsx", "agg": "1h"})
    assert book.status_code == 200
    sheet = load_workbook(io.BytesIO(book.content)).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0] == [
        "时间 Time",
        "因子 Factor",
        "统计 Statistic",
        "数值 Value",
        "有效数 Valid",
        "总数 Count",
    ]
    assert ["2026-06-01 10:00:00", "'@SUM(A1)", "Data", -3.0, 1, 1] in rows
    assert ["2026-06-01 10:00:00", "Leq", "Data", 61.5, 1, 1] in rows
    refused = client.get(url, params={**day, "format": "pdf"})
    assert refused.status_code == 422


def test_the_ogc_collection_carries_each_monitors_latest_values(
    client: TestClient, monitors: Engine
) -> None:
    """A GIS client maps what the monitors say now: the newest LAeq and particulates of each
    (ug/m3 whatever the device sends); a value older than a day is no latest value."""
    local = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).replace(second=0, microsecond=0)

    def minute(at: dt.datetime, mn: str, pw: str, st: str, cp: str) -> bytes:
        stamp = at.strftime("%Y%m%d%H%M%S")
        return hj212.build(
            qn=stamp + "000", st=st, cn="2051", pw=pw, mn=mn, cp=f"DataTime={stamp};{cp}"
        )

    ago = local - dt.timedelta(minutes=10)
    packets = [
        minute(ago - dt.timedelta(minutes=1), MN, "123456", "23", "Leq-Data=61.0"),
        minute(ago, MN, "123456", "23", "Leq-Data=63.5"),
        minute(ago, "DUST-MG-01", "s3cret-pw", "39", "a34002-Avg=0.085,a34002-Flag=N"),
        minute(local - dt.timedelta(days=2), "DUST-MG-01", "s3cret-pw", "39", "a34004-Avg=0.050"),
    ]
    assert client.post("/api/ingest/hj212", content=b"".join(packets)).json()["accepted"] == 4
    items = client.get("/ogc/collections/monitors/items").json()["features"]
    latest = {
        f["id"]: {k: v for k, v in f["properties"].items() if k.startswith("latest_")}
        for f in items
    }
    assert latest[MN] == {
        "latest_laeq": 63.5,
        "latest_pm10": None,
        "latest_pm25": None,
        "latest_tsp": None,
    }
    assert latest["DUST-MG-01"]["latest_pm10"] == 85.0
    assert latest["DUST-MG-01"]["latest_pm25"] is None  # two days old
    queryables = client.get("/ogc/collections/monitors/queryables").json()["properties"]
    assert "latest_laeq" in queryables
    loud = client.get("/ogc/collections/monitors/items", params={"filter": "latest_laeq > 60"})
    assert [f["id"] for f in loud.json()["features"]] == [MN]

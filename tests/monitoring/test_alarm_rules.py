"""The evaluation on PostGIS, each rule at its edges: valid minutes (74 % and 75 %, 14 and
15 of 20), 22:00 and 06:00 exactly, the indoor offset, night Lmax, the dust count per day
at the allowed count and one above, offline at exactly three intervals; and each window
judged once."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

from sqlalchemy import Engine, text

from geo_service.monitoring import alarms
from geo_service.settings import AlarmSettings, LiaisonSettings
from tests.monitoring.conftest import DAY, local

NEXT = DAY + dt.timedelta(days=1)


def run(engine: Engine, now: dt.datetime, **settings) -> alarms.AlarmReport:
    with engine.begin() as conn:
        return alarms.run(conn, AlarmSettings(**settings), LiaisonSettings(), now=now)


def found(engine: Engine, kind: str | None = None) -> list[tuple]:
    """(monitor, kind, state, started, last) of the alarms, offline left out unless asked."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT m.mn, a.kind, a.state, a.started_at, a.last_at FROM alarms a "
                "JOIN monitors m ON m.id = a.monitor_id WHERE (CAST(:k AS text) IS NULL AND "
                "a.kind <> 'offline') OR a.kind = :k ORDER BY a.id"
            ),
            {"k": kind},
        )
        return [tuple(r) for r in rows]


def exceedances(engine: Engine, mn: str, kind: str) -> list[dt.datetime]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT window_start FROM monitor_exceedances e JOIN monitors m "
                    "ON m.id = e.monitor_id WHERE m.mn = :mn AND e.kind = :k ORDER BY 1"
                ),
                {"mn": mn, "k": kind},
            ).scalars()
        )


def site_rules(engine: Engine, **columns: dict) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO monitoring_rules (site_code, noise, dust) VALUES ('AZF-2024-01', "
                "CAST(:noise AS jsonb), CAST(:dust AS jsonb))"
            ),
            {k: json.dumps(columns.get(k, {})) for k in ("noise", "dust")},
        )


def test_a_window_counts_with_15_of_20_valid_minutes_and_not_with_14(
    monitors: Engine, minutes: Callable[..., None]
) -> None:
    # 10:00: 5 minutes under maintenance (M), one over range (T, which counts): 15 valid.
    minutes(
        "NOISY", local(10), 20, leq=75.0, flags={0: "M", 1: "M", 2: "M", 3: "M", 4: "M", 5: "T"}
    )
    # 11:00: 6 minutes faulty (D): 14 valid, the window does not count.
    minutes("NOISY", local(11), 20, leq=75.0, flags={i: "D" for i in range(6)})
    run(monitors, local(12))
    assert exceedances(monitors, "NOISY", "noise_laeq") == [local(10)]
    ((mn, kind, state, started, last),) = found(monitors)
    assert (mn, kind, state, started, last) == (
        "NOISY",
        "noise_laeq",
        "open",
        local(10),
        local(10, 20),
    )


def test_a_window_counts_at_75_percent_valid_minutes_and_not_at_74(
    monitors: Engine, minutes: Callable[..., None]
) -> None:
    site_rules(monitors, noise={"window_minutes": 100})  # the site's override: 100 minutes
    first = alarms.floor(local(10), 100, "Asia/Shanghai")
    second = first + dt.timedelta(minutes=100)
    minutes("NOISY", first, 75, leq=72.0)
    minutes("NOISY", second, 74, leq=72.0)
    run(monitors, second + dt.timedelta(minutes=120))
    assert exceedances(monitors, "NOISY", "noise_laeq") == [first]
    with monitors.connect() as conn:
        assert conn.execute(text("SELECT valid_fraction FROM monitor_exceedances")).scalar() == 0.75


def test_the_window_at_22_00_is_the_first_night_one_and_the_one_at_06_00_the_first_day_one(
    monitors: Engine, minutes: Callable[..., None]
) -> None:
    # 60 dB(A): within the day limit (70), over the night limit (55).
    for start in (local(21, 40), local(22), local(5, 40, NEXT), local(6, 0, NEXT)):
        minutes("NOISY", start, 20, leq=60.0)
    run(monitors, local(7, 0, NEXT))
    assert exceedances(monitors, "NOISY", "noise_laeq") == [local(22), local(5, 40, NEXT)]
    # One episode: opened at 22:00, extended at 05:40, cleared by the 06:00 window before
    # anyone acknowledged it.
    assert found(monitors) == [
        ("NOISY", "noise_laeq", "auto_cleared", local(22), local(6, 0, NEXT))
    ]


def test_the_day_hours_are_the_citys_to_set(monitors: Engine, minutes: Callable[..., None]) -> None:
    minutes("NOISY", local(22), 20, leq=60.0)
    run(monitors, local(23), noise_rule={"day_end": "23:00"})
    assert exceedances(monitors, "NOISY", "noise_laeq") == []


def test_indoors_both_limits_are_10_db_lower(
    monitors: Engine, minutes: Callable[..., None]
) -> None:
    for mn in ("NOISY", "INDOOR"):
        minutes(mn, local(10), 20, leq=65.0)  # day: indoors over 60, outside within 70
        minutes(mn, local(22), 20, leq=50.0)  # night: indoors over 45, outside within 55
    run(monitors, local(23))
    assert exceedances(monitors, "INDOOR", "noise_laeq") == [local(10), local(22)]
    assert exceedances(monitors, "NOISY", "noise_laeq") == []


def test_night_lmax_may_reach_the_limit_plus_15_and_not_pass_it(
    monitors: Engine, minutes: Callable[..., None]
) -> None:
    minutes("NOISY", local(10), 20, leq=60.0, lmax=95.0)  # by day Lmax has no limit
    minutes("NOISY", local(23), 20, leq=50.0, lmax=70.0)  # 55 + 15: at the limit
    minutes("NOISY", local(23, 20), 20, leq=50.0, lmax=70.1)
    minutes("INDOOR", local(23), 20, leq=40.0, lmax=60.1)  # indoors: 45 + 15
    run(monitors, local(23, 59))
    assert exceedances(monitors, "NOISY", "noise_lmax") == [local(23, 20)]
    assert exceedances(monitors, "INDOOR", "noise_lmax") == [local(23)]
    assert sorted((mn, kind) for mn, kind, *_ in found(monitors)) == [
        ("INDOOR", "noise_lmax"),
        ("NOISY", "noise_lmax"),
    ]


def test_dust_alarms_with_the_first_hourly_mean_past_the_allowed_two_a_day(
    monitors: Engine, minutes: Callable[..., None]
) -> None:
    # Hebei DB13/2934-2019: hourly PM10 over 80 ug/m3, at most twice a day.
    minutes("DUSTY", local(8), 60, pm10=80.0)  # equal to the limit: not over
    minutes("DUSTY", local(9), 60, pm10=81.0)
    minutes("DUSTY", local(10), 60, pm10=90.0)
    run(monitors, local(11, 10))
    assert len(exceedances(monitors, "DUSTY", "dust")) == 2
    assert found(monitors) == []  # the allowed count, reached: no alarm
    minutes("DUSTY", local(11), 60, pm10=85.0)
    run(monitors, local(12, 10))
    assert found(monitors) == [("DUSTY", "dust", "open", local(11), local(12))]


def test_the_count_is_per_local_day(monitors: Engine, minutes: Callable[..., None]) -> None:
    minutes("DUSTY", local(22), 60, pm10=100.0)
    minutes("DUSTY", local(23), 60, pm10=100.0)
    minutes("DUSTY", local(0, 0, NEXT), 60, pm10=100.0)  # the next day's first
    run(monitors, local(2, 0, NEXT))
    assert len(exceedances(monitors, "DUSTY", "dust")) == 3
    assert found(monitors) == []


def test_a_15_minute_preset_with_the_citys_limit_allows_one_a_day(
    monitors: Engine, minutes: Callable[..., None]
) -> None:
    site_rules(monitors, dust={"preset": "shanghai_db31_964_2016", "limit_ug_m3": 60})
    minutes("DUSTY", local(9), 15, pm10=61.0)
    run(monitors, local(9, 30))
    assert found(monitors) == []
    minutes("DUSTY", local(9, 15), 15, pm10=61.0)
    run(monitors, local(9, 45))
    assert found(monitors) == [("DUSTY", "dust", "open", local(9, 15), local(9, 30))]


def test_a_preset_without_a_limit_is_reported_and_the_others_still_run(
    monitors: Engine, minutes: Callable[..., None]
) -> None:
    site_rules(monitors, dust={"preset": "shanghai_db31_964_2016"})
    minutes("NOISY", local(22), 20, leq=60.0)
    report = run(monitors, local(23))
    assert report.problems == [
        "site AZF-2024-01: dust preset 'shanghai_db31_964_2016' has no limit_ug_m3: "
        "enter the city's value"
    ]
    assert [kind for _, kind, *_ in found(monitors)] == ["noise_laeq"]


def test_offline_at_exactly_three_intervals_and_cleared_by_data(
    monitors: Engine, minutes: Callable[..., None]
) -> None:
    minutes("DUSTY", local(10), 1, pm10=40.0)  # the last minute: 10:00, every 60 s
    run(monitors, local(10, 2) + dt.timedelta(seconds=59))
    assert [a for a in found(monitors, "offline") if a[0] == "DUSTY"] == []
    run(monitors, local(10, 3))
    assert [a for a in found(monitors, "offline") if a[0] == "DUSTY"] == [
        ("DUSTY", "offline", "open", local(10, 3), local(10, 3))
    ]
    minutes("DUSTY", local(10, 5), 1, pm10=40.0)
    run(monitors, local(10, 6))
    assert [a[2] for a in found(monitors, "offline") if a[0] == "DUSTY"] == ["auto_cleared"]


def test_each_window_is_judged_once(monitors: Engine, minutes: Callable[..., None]) -> None:
    minutes("NOISY", local(22), 20, leq=60.0)
    first = run(monitors, local(23))
    assert first.windows == 1 and first.opened >= 1
    again = run(monitors, local(23))
    assert again.windows == 0 and again.opened == 0
    # A packet for a window already judged is stored and not judged.
    minutes("NOISY", local(22, 20), 20, leq=40.0)
    later = run(monitors, local(23, 10))
    assert later.windows == 0
    assert found(monitors) == [("NOISY", "noise_laeq", "open", local(22), local(22, 20))]


def test_geo_service_alarms_run_for_cron(
    monitors: Engine,
    minutes: Callable[..., None],
    database_url: str,
    tmp_path,
    monkeypatch,
) -> None:
    from click.testing import CliRunner

    from geo_service.cli import main

    monkeypatch.setenv("GEO_SERVICE_DATABASE_URL", database_url)
    monkeypatch.setenv("GEO_SERVICE_HOME", str(tmp_path))
    monkeypatch.setenv("GEO_SERVICE_ALARMS_REPLY_HOURS", "2")
    now = dt.datetime.now(dt.UTC)
    minutes("NOISY", alarms.floor(now - dt.timedelta(hours=2), 20, "Asia/Shanghai"), 20, leq=80)
    first = CliRunner().invoke(main, ["alarms", "run", "--no-deliver"])
    assert first.exit_code == 0, first.output
    assert "judged 1 windows: 1 exceedances" in first.output
    with monitors.connect() as conn:
        due = conn.execute(
            text("SELECT reply_due_at - created_at FROM alarms WHERE kind = 'noise_laeq'")
        ).scalar_one()
    assert due == dt.timedelta(hours=2)  # GEO_SERVICE_ALARMS_REPLY_HOURS
    again = CliRunner().invoke(main, ["alarms", "run", "--no-deliver"])
    assert "judged 0 windows" in again.output


def test_the_servers_scheduler_runs_the_alarm_pass(
    monitors: Engine, minutes: Callable[..., None]
) -> None:
    from geo_service.liaison import schedule

    now = dt.datetime.now(dt.UTC)
    minutes("NOISY", alarms.floor(now - dt.timedelta(hours=1), 20, "Asia/Shanghai"), 20, leq=80)
    schedule.tick(monitors, LiaisonSettings(), AlarmSettings())
    assert [kind for _, kind, *_ in found(monitors)] == ["noise_laeq"]

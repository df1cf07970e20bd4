"""Where the receiver's results go in the service: PostgreSQL.

The raw frame (``hj212_packets``) and its readings (``readings``) are written in one
transaction, so a frame is either kept with what it said or, if the database refused,
answered as refused. A repeated packet adds its raw copy (what arrived is kept) and no
reading (the readings' key). Particulates are stored in ug/m3 whatever the device reports
(``monitors.units``); ``DataTime`` is the device's local time in ``zone``.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from geo_service.monitoring import factors, hj212, partitions, rules
from geo_service.monitoring.hj212 import Return
from geo_service.monitoring.receiver import Device, Frame, Outcome

ARCHIVED = "55000"  # readings_partition(): the month was detached by retention
_DEVICE_TTL_S = 10.0  # an imported monitor (or a new password) is known within seconds


@dataclass(frozen=True)
class Monitor(Device):
    """A device as the database has it: with its row id and particulate unit."""

    id: int = 0
    units: str = "ug/m3"


def reading_rows(
    monitor: Monitor, packet: hj212.Packet, received: dt.datetime, zone: str
) -> list[dict]:
    """The rows a data packet's readings become (real-time data without ``DataTime`` is
    timed by its arrival)."""
    data = packet.data()
    at = data.data_time.replace(tzinfo=ZoneInfo(zone)) if data.data_time is not None else received
    rows = []
    for r in data.readings:
        value = (
            rules.to_ug_m3(r.value, monitor.units) if r.factor in factors.PARTICULATES else r.value
        )
        rows.append(
            {
                "monitor_id": monitor.id,
                "cn": packet.cn,
                "factor": r.factor,
                "statistic": r.statistic,
                "at": at,
                "value": value,
                "flag": r.flag,
                "received_at": received,
            }
        )
    return rows


_INSERT_PACKET = text("""
INSERT INTO hj212_packets (received_at, peer, via, raw, mn, monitor_id, accepted, code, reason)
VALUES (:received_at, :peer, :via, :raw, :mn, :monitor_id, :accepted, :code, :reason)""")
_INSERT_READINGS = text("""
INSERT INTO readings (monitor_id, cn, factor, statistic, at, value, flag, received_at)
VALUES (:monitor_id, :cn, :factor, :statistic, :at, :value, :flag, :received_at)
ON CONFLICT DO NOTHING""")


@dataclass
class DatabaseSink:
    """The receiver's sink on the service's database (safe to share between threads: each
    frame is one statement batch in its own transaction)."""

    engine: Engine
    zone: str = partitions.ZONE
    _devices: dict[str, tuple[float, Monitor | None]] = field(default_factory=dict)
    _months: set[dt.date] = field(default_factory=set)

    def device(self, mn: str) -> Monitor | None:
        cached = self._devices.get(mn)
        if cached and time.monotonic() - cached[0] < _DEVICE_TTL_S:
            return cached[1]
        with self.engine.connect() as conn:
            row = conn.execute(
                text("SELECT id, mn, password, crc_mode, st, units FROM monitors WHERE mn = :mn"),
                {"mn": mn},
            ).one_or_none()
        monitor = (
            None
            if row is None
            else Monitor(row.mn, row.password, row.crc_mode, row.st, id=row.id, units=row.units)
        )
        if len(self._devices) > 10_000:  # MNs sent by strangers must not grow it forever
            self._devices.clear()
        self._devices[mn] = (time.monotonic(), monitor)
        return monitor

    def record(self, frame: Frame) -> Outcome:
        """Keep the frame and its readings in one transaction. Readings of a month that
        retention archived are refused (the frame is still kept, with that reason)."""
        monitor = frame.device
        assert monitor is None or isinstance(monitor, Monitor)
        rows = (
            reading_rows(monitor, frame.data, frame.received, self.zone)
            if frame.data is not None and monitor is not None
            else []
        )
        try:
            with self.engine.begin() as conn:
                conn.execute(_INSERT_PACKET, self._packet_row(frame, frame.outcome))
                if rows:
                    self._ensure_months(conn, rows)
                    conn.execute(_INSERT_READINGS, rows)
        except DBAPIError as error:
            if getattr(error.orig, "pgcode", None) != ARCHIVED:
                raise
            reason = error.orig.diag.message_primary  # the function's own sentence
            refused = Outcome(False, Return.REFUSED, reason, frame.outcome.packet)
            with self.engine.begin() as conn:
                conn.execute(_INSERT_PACKET, self._packet_row(frame, refused))
            return refused
        return frame.outcome

    def _packet_row(self, frame: Frame, outcome: Outcome) -> dict:
        packet, monitor = outcome.packet, frame.device
        mn = packet.mn if packet else (monitor.mn if monitor else None)
        return {
            "received_at": frame.received,
            "peer": frame.peer,
            "via": frame.via,
            "raw": frame.raw,
            "mn": mn[:64] if mn else None,
            "monitor_id": monitor.id if isinstance(monitor, Monitor) else None,
            "accepted": outcome.accepted,
            "code": int(outcome.code),
            "reason": outcome.reason,
        }

    def _ensure_months(self, conn: Connection, rows: list[dict]) -> None:
        months = {partitions.month_of(r["at"], self.zone) for r in rows} - self._months
        if months:
            partitions.ensure(conn, months, self.zone)
            self._months |= months

"""Where the receiver's results go in the service: PostgreSQL.

The raw frame (``hj212_packets``), its readings (``readings``) and the readings queued for
their rollups (``geo_service.monitoring.rollups``) are written in one transaction, so a
frame is either kept with what it said or, if the database refused, answered as refused;
``settle`` folds the queue into the rollups once the answers are out. A repeated packet adds
its raw copy (what arrived is kept) and no reading (the readings' key), so nothing to the
rollups. Particulates are stored in ug/m3 whatever the device reports
(``monitors.units``); ``DataTime`` is the device's local time in ``zone``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from geo_service.monitoring import factors, hj212, partitions, rollups, rules
from geo_service.monitoring.hj212 import Return
from geo_service.monitoring.receiver import Device, Frame, Outcome, Unavailable

_UNAVAILABLE = "the database is unavailable, send again later ({})"
_DEVICE_TTL_S = 10.0  # an imported monitor (or a new password) is known within seconds


@dataclass(frozen=True)
class Monitor(Device):
    """A device as the database has it: with its row id and particulate unit."""

    id: int = 0
    units: str = "ug/m3"


def reading_rows(
    monitor: Monitor, packet: hj212.Packet, data: hj212.Data, received: dt.datetime, zone: str
) -> list[dict]:
    """The rows a data packet's readings (its CP, read) become (real-time data without
    ``DataTime`` is timed by its arrival)."""
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


# One statement per batch for each table: arrays in, ``unnest`` spreads them into rows (a
# multi-row INSERT without a statement text per batch size). A repeated reading, in the
# batch or before it, is left out by the key.
_PACKET_COLUMNS = {
    "received_at": "timestamptz",
    "peer": "text",
    "via": "text",
    "raw": "bytea",
    "mn": "text",
    "monitor_id": "integer",
    "accepted": "boolean",
    "code": "smallint",
    "reason": "text",
}
_READING_COLUMNS = {
    "monitor_id": "integer",
    "cn": "text",
    "factor": "text",
    "statistic": "text",
    "at": "timestamptz",
    "value": "float8",
    "flag": "text",
    "received_at": "timestamptz",
}


def _unnest(columns: dict[str, str]) -> str:
    names = ", ".join(columns)
    arrays = ", ".join(f"CAST(:{c} AS {t}[])" for c, t in columns.items())
    return f"SELECT * FROM unnest({arrays}) AS u({names})"


_INSERT_PACKETS = text(
    f"INSERT INTO hj212_packets ({', '.join(_PACKET_COLUMNS)}) {_unnest(_PACKET_COLUMNS)}"
)
# With upstreams: each accepted frame queued for each of them (``monitoring.forward``).
_INSERT_PACKETS_QUEUED = text(f"""
WITH kept AS (
    INSERT INTO hj212_packets ({", ".join(_PACKET_COLUMNS)}) {_unnest(_PACKET_COLUMNS)}
    RETURNING id, accepted)
INSERT INTO hj212_forwards (packet_id, upstream)
SELECT kept.id, u.upstream FROM kept
CROSS JOIN unnest(CAST(:upstreams AS text[])) WITH ORDINALITY AS u(upstream, n)
WHERE kept.accepted ORDER BY kept.id, u.n""")
# The readings, and what was inserted queued for the rollups' fold, in one statement.
_INSERT_READINGS = rollups.queueing(f"""
INSERT INTO readings ({", ".join(_READING_COLUMNS)}) {_unnest(_READING_COLUMNS)}
ON CONFLICT DO NOTHING
RETURNING {", ".join(rollups.QUEUED)}""")


# Readings in bulk, by COPY (the demo's season, the benchmarks): no raw packet, no queue:
# the caller rebuilds the rollups of what it wrote (``rollups.rebuild``).
COPY_READINGS = f"COPY readings ({', '.join(_READING_COLUMNS)}) FROM STDIN WITH (FORMAT csv)"


def copy_readings(engine: Engine, rows: Iterable[tuple], zone: str = partitions.ZONE) -> int:
    """Write readings (tuples in ``_READING_COLUMNS``' order, times aware) in one COPY, the
    partitions they need made first; how many were written."""
    rows = list(rows)
    with engine.begin() as conn:
        partitions.ensure(conn, {partitions.month_of(r[4], zone) for r in rows}, zone)
    buffer = io.StringIO()
    csv.writer(buffer).writerows(
        [(*r[:4], r[4].isoformat(), *r[5:7], r[7].isoformat()) for r in rows]
    )
    buffer.seek(0)
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cursor:
            cursor.copy_expert(COPY_READINGS, buffer)
        raw.commit()
    finally:
        raw.close()
    return len(rows)


def _arrays(rows: list[dict], columns: dict[str, str]) -> dict[str, list]:
    return {c: [r[c] for r in rows] for c in columns}


def _refused_by_database(error: DBAPIError) -> str | None:
    """The server's sentence when it refused the statement (a bad frame, an archived month);
    None when there was no answer (the database is down: the whole batch is refused)."""
    if getattr(error.orig, "pgcode", None) is None:
        return None
    return error.orig.diag.message_primary


@dataclass
class DatabaseSink:
    """The receiver's sink on the service's database (safe to share between threads: each
    batch is its own transaction)."""

    engine: Engine
    zone: str = partitions.ZONE
    upstreams: tuple[str, ...] = ()  # ``host:port`` of the servers accepted frames go on to
    _devices: dict[str, tuple[float, Monitor | None]] = field(default_factory=dict)
    _months: set[dt.date] = field(default_factory=set)

    def device(self, mn: str) -> Monitor | None:
        cached = self._devices.get(mn)
        if cached and time.monotonic() - cached[0] < _DEVICE_TTL_S:
            return cached[1]
        try:
            with self.engine.connect() as conn:
                row = conn.execute(
                    text(
                        "SELECT id, mn, password, crc_mode, st, units FROM monitors WHERE mn = :mn"
                    ),
                    {"mn": mn},
                ).one_or_none()
        except DBAPIError as error:
            if cached:  # known a moment ago: still known while the database is away
                return cached[1]
            raise Unavailable(_UNAVAILABLE.format(type(error.orig).__name__)) from None
        monitor = (
            None
            if row is None
            else Monitor(row.mn, row.password, row.crc_mode, row.st, id=row.id, units=row.units)
        )
        if len(self._devices) > 10_000:  # MNs sent by strangers must not grow it forever
            self._devices.clear()
        self._devices[mn] = (time.monotonic(), monitor)
        return monitor

    def record_many(self, frames: Sequence[Frame]) -> list[Outcome]:
        """Keep the frames and their readings in one transaction. When the database refuses
        it, each frame is tried alone, so one bad frame (a month retention archived, a value
        the table cannot hold) is refused with the database's reason, its raw copy kept, and
        the others stored; when the database does not answer, every frame is refused."""
        frames = list(frames)
        try:
            with self.engine.begin() as conn:
                months = self._write(conn, frames, [f.outcome for f in frames])
        except DBAPIError as error:
            reason = _refused_by_database(error)
            if reason is None:
                why = _UNAVAILABLE.format(type(error.orig).__name__)
                return [self._refusal(f, why) for f in frames]
            if len(frames) > 1:
                return [outcome for f in frames for outcome in self.record_many([f])]
            return [self._keep_refused(frames[0], reason)]
        self._months |= months  # made for good only once committed
        return [f.outcome for f in frames]

    def settle(self) -> None:
        """Fold the queued readings into the rollups (after the answers went out)."""
        rollups.fold(self.engine, self.zone)

    def _write(
        self, conn: Connection, frames: list[Frame], outcomes: list[Outcome]
    ) -> set[dt.date]:
        """Both statements (and the partitions they need: the months made, returned)."""
        packets = _arrays(
            [self._packet_row(f, o) for f, o in zip(frames, outcomes, strict=True)],
            _PACKET_COLUMNS,
        )
        if self.upstreams:
            conn.execute(_INSERT_PACKETS_QUEUED, {**packets, "upstreams": list(self.upstreams)})
        else:
            conn.execute(_INSERT_PACKETS, packets)
        rows = [
            row
            for f, o in zip(frames, outcomes, strict=True)
            if o.accepted
            for row in self._readings(f)
        ]
        if not rows:
            return set()
        months = self._ensure_months(conn, rows)
        conn.execute(
            _INSERT_READINGS, {**_arrays(rows, _READING_COLUMNS), "commands": rollups.commands()}
        )
        return months

    def _readings(self, frame: Frame) -> list[dict]:
        monitor = frame.device
        if frame.data is None or frame.values is None or not isinstance(monitor, Monitor):
            return []
        return reading_rows(monitor, frame.data, frame.values, frame.received, self.zone)

    def _refusal(self, frame: Frame, reason: str) -> Outcome:
        return Outcome(False, Return.REFUSED, reason, frame.outcome.packet)

    def _keep_refused(self, frame: Frame, reason: str) -> Outcome:
        """The frame kept raw as refused, with the database's reason (its readings not)."""
        refused = self._refusal(frame, reason)
        if not frame.outcome.accepted:  # refused already: the raw copy itself failed
            return frame.outcome
        try:
            with self.engine.begin() as conn:
                self._write(conn, [frame], [refused])  # no readings: no months
        except DBAPIError:
            pass  # the refusal is still answered; the device sends again
        return refused

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

    def _ensure_months(self, conn: Connection, rows: list[dict]) -> set[dt.date]:
        months = {partitions.month_of(r["at"], self.zone) for r in rows} - self._months
        if months:
            partitions.ensure(conn, months, self.zone)
        return months

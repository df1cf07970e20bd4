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
from sqlalchemy.exc import DBAPIError, IntegrityError

from geo_service.monitoring import factors, partitions, rollups, rules
from geo_service.monitoring.hj212 import Return
from geo_service.monitoring.receiver import Device, Frame, Outcome, Unavailable

_UNAVAILABLE = "the database is unavailable, send again later ({})"
_DEVICE_TTL_S = 10.0  # an imported monitor (or a new password) is known within seconds


@dataclass(frozen=True)
class Monitor(Device):
    """A device as the database has it: with its row id and particulate unit."""

    id: int = 0
    units: str = "ug/m3"


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


# A batch's readings go in two parts, joined by the statement: one row per data packet
# (whose, which command, when) and one per value (which packet, factor, statistic, value,
# flag); a packet's ten values share its four fields, sent once.
_DATA_COLUMNS = {
    "monitor_id": "integer",
    "cn": "text",
    "at": "timestamptz",
    "received_at": "timestamptz",
}
_VALUE_COLUMNS = {
    "packet": "integer",
    "factor": "text",
    "statistic": "text",
    "value": "float8",
    "flag": "text",
}


def _unnest(columns: dict[str, str], ordinality: str | None = None) -> str:
    names = ", ".join([*columns, *([ordinality] if ordinality else [])])
    arrays = ", ".join(f"CAST(:{c} AS {t}[])" for c, t in columns.items())
    numbered = " WITH ORDINALITY" if ordinality else ""
    return f"SELECT * FROM unnest({arrays}){numbered} AS u({names})"


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
_NEW_READINGS = f"""
INSERT INTO readings ({", ".join(_READING_COLUMNS)})
SELECT {", ".join(f"{'d' if c in _DATA_COLUMNS else 'v'}.{c}" for c in _READING_COLUMNS)}
FROM ({_unnest(_VALUE_COLUMNS)}) v
JOIN ({_unnest(_DATA_COLUMNS, ordinality="packet")}) d USING (packet)"""
_RETURNING = f"RETURNING {', '.join(rollups.QUEUED)}"
_INSERT_NEW_READINGS = rollups.queueing(f"{_NEW_READINGS}\n{_RETURNING}")
_INSERT_READINGS = rollups.queueing(f"{_NEW_READINGS}\nON CONFLICT DO NOTHING\n{_RETURNING}")
UNIQUE_VIOLATION = "23505"


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


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


# An array element as PostgreSQL's array input reads it, by the column's type. One text
# parameter per column: psycopg2 sends a list as ARRAY[...] of one literal and cast per
# element, whose adapting and parsing were a third of a batch's time (5,000 readings).
_ELEMENT = {
    "integer": str,
    "smallint": str,
    "float8": repr,
    "boolean": lambda v: "t" if v else "f",
    "text": _quoted,
    "timestamptz": lambda v: '"' + v.isoformat() + '"',
    "bytea": lambda v: '"\\\\x' + v.hex() + '"',
}


def _literals(columns: dict[str, list], types: dict[str, str]) -> dict[str, str]:
    """Each column's values as one array literal (``{1,NULL,"a \\"b\\""}``)."""
    out = {}
    for column, kind in types.items():
        element = _ELEMENT[kind]
        out[column] = (
            "{" + ",".join("NULL" if v is None else element(v) for v in columns[column]) + "}"
        )
    return out


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
        rows = [self._packet_row(f, o) for f, o in zip(frames, outcomes, strict=True)]
        packets = _literals({c: [r[c] for r in rows] for c in _PACKET_COLUMNS}, _PACKET_COLUMNS)
        if self.upstreams:
            conn.execute(_INSERT_PACKETS_QUEUED, {**packets, "upstreams": list(self.upstreams)})
        else:
            conn.execute(_INSERT_PACKETS, packets)
        data, values = self._readings(frames, outcomes)
        if not values["packet"]:
            return set()
        months = self._ensure_months(conn, data["at"])
        params = {
            **_literals(data, _DATA_COLUMNS),
            **_literals(values, _VALUE_COLUMNS),
            "commands": rollups.commands(),
        }
        # A batch rarely repeats a reading, and a plain INSERT is a quarter cheaper than
        # one that checks every row for a conflict: tried first, behind a savepoint, and
        # only a batch that does repeat one is inserted again leaving the repeats out.
        try:
            with conn.begin_nested():
                conn.execute(_INSERT_NEW_READINGS, params)
        except IntegrityError as error:
            if getattr(error.orig, "pgcode", None) != UNIQUE_VIOLATION:
                raise
            conn.execute(_INSERT_READINGS, params)
        return months

    def _readings(
        self, frames: list[Frame], outcomes: list[Outcome]
    ) -> tuple[dict[str, list], dict[str, list]]:
        """The accepted data packets' columns and their values' (particulates in ug/m3;
        real-time data without ``DataTime`` timed by its arrival)."""
        zone = ZoneInfo(self.zone)
        data: dict[str, list] = {c: [] for c in _DATA_COLUMNS}
        values: dict[str, list] = {c: [] for c in _VALUE_COLUMNS}
        for f, o in zip(frames, outcomes, strict=True):
            monitor, packet, cp = f.device, f.data, f.values
            if not o.accepted or packet is None or cp is None or not isinstance(monitor, Monitor):
                continue
            data["monitor_id"].append(monitor.id)
            data["cn"].append(packet.cn)
            data["at"].append(cp.data_time.replace(tzinfo=zone) if cp.data_time else f.received)
            data["received_at"].append(f.received)
            n = len(data["cn"])
            for r in cp.readings:
                values["packet"].append(n)
                values["factor"].append(r.factor)
                values["statistic"].append(r.statistic)
                values["value"].append(
                    rules.to_ug_m3(r.value, monitor.units)
                    if r.factor in factors.PARTICULATES
                    else r.value
                )
                values["flag"].append(r.flag)
        return data, values

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

    def _ensure_months(self, conn: Connection, times: list[dt.datetime]) -> set[dt.date]:
        months = {partitions.month_of(at, self.zone) for at in set(times)} - self._months
        if months:
            partitions.ensure(conn, months, self.zone)
        return months

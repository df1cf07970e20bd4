"""The readings' monthly range partitions: made ahead, made on demand, detached when old.

Debian has no TimescaleDB: plain PostgreSQL range partitions by month (local months of the
monitors' time zone) do what its chunks would, with a BRIN index on time in each. The owner's
functions of migration 0017 do the DDL, so the service role, which owns nothing, can call
them. Retention detaches old partitions (they stay as tables, to archive or drop), which is
instant, where a DELETE of a month of readings would take minutes and bloat the table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, text

ZONE = "Asia/Shanghai"


def month_of(at: dt.datetime, zone: str = ZONE) -> dt.date:
    """The first day of the local month ``at`` falls in."""
    local = at.astimezone(ZoneInfo(zone))
    return local.date().replace(day=1)


def add_months(month: dt.date, n: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


def ensure(conn: Connection, months: Iterable[dt.date], zone: str = ZONE) -> list[str]:
    """The partitions of these months, made where missing; their names."""
    return [
        conn.execute(
            text("SELECT readings_partition(:m, :z)"), {"m": month, "z": zone}
        ).scalar_one()
        for month in sorted(set(months))
    ]


def ensure_ahead(conn: Connection, now: dt.datetime, ahead: int = 2, zone: str = ZONE) -> list[str]:
    """This month's partition and the next ``ahead`` months'."""
    first = month_of(now, zone)
    return ensure(conn, (add_months(first, n) for n in range(ahead + 1)), zone)


def detach_older_than(
    conn: Connection, now: dt.datetime, keep_months: int, zone: str = ZONE
) -> list[str]:
    """Detach the partitions of months before the last ``keep_months`` (this one counted).
    The night-work backgrounds of those months go too: no window there is judged again, and
    nothing else would ever remove them (two a monitor a day)."""
    before = add_months(month_of(now, zone), -(keep_months - 1))
    detached = list(conn.execute(text("SELECT readings_detach(:b)"), {"b": before}).scalars())
    conn.execute(text("DELETE FROM night_backgrounds WHERE period_of < :b"), {"b": before})
    return detached


def attached(conn: Connection) -> list[str]:
    """The partitions attached now, oldest first."""
    return list(
        conn.execute(
            text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                " WHERE i.inhparent = 'readings'::regclass ORDER BY c.relname"
            )
        ).scalars()
    )

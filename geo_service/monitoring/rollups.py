"""Rollups of the readings, kept as they arrive: 20-minute LAeq and Lmax for noise, 15-minute,
hourly and daily means for dust (and every period for every factor of real-time and minute
data), with the counts of valid and of all readings that the rules' 75 % needs.

A bucket keeps sums, not means (the energy sum of its valid levels, the sum of its other
valid values, or its extreme, and both counts), so a reading adds to it in any order: a late
or out-of-order packet gives what a recomputation from the readings gives (the property test
of ``tests/monitoring/test_rollups.py``). The statement is ``sql/rollups.sql``.

Off the acknowledgement's path: a batch's transaction inserts its readings and queues what
its ``INSERT ... RETURNING`` gave (a repeated packet inserts nothing, so queues nothing) as
one row of arrays in ``reading_rollup_queue`` (``queueing``); ``fold`` later takes queued
rows and adds them to the buckets in one transaction, so every stored reading is added
exactly once, however many folders run (they take turns on an advisory lock), and a
receiver that stops between its commit and its fold leaves the rows for the next fold. Adding
each reading to four buckets in the batch's own transaction cost the receiver two thirds
of its rate; a fold also adds a second's worth of real-time packets to a bucket in one
update, not one each. The rollups lag the readings by the fold's turn (under a second while
a receiver runs). ``rebuild`` recomputes them from the readings.

Why kept, not computed at query time: 30 days of one monitor's minute data is 43,200 rows a
factor, a 20-minute chart of it 2,160 rollup rows.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Connection, Engine, TextClause, text

from geo_service.monitoring import queries, rules

# Sound levels in dB: their means are energy means (LAeq); LMx and LMn are extremes.
LEVELS = ("LA", "Leq", "L5", "L10", "L50", "L90", "L95", "Ld", "Ln", "Ldn")
NOISE = (*LEVELS, "LMx", "LMn")  # counted valid by the noise rule's flags, the rest by dust's


def periods() -> dict[str, int]:
    """Rollup periods and their minutes (``reference/monitoring.yaml``)."""
    return dict(rules.monitoring_data()["rollups"]["periods"])


def parameters(zone: str) -> dict[str, Any]:
    """The statement's parameters but its source: all from the data, none in the SQL."""
    data = rules.monitoring_data()
    return {
        "levels": list(LEVELS),
        "noise": list(NOISE),
        "noise_valid": sorted(rules.noise_rule().valid_flags),
        "dust_valid": sorted(data["dust_valid_flags"]),
        "commands": commands(),
        "periods": list(periods()),
        "widths": [f"{minutes} minutes" for minutes in periods().values()],
        "zone": zone,
    }


@cache
def _statement() -> str:
    sql = queries.sql("rollups")
    return "\n".join(line for line in sql.splitlines() if not line.startswith("--"))


def adding(source: str, before: str = "") -> TextClause:
    """The statement that adds ``source`` (a CTE body yielding readings' columns) to the
    rollups, as one ``WITH source AS (...) ... INSERT``; ``before``: CTEs it reads (those
    that change data must be at the statement's top)."""
    return text(f"WITH {before}source AS ({source}){_statement()}")


# What a queued row holds, an array each: the readings' columns the buckets are made from.
QUEUED = ("monitor_id", "cn", "factor", "statistic", "at", "value", "flag")
FOLD_ROWS = 200  # queued batches a fold's transaction takes (a batch is up to 500 packets)
# Folds and rebuilds take turns: one writer of the buckets at a time, so none waits on
# another's row locks in an order that deadlocks, and a rebuild sees no fold half done.
_TURN = text("SELECT pg_advisory_xact_lock(hashtext('reading_rollups'))")
_UNNESTED = (
    f"CROSS JOIN LATERAL unnest({', '.join(f'q.{c}' for c in QUEUED)}) AS u({', '.join(QUEUED)})"
)


def queueing(source: str) -> TextClause:
    """The statement that queues, as one row, the readings ``source`` yields (a CTE body,
    e.g. the batch's ``INSERT INTO readings ... RETURNING``) of the commands that have
    rollups; nothing when it yields none. Its parameter: ``commands``."""
    columns = ", ".join(QUEUED)
    arrays = ", ".join(f"array_agg({c})" for c in QUEUED)
    return text(f"""WITH source AS ({source})
INSERT INTO reading_rollup_queue ({columns})
SELECT {arrays} FROM source WHERE cn = ANY(CAST(:commands AS text[])) HAVING count(*) > 0""")


def commands() -> list[str]:
    """The commands whose readings have rollups (``reference/monitoring.yaml``)."""
    return list(rules.monitoring_data()["rollups"]["commands"])


_FOLD = adding(
    f"""SELECT u.* FROM taken q {_UNNESTED}
WHERE EXISTS (SELECT 1 FROM monitors m WHERE m.id = u.monitor_id)""",
    before="taken AS (DELETE FROM reading_rollup_queue WHERE id = ANY(:ids) RETURNING *), ",
)


def fold(engine: Engine, zone: str, rows: int = FOLD_ROWS) -> int:
    """Add every queued reading to its buckets, ``rows`` queued batches a transaction, until
    none wait (those queued meanwhile too); the batches folded. Readings of a monitor
    deleted since are dropped with it."""
    folded = 0
    while True:
        with engine.begin() as conn:
            conn.execute(_TURN)
            ids = list(
                conn.execute(
                    text("SELECT id FROM reading_rollup_queue ORDER BY id LIMIT :n"), {"n": rows}
                ).scalars()
            )
            if not ids:
                return folded
            conn.execute(_FOLD, {**parameters(zone), "ids": ids})
        folded += len(ids)


def rebuild(conn: Connection, zone: str, monitor_id: int | None = None) -> None:
    """The rollups recomputed from the stored readings (of one monitor, or of all). The
    readings still queued are left to their fold (one statement sees the readings and the
    queue at once), so a fold after the rebuild adds each of them once."""
    conn.execute(_TURN)
    conn.execute(
        text("DELETE FROM reading_rollups WHERE CAST(:m AS integer) IS NULL OR monitor_id = :m"),
        {"m": monitor_id},
    )
    key = ("monitor_id", "cn", "factor", "statistic", "at")  # the readings' primary key
    source = f"""
WITH pending AS (SELECT u.* FROM reading_rollup_queue q {_UNNESTED})
SELECT {", ".join(f"r.{c}" for c in QUEUED)} FROM readings r
WHERE (CAST(:m AS integer) IS NULL OR r.monitor_id = :m) AND NOT EXISTS (
    SELECT 1 FROM pending p
    WHERE ({", ".join(f"p.{c}" for c in key)}) = ({", ".join(f"r.{c}" for c in key)}))"""
    conn.execute(adding(source), {**parameters(zone), "m": monitor_id})

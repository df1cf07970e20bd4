"""Rollups of the readings, kept as they arrive: 20-minute LAeq and Lmax for noise, 15-minute,
hourly and daily means for dust (and every period for every factor of real-time and minute
data), with the counts of valid and of all readings that the rules' 75 % needs.

A bucket keeps sums, not means (the energy sum of its valid levels, the sum of its other
valid values, or its extreme, and both counts), so a reading adds to it in any order: a late
or out-of-order packet gives what a recomputation from the readings gives (the property test
of ``tests/monitoring/test_rollups.py``). They are added in the transaction that inserts the
readings, from its ``INSERT ... RETURNING``: a repeated packet inserts nothing and adds
nothing. The statement is ``sql/rollups.sql``; ``rebuild`` recomputes from the readings.

Why kept, not computed at query time: 30 days of one monitor's minute data is 43,200 rows a
factor, a 20-minute chart of it 2,160 rollup rows.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from sqlalchemy import Connection, TextClause, text

from geo_service.monitoring import rules

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
        "commands": list(data["rollups"]["commands"]),
        "periods": list(periods()),
        "widths": [f"{minutes} minutes" for minutes in periods().values()],
        "zone": zone,
    }


@cache
def _statement() -> str:
    sql = resources.files("geo_service.monitoring").joinpath("sql/rollups.sql").read_text("utf-8")
    return "\n".join(line for line in sql.splitlines() if not line.startswith("--"))


def adding(source: str) -> TextClause:
    """The statement that adds ``source`` (a CTE body yielding readings' columns) to the
    rollups, as one ``WITH source AS (...) ... INSERT``."""
    return text(f"WITH source AS ({source}){_statement()}")


def rebuild(conn: Connection, zone: str, monitor_id: int | None = None) -> None:
    """The rollups recomputed from the stored readings (of one monitor, or of all)."""
    conn.execute(
        text("DELETE FROM reading_rollups WHERE CAST(:m AS integer) IS NULL OR monitor_id = :m"),
        {"m": monitor_id},
    )
    source = (
        "SELECT monitor_id, cn, factor, statistic, at, value, flag FROM readings"
        " WHERE CAST(:m AS integer) IS NULL OR monitor_id = :m"
    )
    conn.execute(adding(source), {**parameters(zone), "m": monitor_id})

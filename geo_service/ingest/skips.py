"""Rows ``--on-invalid skip`` left out, remembered for the layers that others reference.

A building skipped for its zero-area footprint would otherwise only show up as "no
buildings with address ..." when its households are imported, as if it had never been in a
file. The skipped keys of parcels, communities and buildings are kept (``import_skips``,
one row per layer and key, until a later import stores that key), so that message says
which file and row it was and why it was skipped. Households name no one, so theirs are not
kept: the import's own report lists them.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from geo_service.ingest.report import ImportReport
from layers import LAYERS
from layers.base import Layer


def referenced(layer: Layer) -> bool:
    """Whether another layer names this one's rows by their natural key."""
    return any(ref.layer == layer.id for other in LAYERS.values() for ref in other.references)


def remember(conn: Connection, layer: Layer, report: ImportReport, replaced: bool) -> None:
    """After a write: forget skips whose key is stored now, remember this import's."""
    if not referenced(layer):
        return
    (key,) = layer.natural_key
    if replaced:
        conn.execute(text("DELETE FROM import_skips WHERE layer = :l"), {"l": layer.id})
    conn.execute(
        text(
            f"DELETE FROM import_skips s WHERE s.layer = :l AND EXISTS "
            f"(SELECT 1 FROM {layer.table} t WHERE t.{key} = s.key)"
        ),
        {"l": layer.id},
    )
    reasons: dict[str, tuple[int, list[str]]] = {}
    for skipped in report.skipped:
        if skipped.key:
            _, texts = reasons.setdefault(skipped.key, (skipped.row, []))
            texts.append(f"{skipped.field}: {skipped.message}")
    if not reasons:
        return
    conn.execute(
        text(
            f"INSERT INTO import_skips (layer, key, source, file_row, reason) "
            f"SELECT :l, :key, :source, :row, :reason WHERE NOT EXISTS "
            f"(SELECT 1 FROM {layer.table} WHERE {key} = :key) "
            "ON CONFLICT (layer, key) DO UPDATE SET source = EXCLUDED.source, "
            "file_row = EXCLUDED.file_row, reason = EXCLUDED.reason, at = now()"
        ),
        [
            {
                "l": layer.id,
                "key": k,
                "source": report.source,
                "row": row,
                "reason": "; ".join(t)[:500],
            }
            for k, (row, t) in reasons.items()
        ],
    )


def why_missing(conn: Connection, layer_id: str, keys: list[str]) -> dict[str, str]:
    """For keys of a layer that are not stored: the skip that left each out, if one did."""
    if not keys:
        return {}
    rows = conn.execute(
        text(
            "SELECT key, source, file_row, reason FROM import_skips "
            "WHERE layer = :l AND key = ANY(:keys)"
        ),
        {"l": layer_id, "keys": keys},
    )
    return {
        key: f"row {row} of {source} was skipped on import ({reason})"
        for key, source, row, reason in rows
    }

"""``/``: the landing page, in Chinese with English beneath, linking to everything else.

Everything the page needs is inline, so it works on a network with no internet access.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import Connection, Engine, text

from geo_service.access import Principal
from geo_service.api.deps import EngineDep, Lang, Visitor
from geo_service.api.pages import templates
from layers import LAYERS, Layer

router = APIRouter(tags=["landing"])


@dataclass(frozen=True)
class LayerSummary:
    """A layer as the landing page lists it; ``rows`` is None while its table is missing
    or when the reader may not read the layer."""

    layer: Layer
    rows: int | None


def _count_rows(conn: Connection, table: str) -> int | None:
    """Exact rows of a registered layer's table, or None if no migration created it yet."""
    exists = conn.execute(text("SELECT to_regclass(:table) IS NOT NULL"), {"table": table})
    if not exists.scalar_one():
        return None
    quoted = conn.dialect.identifier_preparer.quote_identifier(table)
    return int(conn.execute(text(f"SELECT count(*) FROM {quoted}")).scalar_one())


def layer_summaries(engine: Engine, principal: Principal) -> list[LayerSummary]:
    """Every registered layer, in registry order, with its row count for those who may
    read it (how many households a district has is not for every passer-by)."""
    with engine.connect() as conn:
        return [
            LayerSummary(
                layer,
                _count_rows(conn, layer.table) if principal.can_read_layer(layer.id) else None,
            )
            for layer in LAYERS.values()
        ]


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def landing(request: Request, engine: EngineDep, lang: Lang, principal: Visitor) -> HTMLResponse:
    """Where a planner or a GIS user starts: maps, API docs, OGC feeds and the layers."""
    return templates.TemplateResponse(
        request,
        "landing.html",
        {
            "lang": lang,
            "layers": layer_summaries(engine, principal),
            "signed_in": not principal.is_anonymous,
        },
    )

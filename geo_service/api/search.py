"""``/api/search?q=``: find a parcel, site, community or building by its code, name or address.

What the maps' search box asks. Public fields only, a bounded answer (prefix matches
first, then the shorter labels), each with a point to fly to and a box to fit.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy import text

from geo_service.api.deps import EngineDep, PublicLayerReader
from geo_service.errors import InvalidQuery
from geo_service.query import LayerQuery
from layers import LAYERS
from layers.base import Layer

router = APIRouter(prefix="/api", tags=["search"])

MAX_RESULTS = 50


def _branches(layer: Layer) -> list[str]:
    """One ranked branch per key the layer's ``search`` declares (a parcel by its code and
    by its name), each bounded by ``:limit``."""
    assert layer.search is not None
    query = LayerQuery(layer)
    label = query.expr(layer.search.label)
    detail = [query.expr(name) for name in layer.search.detail]
    detail_sql = f"coalesce({', '.join(detail)})" if detail else "NULL::text"
    branches = []
    for key_name in layer.search.keys:
        key = query.expr(key_name)
        used = " ".join([label, detail_sql, key])
        branches.append(f"""
(SELECT '{layer.id}' AS layer, {query.fid}::text AS id, {label} AS label,
        {detail_sql} AS detail, m.geom AS geom,
        {key} ILIKE :prefix AS prefix, length({key}) AS len
 FROM {query.source_for(used)} WHERE {key} ILIKE :pattern
 ORDER BY {key} ILIKE :prefix DESC, length({key}) LIMIT :limit)""")
    return branches


def _search_sql() -> str:
    """Every searchable layer's branches, best match per feature, the best ``:limit``."""
    branches = [b for layer in LAYERS.values() if layer.search for b in _branches(layer)]
    return f"""
WITH hits AS ({" UNION ALL ".join(branches)}),
best AS (
    SELECT DISTINCT ON (layer, id) * FROM hits ORDER BY layer, id, prefix DESC
),
ranked AS (
    SELECT * FROM best ORDER BY prefix DESC, len, label LIMIT :limit
)
SELECT json_build_object(
    'query', CAST(:q AS text),
    'results', coalesce(json_agg(json_build_object(
        'layer', layer,
        'id', id,
        'label', label,
        'detail', detail,
        'lon', round(ST_X(ST_PointOnSurface(geom))::numeric, 6),
        'lat', round(ST_Y(ST_PointOnSurface(geom))::numeric, 6),
        'bbox', json_build_array(
            round(ST_XMin(geom)::numeric, 6), round(ST_YMin(geom)::numeric, 6),
            round(ST_XMax(geom)::numeric, 6), round(ST_YMax(geom)::numeric, 6))
    ) ORDER BY prefix DESC, len, label), '[]'::json)
)::text
FROM ranked
"""


def _like_escaped(q: str) -> str:
    return q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@router.get("/search", summary="Find parcels, sites, communities and buildings by name or code")
def search(
    engine: EngineDep,
    _: PublicLayerReader,
    q: Annotated[str, Query(description="Part of a code, name or address", max_length=100)],
    limit: Annotated[int, Query(ge=1, le=MAX_RESULTS)] = 10,
) -> Response:
    """Prefix matches first (``XC1003-R21`` finds that parcel before ``...XC1003...``)."""
    term = q.strip()
    if not term:
        raise InvalidQuery("q is empty; give part of a parcel code, site name or address")
    escaped = _like_escaped(term)
    with engine.connect() as conn:
        body = conn.execute(
            text(_search_sql()),  # per request: the layers registered now
            {"q": term, "pattern": f"%{escaped}%", "prefix": f"{escaped}%", "limit": limit},
        ).scalar_one()
    return Response(body, media_type="application/json")

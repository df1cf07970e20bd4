"""``/api/search?q=``: find a parcel, site, community or building by its code, name or address.

What the maps' search box asks. Public fields only, a bounded answer, each with a point to
fly to and a box to fit. Ranked as a planner expects: exact matches, then prefixes, then
matches anywhere; within each, by kind (``Search.rank``: sites, parcels, communities,
buildings), then the shorter label. A Chinese name is found by its pinyin too ("hf",
"huafeng", "Hua Feng" find 华丰: ``geo_service.pinyin``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy import text

from geo_service.api.deps import EngineDep, PublicLayerReader
from geo_service.errors import InvalidQuery
from geo_service.pinyin import query_key
from geo_service.query import ROW, LayerQuery
from layers import LAYERS
from layers.base import SEARCH_COLUMN, Layer

router = APIRouter(prefix="/api", tags=["search"])

MAX_RESULTS = 50
# How well a feature matches, best first; the pinyin's words are compared the same way.
EXACT, PREFIX, CONTAINS = 0, 1, 2
_ORDER = "match, kind, len, label, layer, id"


def _match(key: str) -> str:
    """How a key matches the query, or NULL (``least`` skips it)."""
    return (
        f"CASE WHEN {key} ILIKE :exact THEN {EXACT} WHEN {key} ILIKE :prefix THEN {PREFIX} "
        f"WHEN {key} ILIKE :pattern THEN {CONTAINS} END"
    )


def _pinyin_match() -> str:
    """How the query matches a word of the pinyin (``huafengshequ hfsq``), or NULL."""
    words = f"{ROW}.{SEARCH_COLUMN}"
    return (
        f"CASE WHEN ' ' || {words} || ' ' LIKE :py_exact THEN {EXACT} "
        f"WHEN ' ' || {words} LIKE :py_prefix THEN {PREFIX} "
        f"WHEN {words} LIKE :py_pattern THEN {CONTAINS} END"
    )


def _branch(layer: Layer) -> str:
    """A layer's features that match, best first, at most ``:limit`` of them: enough, as
    a layer's rows share their kind, so the answer orders them as the branch does."""
    assert layer.search is not None
    query = LayerQuery(layer)
    label = query.expr(layer.search.label)
    detail = [query.expr(name) for name in layer.search.detail]
    detail_sql = f"coalesce({', '.join(detail)})" if detail else "NULL::text"
    keys = [query.expr(name) for name in layer.search.keys]
    match = f"least({', '.join([*map(_match, keys), _pinyin_match()])})"
    found = " OR ".join(
        [*(f"{k} ILIKE :pattern" for k in keys), f"{ROW}.{SEARCH_COLUMN} LIKE :py_pattern"]
    )
    used = " ".join([label, detail_sql, *keys])
    return f"""
(SELECT '{layer.id}' AS layer, {int(layer.search.rank)} AS kind, {query.fid}::text AS id,
        {label} AS label, {detail_sql} AS detail, {ROW}.geom AS geom, {match} AS match,
        length({label}) AS len
 FROM {query.source_for(used)} WHERE {found}
 ORDER BY match, len, label, id LIMIT :limit)"""


def _search_sql() -> str:
    """Every searchable layer's best matches, then the best ``:limit`` of them all."""
    branches = [_branch(layer) for layer in LAYERS.values() if layer.search]
    return f"""
WITH ranked AS (
    SELECT * FROM ({" UNION ALL ".join(branches)}) hits ORDER BY {_ORDER} LIMIT :limit
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
    ) ORDER BY {_ORDER}), '[]'::json)
)::text
FROM ranked
"""


def _like_escaped(q: str) -> str:
    return q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _params(term: str, limit: int) -> dict[str, object]:
    """The query as each comparison takes it: LIKE patterns, and its pinyin form (None, and
    so no pinyin match, for a query in Chinese)."""
    escaped, spelt = _like_escaped(term), query_key(term)
    return {
        "q": term,
        "exact": escaped,
        "prefix": f"{escaped}%",
        "pattern": f"%{escaped}%",
        "py_exact": spelt and f"% {spelt} %",
        "py_prefix": spelt and f"% {spelt}%",
        "py_pattern": spelt and f"%{spelt}%",
        "limit": limit,
    }


@router.get("/search", summary="Find parcels, sites, communities and buildings by name or code")
def search(
    engine: EngineDep,
    _: PublicLayerReader,
    q: Annotated[
        str,
        Query(
            description="Part of a code, name or address, or its pinyin (hf, huafeng)",
            max_length=100,
        ),
    ],
    limit: Annotated[int, Query(ge=1, le=MAX_RESULTS)] = 10,
) -> Response:
    """Exact matches, then prefixes, then the rest; sites before parcels, communities and
    buildings in each (``华丰`` lists the 华丰 sites first); pinyin finds Chinese names."""
    term = q.strip()
    if not term:
        raise InvalidQuery("q is empty; give part of a parcel code, site name or address")
    with engine.connect() as conn:
        body = conn.execute(
            text(_search_sql()),  # per request: the layers registered now
            _params(term, limit),
        ).scalar_one()
    return Response(body, media_type="application/json")

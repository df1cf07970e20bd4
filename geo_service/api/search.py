"""``/api/search?q=``: find a parcel, site, community or building by its code, name or address.

What the maps' search box asks. Public fields only, a bounded answer (prefix matches
first, then the shorter labels), each with a point to fly to and a box to fit.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy import text

from geo_service.access import Permission
from geo_service.api.deps import EngineDep, require_permission
from geo_service.errors import InvalidQuery

router = APIRouter(
    prefix="/api",
    tags=["search"],
    dependencies=[Depends(require_permission(Permission.READ_PUBLIC_LAYERS))],
)

MAX_RESULTS = 50

# One branch per searchable layer: (layer, id, label, detail, geometry, searched text).
_BRANCHES = (
    (
        "parcels",
        "p.code",
        "p.code",
        "coalesce(p.land_use_zh, p.name)",
        "p.geom",
        "p.code",
        "parcels p",
    ),
    (
        "parcels",
        "p.code",
        "p.code",
        "coalesce(p.land_use_zh, p.name)",
        "p.geom",
        "p.name",
        "parcels p",
    ),
    ("sites", "s.code", "s.name", "s.code", "s.geom", "s.code", "sites s"),
    ("sites", "s.code", "s.name", "s.code", "s.geom", "s.name", "sites s"),
    ("communities", "c.id::text", "c.name", "c.street_office", "c.geom", "c.name", "communities c"),
    (
        "buildings",
        "b.id::text",
        "b.address",
        "c.name",
        "b.geom",
        "b.address",
        "buildings b LEFT JOIN communities c ON c.id = b.community_id",
    ),
)


def _branch(layer: str, fid: str, label: str, detail: str, geom: str, key: str, source: str) -> str:
    return f"""
(SELECT '{layer}' AS layer, {fid} AS id, {label} AS label, {detail} AS detail, {geom} AS geom,
        {key} ILIKE :prefix AS prefix, length({key}) AS len
 FROM {source} WHERE {key} ILIKE :pattern ORDER BY {key} ILIKE :prefix DESC, length({key})
 LIMIT :limit)"""


_SEARCH = text(f"""
WITH hits AS ({" UNION ALL ".join(_branch(*b) for b in _BRANCHES)}),
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
""")


def _like_escaped(q: str) -> str:
    return q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@router.get("/search", summary="Find parcels, sites, communities and buildings by name or code")
def search(
    engine: EngineDep,
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
            _SEARCH,
            {"q": term, "pattern": f"%{escaped}%", "prefix": f"{escaped}%", "limit": limit},
        ).scalar_one()
    return Response(body, media_type="application/json")

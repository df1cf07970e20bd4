"""``/api/sites``: construction sites as GeoJSON, assembled by PostgreSQL."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from sqlalchemy import text

from geo_service.api import GeoJSONResponse
from geo_service.api.deps import EngineDep, SignedIn
from geo_service.impact import resolve_site
from geo_service.query import public

router = APIRouter(prefix="/api/sites", tags=["sites"])

# One site as a GeoJSON Feature (alias ``m`` for sites). Its id is the site code, the
# stable feature id of the ``sites`` layer; the numeric id is a property.
_SITES = public("sites")
_SITE_FEATURE = _SITES.feature_json([("id", "m.id"), *_SITES.field_names])

_ALL_SITES = text(f"""
SELECT json_build_object(
    'type', 'FeatureCollection',
    'features', coalesce(json_agg({_SITE_FEATURE} ORDER BY m.code), '[]'::json)
)::text
FROM {_SITES.source}
""")

_ONE_SITE = text(f"SELECT {_SITE_FEATURE}::text FROM {_SITES.source} WHERE m.id = :id")


@router.get(
    "",
    response_class=GeoJSONResponse,
    summary="All construction sites",
    responses={200: {"description": "A GeoJSON FeatureCollection of every site"}},
)
def list_sites(engine: EngineDep, _: SignedIn) -> GeoJSONResponse:
    """Every site with its parties, work hours and linked parcels, in CRS84 (lon, lat)."""
    with engine.connect() as conn:
        collection = conn.execute(_ALL_SITES).scalar_one()
    return GeoJSONResponse(collection)


@router.get(
    "/{ref}",
    response_class=GeoJSONResponse,
    summary="One construction site",
    responses={
        200: {"description": "A GeoJSON Feature"},
        404: {"description": "No site has this id or code"},
    },
)
def get_site(
    engine: EngineDep,
    _: SignedIn,
    ref: Annotated[str, Path(description="The site code (e.g. GD-2024-01) or its numeric id")],
) -> GeoJSONResponse:
    """One site by code or numeric id, so links from lists and from people both work."""
    with engine.connect() as conn:
        site = resolve_site(conn, ref)
        feature = conn.execute(_ONE_SITE, {"id": site.id}).scalar_one()
    return GeoJSONResponse(feature)

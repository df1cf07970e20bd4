"""``/api/sites``: construction sites as GeoJSON, assembled by PostgreSQL."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from sqlalchemy import text

from geo_service.api import GeoJSONResponse
from geo_service.api.deps import EngineDep, require_signed_in
from geo_service.errors import NotFound

# Any signed-in role; anonymous callers get 401 (browsers: the sign-in page).
router = APIRouter(prefix="/api/sites", tags=["sites"], dependencies=[Depends(require_signed_in)])

# One site as a GeoJSON Feature (alias ``s`` for sites). Its id is the site code, the
# stable feature id of the ``sites`` layer; the numeric id is a property.
_SITE_FEATURE = """
json_build_object(
    'type', 'Feature',
    'id', s.code,
    'geometry', ST_AsGeoJSON(s.geom)::json,
    'properties', json_build_object(
        'id', s.id,
        'code', s.code,
        'name', s.name,
        'kind', s.kind,
        'status', s.status,
        'progress_pct', s.progress_pct,
        'start_date', s.start_date,
        'end_date', s.end_date,
        'work_hours_start', s.work_hours_start,
        'work_hours_end', s.work_hours_end,
        'night_work_permitted', s.night_work_permitted,
        'owner', s.owner,
        'survey', s.survey,
        'design', s.design,
        'contractor', s.contractor,
        'supervisor', s.supervisor,
        'liaison_officer', s.liaison_officer,
        'description', s.description,
        'parcels', ARRAY(
            SELECT p.code
            FROM site_parcels sp JOIN parcels p ON p.id = sp.parcel_id
            WHERE sp.site_id = s.id
            ORDER BY p.code
        )
    )
)
"""

_ALL_SITES = text(f"""
SELECT json_build_object(
    'type', 'FeatureCollection',
    'features', coalesce(json_agg({_SITE_FEATURE} ORDER BY s.code), '[]'::json)
)::text
FROM sites s
""")

# A reference is a site code, or a numeric id; a code wins when both match, since codes
# are the stable ids and row ids change when data is imported again.
_ONE_SITE = text(f"""
SELECT {_SITE_FEATURE}::text
FROM sites s
WHERE s.code = :ref OR s.id = :id
ORDER BY s.code = :ref DESC
LIMIT 1
""")

_ROW_ID = re.compile(r"[0-9]{1,10}")
_MAX_ROW_ID = 2**31 - 1  # sites.id is an integer column


def _row_id(ref: str) -> int | None:
    """The numeric id a reference may be; None when it cannot be one (so no SQL error)."""
    if _ROW_ID.fullmatch(ref) and int(ref) <= _MAX_ROW_ID:
        return int(ref)
    return None


@router.get(
    "",
    response_class=GeoJSONResponse,
    summary="All construction sites",
    responses={200: {"description": "A GeoJSON FeatureCollection of every site"}},
)
def list_sites(engine: EngineDep) -> GeoJSONResponse:
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
    ref: Annotated[str, Path(description="The site code (e.g. GD-2024-01) or its numeric id")],
) -> GeoJSONResponse:
    """One site by code or numeric id, so links from lists and from people both work."""
    with engine.connect() as conn:
        feature = conn.execute(_ONE_SITE, {"ref": ref, "id": _row_id(ref)}).scalar_one_or_none()
    if feature is None:
        raise NotFound(f"no site has the id or code {ref!r}")
    return GeoJSONResponse(feature)

"""``/api/parcels``: planning parcels by code, as GeoJSON assembled by PostgreSQL."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from sqlalchemy import text

from geo_service.api import GeoJSONResponse
from geo_service.api.deps import EngineDep, SignedIn
from geo_service.errors import NotFound
from geo_service.query import public

router = APIRouter(prefix="/api/parcels", tags=["parcels"])

# The parcel code is the feature id (stable, as the contract requires); the sites built on
# the parcel follow its fields.
_PARCELS = public("parcels")
_ONE_PARCEL = text(f"""
SELECT {_PARCELS.feature_json([*_PARCELS.field_names, *_PARCELS.referrers().items()])}::text
FROM {_PARCELS.source}
WHERE m.code = :code
""")


# ``:path`` because compound land uses put a slash in the code (GS0201-R21/B1-05).
@router.get(
    "/{code:path}",
    response_class=GeoJSONResponse,
    summary="One planning parcel",
    responses={
        200: {"description": "A GeoJSON Feature"},
        404: {"description": "No parcel has this code"},
    },
)
def get_parcel(
    engine: EngineDep,
    _: SignedIn,
    code: Annotated[str, Path(description="The parcel code, e.g. XC1003-R21-02")],
) -> GeoJSONResponse:
    """One parcel with its land use and the sites built on it."""
    with engine.connect() as conn:
        feature = conn.execute(_ONE_PARCEL, {"code": code}).scalar_one_or_none()
    if feature is None:
        raise NotFound(f"no parcel has the code {code!r}")
    return GeoJSONResponse(feature)

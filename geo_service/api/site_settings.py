"""``GET /api/sites/{ref}/impact-settings``: what an editor reads before changing it.

The answer carries the version as an ``ETag``; send it back as ``If-Match`` with
``PUT .../impact-settings`` or ``PUT .../equipment`` so a concurrent edit is not lost.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from geo_service import impact, versions
from geo_service.api.deps import EngineDep, SignedIn

router = APIRouter(tags=["impact"])


@router.get(
    "/api/sites/{ref}/impact-settings",
    summary="A site's bands, kinds, phase and equipment, with their version (ETag)",
)
def get_settings(
    engine: EngineDep,
    _: SignedIn,
    response: Response,
    ref: Annotated[str, Path(description="The site code (e.g. HF-2024-01) or numeric id")],
) -> dict[str, Any]:
    with engine.connect() as conn:
        site = impact.resolve_site(conn, ref)
        response.headers["ETag"] = versions.site_etag(conn, site.id)
        return impact.site_parameters(conn, site.id)

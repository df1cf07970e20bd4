"""``/api/sites/{ref}/night-permits``: a site's night-work certificates, recorded and
revoked by those who edit the site's impact settings (its phase and planned equipment:
when and how it works), read like the alarms they explain; ``/api/night-work``: the issuers,
activities, background settings and city-wide quiet periods (``reference/night_work.yaml``).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, ConfigDict, Field

from geo_service import audit
from geo_service.api.deps import EngineDep, ImpactEditor, PublicLayerReader
from geo_service.audit import AuditAction
from geo_service.impact import resolve_site
from geo_service.monitoring import night_work, partitions, permits

router = APIRouter(tags=["monitoring"])

SiteRef = Annotated[str, Path(max_length=64, description="The site code or numeric id")]
PermitId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The permit's id")]


class NightPermitIn(BaseModel):
    """A certificate for the nights ``first_night`` to ``last_night`` (the evenings' dates),
    ``hours_start`` to ``hours_end`` each night (22:00 to 06:00 ends the next morning)."""

    model_config = ConfigDict(extra="forbid")

    certificate_no: Annotated[str, Field(min_length=1, max_length=64)]
    issuer: Annotated[str, Field(max_length=32, description="A code of GET /api/night-work")]
    first_night: dt.date
    last_night: dt.date
    hours_start: dt.time = dt.time(22, 0)
    hours_end: dt.time = dt.time(6, 0)
    activities: list[Annotated[str, Field(max_length=40)]] = Field(max_length=20)
    notice_posted_at: dt.datetime | None = Field(
        None, description="When the notice to residents was posted (none: not yet)"
    )


@router.get("/api/night-work", summary="Night-work issuers, activities and quiet periods")
def night_work_reference(_: PublicLayerReader) -> dict[str, Any]:
    d = night_work.data()
    return {
        "issuers": d["issuers"],
        "activities": d["activities"],
        "background": night_work.background({}),
        "quiet_periods": night_work.quiet_periods(partitions.ZONE),
    }


@router.get("/api/sites/{ref}/night-permits", summary="A site's night-work permits")
def list_permits(engine: EngineDep, _: PublicLayerReader, ref: SiteRef) -> Any:
    with engine.connect() as conn:
        site = resolve_site(conn, ref)
        return jsonable_encoder({"site": site.code, "permits": permits.list_for(conn, site.code)})


@router.post(
    "/api/sites/{ref}/night-permits",
    status_code=201,
    summary="Record a night-work permit",
    responses={409: {"description": "The certificate is already on a permit for those nights"}},
)
def post_permit(
    engine: EngineDep, principal: ImpactEditor, ref: SiteRef, body: NightPermitIn
) -> Any:
    with engine.begin() as conn:
        site = resolve_site(conn, ref)
        found = permits.create(
            conn,
            principal,
            site.code,
            permits.Permit(**{**body.model_dump(), "activities": tuple(body.activities)}),
        )
        audit.record(
            conn,
            principal,
            AuditAction.CHANGE,
            target=f"site:{site.code}",
            record_count=1,
            detail={"night_permit": found["id"], "certificate_no": found["certificate_no"]},
        )
        return jsonable_encoder(found)


@router.delete("/api/sites/{ref}/night-permits/{permit_id}", summary="Revoke a night-work permit")
def revoke_permit(
    engine: EngineDep, principal: ImpactEditor, ref: SiteRef, permit_id: PermitId
) -> Any:
    with engine.begin() as conn:
        site = resolve_site(conn, ref)
        found = permits.revoke(conn, principal, site.code, permit_id, dt.datetime.now(dt.UTC))
        audit.record(
            conn,
            principal,
            AuditAction.CHANGE,
            target=f"site:{site.code}",
            record_count=1,
            detail={"night_permit_revoked": permit_id},
        )
        return jsonable_encoder(found)

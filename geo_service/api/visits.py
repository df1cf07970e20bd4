"""``/api/sites/{ref}/visits`` and ``/api/sites/{ref}/coverage``: the door-to-door visit log
of a site and how much of its affected households it covers (``geo_service.liaison.visits``).
Visit notes are personal: the site's officers and administrators read them (audited)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from geo_service.api.deps import EngineDep, RequestReader, RequestWorker
from geo_service.liaison import visits
from layers.visits import OUTCOMES

router = APIRouter(tags=["visits"])

SiteCode = Annotated[str, Path(description="The site code, e.g. AZF-2024-01", max_length=64)]


class VisitIn(BaseModel):
    """A visit by the signed-in officer to a household the site affects."""

    model_config = ConfigDict(extra="forbid")

    household: int = Field(ge=1)
    outcome: Literal[OUTCOMES]  # type: ignore[valid-type]
    visited_at: AwareDatetime = Field(description="When, with its time zone (+08:00)")
    notes: Annotated[str, Field(max_length=4000)] | None = None
    next_visit_due: dt.date | None = None


@router.post("/api/sites/{site}/visits", status_code=201, summary="Log a visit")
def post_visit(
    engine: EngineDep, principal: RequestWorker, site: SiteCode, body: VisitIn
) -> dict[str, Any]:
    with engine.begin() as conn:
        visit_id = visits.log(conn, principal, visits.NewVisit(site=site, **body.model_dump()))
    return {"id": visit_id}


@router.get("/api/sites/{site}/visits", summary="A site's visits, newest first")
def list_visits(
    engine: EngineDep,
    principal: RequestReader,
    site: SiteCode,
    household: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> dict[str, Any]:
    with engine.begin() as conn:
        rows, total = visits.visits(
            conn, principal, site, household=household, limit=limit, offset=offset
        )
    return {"visits": rows, "total": total, "limit": limit, "offset": offset}


@router.get("/api/sites/{site}/coverage", summary="Visited households: vulnerable, per band")
def get_coverage(engine: EngineDep, principal: RequestReader, site: SiteCode) -> dict[str, Any]:
    with engine.connect() as conn:
        return visits.coverage(conn, principal, site)

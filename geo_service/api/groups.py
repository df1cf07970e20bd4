"""``/api/sites/{ref}/working-group``: a site's liaison officers (lead, deputies, with dates:
administrators name them) and its members from the parties (the site's officers keep them).
Members' phones are personal: the site's officers and administrators read them (audited)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from geo_service.api.deps import AccessManager, EngineDep, RequestReader, RequestWorker
from geo_service.liaison import groups
from geo_service.own_tables import OFFICER_DUTIES, PARTIES

router = APIRouter(prefix="/api/sites/{site}/working-group", tags=["working groups"])

SiteCode = Annotated[str, Path(description="The site code, e.g. AZF-2024-01", max_length=64)]
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Short = Annotated[str, Field(min_length=1, max_length=200)]


class OfficerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Annotated[str, Field(min_length=1, max_length=64)]
    duty: Literal[OFFICER_DUTIES]  # type: ignore[valid-type]
    starts_on: dt.date
    ends_on: dt.date | None = None


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organisation: Short
    party: Literal[PARTIES]  # type: ignore[valid-type]
    name: Annotated[str, Field(min_length=1, max_length=64)]
    role: Short | None = None
    phone: Annotated[str, Field(max_length=32)] | None = None


@router.get("", summary="A site's officers and working-group members")
def get_group(engine: EngineDep, principal: RequestReader, site: SiteCode) -> dict[str, Any]:
    with engine.begin() as conn:
        return {
            "site": site,
            "officers": groups.officers(conn, principal, site),
            "members": groups.members(conn, principal, site),
        }


@router.post("/officers", status_code=201, summary="Name a lead or deputy officer")
def post_officer(
    engine: EngineDep, principal: AccessManager, site: SiteCode, body: OfficerIn
) -> dict[str, Any]:
    with engine.begin() as conn:
        officer_id = groups.add_officer(
            conn, principal, site, body.username, body.duty, body.starts_on, body.ends_on
        )
    return {"id": officer_id}


@router.delete("/officers/{officer_id}", status_code=204, summary="Remove an officer")
def delete_officer(
    engine: EngineDep, principal: AccessManager, site: SiteCode, officer_id: RowId
) -> Response:
    with engine.begin() as conn:
        groups.remove_officer(conn, principal, site, officer_id)
    return Response(status_code=204)


@router.post("/members", status_code=201, summary="Add a working-group member")
def post_member(
    engine: EngineDep, principal: RequestWorker, site: SiteCode, body: MemberIn
) -> dict[str, Any]:
    with engine.begin() as conn:
        member_id = groups.add_member(conn, principal, site, groups.Member(**body.model_dump()))
    return {"id": member_id}


@router.put("/members/{member_id}", summary="Change a working-group member")
def put_member(
    engine: EngineDep, principal: RequestWorker, site: SiteCode, member_id: RowId, body: MemberIn
) -> dict[str, Any]:
    with engine.begin() as conn:
        groups.update_member(conn, principal, site, member_id, groups.Member(**body.model_dump()))
    return {"id": member_id}


@router.delete("/members/{member_id}", status_code=204, summary="Remove a working-group member")
def delete_member(
    engine: EngineDep, principal: RequestWorker, site: SiteCode, member_id: RowId
) -> Response:
    with engine.begin() as conn:
        groups.remove_member(conn, principal, site, member_id)
    return Response(status_code=204)

"""``/api/sites/{site}/wishes`` and ``/api/wishes/{id}``: a site's micro-wishes (微心愿),
posted by its officers, claimed and fulfilled by its working group
(``geo_service.liaison.wishes``). Planners read the counts per state only."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from geo_service.access import Principal
from geo_service.api.deps import EngineDep, RequestReader, RequestWorker, Requirement
from geo_service.liaison import wishes
from geo_service.own_tables import WISH_STATES

router = APIRouter(tags=["micro-wishes"])

WishWorker = Annotated[
    Principal,
    Depends(Requirement(then="per site: wishes.holds_on_site (the move's permissions)")),
]
"""Signed in; the move's permissions (``wishes.MOVES``) held on the wish's site: its
officers and members claim, release and fulfil, its officers cancel."""

SiteCode = Annotated[str, Path(description="The site code, e.g. AZF-2024-01", max_length=64)]
WishId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The micro-wish's id")]


class WishIn(BaseModel):
    """A wish posted by the site's officer, maybe for a household the site affects."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200, description="What is wished for; no names")
    description: Annotated[str, Field(max_length=4000)] | None = Field(
        None, description="Details (personal: the site's officers read them)"
    )
    household: Annotated[int, Field(ge=1, le=2**63 - 1)] | None = None
    due_on: dt.date | None = None


class WishMoveIn(BaseModel):
    """``{"to": "claimed", "member": 3}``; ``member`` (a working-group member of the site)
    when claiming only."""

    model_config = ConfigDict(extra="forbid")

    to: Literal[WISH_STATES]  # type: ignore[valid-type]
    member: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None


@router.post("/api/sites/{site}/wishes", status_code=201, summary="Post a micro-wish")
def post_wish(
    engine: EngineDep, principal: RequestWorker, site: SiteCode, body: WishIn
) -> dict[str, Any]:
    with engine.begin() as conn:
        wish_id = wishes.post(conn, principal, wishes.NewWish(site=site, **body.model_dump()))
        return wishes.read(conn, principal, wish_id)


@router.get("/api/sites/{site}/wishes", summary="A site's micro-wishes and counts per state")
def list_wishes(
    engine: EngineDep,
    principal: RequestReader,
    site: SiteCode,
    state: Annotated[Literal[WISH_STATES] | None, Query()] = None,  # type: ignore[valid-type]
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> dict[str, Any]:
    with engine.begin() as conn:
        return wishes.site_wishes(conn, principal, site, state=state, limit=limit, offset=offset)


@router.get("/api/wishes/{wish_id}", summary="One micro-wish")
def get_wish(engine: EngineDep, principal: RequestReader, wish_id: WishId) -> dict[str, Any]:
    with engine.begin() as conn:
        return wishes.read(conn, principal, wish_id)


@router.post("/api/wishes/{wish_id}/transitions", summary="Claim, release, fulfil or cancel")
def move_wish(
    engine: EngineDep, principal: WishWorker, wish_id: WishId, body: WishMoveIn
) -> dict[str, Any]:
    with engine.begin() as conn:
        return wishes.transition(conn, principal, wish_id, body.to, member=body.member)

"""``/api/users/{name}/sites``: which sites' households a liaison officer looks after.

Administrators only; every change is audited with the assignments it replaced.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from geo_service import auth
from geo_service.api.deps import AccessManager, EngineDep

router = APIRouter(prefix="/api/users", tags=["users"])

Username = Annotated[str, Path(description="The user name", max_length=64)]


class SiteAssignment(BaseModel):
    """The complete list of a user's sites (it replaces the previous one)."""

    sites: list[str] = Field(
        description="Site codes, e.g. AZF-2024-01; empty to remove every assignment",
        max_length=10_000,
    )


class UserSites(BaseModel):
    """A user, their role and the codes of their assigned sites."""

    username: str
    role: str
    sites: list[str]


@router.get("/{username}/sites", response_model=UserSites, summary="A user's assigned sites")
def get_user_sites(engine: EngineDep, _: AccessManager, username: Username) -> UserSites:
    with engine.connect() as conn:
        found = auth.user_sites(conn, username)
    return UserSites(username=found.username, role=found.role, sites=found.sites)


@router.put(
    "/{username}/sites",
    response_model=UserSites,
    summary="Replace a user's assigned sites",
    responses={400: {"description": "An unknown site code, or a role that takes no sites"}},
)
def put_user_sites(
    request: Request,
    engine: EngineDep,
    principal: AccessManager,
    username: Username,
    body: SiteAssignment,
) -> UserSites:
    """Assign sites by code; codes stay valid when sites are imported again."""
    with engine.begin() as conn:
        found = auth.set_user_sites(conn, username, body.sites, by=principal)
    request.app.state.principal_cache.clear()
    return UserSites(username=found.username, role=found.role, sites=found.sites)

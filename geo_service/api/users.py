"""``/api/users/{name}/...``: which sites' households a liaison officer looks after, and
signing a user out of every browser.

Administrators only; every change is audited (site changes with the assignments they
replaced).
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


class SessionsEnded(BaseModel):
    """How many of the user's browser sessions were open and are now ended."""

    username: str
    sessions_ended: int


@router.delete(
    "/{username}/sessions",
    response_model=SessionsEnded,
    summary="Sign a user out of every browser",
)
def delete_user_sessions(
    request: Request, engine: EngineDep, principal: AccessManager, username: Username
) -> SessionsEnded:
    """A lost phone or a shared computer: every copy of the user's session cookies stops
    working at once (their API tokens are revoked separately)."""
    with engine.begin() as conn:
        ended = auth.end_user_sessions(conn, username, by=principal)
        name = auth.user_sites(conn, username).username
    request.app.state.principal_cache.clear()
    return SessionsEnded(username=name, sessions_ended=ended)

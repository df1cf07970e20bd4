"""Typed dependencies: one small function per parameter, used as ``Annotated`` aliases.

Access: every endpoint declares what it requires in its signature, with one of the aliases
of a ``Requirement`` below (``principal: Auditor``, ``_: SignedIn``; ``_: Public`` for an
open one), built from a permission of the one table of roles, ``geo_service.access.ROLES``.
A check that depends on the path (a liaison officer's own sites, a collection's layer) is
made on the principal in the body, and the endpoint declares its base requirement still.
``CurrentUser`` (whoever sent the request, maybe anonymous) is what the requirements ask;
endpoints do not use it directly, so that a test finds a requirement on every route.
"""

from __future__ import annotations

import binascii
from base64 import b64decode
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBasic, HTTPBearer
from fastapi.security import HTTPBasicCredentials as BasicCredentials
from fastapi.security.utils import get_authorization_scheme_param
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from geo_service import auth
from geo_service.access import Permission, Principal, anonymous
from geo_service.api.csrf import require_same_origin
from geo_service.api.pages import Language, request_language
from geo_service.auth import PrincipalCache
from geo_service.basemap import TilePackage
from geo_service.errors import NotAuthenticated
from geo_service.settings import (
    AuthSettings,
    BandRules,
    ImportSettings,
    LiaisonSettings,
    MapSettings,
)


async def get_engine(request: Request) -> Engine:
    """The engine the lifespan created; routers never build their own."""
    return request.app.state.engine


async def get_import_settings(request: Request) -> ImportSettings:
    """The upload limits ``create_app`` was given: settings are read at the edge only."""
    return request.app.state.import_settings


async def get_band_rules(request: Request) -> BandRules:
    """The band limits ``create_app`` was given."""
    return request.app.state.band_rules


async def get_map_settings(request: Request) -> MapSettings:
    """The basemaps ``create_app`` was given."""
    return request.app.state.map_settings


async def get_basemap_package(request: Request) -> TilePackage | None:
    """The basemap package ``create_app`` opened (GEO_SERVICE_MAP_BASEMAP_FILE), or None."""
    return request.app.state.basemap_package


def get_lang(
    request: Request,
    lang: Annotated[
        Language | None,
        Query(description="Language of labels: zh or en (default: the last one picked, else zh)"),
    ] = None,
) -> Language:
    """Chinese first, since the users are; English for visitors and tools. A language picked
    on a page with ``?lang=`` is kept in a cookie (``pages.LanguageCookie``), so the pages
    after it follow it."""
    return lang or request_language(request)


EngineDep = Annotated[Engine, Depends(get_engine)]
ImportSettingsDep = Annotated[ImportSettings, Depends(get_import_settings)]
MapSettingsDep = Annotated[MapSettings, Depends(get_map_settings)]
BasemapPackageDep = Annotated[TilePackage | None, Depends(get_basemap_package)]
BandRulesDep = Annotated[BandRules, Depends(get_band_rules)]
Lang = Annotated[Language, Depends(get_lang)]
# The version (ETag) an edit is based on; a stale one gets 412 (``geo_service.versions``).
IfMatch = Annotated[
    str | None,
    Header(description="The ETag of the version being edited, from the last read"),
]


# -- who is asking ------------------------------------------------------------------------------
SESSION_COOKIE = "geo_session"


class _Utf8Basic(HTTPBasic):
    """HTTP Basic read as UTF-8 (RFC 7617), so Chinese user names and passwords work."""

    async def __call__(self, request: Request) -> BasicCredentials | None:  # type: ignore[override]
        scheme, param = get_authorization_scheme_param(request.headers.get("Authorization"))
        if scheme.lower() != "basic":
            return None
        try:
            username, colon, password = b64decode(param, validate=True).decode().partition(":")
        except (binascii.Error, ValueError):
            raise NotAuthenticated(
                "malformed Basic credentials (not base64 of name:password)"
            ) from None
        if not colon:
            raise NotAuthenticated("malformed Basic credentials (no ':' between name and password)")
        return BasicCredentials(username=username, password=password)


# Declared as FastAPI security schemes so /docs offers them under "Authorize".
_basic = _Utf8Basic(
    auto_error=False,
    realm="geo-service",
    description=(
        "A user name and password, or an API token as the password (QGIS) with its user's "
        "name (any name for a token without a user)."
    ),
)
_bearer = HTTPBearer(auto_error=False, description="An API token (geo-service token create).")
_api_key = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="An API token, for tools that set headers."
)


def client_address(request: Request) -> str | None:
    """The client's address: behind a proxy listed in GEO_SERVICE_FORWARDED_ALLOW_IPS, the
    one it forwards (uvicorn reads X-Forwarded-For), else the peer's."""
    return request.client.host if request.client else None


async def current_principal(
    request: Request,
    engine: EngineDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
    basic: Annotated[BasicCredentials | None, Depends(_basic)],
) -> Principal:
    """Whoever sent the request: token, Basic or session cookie; else anonymous.

    Credentials that are sent but wrong are refused (401), never taken as anonymous; a
    stale session cookie is, so public pages still open and private ones ask to sign in.
    A remembered credential is answered here, on the event loop; only a check that needs
    the database (or Argon2) goes to a worker thread.
    """
    settings: AuthSettings = request.app.state.auth_settings
    client = client_address(request)
    token = bearer.credentials if bearer is not None else api_key
    if token:
        return await _remembered(
            request,
            PrincipalCache.key("token", token),
            lambda: auth.principal_for_token(engine, token, client=client, settings=settings),
        )
    if basic is not None:
        require_same_origin(request, unsaid_ok=True)  # a browser may have remembered them
        return await _remembered(
            request,
            PrincipalCache.key("basic", basic.username, basic.password),
            lambda: auth.principal_for_basic(
                engine, basic.username, basic.password, client=client, settings=settings
            ),
        )
    principal = await session_user(request, engine)
    return principal or anonymous(client, settings.anonymous_layers)


async def _remembered(request: Request, key: str, check: Callable[[], Principal]) -> Principal:
    """Tokens and passwords either name a principal or raise; never None."""
    cache: PrincipalCache = request.app.state.principal_cache
    client = client_address(request)
    principal = cache.peek(key, client) or await run_in_threadpool(cache.get, key, client, check)
    assert principal is not None
    return principal


async def session_user(request: Request, engine: EngineDep) -> Principal | None:
    """The user of a valid session cookie, ignoring any other header.

    The sign-in and sign-out pages use this alone, so stale Basic credentials a browser
    keeps sending can never lock anyone out of the form (or loop its redirects).
    """
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    require_same_origin(request)  # a cookie works for this service's own pages only
    cache: PrincipalCache = request.app.state.principal_cache
    client = client_address(request)
    key = PrincipalCache.key("session", cookie)
    return cache.peek(key, client) or await run_in_threadpool(
        cache.get,
        key,
        client,
        lambda: auth.principal_for_session(
            engine, cookie, secret=request.app.state.session_secret, client=client
        ),
    )


CurrentUser = Annotated[Principal, Depends(current_principal)]
SessionUser = Annotated[Principal | None, Depends(session_user)]


# -- what an endpoint requires ------------------------------------------------------------------
@dataclass(frozen=True)
class Requirement:
    """What an endpoint asks of its caller: a dependency in its signature that returns the
    principal. A permission of the one table (``access.ROLES``), else any signed-in role,
    else nobody in particular (``signed_in=False``: anonymous callers too).

    Refusals: 401 when nobody is signed in (browsers are sent to the sign-in page), 403
    naming the permission. ``then`` names a further check that depends on the path (which
    site, which collection); the endpoint makes it on the principal, and the route table
    (``requirement_of``) shows it.
    """

    permission: Permission | None = None
    signed_in: bool = True
    then: str = ""

    async def __call__(self, principal: CurrentUser) -> Principal:
        # On the event loop: a sync check would send every request (tiles too) to a thread.
        if self.permission is not None:
            principal.require_permission(self.permission)
        elif self.signed_in:
            principal.require_signed_in()
        return principal

    def __str__(self) -> str:
        if self.permission is not None:
            base = self.permission.value
        else:
            base = "signed in" if self.signed_in else "public"
        return f"{base}, then {self.then}" if self.then else base


async def public() -> None:
    """Open to everyone, and reads no credentials: stale ones a browser or tool sends along
    cannot lock anyone out of the sign-in form, the health check or the documentation."""


class PublicFiles(StaticFiles):
    """Files anyone may fetch (vendored scripts, styles, fonts, icons; never data): a mount
    declares that it is public by serving them with this class."""


# One alias per requirement in use; an endpoint names one of them in its signature.
Public = Annotated[None, Depends(public)]
Visitor = Annotated[Principal, Depends(Requirement(signed_in=False))]
"""Open, showing more to those signed in (the landing page's row counts)."""
SignedIn = Annotated[Principal, Depends(Requirement())]
HouseholdReader = Annotated[
    Principal, Depends(Requirement(then="per site: access.require_households"))
]
"""Signed in; whether this site's households may be listed is checked once it is found."""
CollectionReader = Annotated[
    Principal, Depends(Requirement(signed_in=False, then="per layer: Principal.can_read_layer"))
]
"""Anyone; which collections and map layers they may read is decided per layer, 401 when
none (anonymous callers read only the layers ``GEO_SERVICE_ANONYMOUS_LAYERS`` opens)."""
PublicLayerReader = Annotated[Principal, Depends(Requirement(Permission.READ_PUBLIC_LAYERS))]
AllLayersReader = Annotated[Principal, Depends(Requirement(Permission.READ_ALL_LAYERS))]
Importer = Annotated[Principal, Depends(Requirement(Permission.IMPORT_DATA))]
AccessManager = Annotated[Principal, Depends(Requirement(Permission.MANAGE_ACCESS))]
Auditor = Annotated[Principal, Depends(Requirement(Permission.READ_AUDIT))]
ImpactEditor = Annotated[Principal, Depends(Requirement(Permission.EDIT_IMPACT_SETTINGS))]
MitigationManager = Annotated[Principal, Depends(Requirement(Permission.MANAGE_MITIGATION))]
CaseWorker = Annotated[
    Principal, Depends(Requirement(then="per site: Principal.can_read_personal"))
]
"""Signed in; whether this site's mitigation cases may be worked (its liaison officers,
administrators) is checked once the case or programme is found."""


RequestReader = Annotated[
    Principal, Depends(Requirement(then="per site: Principal.can_read_requests"))
]
"""Signed in; whether a site's requests, visits and working group may be read is checked
once the site is known (planners: all, public fields; officers and members: their sites)."""
RequestWorker = Annotated[
    Principal,
    Depends(Requirement(Permission.WORK_REQUESTS, then="per site: Principal.can_work_requests")),
]
"""Liaison officers of the site, and administrators: record and change requests and visits."""


async def get_liaison_settings(request: Request) -> LiaisonSettings:
    """The SLA and webhook settings ``create_app`` was given."""
    return request.app.state.liaison_settings


LiaisonSettingsDep = Annotated[LiaisonSettings, Depends(get_liaison_settings)]


def requirement_of(dependency: object) -> str | None:
    """The requirement a dependency (or a mounted app) declares, as the route table reads
    it; None for a dependency that is not one (an engine, a query parameter)."""
    if dependency is public or isinstance(dependency, PublicFiles):
        return "public"
    return str(dependency) if isinstance(dependency, Requirement) else None

"""Errors of the domain, mapped to HTTP status codes once, in ``STATUS``.

Core code raises these and never an HTTP exception, so the CLI and the API report the
same problem in the same words.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    InterfaceError,
    InternalError,
    OperationalError,
    ProgrammingError,
)
from starlette.exceptions import HTTPException as StarletteHTTPException


class GeoServiceError(Exception):
    """Base of every error a user can cause or fix."""

    def __init__(self, message: str, *, site: str | None = None, zh: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.site = site  # the site code the error is about: the error page names it
        # The same in Chinese, where a page in Chinese shows it (the officer's forms).
        self.zh = zh

    def detail(self) -> dict:
        return {"error": type(self).__name__, "detail": self.message}

    def headers(self) -> dict[str, str]:
        """HTTP headers the answer needs (a challenge, a wait), beside the status."""
        return {}


class ClusterError(GeoServiceError):
    """The embedded PostgreSQL cluster could not be created, started or reached."""


class PostgisMissing(ClusterError):
    """PostGIS is not installed and cannot be installed by us."""


class InvalidParcelCode(GeoServiceError):
    """A parcel code that is not ``<unit>-<land use>-<index>``."""


class UnknownLandUse(InvalidParcelCode):
    """A land-use class that GB 50137-2011 does not define."""


class UnknownCRS(GeoServiceError):
    """A coordinate reference system we cannot identify or transform."""


class MissingCRS(UnknownCRS):
    """A file that does not say its coordinate reference system."""


class UnknownLayer(GeoServiceError):
    """A layer id that is not in the registry, or that cannot be imported."""


class UnsupportedFile(GeoServiceError):
    """A file whose type, size or content we refuse before reading rows."""


class UploadTooLarge(UnsupportedFile):
    """An upload (or the content of an archive) over the configured limit."""


class MalformedUpload(UnsupportedFile):
    """An upload request that is not a well-formed multipart form with a file."""


class InvalidServiceArea(GeoServiceError):
    """A service area (the box imports must lie in) that is not a box on the globe."""


class InvalidImpactSettings(GeoServiceError):
    """Bands, impact kinds or equipment that the impact model cannot use."""


class InvalidQuery(GeoServiceError):
    """A query parameter (bbox, limit, sortby, filter, ...) that cannot be used as given."""


class InvalidText(GeoServiceError):
    """A value PostgreSQL cannot store or compare: a NUL character, a date out of range."""


class PreconditionRequired(GeoServiceError):
    """An edit sent without saying which version it was based on."""


class EditConflict(GeoServiceError):
    """An edit based on a version of a record that someone else has changed since."""


class CaseTransitionRefused(GeoServiceError):
    """A mitigation case asked to go to a state its current one does not lead to."""

    def __init__(self, message: str, *, state: str, allowed: tuple[str, ...]) -> None:
        super().__init__(message)
        self.state, self.allowed = state, allowed

    def detail(self) -> dict:
        return {**super().detail(), "state": self.state, "allowed": list(self.allowed)}


class CaseFieldsInvalid(GeoServiceError):
    """A mitigation case step without the fields it needs, or with dates out of order."""

    def __init__(self, message: str, *, fields: list[str]) -> None:
        super().__init__(message)
        self.fields = fields

    def detail(self) -> dict:
        return {**super().detail(), "fields": self.fields}


class InvalidNightPermit(GeoServiceError):
    """A night-work permit that cannot be: its last night before its first, an unknown
    issuer or activity, hours that cover nothing."""


class NightPermitConflict(GeoServiceError):
    """A permit whose certificate number is already on a permit for some of these nights."""


class NotFound(GeoServiceError):
    """A record that does not exist."""


class InvalidCase(GeoServiceError):
    """A request, visit or working-group entry whose fields cannot be used (an unknown
    category, a household of another site, a satisfaction out of 1-5)."""


@dataclass(frozen=True)
class Refusal:
    """Why one record of a batch was refused: its id, the error's name and its words."""

    id: str
    error: str
    reason: str


class BatchRefused(InvalidCase):
    """A change to many requests refused as a whole because some could not take it;
    nothing was changed. The answer names each refused id and why."""

    def __init__(self, summary: str, refused: list[Refusal]) -> None:
        shown = "; ".join(f"{r.id}: {r.reason}" for r in refused[:20])
        more = f" (and {len(refused) - 20} more)" if len(refused) > 20 else ""
        super().__init__(f"{summary}, nothing was changed: {shown}{more}")
        self.refused = refused

    def detail(self) -> dict:
        return {**super().detail(), "refused": [r.__dict__ for r in self.refused]}


class RefusedTransition(GeoServiceError):
    """A request moved to a state that may not follow its current one (or no longer may:
    a reopen after the window); the answer names the states that may."""

    def __init__(self, message: str, *, state: str, allowed: tuple[str, ...]) -> None:
        super().__init__(message)
        self.state, self.allowed = state, allowed

    def detail(self) -> dict:
        return {**super().detail(), "state": self.state, "allowed": list(self.allowed)}


class NotAuthenticated(GeoServiceError):
    """No credentials, or credentials that are wrong, expired or revoked.

    The challenge names both schemes: Basic (QGIS, browsers: the password may be an API
    token) and Bearer (scripts).
    """

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Basic realm="geo-service", Bearer realm="geo-service"'}


class Forbidden(GeoServiceError):
    """Signed in, but this role (or this site assignment) does not allow it."""


class TooManyAttempts(GeoServiceError):
    """Too many failed sign-ins from one user name or one address; wait and retry."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed sign-in attempts; try again in {retry_after} seconds")
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class InvalidAccount(GeoServiceError):
    """A user name, password, role, token expiry or site assignment that cannot be used."""


class InsecureConfiguration(GeoServiceError):
    """Settings that would make the service unsafe outside development (a default secret)."""


class InvalidBasemap(GeoServiceError):
    """A basemap file the service cannot serve, or a default basemap it cannot draw: it
    refuses to start, rather than fail every map."""


@dataclass
class RowProblem:
    """One problem found in one row of an imported file (row 1 is the first data row)."""

    row: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.field}: {self.message}"


@dataclass
class ImportRejected(GeoServiceError):
    """An import refused as a whole; nothing was written."""

    layer: str
    problems: list[RowProblem] = field(default_factory=list)
    summary: str = ""

    def __post_init__(self) -> None:
        shown = "; ".join(str(p) for p in self.problems[:20])
        more = f" (and {len(self.problems) - 20} more)" if len(self.problems) > 20 else ""
        head = self.summary or f"{len(self.problems)} problem(s) in the {self.layer} file"
        super().__init__(f"{head}: {shown}{more}" if self.problems else head)

    def detail(self) -> dict:
        return {
            "error": "ImportRejected",
            "detail": self.message,
            "layer": self.layer,
            "problems": [p.__dict__ for p in self.problems[:1000]],
            "problem_count": len(self.problems),
        }


# The one table from domain errors to HTTP status codes (first match along the MRO wins).
STATUS: dict[type[GeoServiceError], int] = {
    NotFound: 404,
    UnknownLayer: 404,
    NotAuthenticated: 401,
    Forbidden: 403,
    TooManyAttempts: 429,
    InvalidAccount: 400,
    InvalidCase: 422,
    RefusedTransition: 409,
    UploadTooLarge: 413,
    MalformedUpload: 400,
    UnsupportedFile: 415,
    ImportRejected: 422,
    InvalidParcelCode: 400,
    InvalidImpactSettings: 400,
    InvalidServiceArea: 400,
    InvalidText: 400,
    EditConflict: 412,
    CaseTransitionRefused: 409,
    CaseFieldsInvalid: 422,
    PreconditionRequired: 428,
    InvalidQuery: 400,
    InvalidNightPermit: 422,
    NightPermitConflict: 409,
    UnknownCRS: 400,
    ClusterError: 503,
}


def status_of(error: GeoServiceError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def add_exception_handlers(app: FastAPI) -> None:
    """Answer every domain error with its status and a message that names the problem:
    as JSON, or as a page (``error.html``) to a browser opening a page."""
    from geo_service.api.error_pages import error_page, wants_page  # the web's, not the core's

    async def handle(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, GeoServiceError)
        if isinstance(exc, NotAuthenticated) and _is_browser_page(request):
            # A person opening a page: the sign-in form, then back to where they were.
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)
        if wants_page(request):
            return error_page(
                request, status_of(exc), exc.message, site=exc.site, headers=exc.headers()
            )
        return JSONResponse(status_code=status_of(exc), content=exc.detail(), headers=exc.headers())

    async def handle_http(request: Request, exc: Exception) -> Response:
        # The framework's own refusals (no such route, wrong method): a page for a person,
        # the framework's JSON for anyone else.
        assert isinstance(exc, StarletteHTTPException)
        if wants_page(request):
            return error_page(request, exc.status_code, str(exc.detail), headers=exc.headers)
        return await http_exception_handler(request, exc)

    async def handle_invalid(request: Request, exc: Exception) -> Response:
        # A parameter FastAPI refuses (``lang=fr``, a limit out of range): the same.
        assert isinstance(exc, RequestValidationError)
        if wants_page(request):
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
                for e in exc.errors()
            )
            return error_page(request, 422, problems)
        # FastAPI's own answer, with the refused input echoed in a form JSON can carry.
        return JSONResponse(status_code=422, content={"detail": _writable(exc.errors())})

    async def handle_database_down(request: Request, exc: Exception) -> Response:
        # The driver's first line says what failed (refused, timed out); never the password.
        # A request in flight when the database stopped may see its connection closed under
        # it (InterfaceError "connection already closed", while cleaning up): the same 503.
        assert isinstance(exc, DBAPIError)
        lines = str(exc.orig or exc).strip().splitlines() or ["no reason given"]
        reason = lines[0]
        if wants_page(request):
            return error_page(request, 503, f"the database is unavailable: {reason}")
        return JSONResponse(
            status_code=503,
            content={
                "error": "DatabaseUnavailable",
                "detail": f"the database is unavailable: {reason}",
            },
        )

    async def handle_schema_missing(request: Request, exc: Exception) -> Response:
        # A database that was never migrated (or is older than the code) lacks a table or
        # column: say how to fix it. Values of the wrong type for an operator come from the
        # request (a filter), never from a missing schema: a 400. Any other programming
        # error is a bug: a plain 500.
        assert isinstance(exc, ProgrammingError)
        reason = str(exc.orig).strip().splitlines()[0]
        if reason.startswith("operator does not exist"):
            return await handle(request, InvalidQuery(f"a value has the wrong type: {reason}"))
        if getattr(exc.orig, "pgcode", None) not in _SCHEMA_MISSING:
            raise exc
        if wants_page(request):
            return error_page(request, 503, f"the database schema is out of date ({reason})")
        return JSONResponse(
            status_code=503,
            content={
                "error": "SchemaNotMigrated",
                "detail": f"the database schema is missing or out of date ({reason}); "
                "run: geo-service db up",
            },
        )

    async def handle_nul(request: Request, exc: Exception) -> Response:
        # psycopg2 refuses NUL in any text parameter before sending it (a path, a query
        # parameter or a JSON string from anyone): the caller's text is at fault, not us.
        if not str(exc).startswith(_NUL_REFUSED):
            raise exc
        return await handle(request, InvalidText("text may not contain NUL (0x00) characters"))

    async def handle_bad_value(request: Request, exc: Exception) -> Response:
        # SQLSTATE class 22 (data exception): a value the request carried that PostgreSQL
        # cannot take (out of range, bad format); its first line names the value.
        assert isinstance(exc, DataError)
        reason = (str(exc.orig or exc).strip().splitlines() or ["invalid value"])[0]
        return await handle(request, InvalidText(f"a value in the request is invalid: {reason}"))

    async def handle_postgis_input(request: Request, exc: Exception) -> Response:
        # PostGIS reports input it cannot use (coordinates outside a projection's domain, a
        # geometry it cannot parse) as an internal error; those come from the request. Any
        # other internal error is a bug: a plain 500.
        reason = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""])[0]
        if not reason.startswith(_POSTGIS_INPUT):
            raise exc
        return await handle(
            request, InvalidQuery(f"a geometry or coordinate is unusable: {reason}")
        )

    app.add_exception_handler(GeoServiceError, handle)
    app.add_exception_handler(StarletteHTTPException, handle_http)
    app.add_exception_handler(RequestValidationError, handle_invalid)
    app.add_exception_handler(InternalError, handle_postgis_input)
    app.add_exception_handler(ValueError, handle_nul)
    app.add_exception_handler(DataError, handle_bad_value)
    app.add_exception_handler(OperationalError, handle_database_down)
    app.add_exception_handler(InterfaceError, handle_database_down)
    app.add_exception_handler(ProgrammingError, handle_schema_missing)


def _writable(value: Any) -> Any:
    """``value`` as JSON can write it back: Python's JSON reads ``NaN`` and ``Infinity``,
    which it may not write, and a lone surrogate (``"\\ud800"``), which UTF-8 cannot hold;
    the refusal that echoes them was a 500."""
    value = jsonable_encoder(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode()
    if isinstance(value, list):
        return [_writable(v) for v in value]
    if isinstance(value, dict):
        return {k: _writable(v) for k, v in value.items()}
    return value


def _is_browser_page(request: Request) -> bool:
    """A GET for an HTML page, as browsers send it; scripts and GIS tools ask for JSON."""
    accept = request.headers.get("accept", "")
    return request.method == "GET" and "text/html" in accept


_NUL_REFUSED = "A string literal cannot contain NUL (0x00) characters"

# The first words of PostGIS's errors about input (SQLSTATE XX000, like its real bugs).
_POSTGIS_INPUT = ("transform: ", "parse error - invalid geometry", "Invalid GeoJSON")

# SQLSTATEs of a schema older than the code: undefined table, column, function (PostGIS).
_SCHEMA_MISSING = {"42P01", "42703", "42883"}

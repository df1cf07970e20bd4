"""``/open311/v2/``: Open311 GeoReport v2 over the residents' requests, in JSON and XML.

The work is ``geo_service.liaison.open311``'s; this module parses parameters and writes
the two formats. Every refusal on these routes is Open311's error list
(``[{"code": 400, "description": "..."}]``, or ``<errors><error>``) with the same HTTP
status, 400, 403 or 404, whatever raised it (a domain error, a parameter FastAPI refuses),
through ``Open311Route``: clients of the standard parse that, not our own error shape.

Reads are public (Open311 is a public read API; what it shows is public fields with
generalised points); a POST needs an Open311 key in the form's ``api_key``, checked in the
endpoint (no session or token is read), so it declares ``Public``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from xml.etree import ElementTree as ET

from fastapi import APIRouter, Form, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from geo_service.api.deps import EngineDep, Public
from geo_service.errors import GeoServiceError, NotFound, status_of
from geo_service.liaison import open311

PREFIX = "/open311/v2"
FORMATS = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
# The child element of each list in the XML, as GeoReport v2 names them.
ITEMS = {
    "services": "service",
    "service_requests": "request",
    "service_request_updates": "request_update",
    "errors": "error",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "public_notes": "note",
}


# -- writing ------------------------------------------------------------------------------------
# Characters XML 1.0 cannot carry at all (C0 controls but tab, newline, return): dropped,
# so a stray control character in a description cannot make the document unreadable.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _element(tag: str, value: Any) -> ET.Element:
    node = ET.Element(tag)
    if isinstance(value, dict):
        node.extend(_element(k, v) for k, v in value.items())
    elif isinstance(value, list):
        node.extend(_element(ITEMS[tag], v) for v in value)
    elif isinstance(value, bool):
        node.text = "true" if value else "false"
    elif value is not None:
        node.text = _NOT_XML.sub("", str(value))
    return node


def to_xml(root: str, value: Any) -> bytes:
    body = ET.tostring(_element(root, value), encoding="unicode")
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + body).encode()


def answer(fmt: str, root: str, value: Any, status: int = 200) -> Response:
    """``value`` as JSON, or as XML under ``root`` (a list: one ``ITEMS[root]`` each)."""
    if fmt == "xml":
        return Response(to_xml(root, value), status, media_type=FORMATS["xml"])
    content = json.dumps(value, ensure_ascii=False).encode()
    return Response(content, status, media_type=FORMATS["json"])


def error_answer(fmt: str, status: int, description: str) -> Response:
    return answer(fmt, "errors", [{"code": status, "description": description}], status)


def _open311_status(exc: Exception) -> tuple[int, str]:
    if isinstance(exc, GeoServiceError):
        status = status_of(exc)
        # Open311 knows 400, 403 and 404: an unauthenticated post is a forbidden one.
        return {401: 403, 403: 403, 404: 404}.get(status, 400), exc.message
    if isinstance(exc, RequestValidationError):
        problems = "; ".join(
            f"{e.get('loc', ('', ''))[-1]}: {e.get('msg', '')}" for e in exc.errors()
        )
        return 400, problems
    assert isinstance(exc, StarletteHTTPException)
    return (exc.status_code if exc.status_code in (403, 404) else 400), str(exc.detail)


class Open311Route(APIRoute):
    """Refusals in Open311's shape and the route's format (JSON when it has none)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except (GeoServiceError, RequestValidationError, StarletteHTTPException) as exc:
                status, description = _open311_status(exc)
            except DataError as exc:  # a value PostgreSQL cannot take (out of range)
                status, description = 400, f"a value is invalid: {str(exc.orig).splitlines()[0]}"
            except ValueError as exc:  # psycopg2 refuses NUL in text before sending it
                if "NUL (0x00)" not in str(exc):
                    raise
                status, description = 400, "text may not contain NUL (0x00) characters"
            fmt = request.path_params.get("fmt")
            return error_answer(fmt if fmt in FORMATS else "json", status, description)

        return route


router = APIRouter(prefix=PREFIX, tags=["Open311 GeoReport v2"], route_class=Open311Route)

Format = Annotated[str, Path(description="json or xml", max_length=8)]
Text = Annotated[str | None, Query(max_length=2000)]


def _format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise NotFound(f"no format {fmt!r}: ask for .json or .xml")
    return fmt


# -- reading ------------------------------------------------------------------------------------
@router.get("/discovery.{fmt}", summary="Open311 discovery: the endpoint and its formats")
def discovery(request: Request, _: Public, fmt: Format) -> Response:
    base = str(request.url_for("discovery", fmt="json")).removesuffix("/discovery.json")
    return answer(
        _format(fmt),
        "discovery",
        {
            "changeset": "2026-12-02T00:00:00Z",
            "contact": "工地联络组 Site liaison team",
            "key_service": "API keys from the service's administrators "
            "(geo-service open311 key create)",
            "endpoints": [
                {
                    "specification": "http://wiki.open311.org/GeoReport_v2",
                    "url": base,
                    "changeset": "2026-12-02T00:00:00Z",
                    "type": "production",
                    "formats": ["text/xml", "application/json"],
                }
            ],
        },
    )


@router.get("/services.{fmt}", summary="Open311 services: the request categories")
def list_services(engine: EngineDep, _: Public, fmt: Format) -> Response:
    fmt = _format(fmt)
    with engine.connect() as conn:
        return answer(fmt, "services", open311.services(conn))


@router.get("/services/{service_code}.{fmt}", summary="Open311 service definition: its attributes")
def service_definition(
    engine: EngineDep,
    _: Public,
    service_code: Annotated[str, Path(max_length=32)],
    fmt: Format,
) -> Response:
    fmt = _format(fmt)
    with engine.connect() as conn:
        return answer(fmt, "service_definition", open311.service_definition(conn, service_code))


@router.get("/requests.{fmt}", summary="Open311 requests: newest first, public fields")
def list_requests(
    engine: EngineDep,
    _: Public,
    fmt: Format,
    service_request_id: Text = None,
    service_code: Text = None,
    start_date: Annotated[str | None, Query(max_length=40)] = None,
    end_date: Annotated[str | None, Query(max_length=40)] = None,
    status: Annotated[str | None, Query(max_length=20, description="open, closed")] = None,
    extensions: Annotated[bool, Query(description="Detailed state and public notes")] = False,
    jurisdiction_id: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    fmt = _format(fmt)
    wanted = open311.RequestQuery(
        ids=open311.split_list(service_request_id),
        service_codes=open311.split_list(service_code),
        start=open311.parse_date("start_date", start_date),
        end=open311.parse_date("end_date", end_date),
        statuses=open311.parse_statuses(status),
        extensions=extensions,
    )
    with engine.connect() as conn:
        return answer(fmt, "service_requests", open311.list_requests(conn, wanted))


@router.get("/requests/{service_request_id}.{fmt}", summary="Open311 request: one")
def get_request(
    engine: EngineDep,
    _: Public,
    service_request_id: Annotated[str, Path(max_length=24)],
    fmt: Format,
    extensions: Annotated[bool, Query(description="Detailed state and public notes")] = False,
    jurisdiction_id: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    fmt = _format(fmt)
    with engine.connect() as conn:
        found = open311.read_request(conn, service_request_id, extensions=extensions)
    return answer(fmt, "service_requests", [found])


@router.get("/tokens/{token}.{fmt}", summary="Open311 token: the request it became")
def get_token(
    engine: EngineDep, _: Public, token: Annotated[str, Path(max_length=24)], fmt: Format
) -> Response:
    """Requests are recorded when posted, so a post's token is its request id already."""
    fmt = _format(fmt)
    with engine.connect() as conn:
        found = open311.read_request(conn, token)
    pair = {"service_request_id": found["service_request_id"], "token": token}
    return answer(fmt, "service_requests", [pair])


@router.get(
    "/servicerequestupdates.{fmt}", summary="Open311 updates: public notes and state changes"
)
def list_updates(
    engine: EngineDep,
    _: Public,
    fmt: Format,
    start_date: Annotated[str | None, Query(max_length=40)] = None,
    end_date: Annotated[str | None, Query(max_length=40)] = None,
    jurisdiction_id: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    fmt = _format(fmt)
    start = open311.parse_date("start_date", start_date)
    end = open311.parse_date("end_date", end_date)
    with engine.connect() as conn:
        return answer(fmt, "service_request_updates", open311.updates(conn, start, end))


# -- posting ------------------------------------------------------------------------------------
Field = Annotated[str | None, Form(max_length=200)]


@router.post(
    "/requests.{fmt}",
    summary="Open311 post: record a request (form-encoded, with api_key)",
    responses={403: {"description": "No api_key, a revoked one, or one not for the site"}},
)
def post_request(
    engine: EngineDep,
    _: Public,
    fmt: Format,
    service_code: Annotated[str | None, Form(max_length=32)] = None,
    api_key: Annotated[str | None, Form(max_length=100)] = None,
    lat: Annotated[float | None, Form(ge=-90, le=90)] = None,
    long: Annotated[float | None, Form(ge=-180, le=180)] = None,
    description: Annotated[str | None, Form(max_length=4000)] = None,
    address_string: Field = None,
    first_name: Annotated[str | None, Form(max_length=30)] = None,
    last_name: Annotated[str | None, Form(max_length=30)] = None,
    phone: Annotated[str | None, Form(max_length=32)] = None,
    email: Field = None,
    device_id: Field = None,
    account_id: Field = None,
    media_url: Field = None,
    jurisdiction_id: Field = None,
    priority: Annotated[str, Form(alias="attribute[priority]", max_length=8)] = "normal",
) -> Response:
    """Email, device and account ids and media URLs are accepted and not kept."""
    fmt = _format(fmt)
    name = " ".join(n for n in (first_name, last_name) if n) or None
    post = open311.Post(service_code, lat, long, description, address_string, name, phone, priority)
    with engine.begin() as conn:
        client = open311.client_for_key(conn, api_key)
        public_id = open311.post_request(conn, client, post)
        notice = open311.read_request(conn, public_id)["service_notice"]
    created = [{"service_request_id": public_id, "token": public_id, "service_notice": notice}]
    return answer(fmt, "service_requests", created, 201)

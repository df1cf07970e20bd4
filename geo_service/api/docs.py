"""``/docs``, ``/redoc`` and ``/openapi.json``: the API described, open to everyone, offline.

Swagger UI and ReDoc load their assets from the ``fastapi-offline`` package, served under
``/static/swagger``, so the documentation works on a network without internet access. The
routes are written here rather than left to the framework so that each declares in its
signature that it is public, as every route of the service declares what it requires.
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse, JSONResponse

import geo_service
from geo_service.api import headers
from geo_service.api.deps import MapSettingsDep, Public
from geo_service.api.pages import picked_language, request_language
from geo_service.settings import MapSettings

ASSETS_URL = "/static/swagger"
ASSETS_DIR = str(resources.files("fastapi_offline") / "static")
OPENAPI_URL = "/openapi.json"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"

router = APIRouter(include_in_schema=False)


def _root(request: Request) -> str:
    """The path a reverse proxy serves the service under ('' when there is none)."""
    return request.scope.get("root_path", "").rstrip("/")


def _asset(request: Request, name: str) -> str:
    return f"{_root(request)}{ASSETS_URL}/{name}"


# What the service is, as the documentation opens with it (``info.description``); the
# English is the package's docstring, which the document carries when no language is asked.
_DESCRIPTIONS = {
    "zh": "工地周边影响服务：每个建设工地影响哪些住户，影响有多大。",
    "en": geo_service.__doc__,
}


@router.get(OPENAPI_URL)
async def openapi(request: Request, _: Public) -> JSONResponse:
    """The OpenAPI document; behind a proxy's root path, that path is its first server.
    With ``?lang=`` (the documentation pages ask so) its description is in that language;
    without, it is the document programs have always read."""
    schema = request.app.openapi()
    root = _root(request)
    if root and root not in {s.get("url") for s in schema.get("servers", [])}:
        schema = {**schema, "servers": [{"url": root}, *schema.get("servers", [])]}
    lang = picked_language(request.query_params.get("lang"))
    if lang is not None:
        schema = {**schema, "info": {**schema["info"], "description": _DESCRIPTIONS[lang]}}
    return JSONResponse(schema)


def _openapi_url(request: Request) -> str:
    """The document as the page's reader reads it: in the page's language."""
    return f"{_root(request)}{OPENAPI_URL}?lang={request_language(request)}"


def _with_policy(page: HTMLResponse, maps: MapSettings) -> HTMLResponse:
    """The page, allowed to run its own start-up script and no other (see ``headers``)."""
    page.headers.update(headers.page_policy(maps, bytes(page.body).decode()))
    return page


# The documentation pages' titles; Swagger UI and ReDoc write their own words in English.
_DOC_TITLES = {"zh": "工地周边影响服务 · 接口文档", "en": "Site-impact service · API documentation"}


def _in_language(request: Request, page: HTMLResponse) -> HTMLResponse:
    """The page in the reader's language (``?lang=``, else the ``lang`` cookie): its
    ``<html lang>``, so the browser and screen readers know, its title, and the document's
    description (``_openapi_url``)."""
    lang = request_language(request)
    html = (
        bytes(page.body)
        .decode()
        .replace("<html>", f'<html lang="{"en" if lang == "en" else "zh-CN"}">', 1)
    )
    return HTMLResponse(html, headers={"Vary": "Cookie"})


def _title(request: Request, tool: str) -> str:
    return f"{_DOC_TITLES[request_language(request)]} ({tool})"


@router.get("/docs")
async def swagger_ui(request: Request, _: Public, maps: MapSettingsDep) -> HTMLResponse:
    page = get_swagger_ui_html(
        openapi_url=_openapi_url(request),
        title=_title(request, "Swagger UI"),
        oauth2_redirect_url=OAUTH2_REDIRECT_URL,
        swagger_js_url=_asset(request, "swagger-ui-bundle.js"),
        swagger_css_url=_asset(request, "swagger-ui.css"),
        swagger_favicon_url=_asset(request, "favicon.png"),
        swagger_ui_parameters=request.app.swagger_ui_parameters,
    )
    return _with_policy(_in_language(request, page), maps)


@router.get(OAUTH2_REDIRECT_URL)
async def swagger_ui_redirect(_: Public, maps: MapSettingsDep) -> HTMLResponse:
    return _with_policy(get_swagger_ui_oauth2_redirect_html(), maps)


@router.get("/redoc")
async def redoc(request: Request, _: Public, maps: MapSettingsDep) -> HTMLResponse:
    page = get_redoc_html(
        openapi_url=_openapi_url(request),
        title=_title(request, "ReDoc"),
        redoc_js_url=_asset(request, "redoc.standalone.js"),
        redoc_favicon_url=_asset(request, "favicon.png"),
        with_google_fonts=False,
    )
    return _with_policy(_in_language(request, page), maps)

"""Errors as pages for people: a browser opening a page gets ``error.html`` in its reader's
language, naming the site by its code, with what to do instead; scripts, GIS tools and the
API keep the JSON error (``geo_service.errors``). No script on the page, so the default
Content-Security-Policy holds."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse

from geo_service.api.pages import request_language, templates

# A status as the page names it; any other gets the general page.
_KINDS = {400: "bad_request", 422: "bad_request", 401: "sign_in", 403: "forbidden"}
_KINDS |= {404: "not_found"}
_KINDS |= {405: "not_found", 503: "unavailable"}


def wants_page(request: Request) -> bool:
    """A GET for a page, as browsers send it (or ``f=html``, the OGC API's way of asking);
    scripts and GIS tools ask for JSON, and keep getting it."""
    if request.method not in ("GET", "HEAD"):
        return False
    accept = request.headers.get("accept", "")
    return "text/html" in accept or request.query_params.get("f") == "html"


def error_page(
    request: Request,
    status: int,
    detail: str,
    *,
    site: str | None = None,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """The page for an error with this status; ``detail`` (the API's words) in small print."""
    lang = request_language(request)
    query = {k: v for k, v in request.query_params.items() if k != "lang"}
    here = request.url.path + (f"?{urlencode(query)}" if query else "")
    switch = urlencode({**query, "lang": "zh" if lang == "en" else "en"})
    context = {
        "lang": lang,
        "status": status,
        "kind": _KINDS.get(status, "other"),
        "site": site,
        "detail": detail,
        "here": here,
        "switch_url": f"{request.url.path}?{switch}",
    }
    response = templates.TemplateResponse(
        request, "error.html", context, status_code=status, headers=headers
    )
    response.headers["Cache-Control"] = "no-store"
    return response

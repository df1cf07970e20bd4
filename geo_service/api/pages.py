"""The HTML pages' one Jinja environment: templates in ``geo_service/templates``, each
extending ``base.html``, autoescaped (``.html``), so no page is written in Python."""

from __future__ import annotations

from importlib import resources
from typing import Any, Literal, get_args

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

Language = Literal["zh", "en"]
# The language a person picked (``?lang=``) is kept in this cookie, so every page after it,
# the maps, /docs and the OGC pages among them, follows without carrying the parameter.
LANG_COOKIE = "lang"
LANG_COOKIE_SECONDS = 365 * 24 * 3600

templates = Jinja2Templates(directory=str(resources.files("geo_service") / "templates"))
# ``tojson`` (the OGC pages' map data) in the order the database wrote it, UTF-8 as the rest
# of the page: escaped Chinese would take twice the bytes.
templates.env.policies["json.dumps_kwargs"] = {"ensure_ascii": False}


def render(name: str, **context: Any) -> str:
    """A page as text, for answers that set their own ETag and 304 (the OGC pages)."""
    return templates.get_template(name).render(**context)


def picked_language(value: str | None) -> Language | None:
    """``value`` if it names a language the pages are written in, else None."""
    return value if value in get_args(Language) else None  # type: ignore[return-value]


def request_language(request: Request) -> Language:
    """The language of a request: ``?lang=``, else the cookie, else Chinese (the users'),
    for the pages and error answers that have no ``Lang`` dependency of their own."""
    return (
        picked_language(request.query_params.get("lang"))
        or picked_language(request.cookies.get(LANG_COOKIE))
        or "zh"
    )


class LanguageCookie:
    """Pure ASGI middleware: a page opened with ``?lang=`` keeps that language in the
    ``lang`` cookie, whichever router (or error handler) wrote the page. Only HTML answers
    set it: a script asking for an English CSV has picked nothing for the person."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        picked = picked_language(connection.query_params.get("lang"))
        if picked is None or connection.cookies.get(LANG_COOKIE) == picked:
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if headers.get("content-type", "").startswith("text/html"):
                    headers.append(
                        "set-cookie",
                        f"{LANG_COOKIE}={picked}; Max-Age={LANG_COOKIE_SECONDS}; Path=/; "
                        "SameSite=Lax",
                    )
            await send(message)

        await self.app(scope, receive, send_with_cookie)

"""The HTML pages' one Jinja environment: templates in ``geo_service/templates``, each
extending ``base.html``, autoescaped (``.html``), so no page is written in Python."""

from __future__ import annotations

from importlib import resources
from typing import Any, Literal, get_args

from fastapi import Request
from fastapi.templating import Jinja2Templates

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

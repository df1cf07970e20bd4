"""The HTML pages' one Jinja environment: templates in ``geo_service/templates``, each
extending ``base.html``, autoescaped (``.html``), so no page is written in Python."""

from __future__ import annotations

from importlib import resources
from typing import Any

from fastapi.templating import Jinja2Templates

templates = Jinja2Templates(directory=str(resources.files("geo_service") / "templates"))
# ``tojson`` (the OGC pages' map data) in the order the database wrote it, UTF-8 as the rest
# of the page: escaped Chinese would take twice the bytes.
templates.env.policies["json.dumps_kwargs"] = {"ensure_ascii": False}


def render(name: str, **context: Any) -> str:
    """A page as text, for answers that set their own ETag and 304 (the OGC pages)."""
    return templates.get_template(name).render(**context)

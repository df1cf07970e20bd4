"""The HTML pages' one Jinja environment: templates in ``geo_service/templates``, each
extending ``base.html``, autoescaped (``.html``), so no page is written in Python."""

from __future__ import annotations

from importlib import resources
from typing import Any

from fastapi.templating import Jinja2Templates

templates = Jinja2Templates(directory=str(resources.files("geo_service") / "templates"))


def render(name: str, **context: Any) -> str:
    """A page as text, for answers that set their own ETag and 304 (the OGC pages)."""
    return templates.get_template(name).render(**context)

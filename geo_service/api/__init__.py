"""The HTTP adapters: one router per resource, thin over SQL that PostgreSQL runs.

Routers answer with bytes that PostgreSQL assembled (GeoJSON included), so Python
moves documents without parsing them.
"""

from __future__ import annotations

from fastapi.responses import Response


class GeoJSONResponse(Response):
    """A GeoJSON document (RFC 7946) passed through as the database wrote it."""

    media_type = "application/geo+json"


__all__ = ["GeoJSONResponse"]

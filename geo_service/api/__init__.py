"""The HTTP adapters: one router per resource, thin over SQL that PostgreSQL runs.

Routers answer with bytes that PostgreSQL assembled (GeoJSON included), so Python
moves documents without parsing them.
"""

from __future__ import annotations

from fastapi.responses import Response

from geo_service.formats import GEOJSON


class GeoJSONResponse(Response):
    """A GeoJSON document (RFC 7946) passed through as the database wrote it."""

    media_type = GEOJSON.media_type


__all__ = ["GeoJSONResponse"]

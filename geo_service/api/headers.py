"""Security headers on every answer: what a browser may load, frame, sniff and cache.

- ``Content-Security-Policy``: scripts, styles, fonts and data from this service only (the
  maps' Leaflet and plugins are vendored), images also from the configured basemaps' tile
  servers, no plugins, no framing by other sites, forms posted here only. Inline scripts are
  still allowed: the maps (folium) and the API docs write them. The map pages (``/maps/``)
  also allow ``eval``: the vendored leaflet-measure compiles its templates at run time.
- ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY`` (for browsers without
  ``frame-ancestors``), ``Referrer-Policy: same-origin`` (a site code in a URL stays here).
- ``Strict-Transport-Security`` outside development, where the service is behind HTTPS.
- ``Cache-Control: no-store`` on every ``/api/`` answer that does not set its own: household
  lists, exports and the audit log carry personal data, which no shared or browser cache
  should keep.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from geo_service.settings import MapSettings, ServerSettings


def tile_origins(maps: MapSettings) -> list[str]:
    """The origins of the basemaps' tiles (``t{s}.example.cn`` becomes ``*.example.cn``)."""
    urls = [maps.osm_tiles, maps.amap_tiles]
    if maps.tianditu_key.get_secret_value():
        urls += [maps.tianditu_tiles, maps.tianditu_labels]
    origins = []
    for url in urls:
        parts = urlsplit(url)
        labels = parts.hostname.split(".") if parts.hostname else []
        host = ".".join("*" if "{" in label else label for label in labels)
        if host and f"{parts.scheme}://{host}" not in origins:
            origins.append(f"{parts.scheme}://{host}")
    return origins


def policy(maps: MapSettings, *, map_page: bool = False) -> str:
    images = " ".join(["'self'", "data:", "blob:", *tile_origins(maps)])
    scripts = "'self' 'unsafe-inline'" + (" 'unsafe-eval'" if map_page else "")
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src {scripts}",
            "style-src 'self' 'unsafe-inline'",
            f"img-src {images}",
            "font-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


class SecurityHeaders:
    """Pure ASGI middleware: adds the headers above to every HTTP answer."""

    def __init__(self, app: ASGIApp, server: ServerSettings, maps: MapSettings) -> None:
        self.app = app
        self.map_policy = policy(maps, map_page=True)
        self.headers = {
            "Content-Security-Policy": policy(maps),
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "same-origin",
        }
        if server.environment != "development":
            self.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = scope["path"].startswith("/api/")
        map_page = scope["path"].startswith("/maps/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if map_page:
                    headers.setdefault("Content-Security-Policy", self.map_policy)
                for name, value in self.headers.items():
                    headers.setdefault(name, value)
                if api:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)

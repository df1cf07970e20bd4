"""Security headers on every answer: what a browser may load, frame, sniff and cache.

- ``Content-Security-Policy``: scripts, styles, fonts and data from this service only (the
  maps' Leaflet and plugins are vendored), images also from the configured basemaps' tile
  servers, no plugins, no framing by other sites, forms posted here only. No inline script
  runs, except on the two kinds of page that cannot do without: the maps (folium writes
  each map as inline script) and the API docs (Swagger UI and ReDoc start from one). Those
  pages allow exactly the scripts they were rendered with, by hash (``page_policy``); a
  script that markup injected into them is not among the hashes and does not run, nor does
  any ``on...=`` handler. Hashes rather than nonces: a hash is the same for the same page,
  so the pages keep their caching, and a page answered with 304 still matches its policy.
  The map pages also allow ``eval``: the vendored leaflet-measure compiles its templates at
  run time. Inline styles stay allowed (folium and Leaflet position everything with them).
- ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY`` (for browsers without
  ``frame-ancestors``), ``Referrer-Policy: same-origin`` (a site code in a URL stays here).
- ``Strict-Transport-Security`` outside development, where the service is behind HTTPS.
- ``Cache-Control: no-store`` on every ``/api/`` answer that does not set its own: household
  lists, exports and the audit log carry personal data, which no shared or browser cache
  should keep.
"""

from __future__ import annotations

import base64
import hashlib
import re
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


# An inline script element: its attributes (without ``src``) and its text, as a browser reads
# it (the text ends at the first ``</script``).
_INLINE_SCRIPT = re.compile(r"<script\b((?:(?!\bsrc\s*=)[^>])*)>(.*?)</script", re.S | re.I)


def script_hashes(html: str) -> list[str]:
    """CSP sources for the inline scripts of a page the service rendered itself."""
    found = []
    for _, text in _INLINE_SCRIPT.findall(html):
        digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
        if f"'sha256-{digest}'" not in found:
            found.append(f"'sha256-{digest}'")
    return found


def page_policy(maps: MapSettings, html: str, *, map_page: bool = False) -> dict[str, str]:
    """The headers of a page that allow its own inline scripts (and ``eval`` on a map)."""
    return {"Content-Security-Policy": policy(maps, scripts=script_hashes(html), eval_=map_page)}


def policy(maps: MapSettings, *, scripts: list[str] | None = None, eval_: bool = False) -> str:
    images = " ".join(["'self'", "data:", "blob:", *tile_origins(maps)])
    scripts = " ".join(["'self'", *(scripts or []), *(["'unsafe-eval'"] if eval_ else [])])
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
    """Pure ASGI middleware: adds the headers above to every HTTP answer; a page that set
    its own policy (``page_policy``) keeps it."""

    def __init__(self, app: ASGIApp, server: ServerSettings, maps: MapSettings) -> None:
        self.app = app
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

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers.setdefault(name, value)
                if api:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)

"""Which host names the service answers to, and the public address its links are built on.

Links in answers (OGC ``self``/``next``, tile URLs, TileJSON) are built from the request's
address. A Host header an attacker chose would otherwise go into them, and into any cache
in front. Two settings close that:

- ``GEO_SERVICE_PUBLIC_URL`` (e.g. ``https://gis.example.cn``): every link is built on it,
  whatever the request said;
- ``GEO_SERVICE_ALLOWED_HOSTS``: any other Host gets 400 (Starlette's
  ``TrustedHostMiddleware``). By default the loopback names only, plus the public URL's.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from geo_service.settings import ServerSettings


def allowed_hosts(server: ServerSettings) -> list[str]:
    names = [h.strip() for h in server.allowed_hosts.split(",") if h.strip()]
    public = urlsplit(server.public_url).hostname
    return [*names, public] if public and public not in names else names


class PublicURL:
    """Pure ASGI middleware: the request is addressed as the public URL, so every link
    built from it (``request.url``, ``request.base_url``) starts with that URL."""

    def __init__(self, app: ASGIApp, public_url: str) -> None:
        parts = urlsplit(public_url)
        self.app = app
        self.scheme = parts.scheme
        self.host = parts.netloc.encode()
        self.root_path = parts.path.rstrip("/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = [(k, v) for k, v in scope["headers"] if k != b"host"]
            scope = {
                **scope,
                "scheme": self.scheme,
                "headers": [(b"host", self.host), *headers],
                "root_path": self.root_path,
            }
        await self.app(scope, receive, send)

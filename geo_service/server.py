"""The HTTP protocol ``geo-service serve`` runs: uvicorn's, with a deadline for headers.

uvicorn closes an idle keep-alive connection after ``timeout_keep_alive``, but a connection
that never finishes its request headers (slowloris), or never sends a byte, is held for
ever: 1,000 such connections stayed open for 40 s and longer, each a file descriptor and a
slot of ``limit_concurrency``. Here every request's headers must be complete within
``GEO_SERVICE_HEADER_TIMEOUT_SECONDS`` (10 s) of the connection opening or of the previous
response; otherwise the connection gets ``408 Request Timeout`` and is closed, as nginx
does with ``client_header_timeout``. Behind a reverse proxy the proxy's own timeouts take
over (README, *Running in production*).

``run`` is the one way the service is served: ``geo-service serve`` and the test and
benchmark servers (``geo_service.devserver``, which runs ``python -m geo_service.server``).
"""

from __future__ import annotations

import asyncio
import sys
from functools import cache

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from geo_service.settings import ServerSettings

_TIMED_OUT = b"HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"


@cache
def _header_timeout() -> float:
    """Read once per process: uvicorn imports this class by name in every worker."""
    return ServerSettings().header_timeout_seconds


class HeaderDeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, closing connections whose headers come too slowly."""

    _deadline: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(_header_timeout(), self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.write(_TIMED_OUT)
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        waiting = not self.pipeline  # a pipelined request has its headers in already
        super().on_response_complete()
        if waiting and not self.transport.is_closing():
            self._arm()  # the next request on this connection has as long

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def run(settings: ServerSettings, *, quiet: bool = False) -> None:
    """Serve the app with these settings (``quiet``: warnings only, no access log)."""
    uvicorn.run(
        "geo_service.main:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips,
        http="geo_service.server:HeaderDeadlineProtocol",
        timeout_keep_alive=settings.keep_alive_seconds,
        limit_concurrency=settings.max_connections,
        log_level="warning" if quiet else "info",
        access_log=not quiet,
    )


if __name__ == "__main__":
    run(ServerSettings(), quiet="--quiet" in sys.argv)

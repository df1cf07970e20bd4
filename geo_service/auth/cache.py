"""Remembering credentials that worked, for a few seconds, in this process.

A map asks for dozens of tiles at once, and an Argon2 check on each would cost more than
the tile. The window is ``AuthSettings.credential_cache_seconds`` (10 s): a revoked token,
a deactivated user or a changed role takes effect within those seconds (at once in the
process that made the change, which clears the cache).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import replace

from geo_service.access import Principal


class PrincipalCache:
    """Principals of credentials that worked, kept for ``seconds`` by a hash of the credential.

    Only successes are kept: a wrong credential is checked, throttled and audited every
    time. ``clear`` is called by every change to accounts made in this process; other
    processes see a change within ``seconds``. Zero seconds turns the cache off.
    """

    MAX_ENTRIES = 10_000

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._entries: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(kind: str, *parts: str) -> str:
        return hashlib.sha256("\0".join((kind, *parts)).encode()).hexdigest()

    def peek(self, key: str, client: str | None) -> Principal | None:
        """The remembered principal (from ``client`` this time), or None: no database."""
        hit = self._entries.get(key) if self.seconds > 0 else None
        if hit is not None and hit[0] > self._clock():
            return replace(hit[1], client=client)
        return None

    def get(
        self, key: str, client: str | None, check: Callable[[], Principal | None]
    ) -> Principal | None:
        """The remembered principal (from ``client`` this time), else ``check()``'s."""
        if self.seconds <= 0:
            return check()
        remembered = self.peek(key, client)
        if remembered is not None:
            return remembered
        now = self._clock()
        principal = check()
        if principal is None:
            return None
        with self._lock:
            if len(self._entries) >= self.MAX_ENTRIES:
                self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
                if len(self._entries) >= self.MAX_ENTRIES:
                    self._entries.clear()
            self._entries[key] = (now + self.seconds, principal)
        return principal

    def forget(self, key: str) -> None:
        """Drop one credential (a session that just ended)."""
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

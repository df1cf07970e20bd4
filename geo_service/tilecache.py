"""Vector tiles kept in memory until their data changes.

A map asks for the same tiles again and again (every planner opening the district, every
zoom back out), and a tile of the same rows is the same bytes. Each server process keeps
the tiles it built, least recently used out first, within ``ServerSettings.tile_cache_mb``.

What makes this safe is knowing when the data changes: every statement that writes a table
the tiles read sends ``NOTIFY geo_service_data`` (``geo_service.schema.sync_triggers``),
which PostgreSQL delivers when the writing transaction commits. A thread per process
LISTENs and, on each notification, starts a new generation: every tile built before it is
dropped. While that
thread is not connected (the database restarting, say) nothing is cached or served from
the cache, because a change could go unheard.

A tile is stored under the generation read *before* its query started, and only if that
is still the current one; a tile whose rows changed while it was being built is therefore
never served from the cache.
"""

from __future__ import annotations

import logging
import select
import threading
from collections import OrderedDict
from collections.abc import Hashable

import psycopg2
from sqlalchemy.engine import make_url

from geo_service.schema import NOTIFY_CHANNEL

LOG = logging.getLogger(__name__)
CHANNEL = NOTIFY_CHANNEL


class TileCache:
    """Tiles by (generation, key), least recently used out first, within ``max_bytes``."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.generation = 0
        self.listening = False
        self.hits = self.misses = 0
        self._entries: OrderedDict[tuple[int, Hashable], bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        return self.max_bytes > 0 and self.listening

    def get(self, key: Hashable) -> tuple[int, bytes | None]:
        """The current generation, and the tile if it is cached in it."""
        with self._lock:
            generation = self.generation
            if not self.active:
                return generation, None
            data = self._entries.get((generation, key))
            if data is None:
                self.misses += 1
            else:
                self.hits += 1
                self._entries.move_to_end((generation, key))
            return generation, data

    def put(self, generation: int, key: Hashable, data: bytes) -> None:
        """Keep a tile built from the data of ``generation`` (dropped if that has passed)."""
        if len(data) > self.max_bytes:
            return
        with self._lock:
            if not self.active or generation != self.generation:
                return
            if (generation, key) in self._entries:
                return
            self._entries[(generation, key)] = data
            self._bytes += len(data)
            while self._bytes > self.max_bytes:
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= len(dropped)

    def changed(self) -> None:
        """The data changed: a new generation, nothing cached."""
        self.set_listening(self.listening)

    def set_listening(self, listening: bool) -> None:
        """Connected or cut off: either way, changes may have gone unheard; start afresh."""
        with self._lock:
            self.listening = listening
            self.generation += 1
            self._entries.clear()
            self._bytes = 0

    @property
    def size_bytes(self) -> int:
        return self._bytes

    @property
    def tiles(self) -> int:
        return len(self._entries)


class ChangeListener(threading.Thread):
    """LISTENs on ``CHANNEL`` and tells the cache about each change; reconnects when cut."""

    def __init__(self, database_url: str, cache: TileCache, poll_seconds: float = 5.0) -> None:
        super().__init__(name="tile-cache-listener", daemon=True)
        url = make_url(database_url).set(drivername="postgresql")
        self._dsn = url.render_as_string(hide_password=False)
        self._cache = cache
        self._poll = poll_seconds
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        wait = 0.5
        while not self._stopping.is_set():
            try:
                self._listen()
                wait = 0.5
            except (psycopg2.Error, OSError) as exc:
                LOG.warning("tile cache off until the database answers again: %s", exc)
            self._cache.set_listening(False)
            self._stopping.wait(wait)
            wait = min(wait * 2, 10.0)

    def _listen(self) -> None:
        conn = psycopg2.connect(self._dsn, connect_timeout=5, application_name="tile-cache")
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f"LISTEN {CHANNEL}")
            self._cache.set_listening(True)
            while not self._stopping.is_set():
                readable, _, _ = select.select([conn], [], [], self._poll)
                if readable:
                    conn.poll()
                else:
                    with conn.cursor() as cur:  # notice a dead connection between changes
                        cur.execute("SELECT 1")
                if conn.notifies:
                    conn.notifies.clear()
                    self._cache.changed()
        finally:
            conn.close()

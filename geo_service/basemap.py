"""A basemap the service serves itself, from one MBTiles or PMTiles package on disk.

City intranets have no road to Tianditu, AMap or OpenStreetMap; the surveying bureau hands
out its basemap as a tile package instead. ``open_package`` reads the package's metadata
once (format, bounds, centre, zooms, attribution, vector layers), refuses a file it cannot
serve with a sentence saying why, and keeps the file open read-only for ``tile``.

PMTiles is read with ``pmtiles`` (Protomaps' own reader, memory-mapped). MBTiles is read with
Python's ``sqlite3``: an MBTiles file is an SQLite database with two tables, and no
maintained package reads one (``pmtiles.convert`` only converts whole files, pymbtiles
and mbutil have had no release since 2019 and 2017), so the reader is the one query of the
MBTiles 1.3 spec. Its rows are TMS: row 0 is the south edge, so XYZ row y is stored as
``2**z - 1 - y``.

A package does not change under a running service: its version (``mtime`` and size, read
at start) names every tile's ETag and the maps' tile URLs, so browsers may keep tiles for
good; a new file takes effect at the next start.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pmtiles.reader import MmapSource, Reader
from pmtiles.tile import Compression, MagicNumberNotFound, SpecVersionUnsupported, TileType

from geo_service.errors import InvalidBasemap
from geo_service.tilecache import TileCache

# Extension of the tile URL -> media type; pbf is Mapbox Vector Tiles.
MEDIA_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "webp": "image/webp",
    "pbf": "application/vnd.mapbox-vector-tile",
}
_MBTILES_FORMATS = {"png": "png", "jpg": "jpg", "jpeg": "jpg", "webp": "webp", "pbf": "pbf"}
_PMTILES_FORMATS = {
    TileType.PNG: "png",
    TileType.JPEG: "jpg",
    TileType.WEBP: "webp",
    TileType.MVT: "pbf",
}
WORLD = (-180.0, -85.0511287798, 180.0, 85.0511287798)
MAX_ZOOM = 24  # deeper than any basemap package; a tile request past it is refused


@dataclass(frozen=True)
class PackageInfo:
    """What a map needs to know of the package, read once from its metadata."""

    name: str
    format: str  # a key of MEDIA_TYPES
    bounds: tuple[float, float, float, float]  # west, south, east, north (degrees)
    min_zoom: int
    max_zoom: int
    attribution: str  # plain text: markup in the file's metadata is dropped
    version: str  # changes whenever the file does (its mtime and size)

    @property
    def vector(self) -> bool:
        return self.format == "pbf"

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.format]


class TilePackage(Protocol):
    info: PackageInfo

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        """The stored bytes of XYZ tile z/x/y (gzip-compressed for most pbf), or None."""
        ...

    def close(self) -> None: ...


def open_package(path: Path) -> TilePackage:
    """The package at ``path``, by its content (not its name); InvalidBasemap if it is
    missing, unreadable, of another kind or of a tile format the maps cannot draw."""
    try:
        with path.open("rb") as f:
            magic = f.read(16)
    except OSError as exc:
        raise InvalidBasemap(
            f"GEO_SERVICE_MAP_BASEMAP_FILE {path}: cannot be read ({exc.strerror})"
        ) from None
    if magic.startswith(b"PMTiles"):
        return PMTilesPackage(path)
    if magic.startswith(b"SQLite format 3\x00"):
        return MBTilesPackage(path)
    raise InvalidBasemap(
        f"GEO_SERVICE_MAP_BASEMAP_FILE {path}: neither an MBTiles (SQLite) nor a PMTiles file"
    )


def _version(path: Path) -> str:
    stat = path.stat()
    key = f"{path.resolve()}:{stat.st_mtime_ns}:{stat.st_size}".encode()
    return hashlib.blake2b(key, digest_size=8).hexdigest()


def _plain(text: str) -> str:
    """Attribution as text: the map shows it as such, so a file cannot put markup there."""
    return re.sub(r"<[^>]*>", "", text).strip()


def _refuse(path: Path, problem: str) -> InvalidBasemap:
    return InvalidBasemap(f"GEO_SERVICE_MAP_BASEMAP_FILE {path}: {problem}")


def _bounds(path: Path, values: list[float]) -> tuple[float, float, float, float]:
    if len(values) != 4:
        raise _refuse(path, f"bounds {values} are not west,south,east,north")
    west, south, east, north = values
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise _refuse(path, f"bounds {values} are not west,south,east,north in degrees")
    return max(west, WORLD[0]), max(south, WORLD[1]), min(east, WORLD[2]), min(north, WORLD[3])


def _zooms(path: Path, low: int, high: int) -> tuple[int, int]:
    if not 0 <= low <= high <= MAX_ZOOM:
        raise _refuse(path, f"zoom levels {low}..{high} are not within 0..{MAX_ZOOM}")
    return low, high


class MBTilesPackage:
    """An MBTiles file, opened read-only; one connection shared under a lock (a tile is one
    indexed lookup, well under a millisecond)."""

    def __init__(self, path: Path) -> None:
        try:
            self._db = sqlite3.connect(
                f"file:{path.resolve()}?mode=ro", uri=True, check_same_thread=False
            )
            meta = dict(self._db.execute("SELECT name, value FROM metadata").fetchall())
            self._db.execute("SELECT 1 FROM tiles LIMIT 1").fetchall()
        except sqlite3.Error as exc:
            raise _refuse(path, f"not an MBTiles file ({exc})") from None
        self._lock = threading.Lock()
        self.info = self._info(path, meta)

    def _info(self, path: Path, meta: dict[str, str]) -> PackageInfo:
        fmt = _MBTILES_FORMATS.get(str(meta.get("format", "")).lower())
        if fmt is None:
            raise _refuse(
                path,
                f"tile format {meta.get('format')!r} (metadata 'format') is not one of "
                "png, jpg, webp, pbf",
            )
        try:
            bounds = [float(v) for v in meta["bounds"].split(",")] if "bounds" in meta else WORLD
            if "minzoom" in meta and "maxzoom" in meta:
                low, high = int(meta["minzoom"]), int(meta["maxzoom"])
            else:  # optional in the spec; a scan of the tiles' index then
                low, high = self._db.execute(
                    "SELECT min(zoom_level), max(zoom_level) FROM tiles"
                ).fetchone()
                low, high = int(meta.get("minzoom", low or 0)), int(meta.get("maxzoom", high or 0))
        except ValueError as exc:
            raise _refuse(path, f"unreadable metadata ({exc})") from None
        low, high = _zooms(path, low, high)
        return PackageInfo(
            name=meta.get("name") or path.stem,
            format=fmt,
            bounds=_bounds(path, list(bounds)),
            min_zoom=low,
            max_zoom=high,
            attribution=_plain(meta.get("attribution", "")),
            version=_version(path),
        )

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        with self._lock:
            row = self._db.execute(
                "SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? "
                "AND tile_row = ?",
                (z, x, (1 << z) - 1 - y),
            ).fetchone()
        return bytes(row[0]) if row else None

    def close(self) -> None:
        self._db.close()


class PMTilesPackage:
    """A PMTiles v3 file, memory-mapped and read with Protomaps' ``pmtiles`` reader."""

    def __init__(self, path: Path) -> None:
        self._file = path.open("rb")
        try:
            self._reader = Reader(MmapSource(self._file))
            header = self._reader.header()
            meta = self._reader.metadata()
        except (MagicNumberNotFound, SpecVersionUnsupported, ValueError, OSError) as exc:
            self._file.close()
            raise _refuse(path, f"not a PMTiles v3 file ({type(exc).__name__})") from None
        self.info = self._info(path, header, meta)

    def _info(self, path: Path, header: dict, meta: dict) -> PackageInfo:
        fmt = _PMTILES_FORMATS.get(header["tile_type"])
        if fmt is None:
            raise _refuse(
                path, f"tile type {header['tile_type'].name} is not one of png, jpg, webp, mvt"
            )
        if header["tile_compression"] not in (Compression.NONE, Compression.GZIP):
            raise _refuse(
                path, f"tiles compressed with {header['tile_compression'].name}: only gzip"
            )
        bounds = [header[k] / 1e7 for k in ("min_lon_e7", "min_lat_e7", "max_lon_e7", "max_lat_e7")]
        low, high = _zooms(path, header["min_zoom"], header["max_zoom"])
        return PackageInfo(
            name=str(meta.get("name") or path.stem),
            format=fmt,
            bounds=_bounds(path, bounds),
            min_zoom=low,
            max_zoom=high,
            attribution=_plain(str(meta.get("attribution", ""))),
            version=_version(path),
        )

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        data = self._reader.get(z, x, y)
        return bytes(data) if data else None

    def close(self) -> None:
        self._file.close()


class CachedPackage:
    """A package whose tiles, once read, stay in memory (``TileCache``: least recently used
    out first, within ``max_bytes``). Nothing ever invalidates them: the file does not change
    under a running service.

    Worth it for PMTiles: ``pmtiles.Reader.get`` parses the header and a directory on every
    call, 0.19 ms a tile in a 128-tile file (more in a city's), against 6 us for an MBTiles
    lookup and 1-2 us for a kept tile (this machine).
    """

    def __init__(self, package: TilePackage, max_bytes: int) -> None:
        self.info = package.info
        self._package = package
        self._cache = TileCache(max_bytes)
        self._cache.set_listening(True)  # no change to hear, so always valid

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        generation, data = self._cache.get((z, x, y))
        if data is None:
            data = self._package.tile(z, x, y)
            if data is not None:
                self._cache.put(generation, (z, x, y), data)
        return data

    def close(self) -> None:
        self._package.close()


def served_package(path: Path | None, cache_mb: int) -> TilePackage | None:
    """The configured package as the service serves it (None when there is none)."""
    if path is None:
        return None
    return CachedPackage(open_package(path), cache_mb * 2**20)

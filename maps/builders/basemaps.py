"""The basemaps a map may be drawn on: the service's own (``local``, from the package that
``GEO_SERVICE_MAP_BASEMAP_FILE`` names), none, OpenStreetMap, Tianditu, AMap (Gaode).

The local one is the default whenever a package is configured: its tiles come from the
service (``/maps/basemap/...``), so a map on a closed network still has streets under it.
AMap's tiles are in GCJ-02: ``Basemap.gcj02`` tells maps.js to shift the overlays for
display only (``maps.gcj02``); coordinates are never stored in GCJ-02.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from geo_service.basemap import PackageInfo
from geo_service.errors import InvalidBasemap
from geo_service.settings import MapSettings

NAMES = ("local", "none", "osm", "tianditu", "amap")
LOCAL_TILES = "/maps/basemap/{z}/{x}/{y}"


@dataclass(frozen=True)
class Basemap:
    name: str
    tiles: tuple[str, ...]
    attribution: str  # HTML, as Leaflet shows it
    subdomains: str = ""
    gcj02: bool = False
    min_zoom: int = 0
    max_native_zoom: int | None = None  # past it Leaflet enlarges the deepest tiles
    bounds: tuple[float, float, float, float] | None = None  # west, south, east, north
    vector: bool = False  # Mapbox Vector Tiles, drawn by maps.js in plain greys


def local_basemap(info: PackageInfo) -> Basemap:
    """The package's tiles at the service's URL; ``v`` names the file's version, so a
    browser keeps them until the file changes (``geo_service.api.maps.basemap_tile``)."""
    return Basemap(
        "local",
        (f"{LOCAL_TILES}.{info.format}?v={info.version}",),
        escape(info.attribution),
        min_zoom=info.min_zoom,
        max_native_zoom=info.max_zoom,
        bounds=info.bounds,
        vector=info.vector,
    )


def basemap(
    name: str | None, settings: MapSettings, local: PackageInfo | None = None
) -> Basemap | None:
    """The configured basemap by name; None for none. ``local`` describes the package the
    service serves, if any. Unknown names, or ones the settings cannot serve, raise
    ValueError."""
    name = name or settings.default_basemap
    if name == "none":
        return None
    if name == "local":
        if local is None:
            raise ValueError("the local basemap needs GEO_SERVICE_MAP_BASEMAP_FILE")
        return local_basemap(local)
    if name == "osm":
        return Basemap(name, (settings.osm_tiles,), "© OpenStreetMap contributors", "abc")
    if name == "tianditu":
        key = settings.tianditu_key.get_secret_value()
        if not key:
            raise ValueError("the Tianditu basemap needs GEO_SERVICE_MAP_TIANDITU_KEY")
        tiles = (settings.tianditu_tiles, settings.tianditu_labels)
        return Basemap(name, tuple(t.replace("{key}", key) for t in tiles), "© 天地图", "01234567")
    if name == "amap":
        return Basemap(name, (settings.amap_tiles,), "© 高德地图 AutoNavi", "1234", True)
    raise ValueError(f"unknown basemap {name!r}; basemaps are: {', '.join(NAMES)}")


def check_default(settings: MapSettings, local: PackageInfo | None) -> None:
    """Refuse, when the service starts, a default basemap it cannot draw (a typo, Tianditu
    without a key, ``local`` without a file): otherwise every map would answer 400."""
    try:
        basemap(None, settings, local)
    except ValueError as exc:
        raise InvalidBasemap(f"GEO_SERVICE_MAP_BASEMAP={settings.default_basemap}: {exc}") from None

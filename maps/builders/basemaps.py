"""The basemaps a map may be drawn on: none, OpenStreetMap, Tianditu, AMap (Gaode).

AMap's tiles are in GCJ-02: ``Basemap.gcj02`` tells maps.js to shift the overlays for
display only (``maps.gcj02``); coordinates are never stored in GCJ-02.
"""

from __future__ import annotations

from dataclasses import dataclass

from geo_service.settings import MapSettings


@dataclass(frozen=True)
class Basemap:
    name: str
    tiles: tuple[str, ...]
    attribution: str
    subdomains: str
    gcj02: bool


def basemap(name: str | None, settings: MapSettings) -> Basemap | None:
    """The configured basemap by name; None for none. Unknown names raise ValueError."""
    name = name or settings.basemap
    if name == "none":
        return None
    if name == "osm":
        return Basemap(name, (settings.osm_tiles,), "© OpenStreetMap contributors", "abc", False)
    if name == "tianditu":
        key = settings.tianditu_key.get_secret_value()
        if not key:
            raise ValueError("the Tianditu basemap needs GEO_SERVICE_MAP_TIANDITU_KEY")
        tiles = (settings.tianditu_tiles, settings.tianditu_labels)
        return Basemap(
            name, tuple(t.replace("{key}", key) for t in tiles), "© 天地图", "01234567", False
        )
    if name == "amap":
        return Basemap(name, (settings.amap_tiles,), "© 高德地图 AutoNavi", "1234", True)
    raise ValueError(f"unknown basemap {name!r}; basemaps are: none, osm, tianditu, amap")

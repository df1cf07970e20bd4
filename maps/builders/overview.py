"""The overview: the whole city, most of it from vector tiles so the page stays small.

Only the sites are embedded (a city has hundreds, not millions); parcels, communities,
buildings, impact zones and households come from ``/ogc/.../tiles/WebMercatorQuad/...``.
"""

from __future__ import annotations

from collections.abc import Collection

import folium

from geo_service import noise
from maps import labels
from maps.builders.basemaps import Basemap
from maps.builders.frame import embedded_monitors, embedded_sites, finish, new_map, tiled
from maps.builders.popups import community_link, site_link
from maps.data import Box


def overview_map(
    sites_geojson: str,
    bbox: Box | None,
    lang: str,
    base: Basemap | None = None,
    households: bool = True,
    site_maps: Collection[str] | None = None,
    community_maps: bool = True,
    monitors: str | None = None,
) -> folium.Map:
    """Sites embedded; parcels, communities, buildings, zones and households from tiles.

    Popups link to the maps the reader may open: the sites in ``site_maps`` (None: every
    site), and each community's map when ``community_maps``."""
    m = new_map(labels.text("overview", lang), bbox, lang, base)
    parcels = tiled("parcels", lang)
    communities = (
        tiled("communities", lang, link=community_link(lang))
        if community_maps
        else tiled("communities", lang)
    )
    buildings = tiled("buildings", lang, minZoom=14)
    people = [communities, buildings]
    zones = tiled("impact_zones", lang)
    sites = embedded_sites(sites_geojson, lang, link=site_link(lang, site_maps))
    points = []
    if households:
        points.append(
            tiled(
                "households",
                lang,
                ("building", "unit_label", "residents", "count"),
                name=labels.text("households_tiles", lang),
                show=False,
            )
        )
    shown = [embedded_monitors(monitors, lang)] if monitors is not None else []
    # Drawn bottom to top; a click lists what lies under it topmost first (maps.js identify).
    return finish(
        m,
        lang,
        (parcels, communities, zones, buildings, *points, sites, *shown),
        {
            "group_planning": [parcels],
            "group_sites": [zones, sites, *shown],
            "group_people": [*people, *points],
        },
        (
            "status",
            *(["monitor_state"] if shown else []),
            "kind",
            "default_bands",
            "noise",
            "land_use",
        ),
        (sites, "sites"),
        noise.model()["default_bands_m"],
    )

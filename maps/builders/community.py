"""One community's map: its outline, the sites that affect it and its buildings, embedded.

Buildings show how many of their households are affected and the worst exceedance, never
who lives there.
"""

from __future__ import annotations

import json

import folium

from maps.builders.basemaps import Basemap
from maps.builders.frame import embedded, embedded_sites, finish, new_map
from maps.builders.popups import site_link
from maps.data import CommunityBundle

_BUILDING_FACTS = ("address", "floors", "households_count", "affected", "max_exceed")


def community_map(bundle: CommunityBundle, lang: str, base: Basemap | None = None) -> folium.Map:
    """One community: its outline, the sites affecting it, its buildings by affected count."""
    m = new_map(bundle.name, bundle.bbox, lang, base)
    community = embedded("communities", bundle.community, lang)
    buildings = embedded("buildings", bundle.buildings, lang, _BUILDING_FACTS)
    # The bands cover the whole community: drawn beneath the buildings and not clickable, so
    # a click on a building (or between them) never opens a band; the legend names them.
    zones = embedded("impact_zones", bundle.zones, lang, interactive=False)
    sites = embedded_sites(bundle.sites, lang, link=site_link(lang))
    return finish(
        m,
        lang,
        (zones, community, buildings, sites),
        {"group_sites": [zones, sites], "group_people": [community, buildings]},
        ("buildings", "bands", "status"),
        (community, "communities"),
        _bands(bundle.zones),
    )


def _bands(zones_geojson: str) -> list[float]:
    """The rings' outer edges, from the first affecting site by code (sites may set their
    own; the popups of the sites say theirs)."""
    rings: dict[str, dict[int, float]] = {}
    for f in json.loads(zones_geojson)["features"]:
        p = f["properties"]
        rings.setdefault(p["site_code"], {})[p["band"]] = p["outer_m"]
    if not rings:
        return []
    first = rings[min(rings)]
    return [first[band] for band in sorted(first)]

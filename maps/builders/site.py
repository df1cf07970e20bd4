"""One site's map: everything it affects, embedded, so the page also works as one file.

Its parcels, band rings and noise contours, the households it affects (coloured by how far
their predicted level exceeds the limit) and their communities, its monitors in their
states; the site's popup links to its household list as a spreadsheet, a monitor's to its
page.
"""

from __future__ import annotations

import folium

from maps import labels
from maps.builders import printed
from maps.builders.basemaps import Basemap
from maps.builders.frame import embedded, embedded_monitors, embedded_sites, finish, new_map
from maps.builders.popups import HOUSEHOLD_FACTS
from maps.data import SiteBundle

_COMMUNITY_FACTS = ("name", "street_office", "acoustic_class", "affected", "residents")


def site_map(bundle: SiteBundle, lang: str, base: Basemap | None = None) -> folium.Map:
    """One site: parcels, band rings and contours, affected households and communities."""
    m = new_map(f"{bundle.name}（{bundle.code}）", bundle.bbox, lang, base)
    export = {
        "href": f"/api/sites/{bundle.code}/households?format=xlsx&lang={lang}",
        "text": labels.text("export_households", lang),
    }
    parcels = embedded("parcels", bundle.parcels, lang)
    communities = embedded("communities", bundle.communities, lang, _COMMUNITY_FACTS)
    zones = embedded("impact_zones", bundle.zones, lang)
    site = embedded_sites(bundle.site, lang, exportLink=export)
    households = embedded(
        "households",
        bundle.households,
        lang,
        HOUSEHOLD_FACTS,
        name=labels.text("site_households", lang),
        style="exposure",
    )
    monitors = embedded_monitors(bundle.monitors, lang)
    m.get_root().html.add_child(printed.summary(bundle.summary, bundle.bands_m, lang))
    return finish(
        m,
        lang,
        (parcels, communities, zones, site, households, monitors),
        {
            "group_planning": [parcels],
            "group_sites": [zones, site, monitors],
            "group_people": [communities, households],
        },
        ("exposure", "monitor_state", "bands", "noise", "status", "land_use"),
        (site, "sites"),
        bundle.bands_m,
    )

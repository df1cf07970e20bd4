"""What every map is drawn in and with: the page's frame, overlays of a layer, the switcher.

``new_map`` sets the title, the basemap, maps.js's configuration, the fitted view and the
tools (fullscreen, measure, pointer position); ``tiled`` and ``embedded`` make a layer's
overlay from its declaration; ``finish`` adds the overlays, the layer switcher by group and
the search, legend and minimap.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import folium
from branca.element import Element
from folium.map import FitBounds, Layer
from folium.plugins import Fullscreen, GroupedLayerControl, MeasureControl, MousePosition

from geo_service.landuse import land_use_classes
from layers import COLLECTIONS
from maps import labels
from maps.builders.basemaps import Basemap
from maps.builders.elements import (
    Configure,
    Controls,
    DataOverlay,
    TileOverlay,
    VectorBasemap,
    collection_tiles,
)
from maps.builders.legend import EXPOSURE_STEPS, legend_html
from maps.builders.popups import SITE_FACTS, layer_spec, monitor_link
from maps.builders.printed import print_marks
from maps.data import Box

_HANGZHOU = (120.10, 30.20, 120.25, 30.32)  # where a map of no data opens


def config(lang: str, base: Basemap | None, bbox: Box | None = None) -> dict:
    """maps.js's configuration: labels, choices, colours, and whether to shift to GCJ-02."""
    sites, zones = COLLECTIONS["sites"].style, COLLECTIONS["impact_zones"].style
    return {
        "lang": lang,
        "labels": labels.all_text(lang),
        "choices": {**labels.choices(lang), "monitor_state": labels.monitor_states(lang)},
        "landUse": {code: c.color for code, c in land_use_classes().items()},
        "siteStatus": sites["status_colors"],
        "monitorStates": COLLECTIONS["monitors"].style["state_colors"],
        "siteKindDash": sites["kind_dash"],
        "bandColours": zones["band_colors"],
        "zoneColours": zones["zone_colors"],
        "exposureSteps": [list(s) for s in EXPOSURE_STEPS],
        "searchUrl": "/api/search",
        "gcj02": bool(base and base.gcj02),
        "bounds": list(bbox) if bbox else None,  # what a printed page is fitted to
    }


def new_map(title: str, bbox: Box | None, lang: str, base: Basemap | None) -> folium.Map:
    """A titled map on ``base``, fitted to ``bbox``, with maps.js configured and the tools."""
    bbox = bbox or _HANGZHOU
    centre = [(bbox[1] + bbox[3]) / 2, (bbox[0] + bbox[2]) / 2]
    # The scale bar is maps.js's (metric only); folium's shows feet and miles too.
    m = folium.Map(location=centre, zoom_start=15, tiles=None, control_scale=False, max_zoom=20)
    m.get_root().header.add_child(Element('<meta charset="utf-8">'))
    m.get_root().title = title
    m.get_root().html_lang = "en" if lang == "en" else "zh-CN"  # assets.render_page writes it
    m.get_root().html.add_child(Element(f'<div class="gs-title">{escape(title)}</div>'))
    m.get_root().html.add_child(print_marks(lang))
    Configure(config(lang, base, bbox)).add_to(m)
    if base is not None:
        _draw_basemap(m, base)
    # Without animation: tile layers added next load only the fitted view, not first the
    # zoom_start view and then the fitted one (twice the tile requests at first render).
    fit = FitBounds([[bbox[1], bbox[0]], [bbox[3], bbox[2]]])
    fit.options["animate"] = False
    m.add_child(fit)
    Fullscreen(position="topleft").add_to(m)
    MeasureControl(
        position="topleft", primary_length_unit="meters", primary_area_unit="sqmeters"
    ).add_to(m)
    MousePosition(
        position="bottomright",
        separator=labels.text("cursor_separator", lang),
        empty_string=labels.text("cursor_outside", lang),
        lng_first=True,
        num_digits=6,
        prefix=labels.text("cursor", lang),
    ).add_to(m)
    return m


def _draw_basemap(m: folium.Map, base: Basemap) -> None:
    """The basemap under everything, within the zooms and bounds its tiles exist for."""
    extent = {}
    if base.bounds:
        west, south, east, north = base.bounds
        extent["bounds"] = [[south, west], [north, east]]
    if base.vector:
        VectorBasemap(base, extent.get("bounds")).add_to(m)
        return
    for url in base.tiles:
        folium.TileLayer(
            url,
            attr=base.attribution,
            subdomains=base.subdomains,
            control=False,
            min_zoom=base.min_zoom,
            max_zoom=20,
            max_native_zoom=base.max_native_zoom,
            **extent,
        ).add_to(m)


def tiled(
    layer_id: str,
    lang: str,
    fields: tuple[str, ...] | None = None,
    *,
    name: str | None = None,
    show: bool = True,
    **extra,
) -> TileOverlay:
    """A layer from the service's vector tiles, named by its title unless ``name`` is given."""
    spec = layer_spec(layer_id, lang, fields, url=collection_tiles(layer_id), **extra)
    return TileOverlay(name or COLLECTIONS[layer_id].title(lang), spec, show=show)


def embedded(
    layer_id: str,
    geojson: str,
    lang: str,
    fields: tuple[str, ...] | None = None,
    *,
    name: str | None = None,
    **extra,
) -> DataOverlay:
    """A layer from GeoJSON text in the page, named by its title unless ``name`` is given."""
    spec = layer_spec(layer_id, lang, fields, **extra)
    return DataOverlay(name or COLLECTIONS[layer_id].title(lang), geojson, spec)


def embedded_sites(geojson: str, lang: str, **extra) -> DataOverlay:
    """Sites with their key facts, titled by name; a search hit opens its popup (``register``)."""
    return embedded(
        "sites", geojson, lang, SITE_FACTS, titleField="name", register="sites", **extra
    )


def embedded_monitors(geojson: str, lang: str) -> DataOverlay:
    """Monitors coloured by ``monitor_state``, each popup linking to the monitor's page."""
    return embedded(
        "monitors",
        geojson,
        lang,
        (*COLLECTIONS["monitors"].popup_fields, "monitor_state"),
        link=monitor_link(lang),
    )


def finish(
    m: folium.Map,
    lang: str,
    overlays: Sequence[Layer],
    groups: dict[str, list[Layer]],
    legend: tuple[str, ...],
    minimap: tuple[DataOverlay, str],
    bands: Sequence[float] = (),
) -> folium.Map:
    """Add ``overlays`` (drawn in this order), the switcher by group and the controls.

    ``groups`` are label keys (``group_sites``); ``legend`` the legend's sections, most
    important first, ``bands`` the rings' outer edges it names; ``minimap`` is the overlay
    the minimap draws, and the style it draws it in.
    """
    for layer in overlays:
        layer.add_to(m)
    GroupedLayerControl(
        {labels.text(group, lang): members for group, members in groups.items()},
        exclusive_groups=False,
        collapsed=False,
    ).add_to(m)
    Controls(legend_html(lang, legend, bands), *minimap, True).add_to(m)
    return m

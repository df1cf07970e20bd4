"""The three maps: the overview, one site, one community; folium figures, local assets only.

``overview_map`` draws everything that grows with the city from the service's vector tiles
(``/ogc/.../tiles/WebMercatorQuad/{z}/{x}/{y}``) and embeds only the sites. ``site_map`` and
``community_map`` embed their bounded data, so they also work as one stand-alone file.
Popups show the layers' public fields only; no personal field is ever put on a map.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from html import escape

import folium
from branca.element import Element, MacroElement
from folium.elements import JSCSSMixin
from folium.map import FitBounds, Layer
from folium.plugins import Fullscreen, GroupedLayerControl, MeasureControl, MousePosition
from jinja2 import Template

from geo_service.impact import LIST_COLUMNS
from geo_service.landuse import land_use_classes
from geo_service.settings import MapSettings
from layers import COLLECTIONS
from maps import labels
from maps.data import CommunityBundle, SiteBundle

TILE_MATRIX = "WebMercatorQuad/{z}/{x}/{y}"
_MAPS_JS = [("geo_service_maps_js", "")]
_MAPS_CSS = [("geo_service_maps_css", "")]
_GRID_JS = [("vectorGrid", ""), *_MAPS_JS]


def collection_tiles(collection: str) -> str:
    return f"/ogc/collections/{collection}/tiles/{TILE_MATRIX}"


# -- folium elements ----------------------------------------------------------------------------
def _js(value: object) -> str:
    """JSON for a <script>: ``</`` cannot close the script element."""
    return json.dumps(value, ensure_ascii=False).replace("</", "<\\/")


class Configure(JSCSSMixin, MacroElement):
    """Labels, colours and the basemap's datum for maps.js; must come before any layer."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "GeoService.configure({{ this._parent.get_name() }}, {{ this.config }});"
        "{% endmacro %}"
    )
    default_js = _MAPS_JS
    default_css = _MAPS_CSS

    def __init__(self, config: dict) -> None:
        super().__init__()
        self._name = "Configure"
        self.config = _js(config)


class TileOverlay(JSCSSMixin, Layer):
    """An overlay from the service's vector tiles (Leaflet.VectorGrid)."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "var {{ this.get_name() }} = "
        "GeoService.tiles({{ this._parent.get_name() }}, {{ this.spec }});"
        "{% endmacro %}"
    )
    default_js = _GRID_JS

    def __init__(self, name: str, spec: dict, show: bool = True) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "TileOverlay"
        self.spec = _js(spec)


class DataOverlay(JSCSSMixin, Layer):
    """An overlay from GeoJSON text embedded in the page (bounded sets only)."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "var {{ this.get_name() }} = GeoService.geojson({{ this._parent.get_name() }}, "
        "{{ this.data }}, {{ this.spec }});"
        "{% endmacro %}"
    )
    default_js = _MAPS_JS

    def __init__(self, name: str, geojson: str, spec: dict, show: bool = True) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "DataOverlay"
        self.data = geojson.replace("</", "<\\/")
        self.spec = _js(spec)


class Controls(JSCSSMixin, MacroElement):
    """Search box, legend and minimap (drawn from an overlay's embedded data, so it needs
    no basemap and the page carries that data once)."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "{% if this.search %}GeoService.search({{ this._parent.get_name() }});{% endif %}"
        "GeoService.legend({{ this._parent.get_name() }}, {{ this.legend }});"
        "GeoService.minimap({{ this._parent.get_name() }}, {{ this.minimap.get_name() }}, "
        "{{ this.style }});"
        "{% endmacro %}"
    )
    default_js = [*_MAPS_JS, ("Control_MiniMap_js", "")]  # noqa: RUF012 (folium's API)
    default_css = [("Control_MiniMap_css", "")]  # noqa: RUF012

    def __init__(self, legend_html: str, minimap: DataOverlay, style: str, search: bool) -> None:
        super().__init__()
        self._name = "Controls"
        self.legend = _js(legend_html)
        self.minimap = minimap
        self.style = _js(style)
        self.search = search


# -- popups and legends -------------------------------------------------------------------------
def popup_fields(layer_id: str, names: tuple[str, ...], lang: str) -> list[tuple[str, str]]:
    """(field, label) pairs; a personal field here is a bug, so it raises."""
    layer = COLLECTIONS[layer_id]
    out = []
    for name in names:
        try:
            field = layer.field(name)
        except KeyError:
            out.append((name, _extra_label(name, lang)))
            continue
        if field.personal:
            raise ValueError(f"{layer_id}.{name} is personal and must never be on a map")
        out.append((name, field.label(lang)))
    return out


def _extra_label(name: str, lang: str) -> str:
    for column, zh, en in LIST_COLUMNS:
        if column == name:
            return zh if lang == "zh" else en
    return labels.text(name, lang)


SITE_FACTS = (
    "code",
    "name",
    "kind",
    "status",
    "progress_pct",
    "start_date",
    "end_date",
    "contractor",
    "supervisor",
    "liaison_officer",
    "parcels",
    "affected",
)
HOUSEHOLD_FACTS = (
    "building",
    "unit_label",
    "residents",
    "distance_m",
    "band",
    "leq_day",
    "limit_day",
    "exceed_day",
    "leq_night",
    "limit_night",
    "exceed_night",
)
EXPOSURE_STEPS = ((0, "#fdae61"), (5, "#f46d43"), (10, "#a50026"))


def _swatch(colour: str, label: str, line: bool = False, dash: str | None = None) -> str:
    if line:
        style = f"border-top-color:{colour};" + ("border-top-style:dashed;" if dash else "")
        return f'<div><span class="gs-line" style="{style}"></span>{escape(label)}</div>'
    return f'<div><span class="gs-swatch" style="background:{colour}"></span>{escape(label)}</div>'


def legend_html(lang: str, parts: tuple[str, ...]) -> str:
    """The legend's sections, in order: land_use, status, kind, bands, noise, exposure."""
    sites, zones = COLLECTIONS["sites"].style, COLLECTIONS["impact_zones"].style
    choices = labels.choices(lang)
    html = []
    if "land_use" in parts:
        html.append(f"<h4>{escape(labels.text('legend_land_use', lang))}</h4>")
        for c in land_use_classes().values():
            if c.level == "major":
                html.append(
                    _swatch(c.color, f"{c.code} {c.name_zh if lang == 'zh' else c.name_en}")
                )
    if "status" in parts:
        html.append(f"<h4>{escape(labels.text('legend_status', lang))}</h4>")
        for status, colour in sites["status_colors"].items():
            html.append(_swatch(colour, choices["status"][status], line=True))
    if "kind" in parts:
        html.append(f"<h4>{escape(labels.text('legend_kind', lang))}</h4>")
        for kind, label in choices["kind"].items():
            if kind in ("band", "noise_day", "noise_night"):
                continue
            dash = sites["kind_dash"].get(kind)
            html.append(_swatch("#333333", label, line=True, dash=dash))
    if "bands" in parts:
        html.append(f"<h4>{escape(labels.text('legend_bands', lang))}</h4>")
        for i, colour in enumerate(zones["band_colors"][:3], start=1):
            html.append(_swatch(colour, f"{labels.text('band', lang)} {i}"))
    if "noise" in parts:
        html.append(f"<h4>{escape(labels.text('legend_noise', lang))}</h4>")
        for kind, colour in zones["zone_colors"].items():
            html.append(_swatch(colour, labels.text(kind, lang), line=True, dash="6 4"))
    if "exposure" in parts:
        html.append(f"<h4>{escape(labels.text('legend_exposure', lang))}</h4>")
        html.append(_swatch("#2ca02c", labels.text("no_exceedance", lang)))
        for (_, colour), key in zip(
            EXPOSURE_STEPS, ("exceed_0_5", "exceed_5_10", "exceed_10"), strict=True
        ):
            html.append(_swatch(colour, labels.text(key, lang)))
    return "".join(html)


# -- the maps -----------------------------------------------------------------------------------
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


def _config(lang: str, base: Basemap | None) -> dict:
    sites, zones = COLLECTIONS["sites"].style, COLLECTIONS["impact_zones"].style
    return {
        "lang": lang,
        "labels": labels.all_text(lang),
        "choices": labels.choices(lang),
        "landUse": {code: c.color for code, c in land_use_classes().items()},
        "siteStatus": sites["status_colors"],
        "siteKindDash": sites["kind_dash"],
        "bandColours": zones["band_colors"],
        "zoneColours": zones["zone_colors"],
        "exposureSteps": [list(s) for s in EXPOSURE_STEPS],
        "searchUrl": "/api/search",
        "gcj02": bool(base and base.gcj02),
    }


def _new_map(
    title: str, bbox: tuple[float, float, float, float] | None, lang: str, base: Basemap | None
) -> folium.Map:
    bbox = bbox or (120.10, 30.20, 120.25, 30.32)
    centre = [(bbox[1] + bbox[3]) / 2, (bbox[0] + bbox[2]) / 2]
    m = folium.Map(location=centre, zoom_start=15, tiles=None, control_scale=True, max_zoom=20)
    m.get_root().header.add_child(Element('<meta charset="utf-8">'))
    m.get_root().title = title
    m.get_root().html.add_child(Element(f'<div class="gs-title">{escape(title)}</div>'))
    Configure(_config(lang, base)).add_to(m)
    if base is not None:
        for url in base.tiles:
            folium.TileLayer(
                url, attr=base.attribution, subdomains=base.subdomains, control=False, max_zoom=20
            ).add_to(m)
    # Without animation: tile layers added next load only the fitted view, not first the
    # zoom_start view and then the fitted one (twice the tile requests at first render).
    fit = FitBounds([[bbox[1], bbox[0]], [bbox[3], bbox[2]]])
    fit.options["animate"] = False
    m.add_child(fit)
    Fullscreen(position="topleft").add_to(m)
    MeasureControl(
        position="topleft", primary_length_unit="meters", primary_area_unit="sqmeters"
    ).add_to(m)
    MousePosition(position="bottomright", separator=" , ", num_digits=6, prefix="WGS84").add_to(m)
    return m


def _spec(layer_id: str, lang: str, fields: tuple[str, ...] | None = None, **extra) -> dict:
    layer = COLLECTIONS[layer_id]
    names = fields or layer.popup_fields
    return {
        "style": layer_id,
        "title": layer.title(lang),
        "titleField": names[0],
        "fields": popup_fields(layer_id, names, lang),
        **extra,
    }


def _site_link(lang: str) -> dict:
    return {
        "field": "code",
        "href": f"/maps/sites/{{}}?lang={lang}",
        "text": labels.text("open_site_map", lang),
    }


def overview_map(
    sites_geojson: str,
    bbox: tuple[float, float, float, float] | None,
    lang: str,
    base: Basemap | None = None,
    households: bool = True,
) -> folium.Map:
    """Sites embedded; parcels, communities, buildings, zones and households from tiles."""
    m = _new_map(labels.text("overview", lang), bbox, lang, base)
    t = lambda lid: COLLECTIONS[lid].title(lang)  # noqa: E731
    parcels = TileOverlay(
        t("parcels"), {**_spec("parcels", lang), "url": collection_tiles("parcels")}
    )
    communities = TileOverlay(
        t("communities"), {**_spec("communities", lang), "url": collection_tiles("communities")}
    )
    buildings = TileOverlay(
        t("buildings"),
        {**_spec("buildings", lang), "url": collection_tiles("buildings"), "minZoom": 14},
    )
    zones = TileOverlay(
        t("impact_zones"), {**_spec("impact_zones", lang), "url": collection_tiles("impact_zones")}
    )
    site_layer = DataOverlay(
        t("sites"),
        sites_geojson,
        {
            **_spec("sites", lang, SITE_FACTS, titleField="name"),
            "titleField": "name",
            "register": "sites",
            "link": _site_link(lang),
        },
    )
    people = [communities, buildings]
    if households:
        people.append(
            TileOverlay(
                labels.text("households_tiles", lang),
                {
                    **_spec("households", lang, ("building", "unit_label", "residents", "count")),
                    "url": collection_tiles("households"),
                },
                show=False,
            )
        )
    for layer in (parcels, *people, zones, site_layer):
        layer.add_to(m)
    GroupedLayerControl(
        {
            labels.text("group_planning", lang): [parcels],
            labels.text("group_sites", lang): [zones, site_layer],
            labels.text("group_people", lang): people,
        },
        exclusive_groups=False,
        collapsed=False,
    ).add_to(m)
    Controls(
        legend_html(lang, ("land_use", "status", "kind", "bands")), site_layer, "sites", True
    ).add_to(m)
    return m


def site_map(bundle: SiteBundle, lang: str, base: Basemap | None = None) -> folium.Map:
    """One site: parcels, band rings and contours, affected households and communities."""
    m = _new_map(f"{bundle.name}（{bundle.code}）", bundle.bbox, lang, base)
    t = lambda lid: COLLECTIONS[lid].title(lang)  # noqa: E731
    export = {
        "href": f"/api/sites/{bundle.code}/households?format=xlsx&lang={lang}",
        "text": labels.text("export_households", lang),
    }
    layers = {
        "parcels": DataOverlay(t("parcels"), bundle.parcels, _spec("parcels", lang)),
        "communities": DataOverlay(
            t("communities"),
            bundle.communities,
            _spec(
                "communities",
                lang,
                ("name", "street_office", "acoustic_class", "affected", "residents"),
            ),
        ),
        "zones": DataOverlay(t("impact_zones"), bundle.zones, _spec("impact_zones", lang)),
        "site": DataOverlay(
            t("sites"),
            bundle.site,
            {
                **_spec("sites", lang, SITE_FACTS),
                "titleField": "name",
                "register": "sites",
                "exportLink": export,
            },
        ),
        "households": DataOverlay(
            labels.text("site_households", lang),
            bundle.households,
            {**_spec("households", lang, HOUSEHOLD_FACTS), "style": "exposure"},
        ),
    }
    for layer in layers.values():
        layer.add_to(m)
    GroupedLayerControl(
        {
            labels.text("group_planning", lang): [layers["parcels"]],
            labels.text("group_sites", lang): [layers["zones"], layers["site"]],
            labels.text("group_people", lang): [layers["communities"], layers["households"]],
        },
        exclusive_groups=False,
        collapsed=False,
    ).add_to(m)
    Controls(
        legend_html(lang, ("land_use", "status", "bands", "noise", "exposure")),
        layers["site"],
        "sites",
        True,
    ).add_to(m)
    return m


def community_map(bundle: CommunityBundle, lang: str, base: Basemap | None = None) -> folium.Map:
    """One community: its outline, the sites affecting it, its buildings by affected count."""
    m = _new_map(bundle.name, bundle.bbox, lang, base)
    t = lambda lid: COLLECTIONS[lid].title(lang)  # noqa: E731
    layers = {
        "community": DataOverlay(t("communities"), bundle.community, _spec("communities", lang)),
        "buildings": DataOverlay(
            t("buildings"),
            bundle.buildings,
            _spec(
                "buildings",
                lang,
                ("address", "floors", "households_count", "affected", "max_exceed"),
            ),
        ),
        "zones": DataOverlay(t("impact_zones"), bundle.zones, _spec("impact_zones", lang)),
        "sites": DataOverlay(
            t("sites"),
            bundle.sites,
            {
                **_spec("sites", lang, SITE_FACTS),
                "titleField": "name",
                "register": "sites",
                "link": _site_link(lang),
            },
        ),
    }
    for layer in layers.values():
        layer.add_to(m)
    GroupedLayerControl(
        {
            labels.text("group_sites", lang): [layers["zones"], layers["sites"]],
            labels.text("group_people", lang): [layers["community"], layers["buildings"]],
        },
        exclusive_groups=False,
        collapsed=False,
    ).add_to(m)
    Controls(
        legend_html(lang, ("status", "bands")), layers["community"], "communities", True
    ).add_to(m)
    return m

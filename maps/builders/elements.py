"""The folium elements whose scripts call ``maps.js`` (``GeoService.*``).

Each element only hands its data and spec to ``maps.js``; the drawing, popups and styles are
done there, so a page carries its data once and no JavaScript is written in Python.
"""

from __future__ import annotations

import json

from branca.element import MacroElement
from folium.elements import JSCSSMixin
from folium.map import Layer
from jinja2 import Template

from maps.builders.basemaps import Basemap

TILE_MATRIX = "WebMercatorQuad/{z}/{x}/{y}"
_MAPS_JS = [("geo_service_maps_js", "")]
_MAPS_CSS = [("geo_service_maps_css", "")]
_GRID_JS = [("vectorGrid", ""), *_MAPS_JS]


def collection_tiles(collection: str) -> str:
    return f"/ogc/collections/{collection}/tiles/{TILE_MATRIX}"


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


class _Overlay(JSCSSMixin, Layer):
    """An overlay in the layer switcher that maps.js draws from ``spec`` (``popups``)."""

    default_js = _MAPS_JS

    def __init__(self, name: str, spec: dict, show: bool = True) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = type(self).__name__  # the page's variable names start with it
        self.spec = _js(spec)


class TileOverlay(_Overlay):
    """An overlay from the service's vector tiles (Leaflet.VectorGrid)."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "var {{ this.get_name() }} = "
        "GeoService.tiles({{ this._parent.get_name() }}, {{ this.spec }});"
        "{% endmacro %}"
    )
    default_js = _GRID_JS


class DataOverlay(_Overlay):
    """An overlay from GeoJSON text embedded in the page (bounded sets only)."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "var {{ this.get_name() }} = GeoService.geojson({{ this._parent.get_name() }}, "
        "{{ this.data }}, {{ this.spec }});"
        "{% endmacro %}"
    )

    def __init__(self, name: str, geojson: str, spec: dict, show: bool = True) -> None:
        super().__init__(name, spec, show)
        self.data = geojson.replace("</", "<\\/")


class VectorBasemap(JSCSSMixin, MacroElement):
    """A basemap of vector tiles (the service's own package), drawn by maps.js beneath the
    overlays; not in the layer switcher, as a raster basemap is not."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "GeoService.basemap({{ this._parent.get_name() }}, {{ this.spec }});"
        "{% endmacro %}"
    )
    default_js = _GRID_JS

    def __init__(self, base: Basemap, bounds: list[list[float]] | None) -> None:
        super().__init__()
        self._name = "VectorBasemap"
        spec = {
            "url": base.tiles[0],
            "attribution": base.attribution,
            "minZoom": base.min_zoom,
            "maxNativeZoom": base.max_native_zoom,
            "bounds": bounds,
        }
        self.spec = _js(spec)


class Controls(JSCSSMixin, MacroElement):
    """Search box, legend and minimap (drawn from an overlay's embedded data, so it needs
    no basemap and the page carries that data once)."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "{% if this.search %}GeoService.search({{ this._parent.get_name() }});{% endif %}"
        "GeoService.scale({{ this._parent.get_name() }});"
        "GeoService.legend({{ this._parent.get_name() }}, {{ this.legend }});"
        "GeoService.minimap({{ this._parent.get_name() }}, {{ this.minimap.get_name() }}, "
        "{{ this.style }});"
        "GeoService.labels({{ this._parent.get_name() }});"
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

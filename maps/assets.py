"""Folium's web assets, served by the service itself, and inlined for a stand-alone file.

Folium and its plugins name their scripts and stylesheets by key (``leaflet``,
``bootstrap_css``, ...) with CDN addresses. ``localise`` swaps every one for the vendored
copy under ``/static/maps/`` and refuses any address it does not know, so a map page can
never make a request outside the service. ``inline`` turns a rendered page into one file
with every script, stylesheet, image and font inside it (``geo-service map``).
"""

from __future__ import annotations

import base64
import mimetypes
import re
from functools import cache
from pathlib import Path

from branca.element import Element, Figure

STATIC_DIR = Path(__file__).parent / "static"
STATIC_URL = "/static/maps"

# folium's asset keys -> vendored file (relative to static/); None drops the asset.
_LOCAL: dict[str, str | None] = {
    # folium.Map
    "leaflet": "vendor/leaflet@1.9.3/dist/leaflet.js",
    "jquery": "vendor/jquery@3.7.1/dist/jquery.min.js",
    "bootstrap": "vendor/bootstrap@5.2.2/dist/js/bootstrap.bundle.min.js",
    "awesome_markers": "vendor/leaflet.awesome-markers@2.0.5/dist/leaflet.awesome-markers.js",
    "leaflet_css": "vendor/leaflet@1.9.3/dist/leaflet.css",
    "bootstrap_css": "vendor/bootstrap@5.2.2/dist/css/bootstrap.min.css",
    # Bootstrap 3 glyphicons: no map here uses a glyphicon marker, so nothing to load.
    "glyphicons_css": None,
    "awesome_markers_font_css": "vendor/fortawesome-fontawesome-free@6.2.0/css/all.min.css",
    "awesome_markers_css": "vendor/leaflet.awesome-markers@2.0.5/dist/leaflet.awesome-markers.css",
    "awesome_rotate_css": "maps.css",
    # plugins
    "Control.Fullscreen.js": "vendor/leaflet.fullscreen@3.0.0/Control.FullScreen.js",
    "Control.FullScreen.css": "vendor/leaflet.fullscreen@3.0.0/Control.FullScreen.css",
    "leaflet_measure_js": "vendor/leaflet-measure@2.1.7/dist/leaflet-measure.min.js",
    "leaflet_measure_css": "vendor/leaflet-measure@2.1.7/dist/leaflet-measure.css",
    "Control_MiniMap_js": "vendor/leaflet-minimap@3.6.1/dist/Control.MiniMap.min.js",
    "Control_MiniMap_css": "vendor/leaflet-minimap@3.6.1/dist/Control.MiniMap.min.css",
    "Control_MousePosition_js": (
        "vendor/leaflet-mouse-position@1.2.0/src/L.Control.MousePosition.js"
    ),
    "Control_MousePosition_css": (
        "vendor/leaflet-mouse-position@1.2.0/src/L.Control.MousePosition.css"
    ),
    "vectorGrid": "vendor/leaflet.vectorgrid@1.3.0/dist/Leaflet.VectorGrid.bundled.min.js",
    "leaflet.groupedlayercontrol.min.js": (
        "vendor/leaflet-groupedlayercontrol@0.6.1/dist/leaflet.groupedlayercontrol.min.js"
    ),
    "leaflet.groupedlayercontrol.min.css": (
        "vendor/leaflet-groupedlayercontrol@0.6.1/dist/leaflet.groupedlayercontrol.min.css"
    ),
    # ours
    "geo_service_maps_js": "maps.js",
    "geo_service_maps_css": "maps.css",
    "geo_service_ogc_js": "ogc_map.js",
    "geo_service_liaison_css": "liaison.css",
    "geo_service_liaison_js": "liaison.js",
}


class UnknownAsset(LookupError):
    """A folium element wants a web asset that is not vendored: vendor it, never link a CDN."""


def local_url(key: str) -> str | None:
    path = _LOCAL.get(key, "missing")
    if path == "missing":
        raise UnknownAsset(f"web asset {key!r} is not vendored (see maps/vendor.py)")
    return None if path is None else f"{STATIC_URL}/{path}"


def _localised(assets: list[tuple[str, str]]) -> list[tuple[str, str]]:
    out = []
    for key, _ in assets:
        url = local_url(key)
        if url is not None:
            out.append((key, url))
    return out


def localise(root: Element) -> None:
    """Point every element's ``default_js``/``default_css`` at the vendored copies."""
    stack = [root]
    while stack:
        element = stack.pop()
        for attr in ("default_js", "default_css"):
            assets = getattr(element, attr, None)
            if assets:
                setattr(element, attr, _localised(assets))
        stack.extend(element._children.values())


def render_page(root: Element) -> str:
    """The page as HTML, with local assets only (checked: no other address remains)."""
    localise(root)
    figure = root.get_root()
    assert isinstance(figure, Figure)
    html = figure.render()
    # branca's page has no ``<html lang>``: the browser and screen readers should know it.
    lang = getattr(figure, "html_lang", None)
    return html.replace("<html>", f'<html lang="{lang}">', 1) if lang else html


# -- one stand-alone file -----------------------------------------------------------------------
_SCRIPT = re.compile(rf'<script src="{STATIC_URL}/([^"]+)"></script>')
_STYLESHEET = re.compile(rf'<link rel="stylesheet" href="{STATIC_URL}/([^"]+)"\s*/?>')
_CSS_URL = re.compile(r"url\((['\"]?)([^)'\"]+)\1\)")


def _data_uri(path: Path) -> str:
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if path.suffix == ".woff2":
        kind = "font/woff2"
    return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode()}"


@cache
def _inline_css(relative: str) -> str:
    path = STATIC_DIR / relative
    css = path.read_text(encoding="utf-8")

    def embed(match: re.Match[str]) -> str:
        ref = match.group(2)
        if ref.startswith(("data:", "#")):
            return match.group(0)
        target = (path.parent / ref.split("?")[0].split("#")[0]).resolve()
        if target.suffix == ".ttf":  # every browser that runs Leaflet reads woff2
            return "url(data:font/ttf;base64,)"
        return f"url({_data_uri(target)})"

    return _CSS_URL.sub(embed, css)


def inline(html: str) -> str:
    """Every local script and stylesheet inside the page, so it opens from a file or e-mail."""
    html = _SCRIPT.sub(
        lambda m: (
            "<script>"
            + (STATIC_DIR / m.group(1))
            .read_text(encoding="utf-8")
            .replace("</script", "<\\/script")
            + "</script>"
        ),
        html,
    )
    return _STYLESHEET.sub(lambda m: "<style>" + _inline_css(m.group(1)) + "</style>", html)

"""The OGC API's pages for people (``f=html``, or a browser's Accept), from the ``ogc_*.html``
templates: a document's links and body, a page of features as a table on a map, one feature.

The map is drawn by ``maps/static/ogc_map.js`` (vendored Leaflet, a blank background) from
the features the page carries as a JSON data block: the pages hold no inline script, so the
Content-Security-Policy allows none (``geo_service.api.headers``).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response

from geo_service import formats
from geo_service.api.pages import render, request_language
from geo_service.ogc import params
from geo_service.ogc.answers import answer
from geo_service.ogc.collections import Collection
from layers import LAYERS
from maps.assets import local_url

# The pages' titles in Chinese, by the English the routes give them (a layer's by its own).
_TITLES_ZH = {
    "Site-impact service: OGC API - Features and Tiles": "工地周边影响服务：OGC API 要素与瓦片",
    "Conformance": "符合的标准",
    "Collections": "数据集",
    **{layer.title_en: layer.title_zh for layer in LAYERS.values()},
}


def _switch_url(request: Request, lang: str) -> str:
    """This page in the other language (the pick is kept in the ``lang`` cookie)."""
    query = {k: v for k, v in request.query_params.items() if k != "lang"}
    query["lang"] = "zh" if lang == "en" else "en"
    return f"{request.url.path}?{urlencode(query)}"


def page(
    request: Request,
    template: str,
    title: str,
    *,
    features: list[dict] | None = None,
    volatile: str = "",
    title_zh: str | None = None,
    **context: Any,
) -> Response:
    """A page for a person, from its template; with ``features`` (GeoJSON features in CRS84)
    a map of them, for which the page names the vendored Leaflet and the script that draws."""
    assets: dict[str, list[str | None]] = {}
    if features is not None:
        assets = {
            "stylesheets": [local_url("leaflet_css")],
            "scripts": [local_url("leaflet"), local_url("geo_service_ogc_js")],
        }
    lang = request_language(request)
    body = render(
        template,
        lang=lang,
        title=title,
        title_zh=title_zh or _TITLES_ZH.get(title, title),
        switch_url=_switch_url(request, lang),
        layer_titles={lid: (layer.title_zh, layer.title_en) for lid, layer in LAYERS.items()},
        features=features,
        **assets,
        **context,
    )
    return answer(request, body, formats.HTML.media_type, volatile=volatile)


def document_page(request: Request, f: str | None, title: str, doc: dict) -> Response | None:
    """The document as a page when the client asked for HTML, else None (answer JSON)."""
    if params.parse_format(f, request.headers.get("accept", "")) != "html":
        return None
    rest = {k: v for k, v in doc.items() if k != "links"}
    return page(
        request,
        "ogc_document.html",
        title,
        links=doc.get("links", []),
        document=json.dumps(rest, ensure_ascii=False, indent=1),
    )


def items_page(
    request: Request, col: Collection, head: dict, features: str, lon_lat: bool, stamp: str
) -> Response:
    """A page of features as a table, on a map when its coordinates are lon/lat."""
    rows = json.loads("[" + features + "]")
    names = list(rows[0]["properties"]) if rows else [f.name for f in col.fields]
    return page(
        request,
        "ogc_items.html",
        col.layer.title_en,
        title_zh=col.layer.title_zh,
        features=rows if lon_lat else None,
        volatile=stamp,
        head=head,
        names=names,
        rows=rows,
        labels=_field_labels(col),
    )


def feature_page(
    request: Request, col: Collection, feature_id: str, body: str, lon_lat: bool, links: list
) -> Response:
    """One feature's properties, on a map when its coordinates are lon/lat."""
    feature = json.loads(body)
    return page(
        request,
        "ogc_feature.html",
        f"{col.layer.title_en} {feature_id}",
        title_zh=f"{col.layer.title_zh} {feature_id}",
        features=[feature] if lon_lat else None,
        links=links,
        properties=feature["properties"],
        labels=_field_labels(col),
    )


def _field_labels(col: Collection) -> dict[str, tuple[str, str]]:
    """Each field's name as a person reads it, Chinese and English, from its layer."""
    return {f.name: (f.label_zh, f.label_en) for f in col.layer.fields}

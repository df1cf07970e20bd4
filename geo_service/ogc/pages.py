"""The OGC API's pages for people (``f=html``, or a browser's Accept), from the ``ogc_*.html``
templates: a document's links and body, a page of features as a table on a map, one feature.

The map is drawn by ``maps/static/ogc_map.js`` (vendored Leaflet, a blank background) from
the features the page carries as a JSON data block: the pages hold no inline script, so the
Content-Security-Policy allows none (``geo_service.api.headers``).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from geo_service import formats
from geo_service.api.pages import render
from geo_service.ogc import params
from geo_service.ogc.answers import answer
from geo_service.ogc.collections import Collection
from maps.assets import local_url


def page(
    request: Request,
    template: str,
    title: str,
    *,
    features: list[dict] | None = None,
    volatile: str = "",
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
    body = render(template, lang="en", title=title, features=features, **assets, **context)
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
        features=rows if lon_lat else None,
        volatile=stamp,
        head=head,
        names=names,
        rows=rows,
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
        features=[feature] if lon_lat else None,
        links=links,
        properties=feature["properties"],
    )

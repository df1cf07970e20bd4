"""The OGC API's pages for people (``f=html``, or a browser's Accept), from the ``ogc_*.html``
templates: a document's links and body, a page of features as a table on a map, one feature.
Each page has breadcrumbs up to the landing page, every row of a table links to its feature's
page, and values are written as people read them (``geo_service.display``); the JSON keeps
the raw values.

The map is drawn by ``maps/static/ogc_map.js`` (vendored Leaflet, a blank background) from
the features the page carries as a JSON data block: the pages hold no inline script, so the
Content-Security-Policy allows none (``geo_service.api.headers``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import Response

from geo_service import display, formats
from geo_service.api.pages import render, request_language
from geo_service.ogc import params
from geo_service.ogc.answers import answer, base_url
from geo_service.ogc.collections import Collection
from layers import COLLECTIONS as LAYER_COLLECTIONS
from maps.assets import local_url

# The pages' titles in Chinese, by the English the routes give them (a layer's by its own).
_TITLES_ZH = {
    "Site-impact service: OGC API - Features and Tiles": "工地周边影响服务：OGC API 要素与瓦片",
    "Conformance": "符合的标准",
    "Collections": "数据集",
    **{layer.title_en: layer.title_zh for layer in LAYER_COLLECTIONS.values()},
}


# What a link leads to, by its relation, as a person reads it (the JSON keeps the rel).
_OGC_REL = "http://www.opengis.net/def/rel/ogc/1.0/"
_RELATIONS: dict[str, tuple[str, str]] = {
    "self": ("本页", "This page"),
    "alternate": ("本页的其他格式", "This page in another format"),
    "next": ("下一页", "Next page"),
    "prev": ("上一页", "Previous page"),
    "collection": ("数据集说明", "About the collection"),
    "items": ("要素", "Features"),
    "data": ("数据集", "Collections"),
    "conformance": ("符合的标准", "Conformance"),
    "service-desc": ("OpenAPI 定义", "OpenAPI definition"),
    "service-doc": ("接口文档", "API documentation"),
    "queryables": ("可查询字段", "Queryables"),
    _OGC_REL + "queryables": ("可查询字段", "Queryables"),
    _OGC_REL + "schema": ("要素结构", "Feature schema"),
    _OGC_REL + "tilesets-vector": ("矢量瓦片", "Vector tiles"),
}
_FORMAT_LABELS = {
    **{f.essence: f.label for f in formats.FORMATS.values()},
    "application/schema+json": "JSON Schema",
    "application/vnd.oai.openapi+json": "OpenAPI 3",
}


def _links(links: list[dict], lang: str) -> list[dict]:
    """A document's links as a page lists them: what each leads to in the page's language
    (else its own title, else its rel) and its format by name; a link listed twice under
    two rels (queryables, for GDAL and for OGC clients) once."""
    out, seen = [], set()
    for link in links:
        if (link["href"], link.get("type")) in seen:
            continue
        seen.add((link["href"], link.get("type")))
        words = _RELATIONS.get(link["rel"])
        text = (words[0] if lang == "zh" else words[1]) if words else link.get("title")
        media = link.get("type", "").partition(";")[0].strip()
        out.append(
            {
                "href": link["href"],
                "rel": link["rel"],
                "text": text or link["rel"],
                "format": _FORMAT_LABELS.get(media, media),
            }
        )
    return out


@dataclass(frozen=True)
class Crumb:
    """A step of the breadcrumbs: its words and its path under the OGC API's root."""

    zh: str
    en: str
    path: str


LANDING = (Crumb("OGC API", "OGC API", ""),)
CONFORMANCE = (*LANDING, Crumb(_TITLES_ZH["Conformance"], "Conformance", "/conformance"))
COLLECTIONS = (*LANDING, Crumb(_TITLES_ZH["Collections"], "Collections", "/collections"))


def collection_trail(col: Collection) -> tuple[Crumb, ...]:
    return (*COLLECTIONS, Crumb(col.layer.title_zh, col.layer.title_en, f"/collections/{col.id}"))


def items_trail(col: Collection) -> tuple[Crumb, ...]:
    return (*collection_trail(col), Crumb("要素", "Features", f"/collections/{col.id}/items"))


def feature_path(col: Collection, feature_id: object) -> str:
    """A feature's path under the root; ids may hold a slash (GS0201-R21/B1-05) or a colon."""
    return f"/collections/{col.id}/items/{quote(str(feature_id), safe='/:')}"


def _breadcrumbs(request: Request, lang: str, trail: tuple[Crumb, ...]) -> list[dict]:
    """The trail as links in the page's language, the language kept in each (as the
    switch link keeps it), the last one the page itself (no link)."""
    base, keep = base_url(request), _keep(lang)
    crumbs = [
        {"text": "首页" if lang == "zh" else "Home", "href": "/?" + urlencode({"lang": lang})}
    ]
    for crumb in trail:
        crumbs.append(
            {"text": crumb.zh if lang == "zh" else crumb.en, "href": base + crumb.path + keep}
        )
    crumbs[-1]["href"] = None
    return crumbs


def _keep(lang: str) -> str:
    """The query a link to another OGC page carries: the page as HTML, in this language."""
    return "?" + urlencode({"f": "html", "lang": lang})


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
    trail: tuple[Crumb, ...],
    features: list[dict] | None = None,
    volatile: str = "",
    title_zh: str | None = None,
    **context: Any,
) -> Response:
    """A page for a person, from its template, under its ``trail`` of breadcrumbs; with
    ``features`` (GeoJSON features in CRS84) a map of them, for which the page names the
    vendored Leaflet and the script that draws."""
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
        breadcrumbs=_breadcrumbs(request, lang, trail),
        layer_titles={
            lid: (layer.title_zh, layer.title_en) for lid, layer in LAYER_COLLECTIONS.items()
        },
        features=features,
        **assets,
        **context,
    )
    return answer(request, body, formats.HTML.media_type, volatile=volatile)


def document_page(
    request: Request, f: str | None, title: str, doc: dict, trail: tuple[Crumb, ...]
) -> Response | None:
    """The document as a page when the client asked for HTML, else None (answer JSON)."""
    if params.parse_format(f, request.headers.get("accept", "")) != "html":
        return None
    rest = {k: v for k, v in doc.items() if k != "links"}
    return page(
        request,
        "ogc_document.html",
        title,
        trail=trail,
        links=_links(doc.get("links", []), request_language(request)),
        document=json.dumps(rest, ensure_ascii=False, indent=1),
    )


def items_page(
    request: Request,
    col: Collection,
    head: dict,
    features: str,
    lon_lat: bool,
    stamp: str,
    readable: set[str],
) -> Response:
    """A page of features as a table, each row linking to its feature's page, on a map when
    its coordinates are lon/lat."""
    features_ = json.loads("[" + features + "]")
    names = list(features_[0]["properties"]) if features_ else [f.name for f in col.fields]
    # The id leads the row as its link: a code that is the id (a site's) is not repeated.
    key = col.layer.feature_id if col.layer.feature_id in names else None
    names = [n for n in names if n != key]
    lang = request_language(request)
    base, keep = base_url(request), _keep(lang)
    shown = _Shown(col, lang, base, keep, readable)
    rows = [
        {
            "id": feature["id"],
            "href": base + feature_path(col, feature["id"]) + keep,
            "cells": [shown(n, feature["properties"].get(n)) for n in names],
        }
        for feature in features_
    ]
    return page(
        request,
        "ogc_items.html",
        col.layer.title_en,
        title_zh=col.layer.title_zh,
        trail=items_trail(col),
        features=features_ if lon_lat else None,
        volatile=stamp,
        head=head,
        links=_links(head["links"], lang),
        key=key or "id",
        names=names,
        rows=rows,
        labels={"id": ("编号", "Id"), **_field_labels(col)},
    )


def feature_page(
    request: Request,
    col: Collection,
    feature_id: str,
    body: str,
    lon_lat: bool,
    links: list,
    readable: set[str],
) -> Response:
    """One feature's properties, on a map when its coordinates are lon/lat."""
    feature = json.loads(body)
    lang = request_language(request)
    shown = _Shown(col, lang, base_url(request), _keep(lang), readable)
    return page(
        request,
        "ogc_feature.html",
        f"{col.layer.title_en} {feature_id}",
        title_zh=f"{col.layer.title_zh} {feature_id}",
        trail=(*items_trail(col), Crumb(feature_id, feature_id, feature_path(col, feature_id))),
        features=[feature] if lon_lat else None,
        links=_links(links, lang),
        properties={n: shown(n, v) for n, v in feature["properties"].items()},
        labels=_field_labels(col),
    )


class _Shown:
    """How a page shows a property: its value read by its field's declaration, in parts
    (text, link) so that a reference to features the reader may open by their id (a
    site's parcels) links to their pages; a building's community is named, not numbered,
    so it is no link."""

    def __init__(self, col: Collection, lang: str, base: str, keep: str, readable: set[str]):
        self.lang, self.base, self.keep = lang, base, keep
        self.fields = {f.name: f for f in col.fields}
        self.targets = {
            ref.field: Collection(LAYER_COLLECTIONS[ref.layer])
            for ref in col.layer.references
            if ref.layer in readable and LAYER_COLLECTIONS[ref.layer].feature_id == ref.key
        }

    def __call__(self, name: str, raw: object) -> list[tuple[str, str | None]]:
        field, target = self.fields.get(name), self.targets.get(name)
        if target is None or raw is None or raw == []:
            return [(display.value(field, raw, self.lang), None)]
        parts: list[tuple[str, str | None]] = []
        for v in raw if isinstance(raw, list) else [raw]:
            if parts:
                parts.append((display.separator(self.lang), None))
            href = self.base + feature_path(target, v) + self.keep
            parts.append((display.value(field, v, self.lang), href))
        return parts


def _field_labels(col: Collection) -> dict[str, tuple[str, str]]:
    """Each field's name as a person reads it, Chinese and English, from its layer."""
    return {f.name: (f.label_zh, f.label_en) for f in col.fields}

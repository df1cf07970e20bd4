"""What a feature's popup shows: the fields it lists, their labels, its title and links.

Popups show the layers' public fields only; a personal field asked for here is a bug, and
``popup_fields`` raises on it.
"""

from __future__ import annotations

from collections.abc import Collection

from geo_service.impact import LIST_COLUMNS
from layers import COLLECTIONS
from maps import labels

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
        out.append((name, field.heading(lang)))
    return out


def _extra_label(name: str, lang: str) -> str:
    """A computed property's label: a household list column's, else the maps' own."""
    for column, zh, en in LIST_COLUMNS:
        if column == name:
            return zh if lang == "zh" else en
    return labels.text(name, lang)


def layer_spec(layer_id: str, lang: str, fields: tuple[str, ...] | None = None, **extra) -> dict:
    """How maps.js draws a layer: its style, title and popup (the layer's popup fields by
    default); ``extra`` adds to it or overrides it."""
    layer = COLLECTIONS[layer_id]
    names = fields or layer.popup_fields
    return {
        "style": layer_id,
        "title": layer.title(lang),
        "titleField": names[0],
        "fields": popup_fields(layer_id, names, lang),
        **extra,
    }


def site_link(lang: str, codes: Collection[str] | None = None) -> dict:
    """A site popup's link to that site's own map; with ``codes``, only on those sites (the
    ones the reader may open: a link that answers 403 is a dead end)."""
    link = {
        "field": "code",
        "href": f"/maps/sites/{{}}?lang={lang}",
        "text": labels.text("open_site_map", lang),
    }
    if codes is not None:
        link["only"] = sorted(codes)
    return link


def community_link(lang: str) -> dict:
    """A community popup's link to its own map; ``$id`` is the feature's id (the tiles carry
    a community's id as the vector tile feature id, not as a property)."""
    return {
        "field": "$id",
        "href": f"/maps/communities/{{}}?lang={lang}",
        "text": labels.text("open_community_map", lang),
    }


def monitor_link(lang: str) -> dict:
    """A monitor popup's link to the monitor's page (readable by whoever sees the monitor)."""
    return {
        "field": "mn",
        "href": f"/monitoring/monitors/{{}}?lang={lang}",
        "text": labels.text("open_monitor_page", lang),
    }

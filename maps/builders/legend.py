"""The legend: swatches for exposure, bands, contours, buildings, site status and kind, land use.

Colours and dash patterns come from the layers' declared styles and the land-use table, the
same ones ``maps.js`` draws with (``frame.config``), so the legend cannot disagree with the
map. Each map names its sections most important first: they are shown in that order, so a
legend that has to scroll or fold still shows what matters on that map.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from geo_service.landuse import land_use_classes
from layers import COLLECTIONS
from maps import labels

# A household's colour once its worst exceedance (dB(A), day or night) is above a step;
# none: green.
EXPOSURE_STEPS = ((0, "#fdae61"), (5, "#f46d43"), (10, "#a50026"))
# A building's colour on the community map (maps.js ``styles.buildings``).
BUILDING_COLOURS = {"building_affected": "#e6550d", "building_unaffected": "#9e9e9e"}


def _swatch(colour: str, label: str) -> str:
    return f'<div><span class="gs-swatch" style="background:{colour}"></span>{escape(label)}</div>'


def _line(colour: str, label: str, dash: str | None = None) -> str:
    """A line as the map draws it: an SVG stroke with the same dash array."""
    pattern = f' stroke-dasharray="{escape(dash)}"' if dash else ""
    return (
        '<div><svg class="gs-line" width="28" height="8" aria-hidden="true">'
        f'<line x1="0" y1="4" x2="28" y2="4" stroke="{colour}" stroke-width="3"{pattern}/>'
        f"</svg>{escape(label)}</div>"
    )


def _heading(key: str, lang: str) -> str:
    return f"<h4>{escape(labels.text(key, lang))}</h4>"


def _land_use(lang: str, bands: Sequence[float]) -> list[str]:
    return [
        _swatch(c.color, f"{c.code} {c.name_zh if lang == 'zh' else c.name_en}")
        for c in land_use_classes().values()
        if c.level == "major"
    ]


def _status(lang: str, bands: Sequence[float]) -> list[str]:
    sites = COLLECTIONS["sites"]
    colours = sites.style["status_colors"]
    return [_line(colours[status], status.label(lang)) for status in sites.field("status").choices]


def _monitor_state(lang: str, bands: Sequence[float]) -> list[str]:
    colours = COLLECTIONS["monitors"].style["state_colors"]
    return [_dot(colours[state], label) for state, label in labels.monitor_states(lang).items()]


def _dot(colour: str, label: str) -> str:
    """A point as the map draws it: a filled circle."""
    return (
        '<div><span class="gs-swatch" style="background:'
        f'{colour};border-radius:50%"></span>{escape(label)}</div>'
    )


def _kind(lang: str, bands: Sequence[float]) -> list[str]:
    sites = COLLECTIONS["sites"]
    dashes = sites.style["kind_dash"]
    return [
        _line("#333333", kind.label(lang), dashes.get(kind)) for kind in sites.field("kind").choices
    ]


def band_label(inner: float, outer: float) -> str:
    return f"{inner:g}–{outer:g} m"


def _bands(lang: str, bands: Sequence[float]) -> list[str]:
    colours = COLLECTIONS["impact_zones"].style["band_colors"]
    edges = [0.0, *bands]
    return [
        _swatch(colours[min(i, len(colours) - 1)], band_label(edges[i], edges[i + 1]))
        for i in range(len(bands))
    ]


def _noise(lang: str, bands: Sequence[float]) -> list[str]:
    zones = COLLECTIONS["impact_zones"]
    colours = zones.style["zone_colors"]
    kinds = zones.field("kind")
    return [
        _line(colour, kinds.value_label(kind, lang) or kind, "6 4")
        for kind, colour in colours.items()
    ]


def _exposure(lang: str, bands: Sequence[float]) -> list[str]:
    keys = ("exceed_0_5", "exceed_5_10", "exceed_10")
    return [
        _swatch("#2ca02c", labels.text("no_exceedance", lang)),
        *(
            _swatch(colour, labels.text(key, lang))
            for (_, colour), key in zip(EXPOSURE_STEPS, keys, strict=True)
        ),
    ]


def _buildings(lang: str, bands: Sequence[float]) -> list[str]:
    return [_swatch(colour, labels.text(key, lang)) for key, colour in BUILDING_COLOURS.items()]


# The legend's sections by name, with their headings.
_SECTIONS: dict[str, tuple[str, Callable[[str, Sequence[float]], list[str]]]] = {
    "exposure": ("legend_exposure", _exposure),
    "buildings": ("legend_buildings", _buildings),
    "bands": ("legend_bands", _bands),
    "default_bands": ("legend_default_bands", _bands),
    "noise": ("legend_noise", _noise),
    "status": ("legend_status", _status),
    "monitor_state": ("legend_monitor_state", _monitor_state),
    "kind": ("legend_kind", _kind),
    "land_use": ("legend_land_use", _land_use),
}


def legend_html(lang: str, parts: tuple[str, ...], bands: Sequence[float] = ()) -> str:
    """The sections named in ``parts``, in that order; ``bands`` are the band rings' outer
    edges in metres (the site's own, or the model's default)."""
    html = []
    for name in parts:
        heading, swatches = _SECTIONS[name]
        if name in ("bands", "default_bands") and not bands:
            continue
        html += [_heading(heading, lang), *swatches(lang, bands)]
    return "".join(html)

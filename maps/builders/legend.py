"""The legend: swatches for land use, site status and kind, bands, contours and exposure.

Colours come from the layers' declared styles and the land-use table, the same ones
``maps.js`` draws with (``frame.config``), so the legend cannot disagree with the map.
"""

from __future__ import annotations

from html import escape

from geo_service.landuse import land_use_classes
from layers import COLLECTIONS
from maps import labels

# A household's colour once its worst exceedance (dB(A), day or night) is above a step;
# none: green.
EXPOSURE_STEPS = ((0, "#fdae61"), (5, "#f46d43"), (10, "#a50026"))


def _swatch(colour: str, label: str, line: bool = False, dash: str | None = None) -> str:
    if line:
        style = f"border-top-color:{colour};" + ("border-top-style:dashed;" if dash else "")
        return f'<div><span class="gs-line" style="{style}"></span>{escape(label)}</div>'
    return f'<div><span class="gs-swatch" style="background:{colour}"></span>{escape(label)}</div>'


def _heading(key: str, lang: str) -> str:
    return f"<h4>{escape(labels.text(key, lang))}</h4>"


def _land_use(lang: str) -> list[str]:
    return [
        _swatch(c.color, f"{c.code} {c.name_zh if lang == 'zh' else c.name_en}")
        for c in land_use_classes().values()
        if c.level == "major"
    ]


def _status(lang: str) -> list[str]:
    names = labels.choices(lang)["status"]
    colours = COLLECTIONS["sites"].style["status_colors"]
    return [_swatch(colour, names[status], line=True) for status, colour in colours.items()]


def _kind(lang: str) -> list[str]:
    dashes = COLLECTIONS["sites"].style["kind_dash"]
    return [
        _swatch("#333333", label, line=True, dash=dashes.get(kind))
        for kind, label in labels.choices(lang)["kind"].items()
        if kind not in ("band", "noise_day", "noise_night")
    ]


def _bands(lang: str) -> list[str]:
    colours = COLLECTIONS["impact_zones"].style["band_colors"][:3]
    return [
        _swatch(colour, f"{labels.text('band', lang)} {i}")
        for i, colour in enumerate(colours, start=1)
    ]


def _noise(lang: str) -> list[str]:
    colours = COLLECTIONS["impact_zones"].style["zone_colors"]
    return [
        _swatch(colour, labels.text(kind, lang), line=True, dash="6 4")
        for kind, colour in colours.items()
    ]


def _exposure(lang: str) -> list[str]:
    keys = ("exceed_0_5", "exceed_5_10", "exceed_10")
    return [
        _swatch("#2ca02c", labels.text("no_exceedance", lang)),
        *(
            _swatch(colour, labels.text(key, lang))
            for (_, colour), key in zip(EXPOSURE_STEPS, keys, strict=True)
        ),
    ]


# The legend's sections in the order they are shown, by name, with their headings.
_SECTIONS = {
    "land_use": ("legend_land_use", _land_use),
    "status": ("legend_status", _status),
    "kind": ("legend_kind", _kind),
    "bands": ("legend_bands", _bands),
    "noise": ("legend_noise", _noise),
    "exposure": ("legend_exposure", _exposure),
}


def legend_html(lang: str, parts: tuple[str, ...]) -> str:
    """The legend's sections named in ``parts``, always in the order of ``_SECTIONS``."""
    html = []
    for name, (heading, swatches) in _SECTIONS.items():
        if name in parts:
            html += [_heading(heading, lang), *swatches(lang)]
    return "".join(html)

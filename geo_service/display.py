"""Values as people read them, in the page's language: labels for codes, 是/否 for booleans,
numbers rounded with their units, dates in words, "—" for nothing.

For the pages only (the OGC API's HTML). The JSON and GeoJSON answers keep the raw values,
which programs read. The words of codes and units come from the layers' declarations
(``layers.base``); numbers and dates are written by Babel in the reader's locale.
"""

from __future__ import annotations

from datetime import date, time
from functools import cache

from babel import Locale
from babel.dates import format_date, format_time
from babel.numbers import NumberPattern, parse_pattern

from layers.base import UNITS, Field

EMPTY = "—"
YES_NO: dict[bool, tuple[str, str]] = {True: ("是", "Yes"), False: ("否", "No")}
HECTARE = ("公顷", "ha")
# From this area on a page writes hectares (1 ha = 10,000 m²): planners speak of a 3.1 ha
# parcel, and of a 850 m² one.
HECTARE_FROM_M2 = 10_000.0

# Parsed once: a page of 10,000 features writes a number in 9 µs so, 45 µs from the names.
_LOCALES = {"zh": Locale.parse("zh_CN"), "en": Locale.parse("en")}
# Decimals by unit: whole square metres and metres (the geometry is not better than that),
# tenths of a dB (the noise model's rounding, ``impact.households.rounded``).
_PATTERNS = {"m²": "#,##0", "m": "#,##0", "%": "#,##0", "dB(A)": "#,##0.#"}


def value(field: Field | None, raw: object, lang: str) -> str:
    """One property of a feature, as a page shows it; ``field`` None for a property that
    is no declared field (written as it comes)."""
    if raw is None or raw == "" or raw == []:
        return EMPTY
    if isinstance(raw, list):
        return separator(lang).join(value(field, v, lang) for v in raw)
    if isinstance(raw, bool):
        return YES_NO[raw][0 if lang == "zh" else 1]
    if field is None:
        return str(raw)
    label = field.value_label(str(raw), lang)
    if label is not None:
        return label
    if isinstance(raw, int | float):
        return _number(field, raw, lang)
    if field.kind == "date":
        return format_date(date.fromisoformat(str(raw)), "medium", locale=_LOCALES[lang])
    if field.kind == "time":
        return format_time(time.fromisoformat(str(raw)), "short", locale=_LOCALES[lang])
    return str(raw)


@cache
def _pattern(pattern: str) -> NumberPattern:
    return parse_pattern(pattern)


def _decimal(number: float, pattern: str, lang: str) -> str:
    return _pattern(pattern).apply(number, _LOCALES[lang])


def separator(lang: str) -> str:
    """What stands between the items of a list: 、 in Chinese."""
    return "、" if lang == "zh" else ", "


def _number(field: Field, number: float, lang: str) -> str:
    """A number rounded for reading, with its unit (square metres, hectares from 1 ha)."""
    i = 0 if lang == "zh" else 1
    if field.unit == "m²" and round(number) >= HECTARE_FROM_M2:  # never "10,000 m²"
        return f"{_decimal(number / 10_000, '#,##0.##', lang)} {HECTARE[i]}"
    if field.unit is None:
        # Counts stay whole; other measures (floors, 3.5) keep up to two decimals.
        return _decimal(number, "#,##0.##", lang)
    text = _decimal(number, _PATTERNS[field.unit], lang)
    words = UNITS[field.unit][i]
    return f"{text}{words}" if field.unit == "%" else f"{text} {words}"

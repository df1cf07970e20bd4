"""What a printed site map carries besides the map: the date, a north arrow and the site's
summary (households per band, vulnerable households as a planner sees them).

The figures are ``geo_service.impact.site_impact`` with ``exact=False``, the API's answer to
a reader who may not see the sensitive fields: vulnerable households perturbed and small
cells "<5". A printed map leaves the service, so it never carries exact counts of them.
"""

from __future__ import annotations

from html import escape
from typing import Any

from branca.element import Element

from maps import labels
from maps.builders.legend import band_label

_COLUMNS = ("households", "residents", "vulnerable_households", "exceeding_day", "exceeding_night")


def _cell(value: Any) -> str:
    return f"<td>{escape('–' if value is None else str(value))}</td>"


def summary_html(summary: dict[str, Any], bands: tuple[float, ...], lang: str) -> str:
    """A table: one row per band (inner–outer metres), then the site's totals."""
    edges = {b: (0.0, *bands)[i] for i, b in enumerate(bands)}
    head = "".join(f"<th>{escape(labels.text('print_' + c, lang))}</th>" for c in _COLUMNS)
    rows = []
    for row in summary["by_band"]:
        outer = float(row["band_outer_m"])
        name = band_label(edges.get(outer, 0.0), outer)
        rows.append(f"<tr><th>{escape(name)}</th>{''.join(_cell(row[c]) for c in _COLUMNS)}</tr>")
    totals = summary["totals"]
    rows.append(
        f'<tr class="gs-total"><th>{escape(labels.text("print_total", lang))}</th>'
        f"{''.join(_cell(totals[c]) for c in _COLUMNS)}</tr>"
    )
    return (
        f'<div class="gs-summary"><h4>{escape(labels.text("print_summary", lang))}</h4>'
        f"<table><tr><th>{escape(labels.text('print_band', lang))}</th>{head}</tr>"
        f"{''.join(rows)}</table>"
        f'<p class="gs-note">{escape(labels.text("print_note", lang))}</p></div>'
    )


_NORTH = (
    '<div class="gs-north" aria-label="N"><svg width="34" height="48" viewBox="0 0 34 48">'
    '<path d="M17 2 L30 40 L17 32 L4 40 Z" fill="#222" stroke="#222"/>'
    '<path d="M17 2 L17 32 L4 40 Z" fill="#fff" stroke="#222"/>'
    '<text x="17" y="47" text-anchor="middle" font-size="10" font-weight="bold">N</text>'
    "</svg></div>"
)


def print_marks(lang: str) -> Element:
    """What only the printed page shows (``maps.css`` @media print) on every map: the date
    (filled in by maps.js when the page is printed) and the north arrow."""
    return Element(
        f'<div class="gs-print-date">{escape(labels.text("print_date", lang))}'
        f'<span class="gs-date"></span></div>{_NORTH}'
    )


def summary(summary: dict[str, Any], bands: tuple[float, ...], lang: str) -> Element:
    """A site's summary table, printed beside the map."""
    return Element(summary_html(summary, bands, lang))

"""Values as the pages write them (``geo_service.display``), at their edges; the pages
themselves are tested against PostGIS in ``tests/ogc/test_pages.py``."""

from __future__ import annotations

import pickle

import pytest

from geo_service import display
from layers import COLLECTIONS

PARCELS, SITES, ZONES = (COLLECTIONS[n] for n in ("parcels", "sites", "impact_zones"))


@pytest.mark.parametrize(
    ("m2", "zh", "en"),
    [
        (0.4, "0 平方米", "0 m²"),
        (9_999.4, "9,999 平方米", "9,999 m²"),
        (9_999.6, "1 公顷", "1 ha"),  # never "10,000 m²" beside "1.01 ha"
        (10_000.0, "1 公顷", "1 ha"),
        (31_234.5, "3.12 公顷", "3.12 ha"),
        (1_234_567.0, "123.46 公顷", "123.46 ha"),
    ],
)
def test_areas_turn_to_hectares_at_one_hectare(m2: float, zh: str, en: str) -> None:
    area = PARCELS.field("area_m2")
    assert (display.value(area, m2, "zh"), display.value(area, m2, "en")) == (zh, en)


def test_decibels_metres_percent_and_plain_numbers() -> None:
    assert display.value(ZONES.field("limit_dba"), 55, "zh") == "55 dB(A)"
    assert display.value(ZONES.field("limit_dba"), 62.345, "en") == "62.3 dB(A)"
    assert display.value(ZONES.field("outer_m"), 1234.56, "en") == "1,235 m"
    assert display.value(SITES.field("progress_pct"), 35, "zh") == "35%"
    floors = COLLECTIONS["buildings"].field("floors")
    assert [display.value(floors, f, "en") for f in (6.0, 3.5)] == ["6", "3.5"]


def test_nothing_is_a_dash_and_unknown_codes_stay_as_stored() -> None:
    status = SITES.field("status")
    assert {display.value(status, v, "zh") for v in (None, "", [])} == {display.EMPTY}
    assert display.value(status, "demolished", "en") == "demolished"
    assert display.value(PARCELS.field("land_use"), ["X9"], "zh") == "X9"


def test_headings_keep_the_words_the_json_has_always_carried() -> None:
    """Labels are bare (面积) where the page writes the unit with the value; JSON Schema
    titles, tile fields and popups take the heading, as they read before units moved."""
    assert [PARCELS.field("area_m2").heading(lang) for lang in ("zh", "en")] == [
        "面积（平方米）",
        "Area (m²)",
    ]
    assert ZONES.field("limit_dba").heading("zh") == "限值 dB(A)"
    assert ZONES.field("outer_m").heading("en") == "Outer radius (m)"
    assert SITES.field("progress_pct").heading("zh") == "形象进度（%）"


def test_a_choice_is_its_code_and_keeps_its_labels_when_copied() -> None:
    planned = SITES.field("status").choices[0]
    again = pickle.loads(pickle.dumps(planned))
    assert planned == "planned" and again == "planned"
    assert (again.label("zh"), again.label("en")) == ("规划中", "Planned")

"""The one registry of output formats: every surface writes each format it offers."""

from __future__ import annotations

from geo_service import impact_export
from geo_service.formats import HOUSEHOLD_LIST, either


def test_every_offered_household_format_has_a_writer() -> None:
    assert set(impact_export.WRITERS) == set(HOUSEHOLD_LIST.names)


def test_accepted_values_are_named_as_a_sentence() -> None:
    assert either(["json"]) == "json"
    assert either(["json", "html"]) == "json or html"
    assert either([".geojson", ".gpkg", ".csv"]) == ".geojson, .gpkg or .csv"

"""The one registry of output formats: every surface writes each format it offers."""

from __future__ import annotations

from geo_service import export, impact_export
from geo_service.formats import HOUSEHOLD_LIST, LAYER_EXPORT, either


def test_every_offered_household_format_has_a_writer() -> None:
    assert set(impact_export.WRITERS) == set(HOUSEHOLD_LIST.names)


def test_accepted_values_are_named_as_a_sentence() -> None:
    assert either(["json"]) == "json"
    assert either(["json", "html"]) == "json or html"
    assert either([".geojson", ".gpkg", ".csv"]) == ".geojson, .gpkg or .csv"


def test_every_offered_layer_export_format_has_a_writer() -> None:
    assert set(export.WRITERS) == set(LAYER_EXPORT.names)


def test_a_layer_file_suffix_names_its_format() -> None:
    assert LAYER_EXPORT.named_by(".GPKG") == "gpkg"
    assert LAYER_EXPORT.named_by(".json") == "geojson"
    assert LAYER_EXPORT.named_by(".xlsx") is None

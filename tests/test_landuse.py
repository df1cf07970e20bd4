"""The parcel-code parser: what planners type, and what it says when a code is wrong."""

from __future__ import annotations

import pytest

from geo_service.errors import InvalidParcelCode, UnknownLandUse
from geo_service.landuse import land_use_classes, parse_parcel_code


@pytest.mark.parametrize(
    ("code", "unit", "uses", "index"),
    [
        ("XC1003-R21-02", "XC1003", ("R21",), "02"),
        ("SC0403-R21-03", "SC0403", ("R21",), "03"),
        ("GS0201-R21/B1-05", "GS0201", ("R21", "B1"), "05"),
        ("JG08-A33-11", "JG08", ("A33",), "11"),
        ("XC1003-S42-1", "XC1003", ("S42",), "1"),
        (" XC1003-U12-07 ", "XC1003", ("U12",), "07"),
    ],
)
def test_parses_valid_codes(code: str, unit: str, uses: tuple[str, ...], index: str) -> None:
    parsed = parse_parcel_code(code)
    assert (parsed.unit, parsed.land_use, parsed.index) == (unit, uses, index)
    assert parsed.code == code.strip()


def test_names_compound_land_use_in_both_languages() -> None:
    parsed = parse_parcel_code("GS0201-R21/B1-05")
    assert parsed.land_use_zh == "二类居住用地（住宅用地）/商业用地"
    assert parsed.land_use_en == "Class 2 residential (housing)/Commercial"
    assert parsed.major_class == "R"


@pytest.mark.parametrize(
    ("code", "error", "says"),
    [
        ("XC1003R2102", InvalidParcelCode, "1 part(s)"),
        ("XC1003-R21-02-9", InvalidParcelCode, "4 part(s)"),
        ("", InvalidParcelCode, "empty"),
        ("XC 1003-R21-02", InvalidParcelCode, "unit 'XC 1003'"),
        ("XC1003-R21-x2", InvalidParcelCode, "parcel index 'x2'"),
        ("XC1003-R99-02", UnknownLandUse, "'R99' in parcel code 'XC1003-R99-02' is not a GB"),
        ("XC1003-r21-02", UnknownLandUse, "did you mean 'R21'"),
        ("XC1003-R21/R21-02", InvalidParcelCode, "repeats a class"),
        ("XC1003-R21/-02", UnknownLandUse, "land use ''"),
    ],
)
def test_rejects_malformed_codes_naming_the_problem(
    code: str, error: type[Exception], says: str
) -> None:
    with pytest.raises(error) as caught:
        parse_parcel_code(code)
    assert says in str(caught.value)


def test_reference_table_has_all_major_classes_with_names() -> None:
    classes = land_use_classes()
    majors = {c.code for c in classes.values() if c.level == "major"}
    assert majors == set("RABMWSUG")
    for code in ("R2", "R21", "A33", "B1", "S42", "U12", "G1"):
        assert classes[code].name_zh and classes[code].name_en

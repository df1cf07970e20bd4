"""GB 50137-2011 land-use classes and the parcel codes that carry them.

The classes are data (``reference/landuse_gb50137.csv``); this module only reads them
and parses codes such as ``XC1003-R21-02`` or ``GS0201-R21/B1-05``.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from geo_service.errors import InvalidParcelCode, UnknownLandUse


@dataclass(frozen=True)
class LandUseClass:
    """One class of the standard, at major, medium or small level."""

    code: str
    level: str
    parent: str | None
    name_zh: str
    name_en: str
    color: str

    def label(self, lang: str = "zh") -> str:
        """A name that stands alone: small classes repeat names, so they carry their parent."""
        own = self.name_zh if lang == "zh" else self.name_en
        if self.level != "small" or self.parent is None:
            return own
        parent = land_use_classes()[self.parent]
        if lang == "zh":
            return f"{parent.name_zh}（{own}）"
        return f"{parent.name_en} ({own.lower()})"


@cache
def land_use_classes() -> dict[str, LandUseClass]:
    """All classes by code, read once from the reference table."""
    text = (
        resources.files("geo_service.reference")
        .joinpath("landuse_gb50137.csv")
        .read_text(encoding="utf-8")
    )
    rows = csv.DictReader(text.splitlines())
    return {
        r["code"]: LandUseClass(
            r["code"], r["level"], r["parent"] or None, r["name_zh"], r["name_en"], r["color"]
        )
        for r in rows
    }


def describe_land_use(code: str, lang: str) -> str:
    """A class as a person reads it, with its code: ``R21 二类居住用地``."""
    known = land_use_classes().get(code)
    return f"{code} {known.label(lang)}" if known else code


@dataclass(frozen=True)
class ParcelCode:
    """A parsed parcel code; ``unit`` is opaque, ``land_use`` may hold several classes."""

    code: str
    unit: str
    land_use: tuple[str, ...]
    index: str

    @property
    def land_use_zh(self) -> str:
        return "/".join(land_use_classes()[c].label("zh") for c in self.land_use)

    @property
    def land_use_en(self) -> str:
        return "/".join(land_use_classes()[c].label("en") for c in self.land_use)

    @property
    def major_class(self) -> str:
        """The first class's major letter: what a map colours the parcel by."""
        return self.land_use[0][0]


_UNIT = re.compile(r"[A-Za-z0-9]+")
_INDEX = re.compile(r"[0-9]{1,4}[A-Z]?")
_EXAMPLE = "expected <unit>-<land use>-<index>, e.g. XC1003-R21-02"


def parse_parcel_code(raw: str) -> ParcelCode:
    """Split a parcel code into its parts, or say exactly what is wrong with it."""
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidParcelCode(f"parcel code is empty; {_EXAMPLE}")
    code = raw.strip()
    parts = code.split("-")
    if len(parts) != 3:
        raise InvalidParcelCode(
            f"parcel code {code!r} has {len(parts)} part(s) separated by '-'; {_EXAMPLE}"
        )
    unit, uses, index = parts
    if not _UNIT.fullmatch(unit):
        raise InvalidParcelCode(
            f"unit {unit!r} in parcel code {code!r} must be letters and digits; {_EXAMPLE}"
        )
    if not _INDEX.fullmatch(index):
        raise InvalidParcelCode(
            f"parcel index {index!r} in parcel code {code!r} must be 1-4 digits; {_EXAMPLE}"
        )
    classes = land_use_classes()
    land_use = tuple(uses.split("/"))
    for use in land_use:
        if use not in classes:
            hint = f" (did you mean {use.upper()!r}?)" if use.upper() in classes else ""
            raise UnknownLandUse(
                f"land use {use!r} in parcel code {code!r} is not a GB 50137-2011 class{hint}"
            )
    if len(set(land_use)) != len(land_use):
        raise InvalidParcelCode(f"land use {uses!r} in parcel code {code!r} repeats a class")
    return ParcelCode(code=code, unit=unit, land_use=land_use, index=index)

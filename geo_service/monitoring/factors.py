"""The HJ 212 factors a site monitor reports: code, name, unit, and how readings of it are
averaged. Data in ``reference/hj212_factors.csv``; the receiver, the readings API and the
SensorThings API all read it from here.

Particulates are stored in ug/m3 whatever the device sends (``monitors.units``), so the unit
here is the stored one. Sound levels in dB are averaged as energy (``10 log10 mean 10^(L/10)``),
everything else arithmetically; LMx and LMn are extremes, not energies.

Example::

    >>> FACTORS["a34002"].name_en, FACTORS["a34002"].symbol
    ('Particulate matter PM10', 'ug/m3')
    >>> "Leq" in ENERGY_MEAN, "LMx" in ENERGY_MEAN
    (True, False)
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources
from typing import Literal

Group = Literal["particulate", "weather", "noise"]

# Which monitors (``layers.monitors.MONITOR_KINDS``) measure which group of factors.
KINDS_OF_GROUP: dict[str, tuple[str, ...]] = {
    "particulate": ("dust", "both"),
    "weather": ("dust", "both"),
    "noise": ("noise", "both"),
}


@dataclass(frozen=True)
class Factor:
    code: str
    group: Group
    name_zh: str
    name_en: str
    unit: str  # the unit's name, e.g. "microgram per cubic metre"
    symbol: str  # e.g. "ug/m3", "dB(A)"
    definition: str  # the unit's URI (QUDT)
    mean: Literal["arithmetic", "energy"]

    @property
    def kinds(self) -> tuple[str, ...]:
        """The monitor kinds that report this factor."""
        return KINDS_OF_GROUP[self.group]


def _from_file() -> dict[str, Factor]:
    source = resources.files("geo_service.reference") / "hj212_factors.csv"
    with source.open(encoding="utf-8") as f:
        return {r["code"]: Factor(**r) for r in csv.DictReader(f)}


FACTORS: dict[str, Factor] = _from_file()
PARTICULATES = frozenset(c for c, f in FACTORS.items() if f.group == "particulate")
NOISE = frozenset(c for c, f in FACTORS.items() if f.group == "noise")
ENERGY_MEAN = tuple(c for c, f in FACTORS.items() if f.mean == "energy")

"""Buildings and households, shared by the demo district and the city.

Belongs here: slab blocks as arrays (footprints, floors, entrances, flats), the dwellings
inside them, which of them are occupied, and the fictional households living there (unit
labels such as ``3-2-501``, ``示例-`` names, ``199-0000-`` phones). Where the buildings
stand is the caller's business.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import shapely

from geo_service.demo.description import DistrictError


@dataclass
class Buildings:
    """Slab blocks in metres: axis-aligned footprints and what is inside them."""

    x0: np.ndarray
    y0: np.ndarray
    length: np.ndarray
    depth: np.ndarray
    floors: np.ndarray
    entrances: np.ndarray
    flats: np.ndarray
    number: np.ndarray  # 幢号 within the community

    def footprints(self) -> np.ndarray:
        return shapely.box(self.x0, self.y0, self.x0 + self.length, self.y0 + self.depth)

    def take(self, index: np.ndarray) -> Buildings:
        return Buildings(**{k: v[index] for k, v in vars(self).items()})


def typology_arrays(
    rng: np.random.Generator, kinds: np.ndarray, spec: Mapping[str, Any]
) -> dict[str, np.ndarray]:
    """Floors, entrances, flats per landing, depth and length of each building."""
    table = [spec["typologies"][k] for k in spec["typologies"]]
    floors_lo = np.array([t["floors"][0] for t in table])[kinds]
    floors_hi = np.array([t["floors"][1] for t in table])[kinds]
    entr_lo = np.array([t["entrances"][0] for t in table])[kinds]
    entr_hi = np.array([t["entrances"][1] for t in table])[kinds]
    floors = rng.integers(floors_lo, floors_hi + 1)
    entrances = rng.integers(entr_lo, entr_hi + 1)
    flats = np.array([t["flats_per_landing"] for t in table])[kinds]
    depth = np.array([t["depth_m"] for t in table], dtype=float)[kinds]
    length = entrances * flats * float(spec["layout"]["flat_width_m"])
    return {
        "floors": floors,
        "entrances": entrances,
        "flats": flats,
        "depth": depth,
        "length": length,
    }


def dwellings(b: Buildings) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every dwelling of every building as (building, entrance, floor, flat), 1-based."""
    capacity = b.floors * b.entrances * b.flats
    building = np.repeat(np.arange(len(capacity)), capacity)
    start = np.cumsum(capacity) - capacity
    k = np.arange(int(capacity.sum())) - start[building]
    flats, floors = b.flats[building], b.floors[building]
    return building, k // (flats * floors) + 1, (k // flats) % floors + 1, k % flats + 1


def occupied_mask(
    rng: np.random.Generator, building: np.ndarray, n_buildings: int, occupancy: float
) -> np.ndarray:
    """Which dwellings have a registered household; every building gets at least one."""
    mask = rng.random(len(building)) < occupancy
    empty = np.bincount(building[mask], minlength=n_buildings) == 0
    if empty.any():
        first = np.searchsorted(building, np.flatnonzero(empty))
        mask[first] = True
    return mask


def _unit_labels(
    number: np.ndarray, entrance: np.ndarray, floor: np.ndarray, flat: np.ndarray
) -> np.ndarray:
    """``3-2-501``: building, entrance (单元), floor and flat; formatted once per distinct label."""
    if entrance.max(initial=0) > 9 or floor.max(initial=0) > 999 or flat.max(initial=0) > 99:
        raise DistrictError("entrances, floors or flats per landing out of range")
    key = ((number.astype(np.int64) * 10 + entrance) * 1000 + floor) * 100 + flat
    uniq, inverse = np.unique(key, return_inverse=True)
    text = np.array(
        [f"{k // 1_000_000}-{k // 100_000 % 10}-{k // 100 % 1000}{k % 100:02d}" for k in uniq],
        dtype=object,
    )
    return text[inverse]


@cache
def _phones(pattern: str) -> np.ndarray:
    return np.array([pattern.format(n=n) for n in range(10_000)], dtype=object)


def households_in(
    rng: np.random.Generator,
    b: Buildings,
    dwelling: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    people: Mapping[str, Any],
    rates: Mapping[str, float],
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Attributes and positions (metres) of the households in these dwellings."""
    building, entrance, floor, flat = dwelling
    n = len(building)
    columns: dict[str, np.ndarray] = {
        "unit_label": _unit_labels(b.number[building], entrance, floor, flat)
    }
    sizes = np.array([int(k) for k in people["residents"]])
    weights = np.array([float(v) for v in people["residents"].values()])
    columns["residents"] = rng.choice(sizes, size=n, p=weights / weights.sum())
    names = np.array(
        [people["contact_name"].format(surname=s) for s in people["surnames"]], dtype=object
    )
    columns["contact_name"] = names[rng.integers(0, len(names), n)]
    columns["phone"] = _phones(people["phone"])[rng.integers(0, 10_000, n)]
    for flag in ("elderly", "infant", "disabled", "night_shift"):
        columns[flag] = rng.random(n) < float(rates[flag])
    # A household stands in its own flat's bay of the slab, away from the walls.
    bay = b.length[building] / (b.entrances[building] * b.flats[building])
    position = (entrance - 1) * b.flats[building] + (flat - 1)
    x = b.x0[building] + (position + rng.uniform(0.2, 0.8, n)) * bay
    y = b.y0[building] + b.depth[building] * rng.uniform(0.2, 0.8, n)
    return columns, x, y

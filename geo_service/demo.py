"""The demo district and the city-scale synthetic data set.

``data/demo/district.yaml`` holds the facts people recognise (places, parcel codes, counts,
parties); this module turns them into one frame per layer with exactly that layer's import
columns, so the demo travels through the same import pipeline as a user's files.

Geometry is laid out in metres in the working CRS (CGCS2000 Gauss-Kruger) and reprojected
to EPSG:4326 at the end. Output is deterministic: generators are seeded from the file's seed
and the name of what they generate, never from time or iteration order.

Every resident is fictional and looks it: contact names read ``示例-王某`` and phones
``199-0000-NNNN``. China has no reserved fictional number range, so the ``0000`` block and the
``示例`` ("example") prefix are what mark these as fake; they must never reach a real dialler.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import math
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import yaml
from pyproj import Transformer
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.ops import split
from sqlalchemy import Engine, text
from tqdm import tqdm

from geo_service.landuse import parse_parcel_code
from layers import LAYERS
from layers.communities import ACOUSTIC_CLASSES
from layers.sites import SITE_KINDS, SITE_STATUSES

DISTRICT_YAML = Path(__file__).resolve().parent.parent / "data" / "demo" / "district.yaml"
USE_ARROW = importlib.util.find_spec("pyarrow") is not None
SIDES = ("north", "south", "east", "west")
PARTIES = ("owner", "survey", "design", "contractor", "supervisor")  # the five 参建单位


class DistrictError(ValueError):
    """The district description is inconsistent; the message names the entry to fix."""


def import_columns(layer_id: str) -> list[str]:
    """The columns an import file of this layer carries: every field that is not derived."""
    return [f.name for f in LAYERS[layer_id].fields if not f.derived]


# -- the description ----------------------------------------------------------------------------
def load_district(path: Path | None = None) -> dict[str, Any]:
    """Read the district description and reject the mistakes a hand edit makes."""
    path = Path(path) if path is not None else DISTRICT_YAML
    with path.open(encoding="utf-8") as fh:
        spec: dict[str, Any] = yaml.safe_load(fh)
    codes: list[str] = []
    for site in spec["sites"]:
        if site.get("kind") not in SITE_KINDS:
            raise DistrictError(f"site {site['code']}: kind must be one of {SITE_KINDS}")
        if site.get("status") not in SITE_STATUSES:
            raise DistrictError(f"site {site['code']}: status must be one of {SITE_STATUSES}")
        codes += [_parcel(p)["code"] for p in site.get("parcels", [])]
        codes += [f["code"] for f in site.get("frontage", [])]
    site_codes = {s["code"] for s in spec["sites"]}
    for community in spec["communities"]:
        community["acoustic_class"] = str(community["acoustic_class"])
        if community["acoustic_class"] not in ACOUSTIC_CLASSES:
            raise DistrictError(f"community {community['name']}: unknown acoustic class")
        beside = community.get("beside")
        if beside and (beside["site"] not in site_codes or beside["side"] not in SIDES):
            raise DistrictError(f"community {community['name']}: bad 'beside' {beside}")
        for kind in community["buildings"]:
            if kind not in spec["typologies"]:
                raise DistrictError(f"community {community['name']}: unknown typology {kind}")
        codes += [_parcel(p)["code"] for p in community.get("parcels", [])]
    for code in codes:
        parse_parcel_code(code)
        if parse_parcel_code(code).unit not in spec["planning_units"]:
            raise DistrictError(f"parcel {code}: its unit is not in planning_units")
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    if duplicates:
        raise DistrictError(f"parcel codes used twice: {', '.join(duplicates)}")
    return spec


def _parcel(entry: str | Mapping[str, Any]) -> dict[str, Any]:
    """A parcel entry as a mapping: a bare code means an equal share of the width."""
    return {"code": entry} if isinstance(entry, str) else dict(entry)


def _rng(seed: int, *names: str) -> np.random.Generator:
    """A generator keyed by what it generates, so editing one entry leaves the others alone."""
    return np.random.default_rng([seed, *(zlib.crc32(n.encode("utf-8")) for n in names)])


# -- geometry helpers ---------------------------------------------------------------------------
@dataclass(frozen=True)
class _Projection:
    """Metres in the working CRS and WGS84 lon/lat, both ways."""

    forward: Transformer
    inverse: Transformer

    @classmethod
    def of(cls, crs: str) -> _Projection:
        return cls(
            Transformer.from_crs("EPSG:4326", crs, always_xy=True),
            Transformer.from_crs(crs, "EPSG:4326", always_xy=True),
        )

    def metres(self, lon: float, lat: float) -> tuple[float, float]:
        x, y = self.forward.transform(lon, lat)
        return float(x), float(y)

    def to_wgs84(self, geoms: np.ndarray) -> np.ndarray:
        return shapely.transform(geoms, self.inverse.transform, interleaved=False)


def _rect(
    x0: float,
    y0: float,
    x1: float,
    y1: float,
    bottom: Sequence[float] = (),
    top: Sequence[float] = (),
) -> Polygon:
    """A rectangle with extra vertices on its bottom and top edges at the given x.

    Neighbours built from the same numbers share vertices exactly, so after reprojection a
    site still covers its parcels and parcels neither overlap nor leave slivers.
    """
    ring = [(x0, y0), *((x, y0) for x in bottom), (x1, y0), (x1, y1)]
    ring += [*((x, y1) for x in reversed(top)), (x0, y1)]
    return Polygon(ring)


def _strips(
    x0: float, y0: float, x1: float, y1: float, shares: Sequence[float]
) -> tuple[Polygon, list[Polygon]]:
    """Split a rectangle west to east by shares: the outline and its strips."""
    fractions = np.cumsum(np.asarray(shares, dtype=float)) / float(np.sum(shares))
    edges = [x0, *(x0 + (x1 - x0) * f for f in fractions[:-1]), x1]
    inner = edges[1:-1]
    strips = [_rect(a, y0, b, y1) for a, b in pairwise(edges)]
    return _rect(x0, y0, x1, y1, bottom=inner, top=inner), strips


def _multi(geom: BaseGeometry) -> MultiPolygon:
    return geom if isinstance(geom, MultiPolygon) else MultiPolygon([geom])


# -- buildings and households (shared by the demo and the city) ----------------------------------
@dataclass
class _Buildings:
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

    def take(self, index: np.ndarray) -> _Buildings:
        return _Buildings(**{k: v[index] for k, v in vars(self).items()})


def _typology_arrays(
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


def _dwellings(b: _Buildings) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every dwelling of every building as (building, entrance, floor, flat), 1-based."""
    capacity = b.floors * b.entrances * b.flats
    building = np.repeat(np.arange(len(capacity)), capacity)
    start = np.cumsum(capacity) - capacity
    k = np.arange(int(capacity.sum())) - start[building]
    flats, floors = b.flats[building], b.floors[building]
    return building, k // (flats * floors) + 1, (k // flats) % floors + 1, k % flats + 1


def _occupied(
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


def _households(
    rng: np.random.Generator,
    b: _Buildings,
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


# -- the demo district --------------------------------------------------------------------------
@dataclass
class _Community:
    """A community laid out in metres, before and after it is placed."""

    spec: dict[str, Any]
    width: float
    height: float
    buildings: _Buildings  # relative to the community's south-west corner until placed
    rng: np.random.Generator


def _lay_out_community(spec: Mapping[str, Any], entry: dict[str, Any]) -> _Community:
    """Rows of south-facing slabs, taller rows to the north, spaced for sunlight."""
    rng = _rng(spec["seed"], "community", entry["name"])
    layout = spec["layout"]
    names = list(spec["typologies"])
    kinds = np.concatenate(
        [np.full(int(count), names.index(kind)) for kind, count in entry["buildings"].items()]
    )
    t = _typology_arrays(rng, kinds, spec)
    order = np.argsort(t["floors"], kind="stable")
    t = {k: v[order] for k, v in t.items()}
    n = len(order)
    gable, margin, jitter = float(layout["gable_gap_m"]), float(layout["margin_m"]), 3.0
    slot_w = float(t["length"].max()) + gable
    gap_lo, gap_hi = (float(v) for v in layout["row_gap_m"])

    def rows_for(cols: int) -> list[float]:
        """The y of each row's south edge and, last, the inner height."""
        ys, y = [], 0.0
        for start in range(0, n, cols):
            row = slice(start, start + cols)
            height = float(t["floors"][row].max()) * float(layout["storey_height_m"])
            gap = min(max(float(layout["sunlight_ratio"]) * height, gap_lo), gap_hi)
            ys.append(y)
            y += float(t["depth"][row].max()) + jitter + gap
        last = slice((len(ys) - 1) * cols, n)
        return [*ys, ys[-1] + float(t["depth"][last].max()) + jitter]

    def squareness(cols: int) -> float:
        return abs(cols * slot_w - gable - rows_for(cols)[-1])

    cols = min(range(1, n + 1), key=squareness)
    ys = rows_for(cols)
    index = np.arange(n)
    col, row = index % cols, index // cols
    slack = slot_w - gable - t["length"]
    x0 = margin + col * slot_w + rng.uniform(0.0, 1.0, n) * slack
    y0 = margin + np.array(ys[:-1])[row] + rng.uniform(0.0, jitter, n)
    buildings = _Buildings(
        x0=x0,
        y0=y0,
        length=t["length"],
        depth=t["depth"],
        floors=t["floors"],
        entrances=t["entrances"],
        flats=t["flats"],
        number=index + 1,
    )
    width = cols * slot_w - gable + 2 * margin
    return _Community(dict(entry), width, ys[-1] + 2 * margin, buildings, rng)


def _place(
    community: _Community,
    anchor: tuple[float, float],
    beside: Mapping[str, Any] | None,
    footprints: Mapping[str, BaseGeometry],
) -> tuple[float, float]:
    """The south-west corner: centred on the anchor, or pushed beside a site's footprint."""
    w, h = community.width, community.height
    ax, ay = anchor
    if not beside:
        return ax - w / 2, ay - h / 2
    footprint = footprints[beside["site"]]
    gap, side = float(beside["gap_m"]), beside["side"]
    fx0, fy0, fx1, fy1 = footprint.bounds
    if side in ("east", "west"):
        band = footprint.intersection(shapely.box(fx0 - 1, ay - h / 2, fx1 + 1, ay + h / 2))
        bx0, _, bx1, _ = (band if not band.is_empty else footprint).bounds
        return (bx1 + gap if side == "east" else bx0 - gap - w), ay - h / 2
    band = footprint.intersection(shapely.box(ax - w / 2, fy0 - 1, ax + w / 2, fy1 + 1))
    _, by0, _, by1 = (band if not band.is_empty else footprint).bounds
    return ax - w / 2, (by1 + gap if side == "north" else by0 - gap - h)


def _site_shapes(
    site: Mapping[str, Any], proj: _Projection
) -> tuple[BaseGeometry, list[tuple[str, Polygon]], BaseGeometry]:
    """A site's geometry, its parcels (linked, then frontage) and its footprint, in metres."""
    parcels = [_parcel(p) for p in site.get("parcels", [])]
    if "corridor" in site:
        corridor = site["corridor"]
        line = LineString([proj.metres(lon, lat) for lon, lat in corridor["line"]])
        half = float(corridor["width_m"]) / 2
        road = line.buffer(half, cap_style="flat", join_style="mitre")
        cutters = []
        for k in range(1, len(parcels)):
            at = line.length * k / len(parcels)
            p, q = line.interpolate(at - 1.0), line.interpolate(at + 1.0)
            dx, dy = (q.x - p.x) / 2.0, (q.y - p.y) / 2.0
            mid = line.interpolate(at)
            nx, ny = -dy * 3 * half, dx * 3 * half
            cutters.append(LineString([(mid.x - nx, mid.y - ny), (mid.x + nx, mid.y + ny)]))
        pieces = list(split(road, MultiLineString(cutters)).geoms) if cutters else [road]
        pieces.sort(key=lambda g: line.project(g.centroid))
        if len(pieces) != len(parcels):
            raise DistrictError(f"site {site['code']}: corridor did not split into its parcels")
        shapes = [(p["code"], piece) for p, piece in zip(parcels, pieces, strict=True)]
        return line, shapes, road
    cx, cy = proj.metres(*site["anchor"])
    if "size_m" in site:
        w, h = (float(v) for v in site["size_m"])
    else:
        area = float(site["area_ha"]) * 10_000
        w = math.sqrt(area * float(site.get("aspect", 1.0)))
        h = area / w
    x0, y0, x1, y1 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
    outline, strips = _strips(x0, y0, x1, y1, [float(p.get("share", 1.0)) for p in parcels])
    shapes = [(p["code"], s) for p, s in zip(parcels, strips, strict=True)]
    inner = [float(s.bounds[2]) for s in strips[:-1]]
    for front in site.get("frontage", []):
        d = float(front["width_m"])
        strip = {
            "south": _rect(x0, y0 - d, x1, y0, top=inner),
            "north": _rect(x0, y1, x1, y1 + d, bottom=inner),
            "west": _rect(x0 - d, y0, x0, y1),
            "east": _rect(x1, y0, x1 + d, y1),
        }[front["side"]]
        shapes.append((front["code"], strip))
    footprint = shapely.union_all([outline, *(s for _, s in shapes)])
    return outline, shapes, footprint


def _check_layout(items: Sequence[tuple[str, BaseGeometry]]) -> None:
    """Communities and site footprints must not overlap: say which two do."""
    tree = shapely.STRtree([g for _, g in items])
    for i, (name, geom) in enumerate(items):
        for j in tree.query(geom, predicate="intersects"):
            if j > i and geom.intersection(items[j][1]).area > 0.01:
                raise DistrictError(f"{name} overlaps {items[j][0]}; move one of them")


def _frame(layer_id: str, columns: Mapping[str, Any], geometry: np.ndarray) -> gpd.GeoDataFrame:
    """A frame with exactly the layer's import columns, in its field order, in EPSG:4326."""
    wanted = import_columns(layer_id)
    if set(columns) != set(wanted):
        raise DistrictError(f"{layer_id}: columns {sorted(columns)} != import columns {wanted}")
    frame = pd.DataFrame({name: columns[name] for name in wanted})
    return gpd.GeoDataFrame(frame, geometry=geometry, crs="EPSG:4326")


def _as_date(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def _site_row(site: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """A site's attributes; progress is 100 once completed and unknown while planned."""
    hours = site.get("work_hours", defaults.get("work_hours", [None, None]))
    progress = {"completed": 100, "planned": None}.get(site["status"], site.get("progress_pct"))
    night = site.get("night_work_permitted", defaults.get("night_work_permitted", False))
    return {
        "code": site["code"],
        "name": site["name"],
        "kind": site["kind"],
        "status": site["status"],
        "progress_pct": progress,
        "start_date": _as_date(site.get("start_date")),
        "end_date": _as_date(site.get("end_date")),
        "work_hours_start": hours[0],
        "work_hours_end": hours[1],
        "night_work_permitted": bool(night),
        **{k: site.get(k) for k in PARTIES},
        "liaison_officer": site.get("liaison_officer"),
        "description": site.get("description"),
        "parcels": ";".join(_parcel(p)["code"] for p in site.get("parcels", [])),
    }


def build_demo_district(path: Path | None = None) -> dict[str, gpd.GeoDataFrame]:
    """One frame per layer (parcels, sites, communities, buildings, households) in EPSG:4326.

    References are natural keys, as in a user's import file: a site lists its parcel codes
    joined by ';', a building names its community, a household its building's address.
    """
    spec = load_district(path)
    proj = _Projection.of(spec["working_crs"])

    parcel_rows: list[tuple[str, Polygon]] = []
    site_rows: list[dict[str, Any]] = []
    site_geoms: list[BaseGeometry] = []
    footprints: dict[str, BaseGeometry] = {}
    defaults = spec.get("site_defaults", {})
    for site in spec["sites"]:
        geom, shapes, footprint = _site_shapes(site, proj)
        parcel_rows += shapes
        footprints[site["code"]] = footprint
        site_geoms.append(geom)
        site_rows.append(_site_row(site, defaults))

    communities: list[_Community] = []
    community_geoms: list[Polygon] = []
    for entry in spec["communities"]:
        community = _lay_out_community(spec, entry)
        ox, oy = _place(community, proj.metres(*entry["anchor"]), entry.get("beside"), footprints)
        community.buildings.x0 += ox
        community.buildings.y0 += oy
        shares = [float(_parcel(p).get("share", 1.0)) for p in entry["parcels"]]
        x1, y1 = ox + community.width, oy + community.height
        outline, strips = _strips(ox, oy, x1, y1, shares)
        parcel_rows += [
            (_parcel(p)["code"], s) for p, s in zip(entry["parcels"], strips, strict=True)
        ]
        communities.append(community)
        community_geoms.append(outline)

    _check_layout(
        [
            (f"community {c.spec['name']}", g)
            for c, g in zip(communities, community_geoms, strict=True)
        ]
        + [(f"site {code}", fp) for code, fp in footprints.items()]
    )

    # Buildings and households, community by community, each with its own generator.
    people, occupancy = spec["households"], float(spec["layout"]["occupancy"])
    addresses, community_names, footprints_m = [], [], []
    floors, counts = [], []
    household_cols: list[dict[str, np.ndarray]] = []
    hx, hy = [], []
    for c in communities:
        e = c.spec
        b = c.buildings
        address = [
            f"{spec['city_prefix']}{e['district']}{e['street_office']}{e['name']}{n}幢"
            for n in b.number
        ]
        building, entrance, floor, flat = _dwellings(b)
        mask = _occupied(c.rng, building, len(b.number), occupancy)
        dwelling = (building[mask], entrance[mask], floor[mask], flat[mask])
        rates = {**people["vulnerability"], **e.get("vulnerability", {})}
        cols, x, y = _households(c.rng, b, dwelling, people, rates)
        cols["building"] = np.asarray(address, dtype=object)[dwelling[0]]
        household_cols.append(cols)
        hx.append(x)
        hy.append(y)
        addresses += address
        community_names += [e["name"]] * len(address)
        footprints_m.append(b.footprints())
        floors.append(b.floors)
        counts.append(np.bincount(dwelling[0], minlength=len(address)))

    to_wgs84 = proj.to_wgs84
    parcel_geoms = to_wgs84(np.array([g for _, g in parcel_rows], dtype=object))
    building_geoms = to_wgs84(np.concatenate(footprints_m))
    lon, lat = proj.inverse.transform(np.concatenate(hx), np.concatenate(hy))

    parcel_names = [
        f"{spec['planning_units'][parse_parcel_code(code).unit]}{code}地块"
        for code, _ in parcel_rows
    ]
    site_columns = {k: [r[k] for r in site_rows] for k in import_columns("sites")}
    site_columns["progress_pct"] = pd.array(site_columns["progress_pct"], dtype="Int64")
    frames = {
        "parcels": _frame(
            "parcels",
            {"code": [c for c, _ in parcel_rows], "name": parcel_names},
            np.array([_multi(g) for g in parcel_geoms], dtype=object),
        ),
        "sites": _frame("sites", site_columns, to_wgs84(np.array(site_geoms, dtype=object))),
        "communities": _frame(
            "communities",
            {k: [c.spec[k] for c in communities] for k in import_columns("communities")},
            np.array([_multi(g) for g in to_wgs84(np.array(community_geoms))], dtype=object),
        ),
        "buildings": _frame(
            "buildings",
            {
                "address": addresses,
                "community": community_names,
                "floors": np.concatenate(floors),
                "households_count": np.concatenate(counts),
            },
            shapely.multipolygons(building_geoms, indices=np.arange(len(building_geoms))),
        ),
        "households": _frame(
            "households",
            {k: np.concatenate([c[k] for c in household_cols]) for k in household_cols[0]},
            shapely.points(lon, lat),
        ),
    }
    _check_extent(frames, spec["extent"])
    return {layer: frames[layer] for layer in LAYERS}


def _check_extent(frames: Mapping[str, gpd.GeoDataFrame], extent: Sequence[float]) -> None:
    """Everything must stay inside the box the description promises."""
    west, south, east, north = extent
    for layer, frame in frames.items():
        x0, y0, x1, y1 = frame.total_bounds
        if x0 < west or y0 < south or x1 > east or y1 > north:
            raise DistrictError(f"{layer} reach {frame.total_bounds}, outside extent {extent}")


def _write(frame: gpd.GeoDataFrame, path: Path, layer: str) -> Path:
    """One GeoPackage per layer, replacing an older file of the same name."""
    path.unlink(missing_ok=True)
    frame.to_file(path, layer=layer, driver="GPKG", engine="pyogrio", use_arrow=USE_ARROW)
    return path


def write_demo_files(directory: Path) -> dict[str, Path]:
    """The demo district as ``<directory>/<layer>.gpkg``, one file per layer."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return {
        layer: _write(frame, directory / f"{layer}.gpkg", layer)
        for layer, frame in build_demo_district().items()
    }


def load_demo(engine: Engine, *, progress: bool = False, if_empty: bool = False) -> bool:
    """Replace what is stored with the demo district, through the import pipeline.

    With ``if_empty`` an existing data set is left alone (``./dev serve`` runs this every
    time). Returns whether the demo was loaded.
    """
    from geo_service import impact
    from geo_service.ingest import NoProgress, TqdmProgress, import_frame

    tables = [layer.table for layer in LAYERS.values()]
    with engine.begin() as conn:
        stored = sum(
            conn.execute(text(f"SELECT count(*) FROM (SELECT 1 FROM {t} LIMIT 1) x")).scalar_one()
            for t in tables
        )
        if stored and if_empty:
            print("the database already holds data; the demo district was not loaded")
            return False
        for table in reversed(tables):
            conn.execute(text(f"DELETE FROM {table}"))
    for layer, frame in build_demo_district().items():
        report = import_frame(
            engine,
            layer,
            frame,
            source="demo district",
            progress=TqdmProgress() if progress else NoProgress(),
        )
        if progress:
            print(report.summary().splitlines()[0])
    with engine.begin() as conn:
        for code, lines in load_district().get("equipment", {}).items():
            impact.set_equipment(conn, impact.resolve_site(conn, code).id, lines)
    return True


def write_samples(directory: Path) -> dict[str, Path]:
    """Small import files, one per supported format and CRS, cut from the demo district.

    They show how real deliveries arrive: parcels as a GeoPackage in CGCS2000 Gauss-Kruger
    zone 40 (EPSG:4549), communities as GeoJSON, buildings as a zipped Shapefile in CGCS2000
    (EPSG:4490), households as CSV with lon/lat (no CRS: import with ``--crs EPSG:4490``),
    sites as GeoJSON naming their parcels.
    """
    import zipfile

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    frames = build_demo_district()
    communities = frames["communities"].iloc[:2]
    buildings = frames["buildings"][frames["buildings"]["community"].isin(communities["name"])]
    buildings = buildings.iloc[:6]
    households = frames["households"][frames["households"]["building"].isin(buildings["address"])]
    sites = frames["sites"].iloc[:2]
    codes = {c for cell in sites["parcels"].dropna() for c in str(cell).split(";") if c}
    parcels = frames["parcels"][frames["parcels"]["code"].isin(codes)]
    paths = {
        "parcels": directory / "parcels_epsg4549.gpkg",
        "communities": directory / "communities.geojson",
        "buildings": directory / "buildings_epsg4490.zip",
        "households": directory / "households_lonlat.csv",
        "sites": directory / "sites.geojson",
    }
    _write(parcels.to_crs("EPSG:4549"), paths["parcels"], "parcels")
    paths["communities"].unlink(missing_ok=True)
    communities.to_file(paths["communities"], driver="GeoJSON", engine="pyogrio")
    paths["sites"].unlink(missing_ok=True)
    sites.to_file(paths["sites"], driver="GeoJSON", engine="pyogrio")
    shp = directory / "_shp"
    shp.mkdir(exist_ok=True)
    # Shapefiles cut names to 10 characters (households_count -> households); the import
    # recognises such cuts.
    buildings.to_crs("EPSG:4490").to_file(shp / "buildings.shp", encoding="utf-8", engine="pyogrio")
    with zipfile.ZipFile(paths["buildings"], "w", zipfile.ZIP_DEFLATED) as archive:
        for part in sorted(shp.iterdir()):
            archive.write(part, part.name)
            part.unlink()
    shp.rmdir()
    table = pd.DataFrame(households.drop(columns="geometry"))
    table.insert(2, "lon", households.geometry.x.round(7))
    table.insert(3, "lat", households.geometry.y.round(7))
    table.to_csv(paths["households"], index=False, encoding="utf-8")
    return paths


# -- the city -----------------------------------------------------------------------------------
def _shares(table: Mapping[str, Any], key: str | None = None) -> tuple[list[str], np.ndarray]:
    names = list(table)
    weights = np.array([float(table[n][key] if key else table[n]) for n in names])
    return names, weights / weights.sum()


@dataclass(frozen=True)
class _Grid:
    """Square cells over the city extent, in metres; each holds one community or one site."""

    nx: int
    ny: int
    cell: float
    x: np.ndarray  # south-west corner of every cell, row by row from the south
    y: np.ndarray
    weight: np.ndarray  # how likely a cell is built on: dense near the centre

    @classmethod
    def over(cls, city: Mapping[str, Any], proj: _Projection) -> _Grid:
        cell = float(city["cell_m"])
        west, south, east, north = city["extent"]
        sw, nw = proj.metres(west, south), proj.metres(west, north)
        se, ne = proj.metres(east, south), proj.metres(east, north)
        xmin, xmax = max(sw[0], nw[0]), min(se[0], ne[0])
        ymin, ymax = max(sw[1], se[1]), min(nw[1], ne[1])
        nx, ny = int((xmax - xmin) // cell), int((ymax - ymin) // cell)
        ids = np.arange(nx * ny)
        x, y = xmin + (ids % nx) * cell, ymin + (ids // nx) * cell
        cx, cy = proj.metres(*city["centre"])
        sigma = float(city["spread_km"]) * 1000
        d2 = (x + cell / 2 - cx) ** 2 + (y + cell / 2 - cy) ** 2
        weight = np.exp(-d2 / (2 * sigma**2)) + float(city["background_weight"])
        return cls(nx, ny, cell, x, y, weight)

    def pick(self, rng: np.random.Generator, cells: np.ndarray, n: int) -> np.ndarray:
        """``n`` of these cells, by weight, without repeats."""
        p = self.weight[cells] / self.weight[cells].sum()
        return rng.choice(cells, n, replace=False, p=p)

    def facing(self, taken: np.ndarray) -> np.ndarray:
        """For every cell, whether its north, south, east and west neighbour is taken."""
        grid = np.zeros(self.nx * self.ny, dtype=bool)
        grid[taken] = True
        grid = grid.reshape(self.ny, self.nx)
        sides = np.zeros((self.ny, self.nx, 4), dtype=bool)
        sides[:-1, :, 0] = grid[1:, :]
        sides[1:, :, 1] = grid[:-1, :]
        sides[:, :-1, 2] = grid[:, 1:]
        sides[:, 1:, 3] = grid[:, :-1]
        return sides.reshape(-1, 4)


def _city_buildings(
    rng: np.random.Generator,
    spec: Mapping[str, Any],
    grid: _Grid,
    community_cells: np.ndarray,
) -> tuple[_Buildings, np.ndarray]:
    """A fixed grid of slots per community, one slab per slot: buildings and their community."""
    city, layout = spec["city"], spec["layout"]
    cols, rows = (int(v) for v in city["slots"])
    margin, cell = float(city["margin_m"]), grid.cell
    slot_w, slot_h = (cell - 2 * margin) / cols, (cell - 2 * margin) / rows
    gable, row_gap = float(layout["gable_gap_m"]), float(layout["row_gap_m"][0])
    kinds, kind_p = _shares(city["typology_shares"])
    n = len(community_cells) * cols * rows
    kind = rng.choice(len(kinds), n, p=kind_p)
    t = _typology_arrays(
        rng, kind, {**spec, "typologies": {k: spec["typologies"][k] for k in kinds}}
    )
    if (t["length"] + gable > slot_w).any() or (t["depth"] + row_gap > slot_h).any():
        raise DistrictError("city slots are too small for the longest or deepest building")
    home, slot = np.divmod(np.arange(n), cols * rows)
    x0 = grid.x[community_cells][home] + margin + (slot % cols) * slot_w
    x0 += rng.uniform(0.0, 1.0, n) * (slot_w - gable - t["length"])
    y0 = grid.y[community_cells][home] + margin + (slot // cols) * slot_h
    y0 += rng.uniform(0.0, 1.0, n) * (slot_h - row_gap - t["depth"])
    fields = ("length", "depth", "floors", "entrances", "flats")
    return _Buildings(x0, y0, *(t[f] for f in fields), number=slot + 1), home


def _city_site_shapes(
    rng: np.random.Generator,
    city: Mapping[str, Any],
    grid: _Grid,
    cells: np.ndarray,
    side: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rectangles (outline, west and east parcel) and road lines (with corridor), in metres.

    Each is pushed against the side of its cell that faces a community (0 north, 1 south,
    2 east, 3 west), so households fall in every impact band.
    """
    n, cell, gap = len(cells), grid.cell, float(city["site_edge_gap_m"])
    x_lo, y_lo = grid.x[cells], grid.y[cells]
    x_hi, y_hi = x_lo + cell, y_lo + cell
    (w_lo, w_hi), (h_lo, h_hi) = city["site_size_m"]
    w, h = rng.uniform(w_lo, w_hi, n), rng.uniform(h_lo, h_hi, n)
    shift = rng.uniform(-1.0, 1.0, n)
    cx = np.select(
        [side == 2, side == 3], [x_hi - gap - w / 2, x_lo + gap + w / 2], x_lo + cell / 2
    )
    cy = np.select(
        [side == 0, side == 1], [y_hi - gap - h / 2, y_lo + gap + h / 2], y_lo + cell / 2
    )
    cx += np.where(side < 2, shift * (cell / 2 - gap - w / 2), 0.0)
    cy += np.where(side >= 2, shift * (cell / 2 - gap - h / 2), 0.0)
    x0, x1, y0, y1 = cx - w / 2, cx + w / 2, cy - h / 2, cy + h / 2
    cut = x0 + w * rng.uniform(0.35, 0.65, n)
    ring = ((x0, y0), (cut, y0), (x1, y0), (x1, y1), (cut, y1), (x0, y1), (x0, y0))
    outline = shapely.polygons(np.stack([np.column_stack(p) for p in ring], axis=1))
    west, east = shapely.box(x0, y0, cut, y1), shapely.box(cut, y0, x1, y1)

    half = float(city["road_width_m"]) / 2
    along = np.array([-0.85, 0.0, 0.85]) * cell / 2
    inward = gap + half + np.outer(rng.uniform(0.0, 40.0, n), [0.0, 1.0, 0.0])
    mid_x, mid_y = (x_lo + x_hi)[:, None] / 2, (y_lo + y_hi)[:, None] / 2
    lx = np.select(
        [side[:, None] == 2, side[:, None] == 3],
        [x_hi[:, None] - inward, x_lo[:, None] + inward],
        mid_x + along,
    )
    ly = np.select(
        [side[:, None] == 0, side[:, None] == 1],
        [y_hi[:, None] - inward, y_lo[:, None] + inward],
        mid_y + along,
    )
    lines = shapely.linestrings(np.stack([lx, ly], axis=-1))
    corridor = shapely.buffer(lines, half, cap_style="flat", join_style="mitre")
    return outline, west, east, lines, corridor


def _city_site_dates(
    rng: np.random.Generator, city: Mapping[str, Any], status: np.ndarray
) -> tuple[list[dt.date], list[dt.date], pd.arrays.IntegerArray]:
    """Start, end and progress that agree with the status as of the data set's date."""
    n = len(status)
    as_of = _as_date(city.get("as_of"))
    if as_of is None:
        raise DistrictError("city.as_of is missing: the date the site statuses describe")
    duration = rng.integers(*city["duration_days"], n)
    busy = (duration * rng.uniform(0.05, 0.95, n)).astype(int)
    elapsed = np.select(
        [status == "completed", status == "planned", status == "suspended"],
        [duration + rng.integers(30, 720, n), -rng.integers(30, 400, n), duration * 3 // 4],
        busy,
    )
    start = [as_of - dt.timedelta(days=int(d)) for d in elapsed]
    end = [s + dt.timedelta(days=int(d)) for s, d in zip(start, duration, strict=True)]
    share = np.clip(np.round(100 * busy / duration), 1, 99).astype(int)
    progress = pd.array(np.where(status == "completed", 100, share), dtype="Int64")
    progress[status == "suspended"] = np.clip(share[status == "suspended"] // 2, 1, 99)
    progress[status == "planned"] = pd.NA
    return start, end, progress


def _city_frames(
    spec: Mapping[str, Any],
    households: int,
    seed: int,
    n_sites: int,
    step: Callable[[str], None],
) -> dict[str, gpd.GeoDataFrame]:
    """The city data set: communities and sites on a grid of cells, denser near the centre."""
    city, people = spec["city"], spec["households"]
    proj = _Projection.of(spec["working_crs"])
    grid = _Grid.over(city, proj)
    slots = int(np.prod(city["slots"]))
    occupancy = float(city["occupancy"])
    kinds, kind_p = _shares(city["typology_shares"])
    typo = [spec["typologies"][k] for k in kinds]
    expected = occupancy * sum(
        p * np.mean(t["floors"]) * np.mean(t["entrances"]) * t["flats_per_landing"]
        for p, t in zip(kind_p, typo, strict=True)
    )

    factor = 1.1
    while True:
        rng = np.random.default_rng(seed)
        n_communities = math.ceil(households / expected * factor / slots) + 1
        if n_communities + n_sites > len(grid.x):
            raise DistrictError(
                f"{households} households and {n_sites} sites need {n_communities + n_sites} "
                f"cells of {grid.cell:.0f} m; the city extent has {len(grid.x)}"
            )
        community_cells = np.sort(grid.pick(rng, np.arange(len(grid.x)), n_communities))
        b, home = _city_buildings(rng, spec, grid, community_cells)
        dwelling = _dwellings(b)
        occupied = np.flatnonzero(_occupied(rng, dwelling[0], len(b.x0), occupancy))
        if len(occupied) >= households:
            break
        factor *= 1.25  # an unlucky draw: lay out more buildings and try again
    step("buildings")

    # Exactly `households` households: later buildings and communities stay empty and go.
    occupied = occupied[:households]
    counts = np.bincount(dwelling[0][occupied], minlength=len(b.x0))
    kept = np.flatnonzero(counts > 0)
    renumber = np.cumsum(counts > 0) - 1
    b, counts = b.take(kept), counts[kept]
    dwelling = (renumber[dwelling[0][occupied]], *(a[occupied] for a in dwelling[1:]))
    cols_h, hx, hy = _households(rng, b, dwelling, people, people["vulnerability"])
    used = np.unique(home[kept])
    home = np.searchsorted(used, home[kept])
    community_cells = community_cells[used]
    step("households")

    district_names = list(city["districts"])
    district_xy = np.array([proj.metres(*city["districts"][d]) for d in district_names])

    def district_of(cells: np.ndarray) -> np.ndarray:
        px, py = grid.x[cells] + grid.cell / 2, grid.y[cells] + grid.cell / 2
        d = (px[:, None] - district_xy[:, 0]) ** 2 + (py[:, None] - district_xy[:, 1]) ** 2
        return np.asarray(district_names, dtype=object)[d.argmin(axis=1)]

    block = int(city["street_block_cells"])
    row, col = np.divmod(community_cells, grid.nx)
    street_no = (row // block) * math.ceil(grid.nx / block) + col // block + 1
    streets = [city["street_office"].format(n=int(s)) for s in street_no]
    districts = district_of(community_cells)
    names = [city["community_name"].format(n=i + 1) for i in range(len(community_cells))]
    acoustic, acoustic_p = _shares(city["acoustic_class_shares"])
    fence = float(city["margin_m"]) * 0.4
    community_geoms = shapely.box(
        grid.x[community_cells] + fence,
        grid.y[community_cells] + fence,
        grid.x[community_cells] + grid.cell - fence,
        grid.y[community_cells] + grid.cell - fence,
    )
    prefix = spec["city_prefix"]
    community_address = [
        f"{prefix}{d}{s}{n}" for d, s, n in zip(districts, streets, names, strict=True)
    ]
    addresses = np.array(
        [f"{community_address[o]}{n}幢" for o, n in zip(home, b.number, strict=True)], dtype=object
    )

    # Sites: in free cells beside a community, pushed against it.
    facing = grid.facing(community_cells)
    free = np.ones(len(grid.x), dtype=bool)
    free[community_cells] = False
    beside = np.flatnonzero(free & facing.any(axis=1))
    if len(beside) >= n_sites:
        site_cells = grid.pick(rng, beside, n_sites)
    else:
        rest = np.flatnonzero(free & ~facing.any(axis=1))
        site_cells = np.concatenate([beside, grid.pick(rng, rest, n_sites - len(beside))])
    site_cells = np.sort(site_cells)
    side = np.argmax(np.where(facing[site_cells], rng.random((n_sites, 4)), -1.0), axis=1)
    outline, west, east, lines, corridor = _city_site_shapes(rng, city, grid, site_cells, side)
    site_kinds, site_p = _shares(city["site_kinds"], "share")
    site_kind = np.asarray(site_kinds, dtype=object)[rng.choice(len(site_kinds), n_sites, p=site_p)]
    road = site_kind == "road"
    statuses, status_p = _shares(city["status_shares"])
    status = np.asarray(statuses, dtype=object)[rng.choice(len(statuses), n_sites, p=status_p)]
    start, end, progress = _city_site_dates(rng, city, status)

    unit = city["unit_code"]
    parcel_codes = [f"{unit.format(cell=int(c))}-R21-01" for c in community_cells]
    parcel_geoms: list[BaseGeometry] = list(community_geoms)
    site_parcels: list[str] = []
    for i, c in enumerate(site_cells):
        uses = city["site_kinds"][site_kind[i]]["land_use"]
        uses = uses[:1] if road[i] else (list(uses) * 2)[:2]
        codes = [f"{unit.format(cell=int(c))}-{use}-{k + 1:02d}" for k, use in enumerate(uses)]
        parcel_geoms += [corridor[i]] if road[i] else [west[i], east[i]]
        parcel_codes += codes
        site_parcels.append(";".join(codes))

    hours = spec["site_defaults"]["work_hours"]
    site_columns: dict[str, Any] = {
        "code": [city["site_code"].format(n=i + 1) for i in range(n_sites)],
        "name": [
            city["site_name"].format(district=d, kind_zh=city["site_kinds"][k]["zh"], n=i + 1)
            for i, (d, k) in enumerate(zip(district_of(site_cells), site_kind, strict=True))
        ],
        "kind": site_kind,
        "status": status,
        "progress_pct": progress,
        "start_date": start,
        "end_date": end,
        "work_hours_start": [hours[0]] * n_sites,
        "work_hours_end": [hours[1]] * n_sites,
        "night_work_permitted": np.isin(site_kind, city["night_work_kinds"]),
        **{
            role: np.asarray(pool, dtype=object)[rng.integers(0, len(pool), n_sites)]
            for role, pool in city["parties"].items()
        },
        "description": [city["site_description"]] * n_sites,
        "parcels": site_parcels,
    }
    step("sites and parcels")

    lon, lat = proj.inverse.transform(hx, hy)
    building_geoms = proj.to_wgs84(b.footprints())
    community_wgs84 = proj.to_wgs84(community_geoms)
    frames = {
        "communities": _frame(
            "communities",
            {
                "name": names,
                "street_office": streets,
                "district": districts,
                "acoustic_class": np.asarray(acoustic, dtype=object)[
                    rng.choice(len(acoustic), len(names), p=acoustic_p)
                ],
            },
            shapely.multipolygons(community_wgs84, indices=np.arange(len(community_wgs84))),
        ),
        "buildings": _frame(
            "buildings",
            {
                "address": addresses,
                "community": np.asarray(names, dtype=object)[home],
                "floors": b.floors,
                "households_count": counts,
            },
            shapely.multipolygons(building_geoms, indices=np.arange(len(building_geoms))),
        ),
        "households": _frame(
            "households", {**cols_h, "building": addresses[dwelling[0]]}, shapely.points(lon, lat)
        ),
        "parcels": _frame(
            "parcels",
            {"code": parcel_codes, "name": [f"示例地块{c}" for c in parcel_codes]},
            np.array(
                [_multi(g) for g in proj.to_wgs84(np.array(parcel_geoms, dtype=object))],
                dtype=object,
            ),
        ),
        "sites": _frame("sites", site_columns, proj.to_wgs84(np.where(road, lines, outline))),
    }
    step("reproject")
    return {layer: frames[layer] for layer in LAYERS}


def write_city(
    path: Path,
    households: int = 1_000_000,
    seed: int = 7,
    sites: int = 120,
    *,
    progress: bool = True,
) -> dict[str, Path]:
    """A synthetic greater-Hangzhou data set for benchmarks, as ``city_<layer>.gpkg`` files.

    ``path`` is the output directory, or a file whose directory is used. Same column
    conventions as the demo, exactly ``households`` households, at least ``sites`` sites.
    """
    path = Path(path)
    directory = path.parent if path.suffix else path
    directory.mkdir(parents=True, exist_ok=True)
    spec = load_district()
    bar = tqdm(total=4 + len(LAYERS), desc="city", unit="step", disable=not progress)

    def step(done: str) -> None:
        bar.set_postfix_str(f"{done} done")
        bar.update(1)

    try:
        frames = _city_frames(spec, households, seed, sites, step)
        written = {}
        for layer, frame in frames.items():
            bar.set_postfix_str(f"writing {layer} ({len(frame):,})")
            written[layer] = _write(frame, directory / f"city_{layer}.gpkg", layer)
            bar.update(1)
    finally:
        bar.close()
    return written

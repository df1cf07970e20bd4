"""The city-scale synthetic data set: greater Hangzhou with a million households.

Belongs here: the grid of cells the communities and sites occupy (denser near the centre),
the city's buildings, sites and parcels as arrays, and ``write_city``, which the benchmarks
call. Every step works on whole arrays, never row by row: a million households take about
6 s. The module is one generator read top to bottom, so it stays whole at about 400 lines.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry
from tqdm import tqdm

from geo_service.demo.description import DistrictError, as_date, load_district
from geo_service.demo.frames import layer_frame, monitors_frame, write_geopackage
from geo_service.demo.geometry import Projection, as_multipolygon
from geo_service.demo.housing import (
    Buildings,
    dwellings,
    households_in,
    occupied_mask,
    typology_arrays,
)
from layers import LAYERS


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
    def over(cls, city: Mapping[str, Any], proj: Projection) -> _Grid:
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
) -> tuple[Buildings, np.ndarray]:
    """A fixed grid of slots per community, one slab per slot: buildings and their community."""
    city, layout = spec["city"], spec["layout"]
    cols, rows = (int(v) for v in city["slots"])
    margin, cell = float(city["margin_m"]), grid.cell
    slot_w, slot_h = (cell - 2 * margin) / cols, (cell - 2 * margin) / rows
    gable, row_gap = float(layout["gable_gap_m"]), float(layout["row_gap_m"][0])
    kinds, kind_p = _shares(city["typology_shares"])
    n = len(community_cells) * cols * rows
    kind = rng.choice(len(kinds), n, p=kind_p)
    t = typology_arrays(
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
    return Buildings(x0, y0, *(t[f] for f in fields), number=slot + 1), home


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
    as_of = as_date(city.get("as_of"))
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
    proj = Projection.of(spec["working_crs"])
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
        dwelling = dwellings(b)
        occupied = np.flatnonzero(occupied_mask(rng, dwelling[0], len(b.x0), occupancy))
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
    cols_h, hx, hy = households_in(rng, b, dwelling, people, people["vulnerability"])
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
        "communities": layer_frame(
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
        "buildings": layer_frame(
            "buildings",
            {
                "address": addresses,
                "community": np.asarray(names, dtype=object)[home],
                "floors": b.floors,
                "households_count": counts,
            },
            shapely.multipolygons(building_geoms, indices=np.arange(len(building_geoms))),
        ),
        "households": layer_frame(
            "households", {**cols_h, "building": addresses[dwelling[0]]}, shapely.points(lon, lat)
        ),
        "parcels": layer_frame(
            "parcels",
            {"code": parcel_codes, "name": [f"示例地块{c}" for c in parcel_codes]},
            np.array(
                [as_multipolygon(g) for g in proj.to_wgs84(np.array(parcel_geoms, dtype=object))],
                dtype=object,
            ),
        ),
        "sites": layer_frame("sites", site_columns, proj.to_wgs84(np.where(road, lines, outline))),
    }
    frames["monitors"] = monitors_frame(frames["sites"])
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
            written[layer] = write_geopackage(frame, directory / f"city_{layer}.gpkg", layer)
            bar.update(1)
    finally:
        bar.close()
    return written

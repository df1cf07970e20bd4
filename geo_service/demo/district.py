"""The demo district: laid out from ``data/demo/district.yaml`` and loaded like a user's files.

Belongs here: placing the described sites, parcels and communities in metres, checking that
they neither overlap nor leave the promised extent, turning them into one frame per layer,
and loading those frames through the import pipeline (``load_demo``). Output is
deterministic: every community draws from a generator keyed by its name.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import LineString, MultiLineString, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.ops import split
from sqlalchemy import Engine, text

from geo_service.demo.description import (
    DistrictError,
    as_date,
    load_district,
    parcel_entry,
)
from geo_service.demo.frames import (
    import_columns,
    layer_frame,
    monitors_frame,
    write_geopackage,
)
from geo_service.demo.geometry import Projection, as_multipolygon, rect, rect_strips
from geo_service.demo.housing import (
    Buildings,
    dwellings,
    households_in,
    occupied_mask,
    typology_arrays,
)
from geo_service.landuse import parse_parcel_code
from layers import LAYERS

PARTIES = ("owner", "survey", "design", "contractor", "supervisor")  # the five 参建单位


def _rng(seed: int, *names: str) -> np.random.Generator:
    """A generator keyed by what it generates, so editing one entry leaves the others alone."""
    return np.random.default_rng([seed, *(zlib.crc32(n.encode("utf-8")) for n in names)])


@dataclass
class _Community:
    """A community laid out in metres, before and after it is placed."""

    spec: dict[str, Any]
    width: float
    height: float
    buildings: Buildings  # relative to the community's south-west corner until placed
    rng: np.random.Generator


def _lay_out_community(spec: Mapping[str, Any], entry: dict[str, Any]) -> _Community:
    """Rows of south-facing slabs, taller rows to the north, spaced for sunlight."""
    rng = _rng(spec["seed"], "community", entry["name"])
    layout = spec["layout"]
    names = list(spec["typologies"])
    kinds = np.concatenate(
        [np.full(int(count), names.index(kind)) for kind, count in entry["buildings"].items()]
    )
    t = typology_arrays(rng, kinds, spec)
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
    buildings = Buildings(
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
    site: Mapping[str, Any], proj: Projection
) -> tuple[BaseGeometry, list[tuple[str, Polygon]], BaseGeometry]:
    """A site's geometry, its parcels (linked, then frontage) and its footprint, in metres."""
    parcels = [parcel_entry(p) for p in site.get("parcels", [])]
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
    outline, strips = rect_strips(x0, y0, x1, y1, [float(p.get("share", 1.0)) for p in parcels])
    shapes = [(p["code"], s) for p, s in zip(parcels, strips, strict=True)]
    inner = [float(s.bounds[2]) for s in strips[:-1]]
    for front in site.get("frontage", []):
        d = float(front["width_m"])
        strip = {
            "south": rect(x0, y0 - d, x1, y0, top=inner),
            "north": rect(x0, y1, x1, y1 + d, bottom=inner),
            "west": rect(x0 - d, y0, x0, y1),
            "east": rect(x1, y0, x1 + d, y1),
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
        "start_date": as_date(site.get("start_date")),
        "end_date": as_date(site.get("end_date")),
        "work_hours_start": hours[0],
        "work_hours_end": hours[1],
        "night_work_permitted": bool(night),
        **{k: site.get(k) for k in PARTIES},
        "liaison_officer": site.get("liaison_officer"),
        "description": site.get("description"),
        "parcels": ";".join(parcel_entry(p)["code"] for p in site.get("parcels", [])),
    }


def build_demo_district(path: Path | None = None) -> dict[str, gpd.GeoDataFrame]:
    """One frame per layer (parcels, sites, communities, buildings, households) in EPSG:4326.

    References are natural keys, as in a user's import file: a site lists its parcel codes
    joined by ';', a building names its community, a household its building's address.
    """
    spec = load_district(path)
    proj = Projection.of(spec["working_crs"])

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
        shares = [float(parcel_entry(p).get("share", 1.0)) for p in entry["parcels"]]
        x1, y1 = ox + community.width, oy + community.height
        outline, strips = rect_strips(ox, oy, x1, y1, shares)
        parcel_rows += [
            (parcel_entry(p)["code"], s) for p, s in zip(entry["parcels"], strips, strict=True)
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
        building, entrance, floor, flat = dwellings(b)
        mask = occupied_mask(c.rng, building, len(b.number), occupancy)
        dwelling = (building[mask], entrance[mask], floor[mask], flat[mask])
        rates = {**people["vulnerability"], **e.get("vulnerability", {})}
        cols, x, y = households_in(c.rng, b, dwelling, people, rates)
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
        "parcels": layer_frame(
            "parcels",
            {"code": [c for c, _ in parcel_rows], "name": parcel_names},
            np.array([as_multipolygon(g) for g in parcel_geoms], dtype=object),
        ),
        "sites": layer_frame("sites", site_columns, to_wgs84(np.array(site_geoms, dtype=object))),
        "communities": layer_frame(
            "communities",
            {k: [c.spec[k] for c in communities] for k in import_columns("communities")},
            np.array(
                [as_multipolygon(g) for g in to_wgs84(np.array(community_geoms))], dtype=object
            ),
        ),
        "buildings": layer_frame(
            "buildings",
            {
                "address": addresses,
                "community": community_names,
                "floors": np.concatenate(floors),
                "households_count": np.concatenate(counts),
            },
            shapely.multipolygons(building_geoms, indices=np.arange(len(building_geoms))),
        ),
        "households": layer_frame(
            "households",
            {k: np.concatenate([c[k] for c in household_cols]) for k in household_cols[0]},
            shapely.points(lon, lat),
        ),
    }
    frames["monitors"] = monitors_frame(frames["sites"])
    _check_extent(frames, spec["extent"])
    return {layer: frames[layer] for layer in LAYERS}


def _check_extent(frames: Mapping[str, gpd.GeoDataFrame], extent: Sequence[float]) -> None:
    """Everything must stay inside the box the description promises."""
    west, south, east, north = extent
    for layer, frame in frames.items():
        x0, y0, x1, y1 = frame.total_bounds
        if x0 < west or y0 < south or x1 > east or y1 > north:
            raise DistrictError(f"{layer} reach {frame.total_bounds}, outside extent {extent}")


def write_demo_files(directory: Path) -> dict[str, Path]:
    """The demo district as ``<directory>/<layer>.gpkg``, one file per layer."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return {
        layer: write_geopackage(frame, directory / f"{layer}.gpkg", layer)
        for layer, frame in build_demo_district().items()
    }


def load_demo(engine: Engine, *, progress: bool = False, if_empty: bool = False) -> bool:
    """Replace what is stored with the demo district, through the import pipeline.

    With ``if_empty`` an existing data set is left alone (``./dev serve`` runs this every
    time). Returns whether the demo was loaded.
    """
    from geo_service import impact
    from geo_service.demo.liaison import clear_liaison, load_liaison
    from geo_service.demo.mitigation import clear_mitigation, load_mitigation
    from geo_service.demo.monitoring import clear_monitoring, load_monitoring
    from geo_service.demo.wishes import load_wishes
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
        clear_mitigation(conn)
        clear_liaison(conn)
        clear_monitoring(conn)
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
    district = load_district()
    with engine.begin() as conn:
        for code, lines in district.get("equipment", {}).items():
            impact.set_equipment(conn, impact.resolve_site(conn, code).id, lines)
    load_mitigation(engine, district.get("mitigation", []), district["seed"])
    load_liaison(engine, district["seed"])  # the season of visits and requests (issue 14.14)
    load_wishes(engine)
    load_monitoring(engine, district["seed"])  # two weeks of readings and alarms (15.11)
    return True

"""OpenStreetMap extracts as import files: landuse as parcels, buildings by address, and
each address as a household.

What a user with an OpenStreetMap extract does before ``geo-service import``, written once:
a landuse polygon becomes a parcel whose code carries the GB 50137-2011 class its OSM
``landuse`` value maps to (``reference/osm_landuse_gb50137.csv``, with the reason for each;
values it does not list are left out and counted), a building takes its address from
``addr:street`` and ``addr:housenumber`` and its floors from ``building:levels`` as mapped,
and each address is one household at a point inside its building. Nothing is cleaned here:
half floors, the parts of one address, buildings without an address and broken polygons
reach the import as they are, which handles them (``--merge-parts``, ``--on-invalid``).

``data/samples/osm/helsinki.gpkg`` is such an extract; its README gives the commands.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely


@dataclass(frozen=True)
class LandUseMapping:
    """One OSM ``landuse`` value, the GB 50137 class it becomes, and why."""

    osm_landuse: str
    gb50137: str
    reason: str


@cache
def landuse_mapping() -> dict[str, LandUseMapping]:
    """The mapping table, by OSM value."""
    text = (
        resources.files("geo_service.reference")
        .joinpath("osm_landuse_gb50137.csv")
        .read_text(encoding="utf-8")
    )
    rows = (LandUseMapping(**r) for r in csv.DictReader(text.splitlines()))
    return {m.osm_landuse: m for m in rows}


@dataclass(frozen=True)
class OsmImport:
    """What was written, and the landuse values left out (value: polygons)."""

    path: Path
    rows: dict[str, int]
    unmapped: dict[str, int]


def write_osm_import(extract: Path, target: Path, unit: str = "OSM01") -> OsmImport:
    """Write ``target`` (a GeoPackage, layers parcels, buildings, households) from an
    extract with ``landuse`` and ``buildings`` layers in OSM's tag names."""
    landuse = gpd.read_file(extract, layer="landuse")
    buildings = gpd.read_file(extract, layer="buildings")
    parcels, unmapped = _parcels(landuse, unit)
    homes = _buildings(buildings)
    layers = {"parcels": parcels, "buildings": homes, "households": _households(homes)}
    target.unlink(missing_ok=True)
    for name, frame in layers.items():
        frame.to_file(target, layer=name, driver="GPKG")
    return OsmImport(target, {k: len(v) for k, v in layers.items()}, unmapped)


def _parcels(landuse: gpd.GeoDataFrame, unit: str) -> tuple[gpd.GeoDataFrame, dict[str, int]]:
    """Parcels ``<unit>-<class>-<n>``, numbered in the extract's order (OSM ids)."""
    mapping = landuse_mapping()
    mapped = landuse["landuse"].isin(list(mapping))
    unmapped = dict(Counter(landuse.loc[~mapped, "landuse"].fillna("(none)")))
    kept = landuse[mapped].reset_index(drop=True)
    classes = kept["landuse"].map(lambda v: mapping[v].gb50137)
    codes = [f"{unit}-{c}-{i}" for i, c in enumerate(classes, start=1)]
    frame = gpd.GeoDataFrame(
        {"code": codes, "landuse": kept["landuse"], "osm_id": kept["osm_id"]},
        geometry=kept.geometry,
        crs=landuse.crs,
    )
    return frame, unmapped


def _address(buildings: gpd.GeoDataFrame) -> pd.Series:
    """``Kaivokatu 8``: street and number; empty when either is missing."""
    street = buildings["addr:street"].fillna("").str.strip()
    number = buildings["addr:housenumber"].fillna("").str.strip()
    return (street + " " + number).where((street != "") & (number != ""), "")


def _buildings(buildings: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(
        {
            "address": _address(buildings),
            "building:levels": buildings["building:levels"],
            "osm_id": buildings["osm_id"],
            "building": buildings["building"],
        },
        geometry=buildings.geometry,
        crs=buildings.crs,
    )
    return frame


def _households(buildings: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One household per address, at a point inside the union of its building's parts."""
    addressed = buildings[buildings["address"] != ""]
    valid = shapely.make_valid(addressed.geometry.to_numpy())
    polygons = [shapely.union_all([p for p in shapely.get_parts(g) if p.area > 0]) for g in valid]
    by_address = (
        pd.DataFrame({"address": addressed["address"].to_numpy(), "geom": polygons})
        .groupby("address", sort=True)["geom"]
        .agg(lambda parts: shapely.union_all(list(parts)))
    )
    points = shapely.point_on_surface(by_address.to_numpy())
    return gpd.GeoDataFrame(
        {"building": by_address.index.to_numpy()}, geometry=points, crs=buildings.crs
    )

"""What the generators hand over: one frame per layer with its import columns, and its file.

Belongs here: the shape of the output that the import pipeline reads (exactly a layer's
import columns, in its field order, in EPSG:4326) and writing it as a GeoPackage. The
district, the samples and the city all produce frames through these.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geo_service.demo.description import DistrictError
from layers import LAYERS

USE_ARROW = importlib.util.find_spec("pyarrow") is not None


def import_columns(layer_id: str) -> list[str]:
    """The columns an import file of this layer carries: every field that is not derived."""
    return [f.name for f in LAYERS[layer_id].fields if not f.derived]


def layer_frame(
    layer_id: str, columns: Mapping[str, Any], geometry: np.ndarray
) -> gpd.GeoDataFrame:
    """A frame with exactly the layer's import columns, in its field order, in EPSG:4326."""
    wanted = import_columns(layer_id)
    if set(columns) != set(wanted):
        raise DistrictError(f"{layer_id}: columns {sorted(columns)} != import columns {wanted}")
    frame = pd.DataFrame({name: columns[name] for name in wanted})
    return gpd.GeoDataFrame(frame, geometry=geometry, crs="EPSG:4326")


def write_geopackage(frame: gpd.GeoDataFrame, path: Path, layer: str) -> Path:
    """One GeoPackage per layer, replacing an older file of the same name."""
    path.unlink(missing_ok=True)
    frame.to_file(path, layer=layer, driver="GPKG", engine="pyogrio", use_arrow=USE_ARROW)
    return path


def monitors_frame(sites: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Two monitors at each site under construction, as 智慧工地 rules ask: one for dust and
    noise on the boundary (ST 39), one for noise facing the homes (ST 23). MNs follow the
    site's code; the password is the devices' factory default, as on a demo should be."""
    rows: dict[str, list[Any]] = {name: [] for name in import_columns("monitors")}
    points = []
    active = sites[sites["status"] == "under_construction"]
    for code, geom in zip(active["code"], active.geometry, strict=True):
        edge = geom.boundary if geom.geom_type.endswith("Polygon") else geom
        stem = "".join(ch for ch in code if ch.isalnum()).upper()
        for n, (kind, st, placement, where) in enumerate(
            (("both", "39", "boundary", 0.1), ("noise", "23", "facade", 0.6)), start=1
        ):
            values = {
                "mn": f"DEMO{stem}{n:02d}",
                "site": code,
                "name": f"{code} {'扬尘噪声' if kind == 'both' else '噪声'}监测点{n}",
                "st": st,
                "kind": kind,
                "placement": placement,
                "faces": None,
                "password": "123456",
                "crc_mode": "hj212",
                "units": "ug/m3",
                "interval_s": 60,
            }
            for name, value in values.items():
                rows[name].append(value)
            points.append(edge.interpolate(where, normalized=True))
    return layer_frame("monitors", rows, np.array(points, dtype=object))

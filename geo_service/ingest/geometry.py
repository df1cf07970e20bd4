"""The geometry checks of a batch: range, reprojection to EPSG:4326, the service area,
swapped axes, validity (repaired when asked) and the stored geometry type, by row.

Vectorised with shapely 2: a million geometries are checked without a Python loop per row.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo_service.errors import RowProblem
from geo_service.ingest.area import HOW_TO_CHANGE, ServiceArea
from layers.base import Layer

_POLYGONAL = {"Polygon", "MultiPolygon"}
# shapely.get_type_id: -1 missing, 0 Point ... 7 GeometryCollection (shifted by one here).
_TYPE_NAMES = np.array(
    [
        "",
        "Point",
        "LineString",
        "LinearRing",
        "Polygon",
        "MultiPoint",
        "MultiLineString",
        "MultiPolygon",
        "GeometryCollection",
    ],
    dtype=object,
)


def check_geometry(
    frame: gpd.GeoDataFrame,
    layer: Layer,
    service_area: ServiceArea,
    on_invalid: str,
    problems: list[RowProblem],
) -> tuple[np.ndarray, list[RowProblem]]:
    """Range, reprojection, service area, swapped axes, type and validity, by row."""
    rows = frame["_row"].to_numpy()
    geoms = frame.geometry.to_numpy(dtype=object)
    if shapely.has_z(geoms).any():
        geoms = shapely.force_2d(geoms)
    bad = np.zeros(len(geoms), dtype=bool)

    def report(mask: np.ndarray, message: str | list[str]) -> None:
        idx = np.flatnonzero(mask & ~bad)
        texts = message if isinstance(message, list) else None
        for k, i in enumerate(idx):
            problems.append(RowProblem(int(rows[i]), "geometry", texts[k] if texts else message))
        bad[idx] = True

    if "_geom_error" in frame:
        errors = frame["_geom_error"].to_numpy(dtype=object)
        has = pd.notna(errors)
        report(has, [str(e) for e in errors[has & ~bad]])
    report(shapely.is_missing(geoms) | shapely.is_empty(geoms), "missing or empty geometry")

    source_crs = frame.crs
    area = service_area.box

    def swapped(box: np.ndarray) -> None:
        """Rows outside the area that fall inside it once x and y are exchanged."""
        hit = ~bad & ~_inside(box, area) & _inside(box[:, [1, 0, 3, 2]], area)
        report(
            hit,
            [
                f"longitude and latitude appear swapped (x={box[i, 0]:.6f}, y={box[i, 1]:.6f}); "
                "x must be the longitude"
                for i in np.flatnonzero(hit)
            ],
        )

    if source_crs.is_geographic:
        bounds = shapely.bounds(geoms)
        swapped(bounds)
        out = ~bad & (
            (np.abs(bounds[:, [0, 2]]) > 180).any(1) | (np.abs(bounds[:, [1, 3]]) > 90).any(1)
        )
        report(
            out,
            [
                f"coordinates out of range for {source_crs.to_string()} (x={bounds[i, 0]:.6g}, "
                f"y={bounds[i, 1]:.6g}); is the file in a projected CRS?"
                for i in np.flatnonzero(out)
            ],
        )
        lonlat = geoms.copy()
    else:
        lonlat = np.array(
            gpd.GeoSeries(np.where(bad, None, geoms), crs=source_crs).to_crs("EPSG:4326"),
            dtype=object,
        )
    lon_bounds = shapely.bounds(lonlat)
    lon_bounds[bad] = 0
    not_finite = ~bad & ~np.isfinite(lon_bounds).all(1)
    report(not_finite, f"coordinates could not be transformed from {source_crs.to_string()}")
    swapped(lon_bounds)
    outside = ~bad & ~_inside(lon_bounds, area)
    report(
        outside,
        [
            f"outside the service area, {service_area.describe()} (lon={lon_bounds[i, 0]:.6f}, "
            f"lat={lon_bounds[i, 1]:.6f}); is the CRS right? If the data is, {HOW_TO_CHANGE}"
            for i in np.flatnonzero(outside)
        ],
    )

    lonlat, repaired = _repair(lonlat, rows, bad, layer, on_invalid, problems, report)
    lonlat = _conform_type(lonlat, layer, bad, report)
    lonlat[bad] = None
    return lonlat, repaired


def _inside(bounds: np.ndarray, area: tuple[float, float, float, float]) -> np.ndarray:
    w, s, e, n = area
    return (bounds[:, 0] >= w) & (bounds[:, 2] <= e) & (bounds[:, 1] >= s) & (bounds[:, 3] <= n)


def _repair(geoms, rows, bad, layer, on_invalid, problems, report):
    """Make invalid geometries valid when asked and when the result keeps its kind."""
    repaired: list[RowProblem] = []
    invalid = ~bad & ~shapely.is_valid(np.where(bad, None, geoms))
    idx = np.flatnonzero(invalid)
    if len(idx) == 0:
        return geoms, repaired
    reasons = shapely.is_valid_reason(geoms[idx])
    if on_invalid == "reject":
        report(
            invalid,
            [f"invalid geometry ({r}); not repaired because repair is off" for r in reasons],
        )
        return geoms, repaired
    fixed = shapely.make_valid(geoms[idx])
    polygonal = any(t in _POLYGONAL for t in layer.geometry_types)
    for k, (i, geom) in enumerate(zip(idx, fixed, strict=True)):
        if polygonal and shapely.get_type_id(geom) == 7:  # collection: keep the polygons
            parts = [p for p in shapely.get_parts(geom) if p.geom_type in _POLYGONAL]
            geom = shapely.union_all(parts) if parts else None
        if geom is None or geom.is_empty or (polygonal and geom.geom_type not in _POLYGONAL):
            report(
                np.isin(np.arange(len(geoms)), [i]),
                f"invalid geometry ({reasons[k]}) that cannot be repaired into a polygon",
            )
            continue
        geoms[i] = geom
        repaired.append(RowProblem(int(rows[i]), "geometry", f"repaired: {reasons[k]}"))
    return geoms, repaired


def _conform_type(geoms: np.ndarray, layer: Layer, bad: np.ndarray, report) -> np.ndarray:
    """Promote to the stored type (Polygon -> MultiPolygon) or report the wrong kind."""
    allowed = set(layer.geometry_types)
    types = _TYPE_NAMES[shapely.get_type_id(geoms) + 1]
    if "MultiPolygon" in allowed and "Polygon" not in allowed:
        single = types == "Polygon"
        geoms[single] = shapely.multipolygons(geoms[single][:, None]) if single.any() else []
        types[single] = "MultiPolygon"
    if "Point" in allowed:
        multi = (types == "MultiPoint") & (shapely.get_num_geometries(geoms) == 1)
        if multi.any():
            geoms[multi] = shapely.get_geometry(geoms[multi], 0)
            types[multi] = "Point"
    wrong = ~bad & ~np.isin(types, list(allowed))
    expected = "/".join(layer.geometry_types)
    report(
        wrong,
        [
            f"geometry type {types[i]} is not allowed for {layer.id} (expected {expected})"
            for i in np.flatnonzero(wrong)
        ],
    )
    return geoms

"""Geometry helpers of the generators: metres in the working CRS, rectangles and strips.

Belongs here: the projection between the working CRS (CGCS2000 Gauss-Kruger) and WGS84,
and the polygon shapes both the district and the city build from. Layout decisions (where a
community or a site goes) belong to ``district`` and ``city``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry


@dataclass(frozen=True)
class Projection:
    """Metres in the working CRS and WGS84 lon/lat, both ways."""

    forward: Transformer
    inverse: Transformer

    @classmethod
    def of(cls, crs: str) -> Projection:
        return cls(
            Transformer.from_crs("EPSG:4326", crs, always_xy=True),
            Transformer.from_crs(crs, "EPSG:4326", always_xy=True),
        )

    def metres(self, lon: float, lat: float) -> tuple[float, float]:
        x, y = self.forward.transform(lon, lat)
        return float(x), float(y)

    def to_wgs84(self, geoms: np.ndarray) -> np.ndarray:
        return shapely.transform(geoms, self.inverse.transform, interleaved=False)


def rect(
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


def rect_strips(
    x0: float, y0: float, x1: float, y1: float, shares: Sequence[float]
) -> tuple[Polygon, list[Polygon]]:
    """Split a rectangle west to east by shares: the outline and its strips."""
    fractions = np.cumsum(np.asarray(shares, dtype=float)) / float(np.sum(shares))
    edges = [x0, *(x0 + (x1 - x0) * f for f in fractions[:-1]), x1]
    inner = edges[1:-1]
    strips = [rect(a, y0, b, y1) for a, b in pairwise(edges)]
    return rect(x0, y0, x1, y1, bottom=inner, top=inner), strips


def as_multipolygon(geom: BaseGeometry) -> MultiPolygon:
    """Polygon layers store MultiPolygons; a strip or a piece of a corridor is one polygon."""
    return geom if isinstance(geom, MultiPolygon) else MultiPolygon([geom])

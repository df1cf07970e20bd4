"""The coordinate reference systems the OGC API offers (Part 2), with their axis order.

Stored geometries are EPSG:4326 in (lon, lat) order. An answer in a CRS whose first axis
points north (EPSG:4326, EPSG:4490, the CGCS2000 Gauss-Kruger zones) has its coordinates
swapped, as the EPSG definition says; CRS84 and EPSG:3857 are (x=east, y=north).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from pyproj import CRS

from geo_service.errors import UnknownCRS

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
_EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/{}"
# EPSG codes offered besides CRS84: WGS84, CGCS2000, its zone 40 (Hangzhou), Web Mercator.
OFFERED_EPSG = (4326, 4490, 4549, 3857)
STORAGE_SRID = 4326


@dataclass(frozen=True)
class OutputCRS:
    uri: str
    srid: int
    north_first: bool  # coordinates on the wire are (y, x)
    geographic: bool

    @property
    def decimals(self) -> int:
        """Digits kept in coordinates: about 1 cm either way."""
        return 7 if self.geographic else 2


@cache
def _epsg(code: int) -> OutputCRS:
    crs = CRS.from_epsg(code)
    north_first = crs.axis_info[0].direction.lower() == "north"
    return OutputCRS(_EPSG_URI.format(code), code, north_first, crs.is_geographic)


def offered() -> list[OutputCRS]:
    return [OutputCRS(CRS84, 4326, False, True), *(_epsg(c) for c in OFFERED_EPSG)]


def offered_uris() -> list[str]:
    """The URIs of ``offered()``, without building the CRSs (the OpenAPI document lists them)."""
    return [CRS84, *(_EPSG_URI.format(code) for code in OFFERED_EPSG)]


def parse_crs(value: str | None, parameter: str = "crs") -> OutputCRS:
    """A CRS named by its OGC URI, ``EPSG:nnnn``, ``[EPSG:nnnn]`` or ``CRS84``."""
    if value is None or value == "":
        return offered()[0]
    raw = value.strip().strip("[]")
    for crs in offered():
        if raw == crs.uri:
            return crs
    upper = raw.upper()
    if upper in {"CRS84", "OGC:CRS84"}:
        return offered()[0]
    code = upper.removeprefix("EPSG:") if upper.startswith("EPSG:") else None
    if code and code.isdigit() and int(code) in OFFERED_EPSG:
        return _epsg(int(code))
    raise UnknownCRS(
        f"{parameter}={value!r} is not offered; use one of: {', '.join(offered_uris())}"
    )

"""WGS84 -> GCJ-02 ("Mars coordinates"), for drawing on AMap/Gaode basemaps only.

AMap's tiles are drawn in GCJ-02, some 300-700 m off WGS84 in Hangzhou. Data drawn over
them is shifted by this function (and by its JavaScript twin ``GeoService.gcj02`` in
``static/maps.js``) at display time; GCJ-02 coordinates are never stored or served.
The formula is the widely published one (e.g. the eviltransform library); outside China
it is the identity, as there the offset does not apply.

    >>> lon, lat = wgs84_to_gcj02(121.5272106, 31.1774276)
    >>> round(lon, 6), round(lat, 6)
    (121.531542, 31.175304)
"""

from __future__ import annotations

from math import cos, pi, sin, sqrt

_A = 6378245.0  # Krasovsky 1940 semi-major axis, as the formula uses
_EE = 0.00669342162296594323


def in_china(lon: float, lat: float) -> bool:
    """The rough box where the offset applies."""
    return 72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271


def _d_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt(abs(x))
    ret += (20.0 * sin(6.0 * x * pi) + 20.0 * sin(2.0 * x * pi)) * 2.0 / 3.0
    ret += (20.0 * sin(y * pi) + 40.0 * sin(y / 3.0 * pi)) * 2.0 / 3.0
    ret += (160.0 * sin(y / 12.0 * pi) + 320.0 * sin(y * pi / 30.0)) * 2.0 / 3.0
    return ret


def _d_lon(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt(abs(x))
    ret += (20.0 * sin(6.0 * x * pi) + 20.0 * sin(2.0 * x * pi)) * 2.0 / 3.0
    ret += (20.0 * sin(x * pi) + 40.0 * sin(x / 3.0 * pi)) * 2.0 / 3.0
    ret += (150.0 * sin(x / 12.0 * pi) + 300.0 * sin(x / 30.0 * pi)) * 2.0 / 3.0
    return ret


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """(lon, lat) in WGS84 -> (lon, lat) in GCJ-02; unchanged outside China."""
    if not in_china(lon, lat):
        return lon, lat
    d_lat = _d_lat(lon - 105.0, lat - 35.0)
    d_lon = _d_lon(lon - 105.0, lat - 35.0)
    rad = lat / 180.0 * pi
    magic = 1 - _EE * sin(rad) ** 2
    sqrt_magic = sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * pi)
    d_lon = (d_lon * 180.0) / (_A / sqrt_magic * cos(rad) * pi)
    return lon + d_lon, lat + d_lat

"""The GCJ-02 display shift: a published reference vector, and no shift outside China."""

from __future__ import annotations

import math

import pytest

from maps.gcj02 import wgs84_to_gcj02


def test_matches_the_published_reference_vector() -> None:
    # eviltransform's test vector: wgs2gcj(31.1774276, 121.5272106)
    lon, lat = wgs84_to_gcj02(121.5272106, 31.1774276)
    assert lon == pytest.approx(121.531541859215, abs=1e-9)
    assert lat == pytest.approx(31.17530398364597, abs=1e-9)


def test_offset_in_hangzhou_is_a_few_hundred_metres() -> None:
    lon, lat = 120.159, 30.267
    glon, glat = wgs84_to_gcj02(lon, lat)
    dx = (glon - lon) * 111_320 * math.cos(math.radians(lat))
    dy = (glat - lat) * 110_574
    assert 300 < math.hypot(dx, dy) < 700


def test_outside_china_nothing_moves() -> None:
    assert wgs84_to_gcj02(2.35, 48.85) == (2.35, 48.85)

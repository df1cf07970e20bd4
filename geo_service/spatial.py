"""Metre distances in SQL: exact on the spheroid, and still answered from the GiST index.

Geometries are stored in EPSG:4326 with one GiST index. ``within_metres`` first tests the
bounding box grown by the distance (``expand_metres``, created by the first migration:
never smaller than the true distance, so nothing is missed), which the index answers, then
the exact geodesic distance on ``geography``. One index per table instead of two halves the
index cost of a bulk import and gives the same answers as a geography index.
"""

from __future__ import annotations


def within_metres(near: str, target: str, metres: str) -> str:
    """SQL that is true when ``near`` lies within ``metres`` of ``target`` (geodesic).

    ``near`` should be the indexed column; the arguments are SQL expressions (columns or
    bound parameters), never user text.
    """
    return (
        f"({near} && expand_metres({target}, {metres}) "
        f"AND ST_DWithin(geography({near}), geography({target}), {metres}))"
    )

"""The prediction at any point, not only at households: a monitor's position, a point a
planner asks about.

The same model as ``household_impacts``: the site's source level at the reference distance
from ``site_impact`` (the active or loudest phase of its equipment), the geodesic distance
to the site (0 inside it, ``ST_DistanceSpheroid`` outside, as the view measures it), and the
point-source spreading of ``noise.level_at`` (held equal to the view by
``tests/test_impact.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

from geo_service import noise

# The distance as household_impacts takes it: 0 inside the site, geodesic outside.
_AT_POINT = """
SELECT si.phase, si.l_ref_day, si.l_ref_night,
       CASE WHEN ST_Intersects(p.geom, si.geom) THEN 0.0::float8
            ELSE ST_DistanceSpheroid(p.geom, si.geom, 'SPHEROID["WGS 84",6378137,298.257223563]')
       END AS distance_m
FROM site_impact si
CROSS JOIN (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS geom) p
WHERE si.site_id = :site"""


@dataclass(frozen=True)
class PointPrediction:
    """The predicted day and night Leq at a point (None without equipment, or at night
    without night work), the distance to the site and the phase that drives it."""

    distance_m: float
    leq_day: float | None
    leq_night: float | None
    phase: str | None


def predict_at(conn: Connection, site_id: int, lon: float, lat: float) -> PointPrediction:
    """The site's predicted levels at (``lon``, ``lat``), WGS 84."""
    row = conn.execute(text(_AT_POINT), {"site": site_id, "lon": lon, "lat": lat}).one()
    return PointPrediction(
        distance_m=row.distance_m,
        leq_day=None if row.l_ref_day is None else noise.level_at(row.l_ref_day, row.distance_m),
        leq_night=None
        if row.l_ref_night is None
        else noise.level_at(row.l_ref_night, row.distance_m),
        phase=row.phase,
    )

"""Impact at city scale: each household's geodesic distance computed once, bands by lookup.

``household_impacts`` keeps its columns and answers (and gains four at the end, below);
what changes is the work per row.
Revision 0003 wrote the distance as a lateral expression that PostgreSQL inlines into every
place that used it: the sort key, both band subqueries (once per band), the two levels, the
vibration flags, after an ``ST_DWithin`` that had computed it already; about ten geodesic
distances per household. Now:

- the distance is computed once per candidate (a lateral subquery behind ``OFFSET 0``, which
  PostgreSQL never inlines), and the outer band is a filter on it;
- ``ST_DistanceSpheroid`` on the stored EPSG:4326 geometries, with the WGS 84 spheroid that
  geography uses for EPSG:4326: the same algorithm and result outside the site (to 1e-8 m
  on the 1M-household city) without casting the site to geography for each household. It
  measures to a polygon's boundary even from inside, so households the site covers are set
  to 0 first (``ST_Intersects``, whose straight lon/lat edges lie within millimetres of the
  geodesic ones for site-sized edges);
- the band is ``width_bucket`` over the site's bands (a binary search, no subquery per row),
  which needs bands in increasing order: the settings and the model now say so as a CHECK
  (the API refused other bands already).

The view also carries what a household list shows (site code, community name, building
address, and the household row itself as ``household``), so a list reads each household
once instead of joining the households, buildings and communities a second time; unused,
these columns cost nothing. The household is one composite column rather than one column
per field so that the households layer can gain or drop fields without touching the view.

With a filter the planner can estimate, site-wide queries join buildings, communities and
limits by hash instead of comparing every household with every community in a nested loop.
On the 1M-household city (2 cores): all sites at once 9.0 s -> 1.8 s (EXPLAIN ANALYZE),
one site's list as rows 160-270 ms -> 30-50 ms; see benchmarks/results/impact.md.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

from geo_service.database import migration_module

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BANDS_INCREASING = """
CREATE FUNCTION bands_increasing(bands double precision[])
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT bands IS NULL OR (array_position(bands, NULL) IS NULL AND NOT EXISTS (
      SELECT FROM generate_subscripts(bands, 1) i
      WHERE i < cardinality(bands) AND bands[i] >= bands[i + 1]))
$$
"""

# The ellipsoid of EPSG:4326, as geography takes it from spatial_ref_sys.
WGS84 = "'SPHEROID[\"WGS 84\",6378137,298.257223563]'"

# Band: the first band whose outer edge is at least the distance (edges are inclusive):
# 1 + the number of edges below the distance = 1 + width_bucket (the number of edges at
# or below it) - 1 when the distance equals an edge.
_BAND = "1 + width_bucket(d.distance_m, si.bands_m) - (d.distance_m = ANY (si.bands_m))::int"

HOUSEHOLD_IMPACTS = f"""
CREATE OR REPLACE VIEW household_impacts AS
SELECT si.site_id,
       h.id AS household_id,
       h.building_id,
       b.community_id,
       d.distance_m,
       {_BAND} AS band,
       si.bands_m[{_BAND}] AS band_outer_m,
       si.l_ref_day - 20 * log(greatest(d.distance_m, m.minimum_distance_m)
                               / m.reference_distance_m) AS leq_day,
       si.l_ref_night - 20 * log(greatest(d.distance_m, m.minimum_distance_m)
                                 / m.reference_distance_m) AS leq_night,
       lim.acoustic_class,
       lim.day_dba AS limit_day,
       lim.night_dba AS limit_night,
       d.distance_m <= si.vib_damage_m AS vib_damage_risk,
       d.distance_m <= si.vib_annoyance_m AS vib_annoyance_risk,
       si.code AS site_code,
       c.name AS community_name,
       b.address AS building_address,
       h AS household
FROM site_impact si
CROSS JOIN impact_model m
JOIN households h ON h.geom && expand_metres(si.geom, si.outer_m)
CROSS JOIN LATERAL (
    SELECT CASE WHEN ST_Intersects(h.geom, si.geom) THEN 0.0::float8
                ELSE ST_DistanceSpheroid(h.geom, si.geom, {WGS84})
           END AS distance_m
    OFFSET 0  -- computed once per household, not inlined into every expression that uses it
) d
JOIN buildings b ON b.id = h.building_id
LEFT JOIN communities c ON c.id = b.community_id
JOIN acoustic_limits lim ON lim.acoustic_class = coalesce(c.acoustic_class, m.default_class)
WHERE d.distance_m <= si.outer_m
"""


def upgrade() -> None:
    """Bands must increase (width_bucket relies on it); the faster household_impacts."""
    op.execute(BANDS_INCREASING)
    op.create_check_constraint(
        "ck_site_impact_bands_increasing", "site_impact_settings", "bands_increasing(bands_m)"
    )
    op.create_check_constraint(
        "ck_impact_model_bands_increasing", "impact_model", "bands_increasing(default_bands_m)"
    )
    op.execute(HOUSEHOLD_IMPACTS)


def downgrade() -> None:
    """Revision 0003's view, then the checks."""
    op.execute("DROP VIEW household_impacts")
    op.execute(migration_module("0003_impact.py").HOUSEHOLD_IMPACTS)
    op.drop_constraint("ck_impact_model_bands_increasing", "impact_model", type_="check")
    op.drop_constraint("ck_site_impact_bands_increasing", "site_impact_settings", type_="check")
    op.execute("DROP FUNCTION bands_increasing(double precision[])")

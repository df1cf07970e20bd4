-- household_impacts: every household within a site's outer band, and how it is affected.
-- requires revision: 0004 (the CHECKs that bands increase, which width_bucket relies on)
--
-- Per site and household: the geodesic distance to the site (0 inside it), the band, the
-- predicted day and night Leq, the receiving-zone limits of the household's community's
-- acoustic class (the model's default class outside any community), and whether it lies
-- within the vibration screening distances. Bands are inclusive at their outer edge: a
-- household exactly 50 m away is in the 0-50 m band.
--
-- Propagation from a point source at the nearest point of the site:
--   Lp(r) = Lp(r0) - 20 log10(r / r0), with r at least the model's minimum distance (1 m).
--
-- Work per row, which decides the speed at city scale:
-- - The bounding-box test (h.geom && expand_metres(...)) uses the households' GiST index.
-- - The distance is computed once per candidate household: a lateral subquery behind
--   OFFSET 0, which PostgreSQL never inlines. Written as a plain lateral expression (as
--   revision 0003 had it), it was inlined into every place that used it: the sort key, the
--   band lookups, both levels, the vibration flags, after an ST_DWithin that had computed
--   it already; about ten geodesic distances per household. The outer band is then a
--   filter on that one distance.
-- - ST_DistanceSpheroid on the stored EPSG:4326 geometries, with the WGS 84 spheroid that
--   geography uses for EPSG:4326: the same algorithm and result as the geography distance
--   outside the site (to 1e-8 m on the 1M-household city), without casting the site to
--   geography for each household. It measures to a polygon's boundary even from inside, so
--   households the site covers are set to 0 first (ST_Intersects, whose straight lon/lat
--   edges lie within millimetres of the geodesic ones for site-sized edges).
-- - The band is width_bucket over the site's bands, a binary search with no subquery per
--   row, which needs the bands in increasing order: the settings and the model say so as a
--   CHECK (bands_increasing, revision 0004). The band is the first one whose outer edge is
--   at least the distance: 1 + the number of edges below the distance, that is
--   1 + width_bucket (the number of edges at or below it), less 1 when the distance equals
--   an edge.
-- - With a filter the planner can estimate, site-wide queries join buildings, communities
--   and limits by hash instead of comparing every household with every community in a
--   nested loop. On the 1M-household city (2 cores): all sites at once 9.0 s -> 1.8 s, one
--   site's list as rows 160-270 ms -> 30-50 ms (benchmarks/results/impact.md).
--
-- The view also carries what a household list shows (site code, community name, building
-- address, and the household row itself as household), so a list reads each household once
-- instead of joining households, buildings and communities a second time; unused, these
-- columns cost nothing. The household is one composite column rather than one column per
-- field so that the households layer can gain or drop fields without touching the view.
CREATE VIEW household_impacts AS
SELECT si.site_id,
       h.id AS household_id,
       h.building_id,
       b.community_id,
       d.distance_m,
       1 + width_bucket(d.distance_m, si.bands_m) - (d.distance_m = ANY (si.bands_m))::int
           AS band,
       si.bands_m[1 + width_bucket(d.distance_m, si.bands_m)
                  - (d.distance_m = ANY (si.bands_m))::int] AS band_outer_m,
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
                -- the ellipsoid of EPSG:4326, as geography takes it from spatial_ref_sys
                ELSE ST_DistanceSpheroid(h.geom, si.geom,
                                         'SPHEROID["WGS 84",6378137,298.257223563]')
           END AS distance_m
    OFFSET 0  -- computed once per household, not inlined into every expression that uses it
) d
JOIN buildings b ON b.id = h.building_id
LEFT JOIN communities c ON c.id = b.community_id
JOIN acoustic_limits lim ON lim.acoustic_class = coalesce(c.acoustic_class, m.default_class)
WHERE d.distance_m <= si.outer_m;

-- impact_zones: the layer of that name (layers/impact_zones.py), computed from the sites.
-- requires revision: 0003
--
-- Per site: a ring per distance band (the first band includes the site), and for each
-- acoustic class of the communities within the outer band, the day and night noise
-- contours: where the predicted level equals the class limit,
--   r = r0 * 10^((L_ref - limit) / 20)
-- (contours no larger than the minimum distance are left out). Buffers are geodesic.
--
-- reach: a box around each zone that costs no buffer to compute. A bbox filter on the
-- computed geometry made every tile compute the zones of every site: 64 ms a tile with 120
-- sites, growing with the city. reach is the site's box expanded by the farthest its zones
-- can extend, and depends on the site alone, so PostgreSQL applies reach && <box> to the
-- sites before building any zone: 8 ms a tile. For a ring that is the outer band; for a
-- contour, the largest radius any class could have: the louder period's L_ref with the
-- strictest limit of any class and period. The layer names it (Layer.reach), and bbox
-- filters and tiles test it first.
CREATE VIEW impact_zones AS
SELECT si.code || ':band:' || b.i AS id,
       si.site_id, si.code AS site_code, 'band'::text AS kind, b.i AS band,
       b.inner_m, b.outer_m, NULL::text AS acoustic_class, NULL::float8 AS limit_dba,
       CASE WHEN b.inner_m = 0 THEN ST_Buffer(geography(si.geom), b.outer_m)::geometry
            ELSE ST_Difference(ST_Buffer(geography(si.geom), b.outer_m)::geometry,
                               ST_Buffer(geography(si.geom), b.inner_m)::geometry)
       END AS geom,
       expand_metres(si.geom, si.outer_m) AS reach
FROM site_impact si
CROSS JOIN LATERAL (
    SELECT i, coalesce(si.bands_m[i - 1], 0) AS inner_m, si.bands_m[i] AS outer_m
    FROM generate_subscripts(si.bands_m, 1) i
) b
UNION ALL
SELECT si.code || ':' || p.period || ':' || lim.acoustic_class,
       si.site_id, si.code, 'noise_' || p.period, NULL, 0, p.radius_m, lim.acoustic_class,
       p.limit_dba,
       ST_Buffer(geography(si.geom), p.radius_m)::geometry,
       expand_metres(si.geom, m.reference_distance_m * power(10,
           (greatest(si.l_ref_day, si.l_ref_night)
            - (SELECT min(least(day_dba, night_dba)) FROM acoustic_limits)) / 20))
FROM site_impact si
CROSS JOIN impact_model m
JOIN acoustic_limits lim ON lim.acoustic_class IN (
    SELECT c.acoustic_class FROM communities c
    WHERE c.geom && expand_metres(si.geom, si.outer_m)
      AND ST_DWithin(geography(c.geom), geography(si.geom), si.outer_m))
CROSS JOIN LATERAL (VALUES
    ('day', lim.day_dba, m.reference_distance_m * power(10, (si.l_ref_day - lim.day_dba) / 20)),
    ('night', lim.night_dba,
     m.reference_distance_m * power(10, (si.l_ref_night - lim.night_dba) / 20))
) p(period, limit_dba, radius_m)
WHERE p.radius_m > m.minimum_distance_m;

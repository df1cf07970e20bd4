-- noise_windows: GB 12523-2011 windows of the monitors' minute data (CN 2051), judged.
--
-- Bound: rules, a JSON array with one object per monitor (geo_service.monitoring.alarms
-- builds it from reference/, the city's settings and the site's overrides): the monitor,
-- the stretch to judge [since, until) (whole windows on the clock's grid: 20-minute windows
-- start on the hour and 20 and 40 minutes past, local time), the window length, the share
-- of valid minutes a window needs, the HJ 212 flags that count as valid, the day hours,
-- and the limits (already lowered for an indoor monitor); zone, the devices' time zone.
--
-- Windows are made by noise_minutes.sql. A valid window's LAeq is held against the day or
-- night limit of its period, and at night its Lmax against night limit + 15. Windows over
-- a limit are stored as exceedances (once: the key); every valid window is returned,
-- exceeding or not, for the alarms to open and clear.
WITH p AS (
    SELECT *
    FROM jsonb_to_recordset(CAST(:rules AS jsonb)) AS p(
        monitor_id int, since timestamptz, until timestamptz, window_minutes int,
        valid_fraction float8, valid_flags text[], day_start time, day_end time,
        day_limit float8, night_limit float8, lmax_limit float8)
),
span AS (SELECT monitor_id, since AS lo, until AS hi FROM p),
-- include: noise_minutes
judged AS (
    SELECT w.monitor_id, w.start, w."end", w.period, w.laeq, w.lmax, w.valid_fraction, w.valid,
           CASE w.period WHEN 'day' THEN p.day_limit ELSE p.night_limit END AS limit_value,
           CASE w.period WHEN 'night' THEN p.lmax_limit END AS lmax_limit
    FROM windows w
    JOIN p USING (monitor_id)
),
stored AS (
    INSERT INTO monitor_exceedances (monitor_id, kind, window_start, window_end, period, value,
                                     limit_value, valid_fraction)
    SELECT monitor_id, 'noise_laeq', start, "end", period, laeq, limit_value, valid_fraction
    FROM judged WHERE valid AND laeq > limit_value
    UNION ALL
    SELECT monitor_id, 'noise_lmax', start, "end", period, lmax, lmax_limit, valid_fraction
    FROM judged WHERE valid AND lmax > lmax_limit
    ON CONFLICT DO NOTHING
)
SELECT monitor_id, start, "end", period, laeq, lmax, limit_value, lmax_limit, valid_fraction,
       laeq > limit_value AS laeq_exceeds,
       coalesce(lmax > lmax_limit, false) AS lmax_exceeds
FROM judged
WHERE valid
ORDER BY monitor_id, start

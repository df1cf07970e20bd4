-- noise_windows: GB 12523-2011 windows of the monitors' minute data (CN 2051), judged.
--
-- Bound: rules, a JSON array with one object per monitor (geo_service.monitoring.alarms
-- builds it from reference/, the city's settings and the site's overrides): the monitor,
-- the stretch to judge [since, until) (whole windows on the clock's grid: 20-minute windows
-- start on the hour and 20 and 40 minutes past, local time), the window length, the share of valid minutes a
-- window needs, the HJ 212 flags that count as valid, the day hours, and the limits
-- (already lowered for an indoor monitor); zone, the devices' time zone.
--
-- A minute counts when all its noise values (Leq, LMx) carry a valid flag (none sent: N);
-- a window is valid with at least valid_fraction of its minutes counted (15 of 20), and
-- then its LAeq (energy mean of the counted minutes, to 0.1 dB) is held against the day or
-- night limit of the period the window starts in (so the window starting at 22:00 is the
-- first night window, the one at 06:00 the first day window), and at night its Lmax
-- against night limit + 15. Windows over a limit are stored as exceedances (once: the key);
-- every valid window is returned, exceeding or not, for the alarms to open and clear.
WITH p AS (
    SELECT *
    FROM jsonb_to_recordset(CAST(:rules AS jsonb)) AS p(
        monitor_id int, since timestamptz, until timestamptz, window_minutes int,
        valid_fraction float8, valid_flags text[], day_start time, day_end time,
        day_limit float8, night_limit float8, lmax_limit float8)
),
minute AS (
    SELECT p.monitor_id,
           date_bin(make_interval(mins => p.window_minutes), r.at,
                    TIMESTAMP '2000-01-01' AT TIME ZONE :zone) AS start,
           max(r.value) FILTER (WHERE r.factor = 'Leq') AS leq,
           max(r.value) FILTER (WHERE r.factor = 'LMx') AS lmax,
           bool_and(coalesce(r.flag, 'N') = ANY(p.valid_flags)) AS valid
    FROM p
    JOIN readings r ON r.monitor_id = p.monitor_id AND r.cn = '2051'
         AND r.factor IN ('Leq', 'LMx') AND r.at >= p.since AND r.at < p.until
    GROUP BY p.monitor_id, p.window_minutes, r.at
),
win AS (
    SELECT monitor_id, start,
           count(*) FILTER (WHERE valid AND leq IS NOT NULL) AS counted,
           10 * log(avg(power(10, leq / 10)) FILTER (WHERE valid)) AS laeq,
           max(lmax) FILTER (WHERE valid) AS lmax
    FROM minute
    GROUP BY monitor_id, start
),
judged AS (
    SELECT w.monitor_id, w.start,
           w.start + make_interval(mins => p.window_minutes) AS "end",
           d.period,
           round(CAST(w.laeq AS numeric), 1)::float8 AS laeq,
           w.lmax,
           round(CAST(w.counted AS numeric) / p.window_minutes, 3)::float8 AS valid_fraction,
           w.counted >= ceil(p.valid_fraction * p.window_minutes - 1e-9) AS valid,
           CASE d.period WHEN 'day' THEN p.day_limit ELSE p.night_limit END AS limit_value,
           CASE d.period WHEN 'night' THEN p.lmax_limit END AS lmax_limit
    FROM win w
    JOIN p USING (monitor_id)
    CROSS JOIN LATERAL (
        SELECT CASE WHEN CAST(w.start AT TIME ZONE :zone AS time) >= p.day_start
                     AND CAST(w.start AT TIME ZONE :zone AS time) < p.day_end
                    THEN 'day' ELSE 'night' END AS period
    ) d
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

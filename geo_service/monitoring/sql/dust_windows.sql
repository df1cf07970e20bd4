-- dust_windows: the means of a dust preset's windows (DB13/2934-2019: hourly PM10; DB31/
-- 964-2016: 15-minute means) of the monitors' minute data (CN 2051, the factor's Avg, in
-- ug/m3 as stored), judged.
--
-- Bound: rules, a JSON array with one object per monitor (the stretch [since, until) in
-- whole windows on the clock's grid, the window, the share of valid minutes a mean needs,
-- the valid flags, the factor and the limit); zone, the devices' time zone, whose local
-- days the allowed count is per.
--
-- A mean over the limit (to 0.1 ug/m3; equal is not over) is an exceedance, stored once;
-- every valid window is returned, and an exceeding one with its number in its local day
-- (the day's exceedances stored before, plus those before it in this batch), so that the
-- alarm opens with the first one past the allowed count.
WITH p AS (
    SELECT *
    FROM jsonb_to_recordset(CAST(:rules AS jsonb)) AS p(
        monitor_id int, since timestamptz, until timestamptz, window_minutes int,
        valid_fraction float8, valid_flags text[], factor text, limit_value float8)
),
minute AS (
    SELECT p.monitor_id,
           date_bin(make_interval(mins => p.window_minutes), r.at,
                    TIMESTAMP '2000-01-01' AT TIME ZONE :zone) AS start,
           r.value,
           coalesce(r.flag, 'N') = ANY(p.valid_flags) AS valid
    FROM p
    JOIN readings r ON r.monitor_id = p.monitor_id AND r.cn = '2051'
         AND r.factor = p.factor AND r.statistic = 'Avg'
         AND r.at >= p.since AND r.at < p.until
),
win AS (
    SELECT monitor_id, start, count(*) FILTER (WHERE valid) AS counted,
           avg(value) FILTER (WHERE valid) AS mean
    FROM minute
    GROUP BY monitor_id, start
),
judged AS (
    SELECT w.monitor_id, w.start,
           w.start + make_interval(mins => p.window_minutes) AS "end",
           CAST(w.start AT TIME ZONE :zone AS date) AS day,
           round(CAST(w.mean AS numeric), 1)::float8 AS mean,
           round(CAST(w.counted AS numeric) / p.window_minutes, 3)::float8 AS valid_fraction,
           w.counted >= ceil(p.valid_fraction * p.window_minutes - 1e-9) AS valid,
           p.limit_value
    FROM win w
    JOIN p USING (monitor_id)
),
stored AS (
    INSERT INTO monitor_exceedances (monitor_id, kind, window_start, window_end, value,
                                     limit_value, valid_fraction)
    SELECT monitor_id, 'dust', start, "end", mean, limit_value, valid_fraction
    FROM judged WHERE valid AND mean > limit_value
    ON CONFLICT DO NOTHING
)
SELECT j.monitor_id, j.start, j."end", j.mean, j.limit_value, j.valid_fraction,
       j.mean > j.limit_value AS exceeds,
       CASE WHEN j.mean > j.limit_value THEN
           (SELECT count(*) FROM monitor_exceedances e
            WHERE e.monitor_id = j.monitor_id AND e.kind = 'dust'
              AND e.window_start >= CAST(j.day AS timestamp) AT TIME ZONE :zone
              AND e.window_start < CAST(j.day + 1 AS timestamp) AT TIME ZONE :zone)
           + row_number() OVER (PARTITION BY j.monitor_id, j.day, j.mean > j.limit_value
                                ORDER BY j.start)
       END AS day_count
FROM judged j
WHERE j.valid
ORDER BY j.monitor_id, j.start

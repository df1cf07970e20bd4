-- noise_minutes: windows of the monitors' noise minute data (CN 2051), included by
-- noise_windows.sql and night_work_windows.sql (geo_service.monitoring.queries) in their
-- WITH, after ``p`` (a monitor's window_minutes, valid_fraction, valid_flags, day_start,
-- day_end) and ``span`` (the monitor's minutes read, [lo, hi)); :zone, the devices' zone.
--
-- A minute counts when all its noise values (Leq, LMx) carry a valid flag (none sent: N);
-- a window (on the clock's grid: 20-minute windows start on the hour and 20 and 40 past,
-- local time) is valid with at least valid_fraction of its minutes counted (15 of 20); its
-- LAeq is the energy mean of the counted minutes, to 0.1 dB, its Lmax their maximum. It
-- belongs to the period it starts in (so the window starting at 22:00 is the first night
-- window, the one at 06:00 the first day window), of a date (a night's: the evening's).
minute AS (
    SELECT p.monitor_id,
           date_bin(make_interval(mins => p.window_minutes), r.at,
                    TIMESTAMP '2000-01-01' AT TIME ZONE :zone) AS start,
           max(r.value) FILTER (WHERE r.factor = 'Leq') AS leq,
           max(r.value) FILTER (WHERE r.factor = 'LMx') AS lmax,
           bool_and(coalesce(r.flag, 'N') = ANY(p.valid_flags)) AS valid
    FROM p
    JOIN span s USING (monitor_id)
    JOIN readings r ON r.monitor_id = p.monitor_id AND r.cn = '2051'
         AND r.factor IN ('Leq', 'LMx') AND r.at >= s.lo AND r.at < s.hi
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
windows AS (
    SELECT w.monitor_id, w.start,
           w.start + make_interval(mins => p.window_minutes) AS "end",
           round(CAST(w.laeq AS numeric), 1)::float8 AS laeq,
           w.lmax,
           round(CAST(w.counted AS numeric) / p.window_minutes, 3)::float8 AS valid_fraction,
           w.counted >= ceil(p.valid_fraction * p.window_minutes - 1e-9) AS valid,
           CASE WHEN CAST(w.start AT TIME ZONE :zone AS time) >= p.day_start
                 AND CAST(w.start AT TIME ZONE :zone AS time) < p.day_end
                THEN 'day' ELSE 'night' END AS period,
           CAST((w.start AT TIME ZONE :zone) - CAST(p.day_start AS interval) AS date) AS period_of
    FROM win w JOIN p USING (monitor_id)
),

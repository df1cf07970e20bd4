-- night_work_windows: the monitors' windows judged for night work and quiet periods.
--
-- Bound: rules, a JSON array with one object per monitor (geo_service.monitoring.night_work
-- builds it): the monitor, the stretch to judge [since, until) on the noise windows' grid,
-- the window length, valid share and flags, the day hours, and the background settings
-- (a configured background_db, or null; how many previous periods and windows make one;
-- the margin above it that is activity); quiet, a JSON array of the city-wide quiet periods
-- [starts, ends); zone, the devices' time zone.
--
-- Windows are made by noise_minutes.sql, as for the noise rule; each belongs to a period
-- (night from day_end, 22:00, to day_start, 06:00) of a date. The background of a window
-- is the configured value or else the median LAeq of the monitor's valid windows of the
-- same period (night or day) on the background_nights dates before its own (at least
-- background_min_windows of them),
-- computed once per monitor, period and date and kept in night_backgrounds (with the
-- settings that shaped it, ``basis``): the history under a period does not change while
-- the period is judged, so a monitor's previous days are read when its period's first
-- window is judged, and each later window reads only its own minutes;
-- a window is activity when its LAeq is at least margin_db above it. A night window's
-- activity is permitted when a permit of the site, not revoked and with its notice posted by
-- the window's start, covers the whole window; a window is in a quiet period when it starts
-- in a city-wide one (night windows) or overlaps an exam-site ban whose circle reaches the
-- site's geometry (any window). Activity not permitted, and activity in a quiet period, are
-- stored as exceedances (once: the key); every window judged is returned.
WITH p AS (
    SELECT r.*,
           concat_ws('/', r.window_minutes, r.valid_fraction, array_to_string(r.valid_flags, ','),
                     r.day_start, r.day_end, r.background_nights, r.background_min_windows)
               AS basis
    FROM jsonb_to_recordset(CAST(:rules AS jsonb)) AS r(
        monitor_id int, since timestamptz, until timestamptz, window_minutes int,
        valid_fraction float8, valid_flags text[], day_start time, day_end time,
        background_db float8, background_nights int, background_min_windows int,
        margin_db float8)
),
q AS (
    SELECT *
    FROM jsonb_to_recordset(CAST(:quiet AS jsonb)) AS q(
        code text, document_no text, starts timestamptz, ends timestamptz)
),
-- The periods the stretch's windows fall in (from the windows' grid, data or not), and
-- up to :ahead of the monitors' coming periods whose background is not kept: the period of
-- the window at ``until`` (the next one judged) and the period after it. Their history is
-- complete already: a pass with nothing due prepares them, so that the first window of a
-- night finds its background kept, also when the service started in that night (its
-- first window had computed every monitor's background at once: 8 s over 710 monitors).
grid AS (
    SELECT p.monitor_id, g.start, g.start = p.until AS upcoming
    FROM p
    CROSS JOIN LATERAL generate_series(p.since, p.until, make_interval(mins => p.window_minutes))
        AS g(start)
    WHERE p.background_db IS NULL
),
periods AS (
    SELECT g.monitor_id, g.upcoming,
           CASE WHEN CAST(g.start AT TIME ZONE :zone AS time) >= p.day_start
                 AND CAST(g.start AT TIME ZONE :zone AS time) < p.day_end
                THEN 'day' ELSE 'night' END AS period,
           CAST((g.start AT TIME ZONE :zone) - CAST(p.day_start AS interval) AS date) AS period_of
    FROM grid g JOIN p USING (monitor_id)
),
ahead AS (
    SELECT c.monitor_id, n.period, n.period_of
    FROM periods c
    JOIN p USING (monitor_id)
    CROSS JOIN LATERAL (
        VALUES (1, c.period, c.period_of),
               (2, CASE c.period WHEN 'day' THEN 'night' ELSE 'day' END,
                   CASE c.period WHEN 'day' THEN c.period_of ELSE c.period_of + 1 END)
    ) AS n(soon, period, period_of)
    WHERE c.upcoming AND NOT EXISTS (
        SELECT 1 FROM night_backgrounds b WHERE b.monitor_id = c.monitor_id
        AND b.period = n.period AND b.period_of = n.period_of AND b.basis = p.basis)
    ORDER BY n.soon, c.monitor_id
    LIMIT :ahead
),
keys AS (
    SELECT monitor_id, period, period_of FROM periods WHERE NOT upcoming
    UNION
    SELECT monitor_id, period, period_of FROM ahead
),
kept AS (
    SELECT k.monitor_id, k.period, k.period_of, b.background
    FROM keys k
    JOIN p USING (monitor_id)
    JOIN night_backgrounds b ON b.monitor_id = k.monitor_id AND b.period = k.period
         AND b.period_of = k.period_of AND b.basis = p.basis
),
missing AS (
    SELECT k.* FROM keys k
    WHERE NOT EXISTS (SELECT 1 FROM kept c WHERE c.monitor_id = k.monitor_id
                      AND c.period = k.period AND c.period_of = k.period_of)
),
-- Where each monitor's minutes are read from: the stretch, or the days before the first
-- period missing its background.
span AS (
    SELECT p.monitor_id, p.until AS hi,
           least(p.since, (SELECT CAST(min(m.period_of) - p.background_nights AS timestamp)
                                  AT TIME ZONE :zone
                           FROM missing m WHERE m.monitor_id = p.monitor_id)) AS lo
    FROM p
),
-- include: noise_minutes
valid AS MATERIALIZED (
    SELECT monitor_id, start, "end", laeq, valid_fraction, period, period_of
    FROM windows WHERE valid
),
-- A period with fewer than background_min_windows windows before it has no background
-- (not judged for night work), and that is kept too: its history is past.
computed AS (
    SELECT m.monitor_id, m.period, m.period_of,
           CASE WHEN count(h.laeq) >= p.background_min_windows
                THEN percentile_cont(0.5) WITHIN GROUP (ORDER BY h.laeq) END AS background,
           count(h.laeq) AS windows
    FROM missing m
    JOIN p USING (monitor_id)
    LEFT JOIN valid h ON h.monitor_id = m.monitor_id AND h.period = m.period
         AND h.period_of >= m.period_of - p.background_nights AND h.period_of < m.period_of
    GROUP BY m.monitor_id, m.period, m.period_of, p.background_min_windows
),
keeping AS (
    INSERT INTO night_backgrounds (monitor_id, period, period_of, basis, background, windows)
    SELECT c.monitor_id, c.period, c.period_of, p.basis, c.background, c.windows
    FROM computed c JOIN p USING (monitor_id)
    ON CONFLICT DO NOTHING
),
backgrounds AS (
    SELECT monitor_id, period, period_of, background FROM kept
    UNION ALL
    SELECT monitor_id, period, period_of, background FROM computed
),
judged AS (
    SELECT v.*, coalesce(p.background_db, b.background) AS background, p.margin_db,
           s.code AS site_code, s.geom AS site_geom
    FROM valid v
    JOIN p USING (monitor_id)
    JOIN monitors m ON m.id = v.monitor_id
    JOIN sites s ON s.id = m.site_id
    LEFT JOIN backgrounds b ON b.monitor_id = v.monitor_id AND b.period = v.period
         AND b.period_of = v.period_of
    WHERE v.start >= p.since
),
flagged AS (
    SELECT j.monitor_id, j.start, j."end", j.period, j.laeq, j.valid_fraction,
           round(CAST(j.background AS numeric), 1)::float8 AS background,
           round(CAST(j.background + j.margin_db AS numeric), 1)::float8 AS limit_value,
           j.laeq >= round(CAST(j.background + j.margin_db AS numeric), 1) AS active,
           EXISTS (
               SELECT 1
               FROM night_work_permits w
               CROSS JOIN LATERAL (
                   SELECT j.period_of + CASE WHEN w.hours_start >= TIME '12:00' THEN 0 ELSE 1 END
                          AS from_day
               ) f
               WHERE w.site_code = j.site_code
                 AND j.period_of BETWEEN w.first_night AND w.last_night
                 AND (w.revoked_at IS NULL OR w.revoked_at > j.start)
                 AND w.notice_posted_at <= j.start
                 AND j.start >= (f.from_day + w.hours_start) AT TIME ZONE :zone
                 AND j."end" <= (f.from_day + CASE WHEN w.hours_end > w.hours_start THEN 0
                                                   ELSE 1 END + w.hours_end) AT TIME ZONE :zone
           ) AS permitted,
           (SELECT q.code FROM q WHERE j.period = 'night' AND j.start >= q.starts
               AND j.start < q.ends ORDER BY q.starts LIMIT 1) AS quiet_period,
           (SELECT b.id FROM exam_site_bans b
             WHERE j.start < b.ends_at AND j."end" > b.starts_at
               AND ST_DWithin(CAST(b.geom AS geography), CAST(j.site_geom AS geography),
                              b.radius_m)
             ORDER BY b.starts_at, b.id LIMIT 1) AS exam_site_ban
    FROM judged j
    WHERE j.background IS NOT NULL
),
stored AS (
    INSERT INTO monitor_exceedances (monitor_id, kind, window_start, window_end, period, value,
                                     limit_value, valid_fraction)
    SELECT monitor_id, 'night_work_unpermitted', start, "end", period, laeq, limit_value,
           valid_fraction
    FROM flagged WHERE period = 'night' AND active AND NOT permitted
    UNION ALL
    SELECT monitor_id, 'quiet_period', start, "end", period, laeq, limit_value, valid_fraction
    FROM flagged WHERE active AND (quiet_period IS NOT NULL OR exam_site_ban IS NOT NULL)
    ON CONFLICT DO NOTHING
)
SELECT * FROM flagged ORDER BY monitor_id, start

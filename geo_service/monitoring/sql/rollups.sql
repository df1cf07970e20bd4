-- The readings' rollups, added to as readings arrive (``geo_service.monitoring.rollups``).
--
-- ``source`` is the readings to add: those a batch has just inserted (its INSERT ...
-- RETURNING, so a repeated reading adds nothing), or the stored ones of a rebuild. Each is
-- put in every period's bucket (aligned to local midnight in :zone: a 20-minute bucket
-- starts at :00, :20 or :40, a day at 00:00) and its bucket keeps what makes the value
-- whatever order readings come in: the energy sum of valid levels (LAeq), the sum of other
-- valid values (means), or the extreme (LMx, -Max; LMn, -Min), and the counts of valid and
-- of all readings. ``reading_rollups.value`` is computed from them by the table.
, sourced AS (
    SELECT monitor_id, factor, statistic, at, value,
           CASE WHEN statistic = 'Max' OR factor = 'LMx' THEN 'max'
                WHEN statistic = 'Min' OR factor = 'LMn' THEN 'min'
                WHEN factor = ANY(CAST(:levels AS text[])) THEN 'energy'
                ELSE 'mean' END AS kind,
           coalesce(flag, 'N') = ANY(
               CASE WHEN factor = ANY(CAST(:noise AS text[])) THEN CAST(:noise_valid AS text[])
                    ELSE CAST(:dust_valid AS text[]) END) AS valid
    FROM source
    WHERE cn = ANY(CAST(:commands AS text[]))
), bucketed AS (
    SELECT s.monitor_id, s.factor, s.statistic, p.period,
           date_bin(p.width, s.at, date_trunc('day', s.at, :zone)) AS start, s.kind,
           CASE s.kind
               WHEN 'energy' THEN sum(power(10, s.value / 10)) FILTER (WHERE s.valid)
               WHEN 'mean' THEN sum(s.value) FILTER (WHERE s.valid)
               WHEN 'max' THEN max(s.value) FILTER (WHERE s.valid)
               ELSE min(s.value) FILTER (WHERE s.valid) END AS total,
           count(*) FILTER (WHERE s.valid) AS valid_count,
           count(*) AS count
    FROM sourced s
    CROSS JOIN unnest(CAST(:periods AS text[]), CAST(:widths AS interval[])) AS p(period, width)
    GROUP BY 1, 2, 3, 4, 5, 6
)
INSERT INTO reading_rollups AS r
    (monitor_id, factor, statistic, period, start, kind, total, valid_count, count)
SELECT monitor_id, factor, statistic, period, start, kind, total, valid_count, count
FROM bucketed
ON CONFLICT (monitor_id, factor, statistic, period, start) DO UPDATE SET
    total = CASE r.kind
        WHEN 'max' THEN greatest(r.total, excluded.total)
        WHEN 'min' THEN least(r.total, excluded.total)
        ELSE coalesce(r.total + excluded.total, r.total, excluded.total) END,
    valid_count = r.valid_count + excluded.valid_count,
    count = r.count + excluded.count

-- site_impact: one row per site, with what drives its prediction.
-- requires revision: 0003
--
-- Its bands and impact kinds are its own settings (site_impact_settings) or the model's
-- defaults (impact_model, from reference/noise.yaml); outer_m is the last, outermost band.
-- The phase whose equipment drives the prediction is the chosen active phase, else the
-- loudest by day (ties: the first phase by name). A site without equipment has no phase
-- and NULL levels: its households are listed with their distances and bands only.
CREATE VIEW site_impact AS
SELECT s.id AS site_id,
       s.code,
       s.geom,
       coalesce(st.bands_m, m.default_bands_m) AS bands_m,
       (coalesce(st.bands_m, m.default_bands_m))[cardinality(coalesce(st.bands_m,
                                                                       m.default_bands_m))]
           AS outer_m,
       coalesce(st.kinds, m.default_kinds) AS kinds,
       p.phase,
       p.l_ref_day,
       p.l_ref_night,
       p.vib_damage_m,
       p.vib_annoyance_m
FROM sites s
CROSS JOIN impact_model m
LEFT JOIN site_impact_settings st ON st.site_id = s.id
LEFT JOIN LATERAL (
    SELECT * FROM site_noise_phases ph
    WHERE ph.site_id = s.id AND (st.active_phase IS NULL OR ph.phase = st.active_phase)
    ORDER BY ph.l_ref_day DESC NULLS LAST, ph.phase
    LIMIT 1
) p ON true;

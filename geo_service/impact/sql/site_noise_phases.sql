-- site_noise_phases: the source level of each phase of each site, at the reference distance.
-- requires revision: 0003
--
-- Each equipment line's hourly Leq at the reference distance r0 (FHWA RCNM: 50 ft) is
--   Lmax + 10 log10(UF / 100) + 10 log10(count) - attenuation,
-- and the lines of a phase add by energy: 10 log10(sum 10^(L / 10)). At night only the
-- equipment marked night_work counts (no such line: NULL, no night prediction).
--
-- Vibration screening distances (FTA): the distance at which PPV(D) = PPV_ref (D_ref / D)^n
-- falls to a threshold, D = D_ref (PPV_ref / PPV_limit)^(1/n), in metres (0.3048 m a foot);
-- a phase's distance is that of its strongest source.
--
-- geo_service.noise has the same formulas in Python (leq_at_reference, energy_sum,
-- vibration_distance_m) for explanations; tests/test_impact.py holds the two equal.
CREATE VIEW site_noise_phases AS
SELECT e.site_id,
       e.phase,
       10 * log(sum(power(10, (t.lmax_15m_dba + 10 * log(t.usage_factor_pct / 100.0)
                               + 10 * log(e.count) - e.attenuation_db) / 10))) AS l_ref_day,
       10 * log(sum(power(10, (t.lmax_15m_dba + 10 * log(t.usage_factor_pct / 100.0)
                               + 10 * log(e.count) - e.attenuation_db) / 10))
                FILTER (WHERE e.night_work)) AS l_ref_night,
       max(m.vib_reference_ft * 0.3048
           * power(t.ppv_25ft_in_s / m.damage_ppv_in_s, 1 / m.vib_exponent)) AS vib_damage_m,
       max(m.vib_reference_ft * 0.3048
           * power(t.ppv_25ft_in_s / m.annoyance_ppv_in_s, 1 / m.vib_exponent))
           AS vib_annoyance_m
FROM site_equipment e
JOIN equipment_types t ON t.code = e.equipment_code
CROSS JOIN impact_model m
GROUP BY e.site_id, e.phase;

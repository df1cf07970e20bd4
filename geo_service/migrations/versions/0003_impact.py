"""Impact: reference tables, per-site settings and equipment, and the impact views.

The views compute everything from the current rows (sites, households, settings,
equipment, reference data), so results follow every change without a cache to refresh.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The source level of each phase of each site at the reference distance: hourly Leq of each
# equipment line (Lmax + 10 log10(UF/100) + 10 log10(count) - attenuation), summed by energy;
# at night only equipment that works at night. Vibration screening distances (FTA):
# D = D_ref * (PPV_ref / PPV_limit)^(1/n), in metres.
SITE_NOISE_PHASES = """
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
GROUP BY e.site_id, e.phase
"""

# One row per site: its bands and kinds (own settings or the defaults) and the phase whose
# equipment drives the prediction (the chosen one, else the loudest by day).
SITE_IMPACT = """
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
) p ON true
"""

# Every household within a site's outer band, with its geodesic distance to the site (0
# inside), band, predicted levels, receiving-zone limits and exceedances. The bounding-box
# test uses the households' GiST index; the geodesic test decides.
HOUSEHOLD_IMPACTS = """
CREATE VIEW household_impacts AS
SELECT si.site_id,
       h.id AS household_id,
       h.building_id,
       b.community_id,
       d.distance_m,
       (SELECT min(i) FROM generate_subscripts(si.bands_m, 1) i
         WHERE si.bands_m[i] >= d.distance_m) AS band,
       (SELECT min(x) FROM unnest(si.bands_m) x WHERE x >= d.distance_m) AS band_outer_m,
       si.l_ref_day - 20 * log(greatest(d.distance_m, m.minimum_distance_m)
                               / m.reference_distance_m) AS leq_day,
       si.l_ref_night - 20 * log(greatest(d.distance_m, m.minimum_distance_m)
                                 / m.reference_distance_m) AS leq_night,
       lim.acoustic_class,
       lim.day_dba AS limit_day,
       lim.night_dba AS limit_night,
       d.distance_m <= si.vib_damage_m AS vib_damage_risk,
       d.distance_m <= si.vib_annoyance_m AS vib_annoyance_risk
FROM site_impact si
CROSS JOIN impact_model m
JOIN households h
  ON h.geom && expand_metres(si.geom, si.outer_m)
 AND ST_DWithin(geography(h.geom), geography(si.geom), si.outer_m)
CROSS JOIN LATERAL (SELECT ST_Distance(geography(h.geom), geography(si.geom)) AS distance_m) d
JOIN buildings b ON b.id = h.building_id
LEFT JOIN communities c ON c.id = b.community_id
JOIN acoustic_limits lim ON lim.acoustic_class = coalesce(c.acoustic_class, m.default_class)
"""

# The impact_zones layer: a ring per distance band (the first band includes the site) and,
# for each acoustic class of the communities within the outer band, the day and night noise
# contours: where the predicted level equals the class limit, r = r0 * 10^((L_ref - limit)/20).
IMPACT_ZONES = """
CREATE VIEW impact_zones AS
SELECT si.code || ':band:' || b.i AS id,
       si.site_id, si.code AS site_code, 'band'::text AS kind, b.i AS band,
       b.inner_m, b.outer_m, NULL::text AS acoustic_class, NULL::float8 AS limit_dba,
       CASE WHEN b.inner_m = 0 THEN ST_Buffer(geography(si.geom), b.outer_m)::geometry
            ELSE ST_Difference(ST_Buffer(geography(si.geom), b.outer_m)::geometry,
                               ST_Buffer(geography(si.geom), b.inner_m)::geometry)
       END AS geom
FROM site_impact si
CROSS JOIN LATERAL (
    SELECT i, coalesce(si.bands_m[i - 1], 0) AS inner_m, si.bands_m[i] AS outer_m
    FROM generate_subscripts(si.bands_m, 1) i
) b
UNION ALL
SELECT si.code || ':' || p.period || ':' || lim.acoustic_class,
       si.site_id, si.code, 'noise_' || p.period, NULL, 0, p.radius_m, lim.acoustic_class,
       p.limit_dba,
       ST_Buffer(geography(si.geom), p.radius_m)::geometry
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
WHERE p.radius_m > m.minimum_distance_m
"""


def upgrade() -> None:
    """Reference tables (filled from geo_service/reference by every migrate), settings, views."""
    op.create_table(
        "equipment_types",
        sa.Column("code", sa.String(40), primary_key=True),
        sa.Column("name_zh", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.Column("lmax_15m_dba", sa.Float(), nullable=False),
        sa.Column("usage_factor_pct", sa.Float(), nullable=False),
        sa.Column("ppv_25ft_in_s", sa.Float()),
        sa.CheckConstraint(
            "usage_factor_pct > 0 AND usage_factor_pct <= 100", name="ck_equipment_uf"
        ),
    )
    op.create_table(
        "acoustic_limits",
        sa.Column("acoustic_class", sa.String(2), primary_key=True),
        sa.Column("day_dba", sa.Float(), nullable=False),
        sa.Column("night_dba", sa.Float(), nullable=False),
        sa.Column("name_zh", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
    )
    op.create_table(
        "impact_model",
        sa.Column("id", sa.Boolean(), primary_key=True, server_default=sa.true()),
        sa.Column("reference_distance_m", sa.Float(), nullable=False),
        sa.Column("minimum_distance_m", sa.Float(), nullable=False),
        sa.Column("vib_reference_ft", sa.Float(), nullable=False),
        sa.Column("vib_exponent", sa.Float(), nullable=False),
        sa.Column("damage_ppv_in_s", sa.Float(), nullable=False),
        sa.Column("annoyance_ppv_in_s", sa.Float(), nullable=False),
        sa.Column("default_class", sa.String(2), nullable=False),
        sa.Column("boundary_day_dba", sa.Float(), nullable=False),
        sa.Column("boundary_night_dba", sa.Float(), nullable=False),
        sa.Column("default_bands_m", postgresql.ARRAY(sa.Float()), nullable=False),
        sa.Column("default_kinds", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.CheckConstraint("id", name="ck_impact_model_single_row"),
    )
    op.create_table(
        "site_impact_settings",
        sa.Column(
            "site_id", sa.Integer(), sa.ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("bands_m", postgresql.ARRAY(sa.Float())),
        sa.Column("kinds", postgresql.ARRAY(sa.Text())),
        sa.Column("active_phase", sa.Text()),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "bands_m IS NULL OR cardinality(bands_m) BETWEEN 1 AND 10", name="ck_site_impact_bands"
        ),
    )
    op.create_table(
        "site_equipment",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "site_id", sa.Integer(), sa.ForeignKey("sites.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("phase", sa.Text(), nullable=False, server_default="main"),
        sa.Column(
            "equipment_code",
            sa.String(40),
            sa.ForeignKey("equipment_types.code", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column("count", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("night_work", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("attenuation_db", sa.Float(), nullable=False, server_default="0"),
        sa.CheckConstraint("count BETWEEN 1 AND 1000", name="ck_site_equipment_count"),
        sa.CheckConstraint("attenuation_db BETWEEN 0 AND 40", name="ck_site_equipment_att"),
    )
    op.create_index("ix_site_equipment_site", "site_equipment", ["site_id", "phase"])
    op.execute(SITE_NOISE_PHASES)
    op.execute(SITE_IMPACT)
    op.execute(HOUSEHOLD_IMPACTS)
    op.execute(IMPACT_ZONES)


def downgrade() -> None:
    """Drop the views, then the tables."""
    for view in ("impact_zones", "household_impacts", "site_impact", "site_noise_phases"):
        op.execute(f"DROP VIEW IF EXISTS {view}")
    op.drop_index("ix_site_equipment_site", table_name="site_equipment")
    for table in (
        "site_equipment",
        "site_impact_settings",
        "impact_model",
        "acoustic_limits",
        "equipment_types",
    ):
        op.drop_table(table)

"""What a site or a community is exposed to: totals and groups, overlaps, the model's inputs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, text

from geo_service import noise
from geo_service.errors import NotFound
from geo_service.impact.disclosure import CELL_KEY, protect
from geo_service.impact.sites import SiteRef
from layers import get_layer


def vulnerable_sql(alias: str = "h") -> str:
    """SQL: the household ``alias`` has a sensitive flag set (elderly, infant, ...).

    The flags are the households layer's sensitive yes/no fields, so a new one counts here
    without an edit.
    """
    sensitive = get_layer("households").sensitive_fields
    flags = [f"{alias}.{f.name}" for f in sensitive if f.kind == "bool"]
    return f"({' OR '.join(flags) or 'false'})"


_VULNERABLE = vulnerable_sql()
# Counts of sensitive fields: perturbed for readers who may not see those fields.
SENSITIVE_COUNTS = ("vulnerable_households",)
# Every query of these joins the households ``h`` and ``CROSS JOIN disclosure_key dk``.
_AGGREGATES = f"""
       count(*) AS households,
       {CELL_KEY} AS cell_key,
       coalesce(sum(h.residents), 0) AS residents,
       count(*) FILTER (WHERE {_VULNERABLE}) AS vulnerable_households,
       round(max(hi.leq_day)::numeric, 1)::float8 AS max_leq_day,
       round((10 * log(avg(power(10, hi.leq_day / 10))))::numeric, 1)::float8
           AS mean_leq_day,  -- energy mean, as levels are averaged in acoustics
       round(max(hi.leq_night)::numeric, 1)::float8 AS max_leq_night,
       count(*) FILTER (WHERE hi.leq_day > hi.limit_day) AS exceeding_day,
       count(*) FILTER (WHERE hi.leq_night > hi.limit_night) AS exceeding_night,
       count(*) FILTER (WHERE hi.vib_damage_risk) AS vibration_damage_screen,
       count(*) FILTER (WHERE hi.vib_annoyance_risk) AS vibration_annoyance_screen"""


def site_parameters(conn: Connection, site_id: int) -> dict[str, Any]:
    """The inputs of the prediction, with each equipment line's share: what makes it explainable."""
    model = conn.execute(
        text(
            "SELECT bands_m, kinds, phase, l_ref_day, l_ref_night, vib_damage_m, vib_annoyance_m "
            "FROM site_impact WHERE site_id = :s"
        ),
        {"s": site_id},
    ).one()
    equipment = conn.execute(
        text(
            "SELECT e.phase, e.equipment_code, e.count, e.night_work, e.attenuation_db "
            "FROM site_equipment e WHERE e.site_id = :s ORDER BY e.phase, e.id"
        ),
        {"s": site_id},
    ).all()
    types = noise.equipment_types()
    params = noise.model()
    lines = []
    for phase, code, count, night, attenuation in equipment:
        kind = types[code]
        lines.append(
            {
                "phase": phase,
                "equipment": code,
                "name_zh": kind.name_zh,
                "name_en": kind.name_en,
                "count": count,
                "night_work": night,
                "attenuation_db": attenuation,
                "lmax_at_reference_dba": kind.lmax_15m_dba,
                "usage_factor_pct": kind.usage_factor_pct,
                "leq_at_reference_dba": round(noise.leq_at_reference(kind, count, attenuation), 2),
                "ppv_25ft_in_s": kind.ppv_25ft_in_s,
                "active": phase == model.phase,
            }
        )
    return {
        "bands_m": list(model.bands_m),
        "kinds": list(model.kinds),
        "phase": model.phase,
        "phases": sorted({line["phase"] for line in lines}),
        "leq_day_at_reference_dba": _r(model.l_ref_day),
        "leq_night_at_reference_dba": _r(model.l_ref_night),
        "reference_distance_m": params["reference_distance_m"],
        "minimum_distance_m": params["minimum_distance_m"],
        "vibration_damage_distance_m": _r(model.vib_damage_m),
        "vibration_annoyance_distance_m": _r(model.vib_annoyance_m),
        "vibration_thresholds_in_s": {
            "damage": params["vibration"]["damage_ppv_in_s"],
            "annoyance": params["vibration"]["annoyance_ppv_in_s"],
        },
        "day_hours": params["day_hours"],
        "equipment": lines,
        "model": "point source at the nearest point of the site boundary; "
        "Lp(r) = Lp(r0) - 20 log10(r/r0); levels summed by energy; "
        "Leq = Lmax + 10 log10(UF/100); night: equipment marked night_work only",
    }


def _r(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(float(value), digits)


def site_impact(conn: Connection, site: SiteRef, *, exact: bool) -> dict[str, Any]:
    """Summary and aggregates of one site: totals, by band, by community and by building.

    One pass over the site's households (GROUPING SETS), not one query per table. The
    counts of sensitive fields are exact only for a reader who may see those fields
    (``exact``); anyone else gets them protected (``geo_service.impact.disclosure``).
    """
    sql = f"""
SELECT GROUPING(hi.band) AS g_band, GROUPING(hi.community_id) AS g_community,
       GROUPING(hi.building_id) AS g_building,
       hi.community_id, hi.community_name AS community, hi.building_id,
       hi.building_address AS building, hi.band, hi.band_outer_m, {_AGGREGATES}
FROM household_impacts hi
JOIN households h ON h.id = hi.household_id
CROSS JOIN disclosure_key dk
WHERE hi.site_id = :site_id
GROUP BY GROUPING SETS (
    (),
    (hi.band, hi.band_outer_m),
    (hi.community_id, hi.community_name, hi.band, hi.band_outer_m),
    (hi.building_id, hi.building_address, hi.band, hi.band_outer_m))
ORDER BY community NULLS LAST, building, hi.band"""
    totals: dict[str, Any] | None = None
    groups: dict[str, list[dict[str, Any]]] = {"band": [], "community": [], "building": []}
    for row in conn.execute(text(sql), {"site_id": site.id}):
        record = protect(dict(row._mapping), SENSITIVE_COUNTS, exact)
        flags = (record.pop("g_band"), record.pop("g_community"), record.pop("g_building"))
        if flags[0]:
            totals = {k: v for k, v in record.items() if k not in _GROUP_KEYS}
            continue
        kind = "community" if not flags[1] else "building" if not flags[2] else "band"
        keep = {
            "band": (),
            "community": ("community_id", "community"),
            "building": ("building_id", "building"),
        }[kind]
        groups[kind].append(
            {
                k: v
                for k, v in record.items()
                if k not in _GROUP_KEYS or k in keep or k.startswith("band")
            }
        )
    if totals is None:  # no household: the empty grouping set still answers, with zeros
        empty = f"""
SELECT {_AGGREGATES} FROM household_impacts hi JOIN households h ON h.id = hi.household_id
CROSS JOIN disclosure_key dk WHERE false"""
        totals = protect(dict(conn.execute(text(empty)).one()._mapping), SENSITIVE_COUNTS, exact)
    return {
        "site": {"id": site.id, "code": site.code, "name": site.name},
        "parameters": site_parameters(conn, site.id),
        "totals": totals,
        "by_band": groups["band"],
        "by_community": groups["community"],
        "by_building": groups["building"],
    }


_GROUP_KEYS = ("community_id", "community", "building_id", "building", "band", "band_outer_m")


def multi_site_households(
    conn: Connection, site_id: int | None = None, community_id: int | None = None
) -> list[dict[str, Any]]:
    """Households affected by more than one site, with their combined (energy-sum) levels.

    Only sites that can share a household are evaluated: for a site, those whose outer band
    reaches its own; for a community, those whose outer band reaches the community.
    """
    candidates = (
        conn.execute(
            text("""
SELECT o.site_id FROM site_impact o
WHERE (CAST(:site AS integer) IS NULL AND CAST(:community AS integer) IS NULL)
   OR EXISTS (SELECT 1 FROM site_impact me WHERE me.site_id = :site
              AND ST_DWithin(geography(o.geom), geography(me.geom), o.outer_m + me.outer_m))
   OR EXISTS (SELECT 1 FROM communities c WHERE c.id = :community
              AND ST_DWithin(geography(o.geom), geography(c.geom), o.outer_m))"""),
            {"site": site_id, "community": community_id},
        )
        .scalars()
        .all()
    )
    sql = """
SELECT hi.household_id, b.address AS building, h.unit_label,
       array_agg(s.code ORDER BY s.code) AS sites,
       round((10 * log(sum(power(10, hi.leq_day / 10))))::numeric, 1)::float8
           AS combined_leq_day,
       round((10 * log(sum(power(10, hi.leq_night / 10))
                       FILTER (WHERE hi.leq_night IS NOT NULL)))::numeric, 1)::float8
           AS combined_leq_night,
       min(hi.limit_day) AS limit_day, min(hi.limit_night) AS limit_night
FROM household_impacts hi
JOIN sites s ON s.id = hi.site_id
JOIN households h ON h.id = hi.household_id
JOIN buildings b ON b.id = hi.building_id
WHERE hi.site_id = ANY(:candidates)
  AND (CAST(:community AS integer) IS NULL OR hi.community_id = :community)
GROUP BY hi.household_id, b.address, h.unit_label
HAVING count(*) > 1
   AND (CAST(:site AS integer) IS NULL OR bool_or(hi.site_id = :site))
ORDER BY combined_leq_day DESC NULLS LAST, b.address, h.unit_label"""
    rows = conn.execute(
        text(sql), {"site": site_id, "community": community_id, "candidates": list(candidates)}
    )
    return [dict(r._mapping) for r in rows]


def community_exposure(
    conn: Connection, community_id: int, *, exact: Callable[[int], bool]
) -> dict[str, Any]:
    """Which sites affect a community, how many of its households in each band, and overlaps.

    The counts of sensitive fields are exact for the sites where ``exact(site_id)``.
    """
    community = conn.execute(
        text(
            "SELECT id, name, street_office, district, acoustic_class "
            "FROM communities WHERE id = :c"
        ),
        {"c": community_id},
    ).one_or_none()
    if community is None:
        raise NotFound(f"no community has the id {community_id}")
    by_site = conn.execute(
        text(f"""
SELECT s.id AS site_id, s.code AS site_code, s.name AS site_name, hi.band, hi.band_outer_m,
       {_AGGREGATES}
FROM household_impacts hi
JOIN sites s ON s.id = hi.site_id
JOIN households h ON h.id = hi.household_id
CROSS JOIN disclosure_key dk
WHERE hi.community_id = :c
GROUP BY s.id, s.code, s.name, hi.band, hi.band_outer_m
ORDER BY s.code, hi.band"""),
        {"c": community_id},
    )
    households = conn.execute(
        text(
            "SELECT count(*) FROM households h JOIN buildings b ON b.id = h.building_id "
            "WHERE b.community_id = :c"
        ),
        {"c": community_id},
    ).scalar_one()
    return {
        "community": dict(community._mapping),
        "households": households,
        "by_site": [protect(dict(r._mapping), SENSITIVE_COUNTS, exact(r.site_id)) for r in by_site],
        "multi_site_households": multi_site_households(conn, community_id=community_id),
    }

"""Who each site affects and how badly: queries over the impact views, and their settings.

The arithmetic lives in the database views of migrations 0003 and 0004 (``household_impacts``,
``site_impact``, ``impact_zones``), computed from the current rows on every query: a change
of a site's geometry, bands or equipment, or of the households, shows in the next answer.
Bands are inclusive at their outer edge: a household exactly 50 m away is in the 0-50 m band,
and a household counts as affected when its geodesic distance is at most the outer band.

A site's household list is read from the view alone (it carries the site code, community,
building and household row), and as JSON it is written by PostgreSQL, one pass for the page
and the total; ``benchmarks/impact.py`` measures both at city scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import psycopg2.extensions
from sqlalchemy import Connection, text

from geo_service import noise
from geo_service.errors import InvalidImpactSettings, NotFound
from layers import get_layer

Sort = Literal["distance", "address"]
MAX_BANDS_M = 5000.0

# Columns of the household list, in order, with their labels. Personal columns come from the
# households layer and are added only for a reader entitled to them.
LIST_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("household_id", "住户编号", "Household id"),
    ("site_code", "工地编号", "Site"),
    ("community", "社区", "Community"),
    ("building", "楼栋地址", "Building"),
    ("unit_label", "单元户号", "Unit"),
    ("residents", "常住人数", "Residents"),
    ("distance_m", "距离（米）", "Distance (m)"),
    ("band", "影响圈层", "Band"),
    ("band_outer_m", "圈层外缘（米）", "Band outer edge (m)"),
    ("leq_day", "昼间预测声级 dB(A)", "Predicted day Leq dB(A)"),
    ("leq_night", "夜间预测声级 dB(A)", "Predicted night Leq dB(A)"),
    ("acoustic_class", "声环境功能区", "Acoustic class"),
    ("limit_day", "昼间限值 dB(A)", "Day limit dB(A)"),
    ("limit_night", "夜间限值 dB(A)", "Night limit dB(A)"),
    ("exceed_day", "昼间超标 dB", "Day exceedance dB"),
    ("exceed_night", "夜间超标 dB", "Night exceedance dB"),
    ("vib_damage_risk", "振动损伤筛查", "Within vibration damage screening distance"),
    ("vib_annoyance_risk", "振动扰民筛查", "Within vibration annoyance screening distance"),
)


def rounded(sql: str, digits: int) -> str:
    """SQL rounding a float8 to ``digits`` decimals exactly as ``round(x::numeric, digits)
    ::float8`` does (half away from zero on the value's 15-digit decimal), at float speed.

    ``rint(x * 10^d) / 10^d`` is that same double except where ``x * 10^d`` lies within
    1e-6 of a half (a tie, or a decimal tie blurred by binary rounding: 0.285 is stored as
    0.28499999999999998); those rare rows take the numeric path. Exact for |x * 10^d| up to
    about 1e8, far above any distance or level here. ``+ 0`` turns -0.0 into 0.0, as numeric.
    """
    scale = 10**digits
    scaled = f"(({sql}) * {scale})"
    return (
        f"CASE WHEN abs({scaled} - floor({scaled}) - 0.5) < 1e-6 "
        f"THEN round(({sql})::numeric, {digits})::float8 "
        f"ELSE round({scaled}) / {scale} + 0::float8 END"
    )


# Each public list column as SQL over household_impacts ``hi`` (the view carries the site
# code, community, building and the household row). Personal columns are
# ``(hi.household).<field>``; ``lon`` and ``lat`` end every row.
_LIST_SQL: dict[str, str] = {
    "household_id": "hi.household_id",
    "site_code": "hi.site_code",
    "community": "hi.community_name",
    "building": "hi.building_address",
    "unit_label": "(hi.household).unit_label",
    "residents": "(hi.household).residents",
    "distance_m": rounded("hi.distance_m", 2),
    "band": "hi.band",
    "band_outer_m": "hi.band_outer_m",
    "leq_day": rounded("hi.leq_day", 1),
    "leq_night": rounded("hi.leq_night", 1),
    "acoustic_class": "hi.acoustic_class",
    "limit_day": "hi.limit_day",
    "limit_night": "hi.limit_night",
    "exceed_day": rounded("hi.leq_day - hi.limit_day", 1),
    "exceed_night": rounded("hi.leq_night - hi.limit_night", 1),
    "vib_damage_risk": "coalesce(hi.vib_damage_risk, false)",
    "vib_annoyance_risk": "coalesce(hi.vib_annoyance_risk, false)",
    "lon": "ST_X((hi.household).geom)",
    "lat": "ST_Y((hi.household).geom)",
}
# Numbers and booleans print as JSON with ::text (so do the households layer's int, float and
# bool fields); everything else goes through to_json.
_JSON_BARE = {
    "household_id", "residents", "distance_m", "band", "band_outer_m", "leq_day", "leq_night",
    "limit_day", "limit_night", "exceed_day", "exceed_night", "vib_damage_risk",
    "vib_annoyance_risk", "lon", "lat",
}  # fmt: skip
_ORDER = {
    "distance": "hi.distance_m, hi.community_name, hi.building_address, (hi.household).unit_label",
    "address": "hi.community_name NULLS LAST, hi.building_address, (hi.household).unit_label",
}


@dataclass(frozen=True)
class SiteRef:
    id: int
    code: str
    name: str


def resolve_site(conn: Connection, ref: str | int) -> SiteRef:
    """A site by code or numeric id; codes win (they are the stable ids)."""
    key = str(ref)
    row_id = int(key) if key.isdigit() and len(key) < 10 else None
    row = conn.execute(
        text(
            "SELECT id, code, name FROM sites WHERE code = :code OR id = :id "
            "ORDER BY (code = :code) DESC LIMIT 1"
        ),
        {"code": key, "id": row_id},
    ).one_or_none()
    if row is None:
        raise NotFound(f"no site has the id or code {key!r}")
    return SiteRef(*row)


def personal_columns() -> tuple[str, ...]:
    """The households layer's personal fields: the only ones an entitled reader adds."""
    return tuple(f.name for f in get_layer("households").personal_fields)


def list_columns(personal: tuple[str, ...] = ()) -> list[str]:
    """The household list's columns, in order: public ones, ``personal`` ones, lon, lat."""
    allowed = set(personal_columns())
    return [
        *(col[0] for col in LIST_COLUMNS),
        *(name for name in personal if name in allowed),
        "lon",
        "lat",
    ]


def _column_sql(name: str) -> str:
    return _LIST_SQL.get(name) or f"(hi.household).{name}"


def households_query(
    personal: tuple[str, ...] = (), sort: Sort = "distance", paged: bool = True
) -> str:
    """SQL for the affected households of ``:site_id`` (public columns + ``personal``)."""
    page = " LIMIT :limit OFFSET :offset" if paged else ""
    select = ",\n       ".join(f"{_column_sql(n)} AS {n}" for n in list_columns(personal))
    return f"""
SELECT {select}
FROM household_impacts hi
WHERE hi.site_id = :site_id
ORDER BY {_ORDER[sort]}{page}"""


def _json_object(names: list[str]) -> str:
    """SQL writing one list row as a JSON object, keys in list order (as json.dumps would)."""
    households = get_layer("households")
    bare = _JSON_BARE | {f.name for f in households.fields if f.kind in ("int", "float", "bool")}
    parts = []
    for i, name in enumerate(names):
        sql = _column_sql(name)
        value = f"({sql})::text" if name in bare else f"to_json({sql})::text"
        parts += [f"'{'{' if i == 0 else ','}\"{name}\":'", f"coalesce({value}, 'null')"]
    return f"concat({', '.join(parts)}, '}}')"


def households_json_query(personal: tuple[str, ...] = (), sort: Sort = "distance") -> str:
    """SQL for one page of a site's list as a JSON array, with the list's total.

    The same rows, values and order as ``households_query``, in one pass: the total comes
    from the same scan, and PostgreSQL writes JSON for the rows of the page only.
    Parameters are positional, for PREPARE: $1 the site id, $2 the limit (NULL: all),
    $3 the offset.
    """
    in_page = "row_number() OVER list > $3 AND ($2 IS NULL OR row_number() OVER list <= $3 + $2)"
    return f"""
SELECT count(*) AS total,
       count(row_json) AS returned,
       coalesce('[' || string_agg(row_json, ',' ORDER BY n) || ']', '[]') AS households
FROM (
    SELECT row_number() OVER list AS n,
           CASE WHEN {in_page} THEN {_json_object(list_columns(personal))} END AS row_json
    FROM household_impacts hi
    WHERE hi.site_id = $1
    WINDOW list AS (ORDER BY {_ORDER[sort]})
) rows"""


def affected_households(
    conn: Connection,
    site_id: int,
    *,
    personal: tuple[str, ...] = (),
    sort: Sort = "distance",
    limit: int | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """The households within the site's outer band, nearest first (or by address)."""
    sql = households_query(personal, sort, paged=limit is not None)
    params = {"site_id": site_id, "limit": limit, "offset": offset}
    return [dict(r._mapping) for r in conn.execute(text(sql), params)]


# Where a pooled connection remembers the list queries it has prepared (SQL -> name).
_PREPARED = "geo_service.impact.prepared"


@dataclass(frozen=True)
class HouseholdsPage:
    """A page of the list as JSON text (an array of objects), and how many rows there are."""

    households: bytes
    returned: int
    total: int


def affected_households_json(
    conn: Connection,
    site_id: int,
    *,
    personal: tuple[str, ...] = (),
    sort: Sort = "distance",
    limit: int | None = None,
    offset: int = 0,
) -> HouseholdsPage:
    """``affected_households`` as JSON written by PostgreSQL: no Python object per row.

    The query is prepared once per database connection (planning it costs about as much as
    writing a hundred rows), and its text arrives as the bytes the server sent (psycopg2's
    BYTES caster, on this cursor only): decoding and re-encoding megabytes of JSON would
    cost more than the rest of the request.
    """
    sql = households_json_query(personal, sort)
    prepared: dict[str, str] = conn.connection.info.setdefault(_PREPARED, {})
    cursor = conn.connection.driver_connection.cursor()  # in the connection's transaction
    try:
        psycopg2.extensions.register_type(psycopg2.extensions.BYTES, cursor)
        name = prepared.get(sql)
        if name is None:
            name = f"geo_service_households_json_{len(prepared) + 1}"
            cursor.execute(f"PREPARE {name} (integer, bigint, bigint) AS {sql}")
            prepared[sql] = name
        cursor.execute(
            f"EXECUTE {name} (%(site_id)s, %(limit)s, %(offset)s)",
            {"site_id": site_id, "limit": limit, "offset": offset},
        )
        total, returned, households = cursor.fetchone()
    finally:
        cursor.close()
    return HouseholdsPage(households, int(returned), int(total))


def count_affected(conn: Connection, site_id: int) -> int:
    return int(
        conn.execute(
            text("SELECT count(*) FROM household_impacts WHERE site_id = :s"), {"s": site_id}
        ).scalar_one()
    )


_VULNERABLE = "(h.elderly OR h.infant OR h.disabled OR h.night_shift)"
_AGGREGATES = f"""
       count(*) AS households,
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


def site_impact(conn: Connection, site: SiteRef) -> dict[str, Any]:
    """Summary and aggregates of one site: totals, by band, by community and by building.

    One pass over the site's households (GROUPING SETS), not one query per table.
    """
    sql = f"""
SELECT GROUPING(hi.band) AS g_band, GROUPING(hi.community_id) AS g_community,
       GROUPING(hi.building_id) AS g_building,
       hi.community_id, hi.community_name AS community, hi.building_id,
       hi.building_address AS building, hi.band, hi.band_outer_m, {_AGGREGATES}
FROM household_impacts hi
JOIN households h ON h.id = hi.household_id
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
        record = dict(row._mapping)
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
        totals = dict(
            conn.execute(
                text(f"""
SELECT {_AGGREGATES} FROM household_impacts hi JOIN households h ON h.id = hi.household_id
WHERE false""")
            )
            .one()
            ._mapping
        )
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


def community_exposure(conn: Connection, community_id: int) -> dict[str, Any]:
    """Which sites affect a community, how many of its households in each band, and overlaps."""
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
        "by_site": [dict(r._mapping) for r in by_site],
        "multi_site_households": multi_site_households(conn, community_id=community_id),
    }


# -- settings ---------------------------------------------------------------------------------
def set_settings(
    conn: Connection,
    site_id: int,
    *,
    bands_m: list[float] | None = None,
    kinds: list[str] | None = None,
    active_phase: str | None = None,
) -> None:
    """Store a site's bands, impact kinds and active phase after checking them."""
    if bands_m is not None:
        if not bands_m or any(not math.isfinite(b) or b <= 0 or b > MAX_BANDS_M for b in bands_m):
            raise InvalidImpactSettings(
                f"bands must be 1-10 distances above 0 and at most {MAX_BANDS_M:.0f} m; "
                f"got {bands_m}"
            )
        if sorted(set(bands_m)) != list(bands_m) or len(bands_m) > 10:
            raise InvalidImpactSettings(
                f"bands must be increasing outer distances, e.g. [50, 200, 500]; got {bands_m}"
            )
    allowed = noise.model()["default_kinds"]
    if kinds is not None and (not kinds or any(k not in allowed for k in kinds)):
        raise InvalidImpactSettings(
            f"impact kinds must be some of {', '.join(allowed)}; got {kinds}"
        )
    conn.execute(
        text("""
INSERT INTO site_impact_settings (site_id, bands_m, kinds, active_phase, updated_at)
VALUES (:s, :bands, :kinds, :phase, now())
ON CONFLICT (site_id) DO UPDATE SET bands_m = EXCLUDED.bands_m, kinds = EXCLUDED.kinds,
    active_phase = EXCLUDED.active_phase, updated_at = now()"""),
        {"s": site_id, "bands": bands_m, "kinds": kinds, "phase": active_phase},
    )


def set_equipment(conn: Connection, site_id: int, lines: list[dict[str, Any]]) -> None:
    """Replace a site's planned equipment (all phases) after checking every line."""
    types = noise.equipment_types()
    for n, line in enumerate(lines, 1):
        code = line.get("equipment")
        if code not in types:
            raise InvalidImpactSettings(
                f"equipment line {n}: unknown equipment {code!r}; known: {', '.join(types)}"
            )
        count = line.get("count", 1)
        if not isinstance(count, int) or not 1 <= count <= 1000:
            raise InvalidImpactSettings(f"equipment line {n}: count must be 1-1000, got {count!r}")
        attenuation = line.get("attenuation_db", 0.0)
        if not isinstance(attenuation, int | float) or not 0 <= attenuation <= 40:
            raise InvalidImpactSettings(
                f"equipment line {n}: attenuation_db must be 0-40 dB, got {attenuation!r}"
            )
    conn.execute(text("DELETE FROM site_equipment WHERE site_id = :s"), {"s": site_id})
    if lines:
        conn.execute(
            text(
                "INSERT INTO site_equipment (site_id, phase, equipment_code, count, night_work, "
                "attenuation_db) VALUES (:s, :phase, :code, :count, :night, :att)"
            ),
            [
                {
                    "s": site_id,
                    "phase": str(line.get("phase") or "main"),
                    "code": line["equipment"],
                    "count": line.get("count", 1),
                    "night": bool(line.get("night_work", False)),
                    "att": float(line.get("attenuation_db", 0.0)),
                }
                for line in lines
            ],
        )

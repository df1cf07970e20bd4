"""A site's household list: its columns and labels, as rows or as JSON written by PostgreSQL.

The list is read from ``household_impacts`` alone (the view carries the site code, community,
building and household row), and as JSON it is written by PostgreSQL, one pass for the page
and the total; ``benchmarks/impact.py`` measures both at city scale. Personal columns come
from the households layer and are added only for a reader entitled to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import psycopg2.extensions
from sqlalchemy import Connection, text

from layers import get_layer

Sort = Literal["distance", "address"]


def _household_column(name: str) -> tuple[str, str, str]:
    """A list column that is a households field, labelled as the layer labels it."""
    field = get_layer("households").field(name)
    return (name, field.label_zh, field.label_en)


# Columns of the household list, in order, with their labels. Personal columns come from the
# households layer and are added only for a reader entitled to them.
LIST_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("household_id", "住户编号", "Household id"),
    ("site_code", "工地编号", "Site"),
    ("community", "社区", "Community"),
    _household_column("building"),
    _household_column("unit_label"),
    _household_column("residents"),
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


def _over(level: str, limit: str) -> str:
    """By how much a level exceeds its limit: 0 under it, NULL with no level or no limit
    (``greatest`` alone ignores NULL and would say 0)."""
    return f"CASE WHEN {level} > {limit} THEN {level} - {limit} WHEN {level} <= {limit} THEN 0 END"


# Each public list column as SQL over household_impacts ``hi`` (the view carries the site
# code, community, building and the household row). Personal columns are
# ``(hi.household).<field>``; ``lon`` and ``lat`` end every row. An exceedance is 0 under the
# limit, as the maps show it (``maps/data.py``): a negative one read as "over" on paper.
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
    "exceed_day": rounded(_over("hi.leq_day", "hi.limit_day"), 1),
    "exceed_night": rounded(_over("hi.leq_night", "hi.limit_night"), 1),
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


def natural_key(sql: str) -> str:
    """SQL that orders text as a person reads an address: its runs of digits as numbers.

    The text becomes an array of (letters, number) pairs, so 翠苑一区2幢 comes before
    翠苑一区10幢 and door 39-1-101 before 39-1-1002, where text order has them the other way
    round. An expression, not a collation (``und-u-kn-true`` would be DDL): the list still
    sorts and pages in PostgreSQL. Only ASCII digits are numbers (``\\d`` also takes
    full-width ones, which ``::numeric`` refuses).
    """
    return (
        f"ARRAY(SELECT ROW(m[1], nullif(m[2], '')::numeric) "
        f"FROM regexp_matches(coalesce({sql}, ''), '([^0-9]*)([0-9]*)', 'g') AS m)"
    )


def door_order(community: str, building: str, unit: str, household_id: str) -> str:
    """SQL ORDER BY terms of door-knocking order: community, building, then unit (building,
    unit, floor and door), each natural; the household id last, so that pages of equal
    addresses never overlap. Every list of households in that order uses this."""
    return ", ".join(
        [
            f"{community} IS NULL",
            natural_key(community),
            natural_key(building),
            natural_key(unit),
            household_id,
        ]
    )


# The list's address order (``sort=address``) over ``household_impacts hi``: what the
# officers' pages list a site's doors in, so paper and phone read the same.
DOOR_ORDER = door_order(
    "hi.community_name", "hi.building_address", "(hi.household).unit_label", "hi.household_id"
)
_ORDER = {
    "distance": "hi.distance_m, hi.community_name, hi.building_address, (hi.household).unit_label,"
    " hi.household_id",
    "address": DOOR_ORDER,
}


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


def list_sql(name: str) -> str:
    """A list column as SQL over ``household_impacts hi``: what other queries compare with
    the values a reader sees in the list (rounded as the list rounds them)."""
    return _LIST_SQL.get(name) or f"(hi.household).{name}"


def households_query(
    personal: tuple[str, ...] = (), sort: Sort = "distance", paged: bool = True
) -> str:
    """SQL for the affected households of ``:site_id`` (public columns + ``personal``)."""
    page = " LIMIT :limit OFFSET :offset" if paged else ""
    select = ",\n       ".join(f"{list_sql(n)} AS {n}" for n in list_columns(personal))
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
        sql = list_sql(name)
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

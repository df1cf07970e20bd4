"""What the maps draw, as GeoJSON text assembled by PostgreSQL (public fields only).

Only bounded sets are embedded in a page: every site (a city has hundreds, not millions),
and one site's or one community's surroundings. Everything that grows with the households
comes from the vector tiles instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, text

from geo_service import impact
from geo_service.errors import NotFound
from geo_service.query import public
from layers import COLLECTIONS

Box = tuple[float, float, float, float]
_EMPTY = '{"type":"FeatureCollection","features":[]}'


def _collection(conn: Connection, sql: str, params: dict) -> str:
    body = conn.execute(
        text(f"""
SELECT json_build_object('type', 'FeatureCollection',
                         'features', coalesce(json_agg(f), '[]'::json))::text
FROM ({sql}) f"""),
        params,
    ).scalar_one()
    return body or _EMPTY


def _subject(conn: Connection, sql: str, params: dict, missing: str) -> Row[Any]:
    """The row a bundle is about, its box in the last four columns; else ``NotFound``."""
    row = conn.execute(text(sql), params).one_or_none()
    if row is None:
        raise NotFound(missing)
    return row


def _box(row: Row[Any]) -> Box:
    return (row[-4], row[-3], row[-2], row[-1])


# What the maps show of each layer (the popups and labels read these properties).
_SITES = public("sites")
_SITE_FIELDS = (
    "code", "name", "kind", "status", "progress_pct", "start_date", "end_date",
    "work_hours_start", "work_hours_end", "owner", "contractor", "supervisor",
    "liaison_officer", "parcels",
)  # fmt: skip
_PARCELS = public("parcels")
# A site's parcels, through the link table its ``parcels`` reference declares.
_PARCELS_REF = _SITES.layer.reference("parcels")
assert _PARCELS_REF is not None and _PARCELS_REF.link is not None
_ZONES = public("impact_zones")
_COMMUNITIES = public("communities")
_BUILDINGS = public("buildings")
_HOUSEHOLDS = public("households")
# A household on a site's map: its public fields and its predicted impact (``hi``).
_HOUSEHOLD_ITEMS = (
    "building",
    "unit_label",
    "residents",
    ("distance_m", "round(hi.distance_m::numeric, 1)"),
    ("band", "hi.band"),
    ("leq_day", "round(hi.leq_day::numeric, 1)"),
    ("leq_night", "round(hi.leq_night::numeric, 1)"),
    ("limit_day", "hi.limit_day"),
    ("limit_night", "hi.limit_night"),
    ("exceed_day", "round(greatest(hi.leq_day - hi.limit_day, 0)::numeric, 1)"),
    ("exceed_night", "round(greatest(hi.leq_night - hi.limit_night, 0)::numeric, 1)"),
)


def sites(conn: Connection, site_id: int | None = None) -> str:
    """Every site (or one), with its key facts; one site also with the households it affects.

    The overview leaves the count out: it would evaluate every site's impact on every page
    load (2 s with a million households); the site's own map and the API give it.
    """
    affected = (
        [("affected", "(SELECT count(*) FROM household_impacts hi WHERE hi.site_id = m.id)")]
        if site_id is not None
        else []
    )
    return _collection(
        conn,
        f"""SELECT {_SITES.feature_json([*_SITE_FIELDS, *affected], digits=6)}
            AS f FROM {_SITES.source} WHERE CAST(:site AS integer) IS NULL OR m.id = :site
            ORDER BY m.code""",
        {"site": site_id},
    )


_MONITORS = public("monitors")
_MONITOR_FIELDS = COLLECTIONS["monitors"].popup_fields


def monitors(conn: Connection, states: dict[str, str], site_id: int | None = None) -> str:
    """Every monitor (or one site's) with its public facts and its state
    (``geo_service.monitoring.states``, by MN) as ``monitor_state``."""
    return _collection(
        conn,
        f"""SELECT {
            _MONITORS.feature_json(
                [*_MONITOR_FIELDS, ("monitor_state", "CAST(:states AS jsonb) ->> m.mn")], digits=6
            )
        }
            AS f FROM {_MONITORS.source}
            WHERE CAST(:site AS integer) IS NULL OR m.site_id = :site ORDER BY m.mn""",
        {"site": site_id, "states": json.dumps(states)},
    )


def extent(conn: Connection) -> Box | None:
    """The box around parcels, sites and communities: where the overview opens."""
    row = conn.execute(
        text("""
SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (
  SELECT ST_Extent(geom) AS e FROM (
    SELECT geom FROM parcels UNION ALL SELECT geom FROM sites
    UNION ALL SELECT geom FROM communities) g) x""")
    ).one()
    return None if row[0] is None else (row[0], row[1], row[2], row[3])


@dataclass(frozen=True)
class SiteBundle:
    """One site and its surroundings, as GeoJSON texts."""

    id: int
    code: str
    name: str
    site: str
    parcels: str
    zones: str
    households: str
    communities: str
    bbox: Box
    bands_m: tuple[float, ...]
    monitors: str
    # The site's summary as a planner gets it from the API (``geo_service.impact``):
    # vulnerable households perturbed and small cells "<5", never exact counts on a map.
    summary: dict[str, Any]


# The site and its box: around its impact zones, or its outline while it has none.
_SITE = """
SELECT s.id, s.code, s.name,
       ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
FROM sites s
CROSS JOIN LATERAL (
  SELECT coalesce((SELECT ST_Extent(z.geom) FROM impact_zones z WHERE z.site_id = s.id),
                  ST_Envelope(s.geom)::box2d) AS e) x
WHERE s.id = :site"""
_PARCEL_ITEMS = (
    "code", "name", "land_use_zh", "land_use_en", ("area_m2", "round(m.area_m2)"),
)  # fmt: skip
_SITE_PARCELS = f"""
SELECT {_PARCELS.feature_json(_PARCEL_ITEMS, digits=6)}
    AS f FROM {_PARCELS.source}
    JOIN {_PARCELS_REF.link.table} l ON l.{_PARCELS_REF.column} = m.id
    WHERE l.{_PARCELS_REF.link.owner_column} = :site ORDER BY m.code"""
_SITE_ZONES = f"""
SELECT {_ZONES.feature_json(_ZONES.field_names, digits=6)}
    AS f FROM {_ZONES.source} WHERE m.site_id = :site
    ORDER BY m.kind, m.band DESC NULLS LAST, m.outer_m DESC"""
_SITE_HOUSEHOLDS = f"""
SELECT {_HOUSEHOLDS.feature_json(_HOUSEHOLD_ITEMS, digits=6)}
    AS f FROM {_HOUSEHOLDS.source} JOIN household_impacts hi ON hi.household_id = m.id
    WHERE hi.site_id = :site ORDER BY hi.distance_m DESC"""
# A community around a site: its affected households and their residents.
_AFFECTED_COMMUNITY_ITEMS = (
    "name", "street_office", "acoustic_class", ("affected", "a.n"), ("residents", "a.r"),
)  # fmt: skip
_SITE_COMMUNITIES = f"""
SELECT {_COMMUNITIES.feature_json(_AFFECTED_COMMUNITY_ITEMS, digits=6)}
    AS f FROM {_COMMUNITIES.source} JOIN (
      SELECT hi.community_id, count(*) AS n, sum(h.residents) AS r
      FROM household_impacts hi JOIN households h ON h.id = hi.household_id
      WHERE hi.site_id = :site GROUP BY hi.community_id) a ON a.community_id = m.id
    ORDER BY m.name"""


def site_bundle(conn: Connection, site_id: int, states: dict[str, str]) -> SiteBundle:
    """The site, its parcels, rings and contours, its affected households and communities,
    its monitors in their ``states``."""
    row = _subject(conn, _SITE, {"site": site_id}, f"no site has the id {site_id}")
    p = {"site": site_id}
    return SiteBundle(
        id=row[0],
        code=row[1],
        name=row[2],
        site=sites(conn, site_id),
        parcels=_collection(conn, _SITE_PARCELS, p),
        zones=_collection(conn, _SITE_ZONES, p),
        households=_collection(conn, _SITE_HOUSEHOLDS, p),
        communities=_collection(conn, _SITE_COMMUNITIES, p),
        bbox=_box(row),
        bands_m=tuple(impact.current_bands(conn, site_id)),
        monitors=monitors(conn, states, site_id),
        summary=impact.site_impact(conn, impact.SiteRef(row[0], row[1], row[2]), exact=False),
    )


@dataclass(frozen=True)
class CommunityBundle:
    """One community and what affects it, as GeoJSON texts."""

    id: int
    name: str
    community: str
    sites: str
    zones: str
    buildings: str
    bbox: Box


_COMMUNITY = """SELECT id, name, ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom)
                FROM communities WHERE id = :c"""
_AFFECTING = "SELECT DISTINCT site_id FROM household_impacts WHERE community_id = :c"
_COMMUNITY_ITSELF = f"""
SELECT {_COMMUNITIES.feature_json(_COMMUNITIES.field_names, digits=6)}
    AS f FROM {_COMMUNITIES.source} WHERE m.id = :c"""
# A site affecting the community: its facts, and how many of the community's households.
_AFFECTING_SITE_ITEMS = (
    *_SITE_FIELDS,
    (
        "affected",
        "(SELECT count(*) FROM household_impacts hi "
        "WHERE hi.site_id = m.id AND hi.community_id = :c)",
    ),
)
_COMMUNITY_SITES = f"""
SELECT {_SITES.feature_json(_AFFECTING_SITE_ITEMS, digits=6)}
    AS f FROM {_SITES.source} WHERE m.id IN ({_AFFECTING}) ORDER BY m.code"""
_BAND_ITEMS = ("site_code", "kind", "band", "outer_m", "limit_dba")
_COMMUNITY_ZONES = f"""
SELECT {_ZONES.feature_json(_BAND_ITEMS, digits=6)}
    AS f FROM {_ZONES.source} WHERE m.site_id IN ({_AFFECTING}) AND m.kind = 'band'
    ORDER BY m.band DESC"""
# A building: its affected households and their worst exceedance, day or night.
_BUILDING_ITEMS = (
    "address", "floors", "households_count",
    ("affected", "coalesce(a.n, 0)"), ("max_exceed", "a.e"),
)  # fmt: skip
_COMMUNITY_BUILDINGS = f"""
SELECT {_BUILDINGS.feature_json(_BUILDING_ITEMS, digits=6)}
    AS f FROM {_BUILDINGS.source_for("")} LEFT JOIN (
      SELECT hi.building_id, count(DISTINCT hi.household_id) AS n,
             round(max(greatest(hi.leq_day - hi.limit_day,
                                hi.leq_night - hi.limit_night, 0))::numeric, 1) AS e
      FROM household_impacts hi WHERE hi.community_id = :c
      GROUP BY hi.building_id) a ON a.building_id = m.id
    WHERE m.community_id = :c ORDER BY m.address"""


def community_bundle(conn: Connection, community_id: int) -> CommunityBundle:
    """The community, the sites that affect it, and its buildings with affected households."""
    missing = f"no community has the id {community_id}"
    row = _subject(conn, _COMMUNITY, {"c": community_id}, missing)
    p = {"c": community_id}
    return CommunityBundle(
        id=row[0],
        name=row[1],
        community=_collection(conn, _COMMUNITY_ITSELF, p),
        sites=_collection(conn, _COMMUNITY_SITES, p),
        zones=_collection(conn, _COMMUNITY_ZONES, p),
        buildings=_collection(conn, _COMMUNITY_BUILDINGS, p),
        bbox=_box(row),
    )

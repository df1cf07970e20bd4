"""What the maps draw, as GeoJSON text assembled by PostgreSQL (public fields only).

Only bounded sets are embedded in a page: every site (a city has hundreds, not millions),
and one site's or one community's surroundings. Everything that grows with the households
comes from the vector tiles instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

from geo_service.errors import NotFound

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


def _feature(fid: str, geom: str, props: str) -> str:
    return (
        f"json_build_object('type', 'Feature', 'id', {fid}, "
        f"'geometry', ST_AsGeoJSON({geom}, 6)::json, 'properties', json_build_object({props}))"
    )


_SITE_PROPS = """'code', s.code, 'name', s.name, 'kind', s.kind, 'status', s.status,
'progress_pct', s.progress_pct, 'start_date', s.start_date, 'end_date', s.end_date,
'work_hours_start', s.work_hours_start, 'work_hours_end', s.work_hours_end,
'owner', s.owner, 'contractor', s.contractor, 'supervisor', s.supervisor,
'liaison_officer', s.liaison_officer,
'parcels', ARRAY(SELECT p.code FROM site_parcels sp JOIN parcels p ON p.id = sp.parcel_id
                 WHERE sp.site_id = s.id ORDER BY p.code)"""


def sites(conn: Connection, site_id: int | None = None) -> str:
    """Every site (or one), with its key facts; one site also with the households it affects.

    The overview leaves the count out: it would evaluate every site's impact on every page
    load (2 s with a million households); the site's own map and the API give it.
    """
    affected = (
        ",\n'affected', (SELECT count(*) FROM household_impacts hi WHERE hi.site_id = s.id)"
        if site_id is not None
        else ""
    )
    return _collection(
        conn,
        f"""SELECT {
            _feature(
                "s.code",
                "s.geom",
                _SITE_PROPS + affected,
            )
        }
            AS f FROM sites s WHERE CAST(:site AS integer) IS NULL OR s.id = :site
            ORDER BY s.code""",
        {"site": site_id},
    )


def extent(conn: Connection) -> tuple[float, float, float, float] | None:
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
    bbox: tuple[float, float, float, float]


def site_bundle(conn: Connection, site_id: int) -> SiteBundle:
    """The site, its parcels, rings and contours, its affected households and communities."""
    row = conn.execute(
        text("""
SELECT s.id, s.code, s.name,
       ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
FROM sites s
CROSS JOIN LATERAL (
  SELECT coalesce((SELECT ST_Extent(z.geom) FROM impact_zones z WHERE z.site_id = s.id),
                  ST_Envelope(s.geom)::box2d) AS e) x
WHERE s.id = :site"""),
        {"site": site_id},
    ).one_or_none()
    if row is None:
        raise NotFound(f"no site has the id {site_id}")
    p = {"site": site_id}
    return SiteBundle(
        id=row[0],
        code=row[1],
        name=row[2],
        site=sites(conn, site_id),
        parcels=_collection(
            conn,
            f"""SELECT {
                _feature(
                    "p.code",
                    "p.geom",
                    "'code', p.code, 'name', p.name, 'land_use_zh', p.land_use_zh, "
                    "'land_use_en', p.land_use_en, 'area_m2', round(ST_Area(geography(p.geom)))",
                )
            }
                AS f FROM parcels p JOIN site_parcels sp ON sp.parcel_id = p.id
                WHERE sp.site_id = :site ORDER BY p.code""",
            p,
        ),
        zones=_collection(
            conn,
            f"""SELECT {
                _feature(
                    "z.id",
                    "z.geom",
                    "'site_code', z.site_code, 'kind', z.kind, 'band', z.band, "
                    "'inner_m', z.inner_m, 'outer_m', z.outer_m, "
                    "'acoustic_class', z.acoustic_class, 'limit_dba', z.limit_dba",
                )
            }
                AS f FROM impact_zones z WHERE z.site_id = :site
                ORDER BY z.kind, z.band DESC NULLS LAST, z.outer_m DESC""",
            p,
        ),
        households=_collection(
            conn,
            f"""SELECT {
                _feature(
                    "hi.household_id",
                    "h.geom",
                    "'building', b.address, 'unit_label', h.unit_label, 'residents', h.residents, "
                    "'distance_m', round(hi.distance_m::numeric, 1), 'band', hi.band, "
                    "'leq_day', round(hi.leq_day::numeric, 1), "
                    "'leq_night', round(hi.leq_night::numeric, 1), "
                    "'limit_day', hi.limit_day, 'limit_night', hi.limit_night, "
                    "'exceed_day', round(greatest(hi.leq_day - hi.limit_day, 0)::numeric, 1), "
                    "'exceed_night', round(greatest(hi.leq_night - hi.limit_night, 0)::numeric, 1)",
                )
            }
                AS f FROM household_impacts hi
                JOIN households h ON h.id = hi.household_id
                JOIN buildings b ON b.id = hi.building_id
                WHERE hi.site_id = :site ORDER BY hi.distance_m DESC""",
            p,
        ),
        communities=_collection(
            conn,
            f"""SELECT {
                _feature(
                    "c.id",
                    "c.geom",
                    "'name', c.name, 'street_office', c.street_office, "
                    "'acoustic_class', c.acoustic_class, 'affected', a.n, 'residents', a.r",
                )
            }
                AS f FROM communities c JOIN (
                  SELECT hi.community_id, count(*) AS n, sum(h.residents) AS r
                  FROM household_impacts hi JOIN households h ON h.id = hi.household_id
                  WHERE hi.site_id = :site GROUP BY hi.community_id) a ON a.community_id = c.id
                ORDER BY c.name""",
            p,
        ),
        bbox=(row[3], row[4], row[5], row[6]),
    )


@dataclass(frozen=True)
class CommunityBundle:
    id: int
    name: str
    community: str
    sites: str
    zones: str
    buildings: str
    bbox: tuple[float, float, float, float]


def community_bundle(conn: Connection, community_id: int) -> CommunityBundle:
    """The community, the sites that affect it, and its buildings with affected households."""
    row = conn.execute(
        text("""SELECT id, name, ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom)
                FROM communities WHERE id = :c"""),
        {"c": community_id},
    ).one_or_none()
    if row is None:
        raise NotFound(f"no community has the id {community_id}")
    p = {"c": community_id}
    affecting = "SELECT DISTINCT site_id FROM household_impacts WHERE community_id = :c"
    return CommunityBundle(
        id=row[0],
        name=row[1],
        community=_collection(
            conn,
            f"""SELECT {
                _feature(
                    "c.id",
                    "c.geom",
                    "'name', c.name, 'street_office', c.street_office, 'district', c.district, "
                    "'acoustic_class', c.acoustic_class",
                )
            } AS f FROM communities c WHERE c.id = :c""",
            p,
        ),
        sites=_collection(
            conn,
            f"""SELECT {
                _feature(
                    "s.code",
                    "s.geom",
                    _SITE_PROPS
                    + ''',
                'affected', (SELECT count(*) FROM household_impacts hi
                             WHERE hi.site_id = s.id AND hi.community_id = :c)''',
                )
            }
                AS f FROM sites s WHERE s.id IN ({affecting}) ORDER BY s.code""",
            p,
        ),
        zones=_collection(
            conn,
            f"""SELECT {
                _feature(
                    "z.id",
                    "z.geom",
                    "'site_code', z.site_code, 'kind', z.kind, 'band', z.band, "
                    "'outer_m', z.outer_m, 'limit_dba', z.limit_dba",
                )
            }
                AS f FROM impact_zones z WHERE z.site_id IN ({affecting}) AND z.kind = 'band'
                ORDER BY z.band DESC""",
            p,
        ),
        buildings=_collection(
            conn,
            f"""SELECT {
                _feature(
                    "b.id",
                    "b.geom",
                    "'address', b.address, 'floors', b.floors, "
                    "'households_count', b.households_count, 'affected', coalesce(a.n, 0), "
                    "'max_exceed', a.e",
                )
            }
                AS f FROM buildings b LEFT JOIN (
                  SELECT hi.building_id, count(DISTINCT hi.household_id) AS n,
                         round(max(greatest(hi.leq_day - hi.limit_day,
                                            hi.leq_night - hi.limit_night, 0))::numeric, 1) AS e
                  FROM household_impacts hi WHERE hi.community_id = :c
                  GROUP BY hi.building_id) a ON a.building_id = b.id
                WHERE b.community_id = :c ORDER BY b.address""",
            p,
        ),
        bbox=(row[2], row[3], row[4], row[5]),
    )

"""Open311 GeoReport v2 over the residents' requests: what a client may read and post.

Reads show public fields only: never the household, the reporter's contacts, the assignee
or internal notes. A request tied to a household is shown at its household's community
(``ST_PointOnSurface`` of the community, with the community's name as its address), or at
its site's point when the household's building lies in no community: a household's point
would name the household. A request whose point lies within ``NEAR_HOUSEHOLD_M`` of a
household's (given on a map, or left by a household re-import that unlinked it) is treated
the same. Posts come from
clients holding a key an administrator issued (``geo-service open311 key create``), scoped
to sites; only the key's SHA-256 is stored.
A post is recorded by ``requests.create`` with the channel ``open311``, so it gets the SLA
clocks, the events and the audit row of every other request.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from geo_service import audit
from geo_service.access import Principal
from geo_service.audit import AuditAction
from geo_service.auth.sites import known_site_codes, write_sites
from geo_service.auth.tokens import token_digest
from geo_service.errors import Forbidden, InvalidCase, InvalidQuery, NotFound
from geo_service.liaison import calendar, states
from geo_service.liaison import requests as cases
from geo_service.liaison.categories import Category, all_categories, get_category
from layers.requests import PRIORITIES, STATES

KEY_PREFIX = "o311_"  # says what a leaked string is
CHANNEL = "open311"
# Open311's two statuses: a request is open while the working group still owes it work.
OPEN, CLOSED = "open", "closed"
# Events a resident reads as updates: state changes (their notes are public) and public
# notes. Assignments name staff; they stay out.
UPDATE_KINDS = tuple(k for k in cases.PUBLIC_EVENTS if k in ("state_change", "public_note"))
# GeoReport v2: "may not span more than 90 days" is the servers' custom; without dates, the
# most recent 90 days.
DEFAULT_DAYS = 90
MAX_REQUESTS = 1000


def status_of(state: str) -> str:
    return OPEN if state in states.OPEN_STATES else CLOSED


def _state_label(state: str) -> str:
    choice = next(c for c in STATES if c == state)
    return f"{choice.label_zh} {choice.label_en}"


# -- services -----------------------------------------------------------------------------------
def service_notice(category: Category) -> str:
    return (
        f"{category.acknowledge_hours} 小时内受理，{category.resolve_working_days} 个工作日内办结 "
        f"(acknowledged within {category.acknowledge_hours} h, resolved within "
        f"{category.resolve_working_days} working days)"
    )


def service(category: Category) -> dict[str, Any]:
    """A category as an Open311 service (GET services)."""
    return {
        "service_code": category.code,
        "service_name": f"{category.name_zh} {category.name_en}",
        "description": service_notice(category),
        "metadata": True,
        "type": "realtime",
        "keywords": category.code,
        "group": "工地周边影响 Construction site impact",
    }


def services(conn: Connection) -> list[dict[str, Any]]:
    return [service(c) for c in all_categories(conn)]


def service_definition(conn: Connection, code: str) -> dict[str, Any]:
    """The attributes of a service: its SLA (informational) and the priority a client may
    give (``attribute[priority]``)."""
    category = _category(conn, code)
    return {
        "service_code": category.code,
        "attributes": [
            {
                "variable": False,
                "code": "sla",
                "datatype": "string",
                "required": False,
                "datatype_description": None,
                "order": 1,
                "description": service_notice(category),
            },
            {
                "variable": True,
                "code": "priority",
                "datatype": "singlevaluelist",
                "required": False,
                "datatype_description": "默认 normal (default normal)",
                "order": 2,
                "description": "优先级 Priority",
                "values": [
                    {"key": str(p), "name": f"{p.label_zh} {p.label_en}"} for p in PRIORITIES
                ],
            },
        ],
    }


def _category(conn: Connection, code: str) -> Category:
    try:
        return get_category(conn, code)
    except InvalidCase as exc:
        raise NotFound(exc.message) from None


# -- requests, as the public reads them ---------------------------------------------------------
# A point given this near a household names it as surely as the household: a click on its
# building's door on a map is metres off its point, rarely exactly on it. A building's
# households lie within about 30 m of any point on it (a slab of 60 m x 15 m).
NEAR_HOUSEHOLD_M = 30
# The box around a point that holds every point NEAR_HOUSEHOLD_M away, in degrees: a degree
# of longitude is at least 65 km up to 54 N (the service area's north edge).
_BOX_DEG = NEAR_HOUSEHOLD_M / 50_000
_PUBLIC = f"""
SELECT r.id AS row_id, r.public_id, r.state, r.category, c.name_zh, c.name_en,
       c.acknowledge_hours, c.resolve_working_days, r.description, r.agency,
       r.created_at, r.updated_at, r.resolve_due,
       CASE WHEN coalesce(hk.id, hn.id) IS NULL THEN r.address ELSE cm.name END AS address,
       ST_Y(g.pt) AS lat, ST_X(g.pt) AS lon,
       (SELECT e.note FROM request_events e WHERE e.request_id = r.id
          AND e.kind IN :update_kinds AND e.note IS NOT NULL
        ORDER BY e.id DESC LIMIT 1) AS status_notes
FROM ({{chosen}}) r
JOIN request_categories c ON c.code = r.category
JOIN sites s ON s.id = r.site_id
-- The request's household (hk); or, when it has none (a point given, or the household row
-- gone in a re-import, which sets household_id to NULL), the nearest household within
-- NEAR_HOUSEHOLD_M of its point (hn: the box first, so the households' GiST index is used;
-- only for those rows: one OR of both made every row pay for the spatial scan).
LEFT JOIN households hk ON hk.id = r.household_id
LEFT JOIN LATERAL (
    SELECT h.id, h.building_id FROM households h
    WHERE r.household_id IS NULL AND h.geom && ST_Expand(r.geom, {_BOX_DEG})
      AND ST_DWithin(h.geom::geography, r.geom::geography, {NEAR_HOUSEHOLD_M})
    ORDER BY h.geom <-> r.geom LIMIT 1
) hn ON true
LEFT JOIN buildings b ON b.id = coalesce(hk.building_id, hn.building_id)
LEFT JOIN communities cm ON cm.id = b.community_id
CROSS JOIN LATERAL (
    SELECT CASE WHEN coalesce(hk.id, hn.id) IS NULL THEN r.geom
                WHEN cm.id IS NOT NULL THEN ST_PointOnSurface(cm.geom)
                ELSE ST_PointOnSurface(s.geom) END AS pt
) g
"""


def _w3(moment: dt.datetime | None) -> str | None:
    return (
        moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        if (moment)
        else None
    )


def _record(row: dict[str, Any], *, extensions: bool, notes: list[dict[str, Any]]) -> dict:
    status = status_of(row["state"])
    record: dict[str, Any] = {
        "service_request_id": row["public_id"],
        "status": status,
        "status_notes": row["status_notes"],
        "service_name": f"{row['name_zh']} {row['name_en']}",
        "service_code": row["category"],
        "description": row["description"],
        "agency_responsible": row["agency"],
        "service_notice": service_notice(
            Category(
                row["category"],
                row["name_zh"],
                row["name_en"],
                row["acknowledge_hours"],
                row["resolve_working_days"],
            )
        ),
        "requested_datetime": _w3(row["created_at"]),
        "updated_datetime": _w3(row["updated_at"]),
        "expected_datetime": _w3(row["resolve_due"]) if status == OPEN else None,
        "address": row["address"],
        "address_id": None,
        "zipcode": None,
        "lat": row["lat"],
        "long": row["lon"],
        "media_url": None,
    }
    if extensions:
        record["extended_attributes"] = {
            "detailed_status": row["state"],
            "detailed_status_name": _state_label(row["state"]),
            "public_notes": notes,
        }
    return record


@dataclass(frozen=True)
class RequestQuery:
    """GET requests' parameters, parsed: ids override all others (as the spec says)."""

    ids: tuple[str, ...] = ()
    service_codes: tuple[str, ...] = ()
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    statuses: tuple[str, ...] = ()
    extensions: bool = False


def parse_date(name: str, value: str | None) -> dt.datetime | None:
    """A w3 date-time (``2026-09-28T00:00:00Z``) or date; one without a zone is UTC."""
    if value is None or not value.strip():
        return None
    try:
        moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidQuery(
            f"{name} {value!r} is not a w3 date-time such as 2026-09-28T00:00:00Z"
        ) from None
    if not calendar.plausible(moment):  # also keeps the 90-day window arithmetic in range
        first, last = calendar.YEARS.start, calendar.YEARS.stop - 1
        raise InvalidQuery(f"{name} {value!r} is not a date from {first} to {last}")
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def split_list(value: str | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v.strip() for v in (value or "").split(",") if v.strip()))


def parse_statuses(value: str | None) -> tuple[str, ...]:
    wanted = split_list(value)
    wrong = [s for s in wanted if s not in (OPEN, CLOSED)]
    if wrong:
        raise InvalidQuery(f"status {', '.join(wrong)!r} is not one of: open, closed")
    return wanted


def list_requests(
    conn: Connection, wanted: RequestQuery, *, now: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """Requests, newest first, as the public may read them."""
    params: dict[str, Any] = {"update_kinds": UPDATE_KINDS}
    if wanted.ids:
        clauses = ["r.public_id = ANY(:ids)"]
        params["ids"] = list(wanted.ids)
    else:
        clauses = _filters(conn, wanted, params, now or dt.datetime.now(dt.UTC))
    # The page's rows chosen first, then joined: planned for 1,000 rows, not for the 90 days.
    order = "ORDER BY r.created_at DESC, r.id DESC"
    chosen = f"SELECT * FROM requests r WHERE {' AND '.join(clauses)} {order} LIMIT {MAX_REQUESTS}"
    rows = conn.execute(
        text(_PUBLIC.format(chosen=chosen) + order).bindparams(_expanding()), params
    ).mappings()
    rows = [dict(r) for r in rows]
    notes = _notes(conn, [r["row_id"] for r in rows]) if wanted.extensions else {}
    return [
        _record(r, extensions=wanted.extensions, notes=notes.get(r["row_id"], [])) for r in rows
    ]


def _filters(
    conn: Connection, wanted: RequestQuery, params: dict[str, Any], now: dt.datetime
) -> list[str]:
    end = wanted.end or now
    start = wanted.start or (end - dt.timedelta(days=DEFAULT_DAYS))
    if start > end:
        raise InvalidQuery("start_date is after end_date")
    if end - start > dt.timedelta(days=DEFAULT_DAYS):
        raise InvalidQuery(f"start_date and end_date may be at most {DEFAULT_DAYS} days apart")
    clauses = ["r.created_at >= :start", "r.created_at <= :end"]
    params |= {"start": start, "end": end}
    if wanted.service_codes:
        known = {c.code for c in all_categories(conn)}
        unknown = [c for c in wanted.service_codes if c not in known]
        if unknown:
            raise InvalidQuery(
                f"unknown service_code {', '.join(unknown)}; services are: {', '.join(known)}"
            )
        clauses.append("r.category = ANY(:codes)")
        params["codes"] = list(wanted.service_codes)
    if len(wanted.statuses) == 1:
        open_clause = "r.state = ANY(:open_states)"
        clauses.append(open_clause if wanted.statuses[0] == OPEN else f"NOT ({open_clause})")
        params["open_states"] = list(states.OPEN_STATES)
    return clauses


def _expanding() -> Any:
    from sqlalchemy import bindparam

    return bindparam("update_kinds", expanding=True)


def read_request(conn: Connection, public_id: str, *, extensions: bool = False) -> dict:
    found = list_requests(conn, RequestQuery(ids=(public_id,), extensions=extensions))
    if not found:
        raise NotFound(f"no request has the id {public_id!r}")
    return found[0]


def _notes(conn: Connection, row_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """The public notes of each request, oldest first."""
    rows = conn.execute(
        text(
            "SELECT request_id, id, at, note FROM request_events WHERE request_id = ANY(:ids) "
            "AND kind IN :update_kinds AND note IS NOT NULL ORDER BY id"
        ).bindparams(_expanding()),
        {"ids": list(row_ids), "update_kinds": UPDATE_KINDS},
    )
    found: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        found.setdefault(r.request_id, []).append(
            {"update_id": str(r.id), "updated_datetime": _w3(r.at), "description": r.note}
        )
    return found


def updates(
    conn: Connection,
    start: dt.datetime | None,
    end: dt.datetime | None,
    *,
    now: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """Public updates (mySociety's ``servicerequestupdates``) in a window, oldest first:
    state changes and public notes, with the status the request had after each."""
    end = end or now or dt.datetime.now(dt.UTC)
    start = start or end - dt.timedelta(days=DEFAULT_DAYS)
    if start > end:
        raise InvalidQuery("start_date is after end_date")
    rows = conn.execute(
        text("""
SELECT e.id, r.public_id, e.at, e.note,
       (SELECT e2.to_state FROM request_events e2 WHERE e2.request_id = e.request_id
          AND e2.id <= e.id AND e2.to_state IS NOT NULL ORDER BY e2.id DESC LIMIT 1) AS state
FROM request_events e JOIN requests r ON r.id = e.request_id
WHERE e.kind IN :update_kinds AND e.at >= :start AND e.at <= :end
ORDER BY e.at, e.id LIMIT :limit""").bindparams(_expanding()),
        {"update_kinds": UPDATE_KINDS, "start": start, "end": end, "limit": MAX_REQUESTS},
    )
    return [
        {
            "update_id": str(r.id),
            "service_request_id": r.public_id,
            "status": status_of(r.state),
            "updated_datetime": _w3(r.at),
            "description": r.note or _state_label(r.state),
            "media_url": None,
            "extended_attributes": {"detailed_status": r.state},
        }
        for r in rows
    ]


# -- keys ---------------------------------------------------------------------------------------
# Stored as the API tokens are: their SHA-256.
key_digest = token_digest


@dataclass(frozen=True)
class IssuedKey:
    secret: str
    prefix: str
    label: str
    sites: list[str]


def create_key(conn: Connection, label: str, sites: Sequence[str], *, by: Principal) -> IssuedKey:
    """Issue a key for one client; shown once, stored as its SHA-256."""
    if not label.strip():
        raise InvalidCase("a key needs a label: the client it is for")
    codes = known_site_codes(conn, list(dict.fromkeys(sites)))
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    prefix = secret[: len(KEY_PREFIX) + 6]
    key_id = conn.execute(
        text(
            "INSERT INTO open311_keys (prefix, key_hash, label, created_by) "
            "VALUES (:prefix, :digest, :label, :by) RETURNING id"
        ),
        {"prefix": prefix, "digest": token_digest(secret), "label": label.strip(), "by": by.actor},
    ).scalar_one()
    write_sites(conn, "open311_key_sites", "key_id", key_id, codes)
    audit.record(
        conn,
        by,
        AuditAction.TOKEN_CREATE,
        target=f"open311-key:{prefix}",
        detail={"label": label.strip(), "sites": codes},
    )
    return IssuedKey(secret, prefix, label.strip(), codes)


@dataclass(frozen=True)
class KeyRow:
    prefix: str
    label: str
    sites: list[str]
    created_by: str | None
    created_at: dt.datetime
    revoked_at: dt.datetime | None


def list_keys(conn: Connection) -> list[KeyRow]:
    rows = conn.execute(
        text("""
SELECT k.prefix, k.label,
       ARRAY(SELECT site_code FROM open311_key_sites s WHERE s.key_id = k.id
             ORDER BY site_code) AS sites,
       k.created_by, k.created_at, k.revoked_at
FROM open311_keys k ORDER BY k.created_at DESC, k.id DESC""")
    )
    return [KeyRow(**r._mapping) for r in rows]


def revoke_key(conn: Connection, prefix: str, *, by: Principal) -> None:
    revoked = conn.execute(
        text(
            "UPDATE open311_keys SET revoked_at = now() "
            "WHERE prefix = :p AND revoked_at IS NULL RETURNING id"
        ),
        {"p": prefix},
    ).first()
    if revoked is None:
        raise NotFound(f"no active Open311 key starts with {prefix!r}")
    audit.record(conn, by, AuditAction.TOKEN_REVOKE, target=f"open311-key:{prefix}")


@dataclass(frozen=True)
class Client:
    """The holder of a usable key: its prefix, label and sites (empty: every site)."""

    prefix: str
    label: str
    sites: frozenset[str]


def client_for_key(conn: Connection, secret: str | None) -> Client:
    if not secret:
        raise Forbidden("an api_key is required to post a request (ask the administrators)")
    row = conn.execute(
        text(
            "SELECT k.id, k.prefix, k.label, k.revoked_at, ARRAY(SELECT site_code FROM "
            "open311_key_sites s WHERE s.key_id = k.id) AS sites "
            "FROM open311_keys k WHERE k.key_hash = :d"
        ),
        {"d": token_digest(secret)},
    ).first()
    if row is None:
        raise Forbidden("unknown api_key")
    if row.revoked_at is not None:
        raise Forbidden("this api_key was revoked")
    return Client(row.prefix, row.label, frozenset(row.sites))


# -- posting ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Post:
    """A POST requests' fields that we keep (email, device and account ids are not kept:
    collect the minimum)."""

    service_code: str | None
    lat: float | None
    lon: float | None
    description: str | None
    address: str | None = None
    name: str | None = None
    phone: str | None = None
    priority: str = "normal"


def site_of_point(conn: Connection, lon: float, lat: float) -> str:
    """The nearest site whose outer band reaches the point (the site it is about)."""
    code = conn.execute(
        text("""
SELECT si.code FROM site_impact si,
     LATERAL (SELECT ST_Distance(si.geom::geography,
                                 ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography) AS d) g
WHERE g.d <= si.outer_m ORDER BY g.d, si.code LIMIT 1"""),
        {"lon": lon, "lat": lat},
    ).scalar()
    if code is None:
        raise InvalidQuery(
            "the point (lat, long) is not within the reach of any site this service covers"
        )
    return str(code)


def post_request(conn: Connection, client: Client, post: Post) -> str:
    """Record a posted request through ``requests.create``; returns its id."""
    if not post.service_code:
        raise InvalidQuery("service_code is required: one of GET services")
    get_category(conn, post.service_code)
    if post.lat is None or post.lon is None:
        raise InvalidQuery("lat and long are required: this service does not geocode addresses")
    if not (-180 <= post.lon <= 180 and -90 <= post.lat <= 90):
        raise InvalidQuery("long must be within -180..180 and lat within -90..90")
    if not post.description or not post.description.strip():
        raise InvalidQuery("description is required: what is the problem?")
    site = site_of_point(conn, post.lon, post.lat)
    if client.sites and site not in client.sites:
        raise Forbidden(f"this api_key may not post requests of site {site}")
    site_id = conn.execute(text("SELECT id FROM sites WHERE code = :c"), {"c": site}).scalar_one()
    principal = Principal(
        role="liaison",
        site_ids=frozenset({site_id}),
        via="open311",
        client=client.label,
        token_prefix=client.prefix,
    )
    try:
        return cases.create(
            conn,
            principal,
            cases.NewRequest(
                site=site,
                category=post.service_code,
                channel=CHANNEL,
                description=post.description.strip(),
                lon=post.lon,
                lat=post.lat,
                address=post.address,
                reporter_name=post.name,
                reporter_phone=post.phone,
                priority=post.priority,
            ),
        )
    except InvalidCase as exc:
        raise InvalidQuery(exc.message) from None

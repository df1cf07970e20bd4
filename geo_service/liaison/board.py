"""The requests board of a site's working group: the filtered list, its map, many requests
given to one officer at once, and the list as a file (CSV, XLSX).

Everything selects through ``requests.matching`` and reads through ``requests.list_requests``,
so the board shows exactly what the list API shows to the same person: reporter contacts
only in the rows of sites the reader works (working-group members and planners never), the
read or export audited in the same transaction.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, text

from geo_service import audit
from geo_service.access import ROLES, Permission, Principal
from geo_service.errors import (
    BatchRefused,
    Forbidden,
    InvalidCase,
    InvalidQuery,
    NotFound,
    Refusal,
    RefusedTransition,
)
from geo_service.formats import (
    REQUEST_EXPORT,
    RequestExportFormat,
    comment_line,
    spreadsheet_text,
)
from geo_service.impact import SiteRef, resolve_site
from geo_service.impact_export import display_width, ready_to_print
from geo_service.liaison import requests as cases
from geo_service.liaison.calendar import TZ
from geo_service.liaison.categories import all_categories
from geo_service.settings import LiaisonSettings

LAYER = cases.LAYER
# The most points the board's map draws (the newest first): more is a blur on a phone.
MAP_POINTS = 2000
# Columns of the file beyond the layer's fields: (name, Chinese, English).
EXTRA_COLUMNS = (
    ("overdue", "已超期", "Overdue"),
    ("lon", "经度", "Longitude"),
    ("lat", "纬度", "Latitude"),
)
_YES_NO = {"zh": ("是", "否"), "en": ("Yes", "No")}


def readable_site(conn: Connection, principal: Principal, ref: str) -> SiteRef:
    """The site, when the principal may read its requests; the refusal names it."""
    site = resolve_site(conn, ref)
    if not principal.can_read_requests(site.id):
        raise Forbidden(
            f"the {principal.role} role may not see the requests of site {site.code}"
            + (" (it is not assigned to you)" if principal.request_site_ids() else ""),
            site=site.code,
        )
    return site


# -- what the board offers to filter by ---------------------------------------------------------
def communities(conn: Connection, site: SiteRef) -> list[str]:
    """The communities holding any of the site's requests, by name."""
    return list(
        conn.execute(
            text("""
SELECT c.name FROM communities c
WHERE EXISTS (SELECT 1 FROM requests m WHERE m.site_id = :s AND ST_Intersects(c.geom, m.geom))
ORDER BY c.name"""),
            {"s": site.id},
        ).scalars()
    )


def workers(conn: Connection, site: SiteRef) -> list[str]:
    """The active users assigned to the site whose role works requests: whom
    ``requests.check_assignee`` accepts (administrators aside)."""
    roles = sorted(r.name for r in ROLES.values() if Permission.WORK_REQUESTS in r.permissions)
    return list(
        conn.execute(
            text("""
SELECT u.username FROM users u JOIN user_sites us ON us.user_id = u.id
WHERE us.site_code = :code AND u.active AND u.role = ANY(:roles) ORDER BY u.username"""),
            {"code": site.code, "roles": roles},
        ).scalars()
    )


def points(
    conn: Connection, principal: Principal, wanted: cases.RequestFilter
) -> list[dict[str, Any]]:
    """The filtered requests as GeoJSON points (CRS84) with their public id and state only,
    the newest ``MAP_POINTS``."""
    where, params = cases.matching(conn, principal, wanted)
    rows = conn.execute(
        text(
            f"SELECT m.public_id, m.state, ST_X(m.geom) AS lon, ST_Y(m.geom) AS lat "
            f"FROM requests m WHERE {where} AND m.geom IS NOT NULL "
            "ORDER BY m.created_at DESC, m.id DESC LIMIT :limit"
        ),
        {**params, "limit": MAP_POINTS},
    )
    return [
        {
            "type": "Feature",
            "id": r.public_id,
            "geometry": {"type": "Point", "coordinates": [r.lon, r.lat]},
            "properties": {"state": r.state},
        }
        for r in rows
    ]


# -- many requests to one officer ---------------------------------------------------------------
# What one request of a batch may be refused for; anything else (a database fault) is not
# the caller's to fix and stops the batch as it would stop one request.
_REFUSALS = (NotFound, Forbidden, InvalidCase, RefusedTransition)


def assign_many(
    conn: Connection,
    principal: Principal,
    public_ids: Sequence[str],
    assignee: str,
    settings: LiaisonSettings,
    *,
    agency: str | None = None,
    now: dt.datetime | None = None,
) -> list[str]:
    """Give every request to ``assignee``, all or none: each goes through
    ``requests.assign`` in a savepoint, and when any is refused (unknown or unreadable,
    no longer open, an assignee who does not work its site) the whole batch is (the
    caller's transaction rolls back), naming each refused id and why."""
    wanted = list(dict.fromkeys(i.strip() for i in public_ids if i.strip()))
    if not wanted:
        raise InvalidCase("choose at least one request to assign")
    refused = []
    for public_id in wanted:
        try:
            with conn.begin_nested():
                cases.assign(conn, principal, public_id, assignee, settings, agency=agency, now=now)
        except _REFUSALS as error:
            refused.append(Refusal(public_id, type(error).__name__, error.message))
    if refused:
        raise BatchRefused(
            f"{len(refused)} of {len(wanted)} requests cannot be given to {assignee}", refused
        )
    return wanted


# -- the list as a file ------------------------------------------------------------------------
def _headers(lang: str) -> dict[str, str]:
    """Column -> header: the chosen language first, the other beside it."""
    pairs = [(f.name, f.label_zh, f.label_en) for f in LAYER.fields] + list(EXTRA_COLUMNS)
    return {name: f"{zh} / {en}" if lang == "zh" else f"{en} / {zh}" for name, zh, en in pairs}


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    """The columns the rows hold, in the layer's order: personal ones only when some row
    carries them (the reader works that site)."""
    present = set().union(*(r.keys() for r in rows)) if rows else set()
    fields = [f.name for f in LAYER.fields if f.name in present or (not rows and not f.personal)]
    return fields + [name for name, *_ in EXTRA_COLUMNS]


def _cell(name: str, value: Any, lang: str, words: dict[str, dict[str, str]]) -> Any:
    """A value as a person reads it: a choice or category by its words, a moment in
    Hangzhou's time, yes or no; text that would start a formula made text."""
    if value is None:
        return None
    if isinstance(value, bool):
        yes, no = _YES_NO.get(lang, _YES_NO["en"])
        return yes if value else no
    if isinstance(value, dt.datetime):
        return value.astimezone(TZ).strftime("%Y-%m-%d %H:%M")
    if name in words:
        return words[name].get(value, value)
    return spreadsheet_text(value)


def _words(conn: Connection, lang: str) -> dict[str, dict[str, str]]:
    """The words of every coded column, from the layer's choices and the categories."""
    words = {
        f.name: {str(c): c.label(lang) for c in f.choices}
        for f in LAYER.fields
        if f.choices and hasattr(f.choices[0], "label")
    }
    words["category"] = {
        c.code: c.name_zh if lang == "zh" else c.name_en for c in all_categories(conn)
    }
    return words


def export_file(
    conn: Connection,
    principal: Principal,
    wanted: cases.RequestFilter,
    fmt: RequestExportFormat,
    lang: str,
    settings: LiaisonSettings,
) -> tuple[bytes, str, str]:
    """The filtered list as a file, its name and its media type; one with reporter
    contacts is audited as an export (in the caller's transaction)."""
    if wanted.site is not None:
        readable_site(conn, principal, wanted.site)
    elif principal.request_site_ids() == set():
        raise Forbidden(f"the {principal.role} role may not see any site's requests")
    limit = settings.export_max_rows
    rows, total = cases.list_requests(
        conn,
        principal,
        wanted,
        limit=limit,
        offset=0,
        action=audit.AuditAction.EXPORT_PERSONAL,
        detail={"format": fmt, "fields": [f.name for f in LAYER.personal_fields]},
    )
    if total > limit:
        raise InvalidQuery(
            f"{total} requests match; an export holds at most {limit} "
            "(GEO_SERVICE_LIAISON_EXPORT_MAX_ROWS): narrow the filter"
        )
    columns, headers, words = _columns(rows), _headers(lang), _words(conn, lang)
    table = [[_cell(c, row.get(c), lang, words) for c in columns] for row in rows]
    head = [headers[c] for c in columns]
    about = _about(wanted, total, lang)
    body = _csv(head, table, about) if fmt == "csv" else _xlsx(head, table, about, lang)
    return body, _filename(wanted, fmt, lang), REQUEST_EXPORT[fmt].media_type


def _about(wanted: cases.RequestFilter, total: int, lang: str) -> list[tuple[str, str]]:
    """What the file says about itself: when, which filter, how many."""
    zh = lang == "zh"
    made = dt.datetime.now(TZ).strftime("%Y-%m-%d %H:%M")
    lines = [
        ("生成时间" if zh else "Generated at", made),
        ("诉求数" if zh else "Requests", str(total)),
    ]
    for name, value in wanted.__dict__.items():
        if value is not None:
            lines.append((f"{'筛选' if zh else 'Filter'} {name}", str(value)))
    return lines


def _filename(wanted: cases.RequestFilter, fmt: str, lang: str) -> str:
    day = dt.datetime.now(TZ).date().isoformat()
    site = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in wanted.site or "all")
    word = "诉求清单" if lang == "zh" else "requests"
    return f"{site}-{word}-{day}{REQUEST_EXPORT[fmt].extension}"


def _csv(head: list[str], table: list[list[Any]], about: list[tuple[str, str]]) -> bytes:
    """The metadata as ``#`` lines above the header row; a BOM, so Excel reads UTF-8."""
    out = io.StringIO()
    for label, value in about:
        out.write(comment_line(label, value))
    writer = csv.writer(out)
    writer.writerow(head)
    writer.writerows(table)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _xlsx(
    head: list[str], table: list[list[Any]], about: list[tuple[str, str]], lang: str
) -> bytes:
    """The list on one sheet, ready to print and filter; what it is on a second."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "诉求" if lang == "zh" else "Requests"
    sheet.append(head)
    for row in table:
        sheet.append(row)
    ready_to_print(sheet)
    info = book.create_sheet("说明" if lang == "zh" else "About")
    for label, value in about:
        info.append([label, spreadsheet_text(value)])
    info.column_dimensions["A"].width = max(display_width(a) for a, _ in about) + 2
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()

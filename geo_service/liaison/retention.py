"""The retention rule: personal data of a closed site's finished cases is removed after
``LiaisonSettings.retention_days`` (PIPL art. 19 and 47: kept no longer than the purpose
needs, then deleted or anonymised).

A site is closed when its status is ``completed`` (the sites layer's ``SITE_STATUSES``);
its period runs from its ``end_date`` (竣工日期), or from the row's last change when no end
date was recorded. Once ``retention_days`` have passed, for that site:

- requests that are no longer open (resolved or final): their reporter contacts (the
  requests layer's personal fields) are set to NULL, and the text of their internal notes
  is blanked through ``request_events_redact`` (migration 0019; the history stays
  append-only for every other change);
- visits: their notes (the visits layer's personal fields) are set to NULL, their photos
  deleted;
- micro-wishes that are fulfilled or cancelled: their description is set to NULL.

What the dashboards count stays: every request, event, visit and wish row, with its
category, state, times, outcome and place. Open cases keep their data (and are reported as
``kept_open``): a resident still waiting for an answer must be reachable. A run is one
transaction and one audit row with the counts; a second run finds nothing left to remove.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, replace

from sqlalchemy import Connection, text

from geo_service import audit
from geo_service.access import Principal
from geo_service.liaison import calendar, states
from geo_service.liaison.wishes import OPEN as OPEN_WISHES
from geo_service.settings import LiaisonSettings
from layers import WORKFLOW_LAYERS

CLOSED_STATUS = "completed"


def _columns(layer: str) -> tuple[str, ...]:
    return tuple(f.name for f in WORKFLOW_LAYERS[layer].personal_fields)


def _any_set(columns: tuple[str, ...], alias: str) -> str:
    return "(" + " OR ".join(f"{alias}.{c} IS NOT NULL" for c in columns) + ")"


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(repr(v) for v in values) + ")"


@dataclass(frozen=True)
class RetentionReport:
    cutoff: dt.date
    retention_days: int
    dry_run: bool
    sites: tuple[str, ...]
    requests: int
    internal_notes: int
    visits: int
    photos: int
    wishes: int
    kept_open: int

    @property
    def removed(self) -> int:
        return self.requests + self.internal_notes + self.visits + self.photos + self.wishes

    def summary(self) -> str:
        verb = "would remove" if self.dry_run else "removed"
        return (
            f"{len(self.sites)} sites completed before {self.cutoff} "
            f"({self.retention_days} days): {verb} the reporter contacts of {self.requests} "
            f"requests, {self.internal_notes} internal notes, the notes of {self.visits} "
            f"visits, {self.photos} photos, the descriptions of {self.wishes} micro-wishes; "
            f"{self.kept_open} open cases kept"
        )


_CLOSED_SITES = f"""
SELECT id, code FROM sites
WHERE status = '{CLOSED_STATUS}' AND coalesce(end_date, updated_at::date) < :cutoff
ORDER BY code"""
_FINISHED = f"r.site_id = ANY(:site_ids) AND r.state NOT IN {_in(states.OPEN_STATES)}"


def _count(conn: Connection, sql: str, params: dict) -> int:
    return int(conn.execute(text(sql), params).scalar_one())


def run(
    conn: Connection,
    principal: Principal,
    settings: LiaisonSettings,
    *,
    dry_run: bool = False,
    today: dt.date | None = None,
) -> RetentionReport:
    """Remove (or with ``dry_run`` only count) what the rule says is due; audited."""
    today = today or dt.datetime.now(calendar.TZ).date()
    cutoff = today - dt.timedelta(days=settings.retention_days)
    sites = conn.execute(text(_CLOSED_SITES), {"cutoff": cutoff}).all()
    p = {
        "site_ids": [s.id for s in sites],
        "codes": [s.code for s in sites],
    }
    contacts, notes = _columns("requests"), _columns("visits")
    finished_requests = f"SELECT r.id FROM requests r WHERE {_FINISHED}"
    report = RetentionReport(
        cutoff=cutoff,
        retention_days=settings.retention_days,
        dry_run=dry_run,
        sites=tuple(p["codes"]),
        requests=_count(
            conn,
            f"SELECT count(*) FROM requests r WHERE {_FINISHED} AND {_any_set(contacts, 'r')}",
            p,
        ),
        internal_notes=_count(
            conn,
            "SELECT count(*) FROM request_events e WHERE e.kind = 'internal_note' "
            f"AND e.note IS NOT NULL AND e.request_id IN ({finished_requests})",
            p,
        ),
        visits=_count(
            conn,
            f"SELECT count(*) FROM visits v WHERE v.site_id = ANY(:site_ids) "
            f"AND {_any_set(notes, 'v')}",
            p,
        ),
        photos=_count(
            conn,
            "SELECT count(*) FROM visit_photos ph JOIN visits v ON v.id = ph.visit_id "
            "WHERE v.site_id = ANY(:site_ids)",
            p,
        ),
        wishes=_count(
            conn,
            "SELECT count(*) FROM micro_wishes w WHERE w.site_code = ANY(:codes) "
            f"AND w.state NOT IN {_in(OPEN_WISHES)} AND w.description IS NOT NULL",
            p,
        ),
        kept_open=_count(
            conn,
            f"SELECT (SELECT count(*) FROM requests r WHERE r.site_id = ANY(:site_ids) "
            f"AND r.state IN {_in(states.OPEN_STATES)}) + (SELECT count(*) FROM micro_wishes w "
            f"WHERE w.site_code = ANY(:codes) AND w.state IN {_in(OPEN_WISHES)})",
            p,
        ),
    )
    if dry_run:
        return report
    blank = ", ".join(f"{c} = NULL" for c in contacts)
    conn.execute(
        text(f"UPDATE requests r SET {blank} WHERE {_FINISHED} AND {_any_set(contacts, 'r')}"),
        p,
    )
    ids = list(conn.execute(text(finished_requests), p).scalars())
    redacted = conn.execute(
        text("SELECT request_events_redact(CAST(:ids AS integer[]))"), {"ids": ids}
    ).scalar_one()
    report = replace(report, internal_notes=int(redacted))  # what the function blanked
    conn.execute(
        text(
            f"UPDATE visits v SET {', '.join(f'{c} = NULL' for c in notes)} "
            f"WHERE v.site_id = ANY(:site_ids) AND {_any_set(notes, 'v')}"
        ),
        p,
    )
    conn.execute(
        text(
            "DELETE FROM visit_photos ph USING visits v WHERE v.id = ph.visit_id "
            "AND v.site_id = ANY(:site_ids)"
        ),
        p,
    )
    conn.execute(
        text(
            "UPDATE micro_wishes w SET description = NULL WHERE w.site_code = ANY(:codes) "
            f"AND w.state NOT IN {_in(OPEN_WISHES)} AND w.description IS NOT NULL"
        ),
        p,
    )
    detail = {k: v for k, v in asdict(report).items() if k != "dry_run"}
    audit.record(
        conn,
        principal,
        audit.AuditAction.PURGE_PERSONAL,
        target="retention",
        record_count=report.removed,
        detail=detail,
    )
    return report

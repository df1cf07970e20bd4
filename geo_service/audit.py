"""The audit trail: who read, exported, imported or changed what, when and from where.

``record`` writes one row inside the caller's own transaction, so the row and the work
it describes are committed together or not at all. The table is append-only: database
triggers refuse UPDATE, DELETE and TRUNCATE (migration 0002), so the service cannot
rewrite its own history.

Failed sign-ins recorded here are also what the sign-in rate limit counts
(``geo_service.auth.throttle``): one fact, one place, shared by every server process.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, text

from geo_service.access import Principal
from geo_service.formats import spreadsheet_text


class AuditAction(StrEnum):
    """What an audit row records; new kinds of event are added here (no migration)."""

    READ_PERSONAL = "read_personal"
    EXPORT_PERSONAL = "export_personal"
    IMPORT = "import"
    IMPORT_REJECTED = "import_rejected"
    SET_SERVICE_AREA = "set_service_area"
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGOUT = "logout"
    TOKEN_CREATE = "token_create"
    TOKEN_REVOKE = "token_revoke"
    USER_CREATE = "user_create"
    USER_UPDATE = "user_update"
    ASSIGN_SITES = "assign_sites"
    READ_AUDIT = "read_audit"
    CHANGE = "change"
    WIDEN_PERSONAL_SCOPE = "widen_personal_scope"
    PURGE_PERSONAL = "purge_personal"


_INSERT = text("""
INSERT INTO audit_log (actor, role, action, target, record_count, client, detail)
VALUES (:actor, :role, :action, :target, :record_count, :client, CAST(:detail AS jsonb))
RETURNING id
""")


def record(
    conn: Connection,
    principal: Principal,
    action: AuditAction,
    *,
    target: str | None = None,
    record_count: int | None = None,
    detail: dict[str, Any] | None = None,
    actor: str | None = None,
) -> int:
    """Append one row in the caller's transaction; returns its id.

    ``target`` names what was touched (a layer, ``site:AZF-2024-01``, a user);
    ``actor`` overrides the principal's name, for a failed sign-in as the name tried.
    """
    row = {
        "actor": actor if actor is not None else principal.actor,
        "role": principal.role,
        "action": str(action),
        "target": target,
        "record_count": record_count,
        "client": principal.client,
        "detail": json.dumps(detail or {}, ensure_ascii=False, default=str),
    }
    return int(conn.execute(_INSERT, row).scalar_one())


_INSERT_MANY = text("""
INSERT INTO audit_log (actor, role, action, target, record_count, client, detail)
SELECT :actor, :role, :action, t.target, NULL, :client, t.detail
FROM unnest(CAST(:targets AS text[]), CAST(:details AS jsonb[])) WITH ORDINALITY
     AS t(target, detail, n)
ORDER BY t.n
""")


def record_many(
    conn: Connection,
    principal: Principal,
    action: AuditAction,
    rows: list[tuple[str, dict[str, Any]]],
) -> None:
    """One row per (target, detail), as ``record`` would append them, in one statement."""
    if not rows:
        return
    conn.execute(
        _INSERT_MANY,
        {
            "actor": principal.actor,
            "role": principal.role,
            "action": str(action),
            "client": principal.client,
            "targets": [t for t, _ in rows],
            "details": [json.dumps(d, ensure_ascii=False, default=str) for _, d in rows],
        },
    )


@dataclass(frozen=True)
class AuditFilter:
    """What an auditor asks for: by actor, action and time, newest first."""

    actor: str | None = None
    action: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None

    def where(self) -> tuple[str, dict[str, Any]]:
        clauses, params = [], {}
        if self.actor is not None:
            clauses.append("actor = :actor")
            params["actor"] = self.actor
        if self.action is not None:
            clauses.append("action = :action")
            params["action"] = self.action
        if self.since is not None:
            clauses.append("at >= :since")
            params["since"] = self.since
        if self.until is not None:
            clauses.append("at < :until")
            params["until"] = self.until
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


COLUMNS = ("id", "at", "actor", "role", "action", "target", "record_count", "client", "detail")


def query(
    conn: Connection, wanted: AuditFilter, *, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """One page of matching rows, newest first, and how many match in all."""
    where, params = wanted.where()
    total = conn.execute(text(f"SELECT count(*) FROM audit_log{where}"), params).scalar_one()
    rows = conn.execute(
        text(
            f"SELECT {', '.join(COLUMNS)} FROM audit_log{where} "
            "ORDER BY at DESC, id DESC LIMIT :limit OFFSET :offset"
        ),
        {**params, "limit": limit, "offset": offset},
    ).mappings()
    return [dict(r) for r in rows], int(total)


def as_csv(rows: Sequence[dict[str, Any]]) -> str:
    """Rows as CSV (UTF-8, header first), ``detail`` as JSON text, times in ISO 8601."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(
            [
                row["at"].isoformat()
                if c == "at"
                else spreadsheet_text(_cell(row[c], json_text=c == "detail"))
                for c in COLUMNS
            ]
        )
    return out.getvalue()


# A cell starting with one of these is a formula to Excel and WPS; a user name tried at
# sign-in is attacker-chosen text, so such cells get a leading apostrophe (OWASP).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any, *, json_text: bool) -> Any:
    if value is None:
        return ""
    if json_text:
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value

"""Failed sign-ins: recorded as audit rows, and counted for the rate limit.

The limit counts ``login_failed`` rows in the database, so it holds across server processes
and restarts, and is one fact in one place (the rows an auditor reads). While a name or an
address is throttled, credentials are not even checked, and nothing more is written.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

from geo_service import audit
from geo_service.access import anonymous
from geo_service.audit import AuditAction
from geo_service.errors import TooManyAttempts
from geo_service.settings import AuthSettings

_RETRY_AFTER = """
SELECT ceil(extract(epoch FROM at + make_interval(secs => :window) - now()))::int
FROM audit_log
WHERE action = 'login_failed' AND at > now() - make_interval(secs => :window) AND {match}
ORDER BY at DESC
OFFSET :nth LIMIT 1
"""


def throttle(
    conn: Connection, settings: AuthSettings, *, username: str | None, client: str | None
) -> None:
    """Refuse (429) while the name or the address has too many recent failed sign-ins.

    The wait is until the oldest failure that keeps the count at its limit leaves the window.
    The name and the address are locked until the caller's transaction ends (after its
    password check and its ``record_failure``), so concurrent attempts are counted one after
    another: 40 at once for one name check 5 passwords, not 23. Names are locked before
    addresses, always, so two sign-ins never wait for each other in a circle.
    """
    keys = [f"login name:{username.lower()}"] if username else []
    keys += [f"login from:{client}"] if client else []
    for key in keys:
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": key})
    checks = []
    if username:
        checks.append(
            ("lower(actor) = lower(:value)", username, settings.login_max_failures_per_user)
        )
    if client:
        checks.append(("client = :value", client, settings.login_max_failures_per_client))
    for match, value, limit in checks:
        wait = conn.execute(
            text(_RETRY_AFTER.format(match=match)),
            {"window": settings.login_window_seconds, "value": value, "nth": limit - 1},
        ).scalar_one_or_none()
        if wait is not None:
            raise TooManyAttempts(max(int(wait), 1))


def record_failure(
    conn: Connection,
    client: str | None,
    detail: dict[str, Any],
    *,
    actor: str | None = None,
    target: str | None = None,
) -> None:
    """One ``login_failed`` row from ``client``, which ``throttle`` will count.

    ``actor`` is the user name tried (the per-name limit counts it), ``target`` the token.
    """
    audit.record(
        conn, anonymous(client), AuditAction.LOGIN_FAILED, actor=actor, target=target, detail=detail
    )

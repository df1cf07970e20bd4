"""Failed sign-ins: recorded as audit rows, and counted for the rate limit.

The limits count ``login_failed`` rows in the database, so they hold across server processes
and restarts, and are one fact in one place (the rows an auditor reads). While a name or an
address is throttled, credentials are not even checked, and nothing more is written.

Three limits, in the window (``login_window_seconds``, 5 min):

- one address, any names: ``login_max_failures_per_client`` (20) failures, then 429 until
  the oldest leaves the window (an office shares one address behind its NAT);
- one name from one address: ``login_max_failures_per_user`` (5), then the same;
- one name from every address: after those 5, each further attempt must wait twice as long
  after the last failure as the one before (1 s, 2 s, 4 s ...), at most
  ``login_max_delay_seconds`` (60 s). A delay, not a lock: an attacker who knows the
  administrator's name can slow the administrator's sign-in by a minute, never shut it out,
  while guessing from many addresses stays at about one password a minute.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

from geo_service import audit
from geo_service.access import anonymous
from geo_service.audit import AuditAction
from geo_service.errors import TooManyAttempts
from geo_service.settings import AuthSettings

_NAME_DELAY = """
SELECT ceil(extract(epoch FROM max(at)
         + make_interval(secs => least(power(2, count(*) - :free), :cap)) - now()))::int
FROM audit_log
WHERE action = 'login_failed' AND at > now() - make_interval(secs => :window)
  AND lower(actor) = lower(:name)
HAVING count(*) >= :free
"""
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
    """Refuse (429) while the address, the name from this address, or the name's growing
    delay holds the attempt back (see above).

    For a limit, the wait is until the oldest failure that keeps the count at it leaves the
    window; for the delay, until the delay after the last failure is over.
    The name and the address are locked until the caller's transaction ends (after its
    password check and its ``record_failure``), so concurrent attempts are counted one after
    another: 40 at once for one name check 5 passwords, not 23. Names are locked before
    addresses, always, so two sign-ins never wait for each other in a circle.
    """
    keys = [f"login name:{username.lower()}"] if username else []
    keys += [f"login from:{client}"] if client else []
    for key in keys:
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": key})
    window = settings.login_window_seconds
    per_client = settings.login_max_failures_per_client
    checks: list[tuple[str, dict[str, Any], int]] = []
    if client:
        checks.append(("client = :client", {"client": client}, per_client))
    if username and client:
        checks.append(
            (
                "lower(actor) = lower(:name) AND client = :client",
                {"name": username, "client": client},
                settings.login_max_failures_per_user,
            )
        )
    for match, values, limit in checks:
        wait = conn.execute(
            text(_RETRY_AFTER.format(match=match)), {"window": window, "nth": limit - 1, **values}
        ).scalar_one_or_none()
        if wait is not None:
            raise TooManyAttempts(max(int(wait), 1))
    if username:
        wait = conn.execute(
            text(_NAME_DELAY),
            {
                "window": window,
                "name": username,
                "free": settings.login_max_failures_per_user,
                "cap": settings.login_max_delay_seconds,
            },
        ).scalar_one_or_none()
        if wait is not None and wait > 0:
            raise TooManyAttempts(int(wait))


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

"""Signing in: checking a password, on the form (``/login``) or with HTTP Basic.

A sign-in is throttled and audited (``geo_service.auth.throttle``); a user signed in on the
form gets a browser session (``geo_service.auth.sessions``). Basic credentials may also be
an API token (``geo_service.auth.tokens``), as QGIS and GDAL send one.
"""

from __future__ import annotations

from sqlalchemy import Engine, text

from geo_service import audit
from geo_service.access import Principal
from geo_service.audit import AuditAction
from geo_service.auth.passwords import hash_password, needs_rehash, verify_password
from geo_service.auth.sessions import user_principal
from geo_service.auth.throttle import record_failure, throttle
from geo_service.auth.tokens import TOKEN_PREFIX, principal_for_token
from geo_service.errors import NotAuthenticated
from geo_service.settings import AuthSettings

_USER = text("""
SELECT u.username, u.role, u.active, u.password_hash,
       ARRAY(SELECT s.id FROM user_sites us JOIN sites s ON s.code = us.site_code
             WHERE us.user_id = u.id) AS site_ids
FROM users u
WHERE lower(u.username) = lower(:username)
""")


# -- signing in -----------------------------------------------------------------------------
def sign_in(
    engine: Engine,
    username: str,
    password: str,
    *,
    client: str | None,
    settings: AuthSettings,
    via: str = "session",
) -> Principal:
    """Check a user's password, throttled and audited.

    A sign-in on the form (``via="session"``) is recorded as ``login``; Basic auth with a
    password on every API request (``via="password"``) records only its failures.
    """
    with engine.begin() as conn:
        throttle(conn, settings, username=username, client=client)
        row = conn.execute(_USER, {"username": username}).first()
        ok = verify_password(row.password_hash if row else None, password)
        if ok and row is not None and row.active:
            if needs_rehash(row.password_hash):
                conn.execute(
                    text("UPDATE users SET password_hash = :h WHERE username = :u"),
                    {"h": hash_password(password), "u": row.username},
                )
            principal = user_principal(row, via=via, client=client)
            if via == "session":
                audit.record(conn, principal, AuditAction.LOGIN, detail={"via": via})
            return principal
        record_failure(
            conn,
            client,
            {"via": via, "reason": "deactivated" if ok else "wrong user name or password"},
            actor=username[:200],
        )
    raise NotAuthenticated("wrong user name or password")


def principal_for_basic(
    engine: Engine, username: str, password: str, *, client: str | None, settings: AuthSettings
) -> Principal:
    """HTTP Basic: the password is an API token (QGIS, GDAL) or the user's own password."""
    if password.startswith(TOKEN_PREFIX):
        principal = principal_for_token(engine, password, client=client, settings=settings)
        if principal.username and principal.username.lower() != username.lower() and username:
            # A token named with another user's name is a mistake worth saying, not ignoring.
            raise NotAuthenticated(f"this API token does not belong to {username!r}")
        return principal
    return sign_in(engine, username, password, client=client, settings=settings, via="password")

"""Signing in and browser sessions: checking a password, and the cookie that follows.

A sign-in is throttled and audited (``geo_service.auth.throttle``). A browser session is a
cookie signed with the secret key (``itsdangerous``); it holds the user name and a
fingerprint of the password hash, so changing a password ends every session.

Belongs here: whatever decides that a request comes from a signed-in person, for the
sign-in form (``/login``) and for the requests of a session: the password check and the
cookie. Whether the browser sent the request from this service's own pages (CSRF, login
CSRF) is read from HTTP headers at the edge, in ``geo_service.api.csrf``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import Engine, Row, text

from geo_service import audit
from geo_service.access import Principal
from geo_service.audit import AuditAction
from geo_service.auth.passwords import hash_password, needs_rehash, verify_password
from geo_service.auth.throttle import record_failure, throttle
from geo_service.auth.tokens import TOKEN_PREFIX, principal_for_token
from geo_service.errors import NotAuthenticated
from geo_service.settings import AuthSettings

_SESSION_SALT = "geo-service.session"
_USER = text("""
SELECT u.username, u.role, u.active, u.password_hash,
       ARRAY(SELECT s.id FROM user_sites us JOIN sites s ON s.code = us.site_code
             WHERE us.user_id = u.id) AS site_ids
FROM users u
WHERE lower(u.username) = lower(:username)
""")


def _user_principal(row: Row[Any], *, via: str, client: str | None) -> Principal:
    return Principal(
        role=row.role,
        username=row.username,
        site_ids=frozenset(row.site_ids),
        via=via,
        client=client,
    )


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
            principal = _user_principal(row, via=via, client=client)
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


# -- browser sessions ---------------------------------------------------------------------------
def _fingerprint(password_hash: str | None) -> str:
    return hashlib.sha256((password_hash or "").encode()).hexdigest()[:16]


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=_SESSION_SALT)


def session_cookie(engine: Engine, username: str, *, secret: str) -> str:
    """The signed cookie value for a user who just signed in."""
    with engine.connect() as conn:
        row = conn.execute(_USER, {"username": username}).one()
    return _serializer(secret).dumps({"u": row.username, "f": _fingerprint(row.password_hash)})


def principal_for_session(
    engine: Engine, cookie: str, *, secret: str, max_age_seconds: float, client: str | None
) -> Principal | None:
    """The user of a valid session cookie; None when it is forged, expired or stale."""
    try:
        data = _serializer(secret).loads(cookie, max_age=max_age_seconds)
    except BadSignature:  # SignatureExpired is one
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), str):
        return None
    with engine.connect() as conn:
        row = conn.execute(_USER, {"username": data["u"]}).first()
    if row is None or not row.active or data.get("f") != _fingerprint(row.password_hash):
        return None
    return _user_principal(row, via="session", client=client)

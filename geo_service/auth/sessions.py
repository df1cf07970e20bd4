"""Browser sessions: the cookie that follows a sign-in on the form, and its row.

A browser session is a row of ``user_sessions`` and a cookie that carries the session's
random id, signed with the secret key (``itsdangerous``, so a forged cookie costs no
query). Only the id's SHA-256 is stored. The session ends when its hours are up, at logout,
and when the user's password or role changes, the user is deactivated or an administrator
ends it (``end_sessions``): a copied cookie stops working with it. Role and sites are read
from the user's row at every check, never from the cookie.

Whether the browser sent a request from this service's own pages (CSRF, login CSRF) is
read from HTTP headers at the edge, in ``geo_service.api.csrf``.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import Connection, Engine, Row, text

from geo_service.access import Principal

_SESSION_SALT = "geo-service.session"


def user_principal(row: Row[Any], *, via: str, client: str | None) -> Principal:
    """The principal of a user's row (name, role, site ids)."""
    return Principal(
        role=row.role,
        username=row.username,
        site_ids=frozenset(row.site_ids),
        via=via,
        client=client,
    )


# -- browser sessions ---------------------------------------------------------------------------
# The user of a session that is still open, as ``_USER`` reads a user.
_SESSION_USER = text("""
SELECT u.username, u.role, u.active,
       ARRAY(SELECT s.id FROM user_sites us JOIN sites s ON s.code = us.site_code
             WHERE us.user_id = u.id) AS site_ids
FROM user_sessions us JOIN users u ON u.id = us.user_id
WHERE us.id_hash = :h AND us.ended_at IS NULL AND us.expires_at > now() AND u.active
""")


def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=_SESSION_SALT)


def _id_hash(cookie: str, secret: str) -> str | None:
    """The stored hash of the session a cookie names; None for a forged or old cookie."""
    try:
        data = _serializer(secret).loads(cookie)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("s"), str):
        return None
    return hashlib.sha256(data["s"].encode()).hexdigest()


def start_session(
    engine: Engine, username: str, *, secret: str, hours: float, client: str | None
) -> str:
    """Open a session for a user who just signed in; returns the cookie's value.

    Sessions that ended or expired more than a month ago are removed on the way: the
    audit log keeps the sign-ins and sign-outs, this table only what is open."""
    session_id = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO user_sessions (user_id, id_hash, client, expires_at) "
                "SELECT id, :h, :c, now() + make_interval(secs => :s) FROM users "
                "WHERE lower(username) = lower(:u)"
            ),
            {
                "h": hashlib.sha256(session_id.encode()).hexdigest(),
                "c": client,
                "s": hours * 3600,
                "u": username,
            },
        )
        conn.execute(
            text(
                "DELETE FROM user_sessions WHERE least(ended_at, expires_at) "
                "< now() - interval '30 days'"
            )
        )
    return _serializer(secret).dumps({"s": session_id})


def principal_for_session(
    engine: Engine, cookie: str, *, secret: str, client: str | None
) -> Principal | None:
    """The user of an open session; None when the cookie is forged or its session ended."""
    id_hash = _id_hash(cookie, secret)
    if id_hash is None:
        return None
    with engine.connect() as conn:
        row = conn.execute(_SESSION_USER, {"h": id_hash}).first()
    return None if row is None else user_principal(row, via="session", client=client)


def end_session(conn: Connection, cookie: str, *, secret: str) -> None:
    """Sign-out: the cookie's session ends, in every copy of the cookie."""
    id_hash = _id_hash(cookie, secret)
    if id_hash is not None:
        conn.execute(
            text(
                "UPDATE user_sessions SET ended_at = now(), end_reason = 'logout' "
                "WHERE id_hash = :h AND ended_at IS NULL"
            ),
            {"h": id_hash},
        )


def end_sessions(conn: Connection, user_id: int, reason: str) -> int:
    """End every open session of a user (password or role changed, deactivated, or an
    administrator's decision); returns how many were open."""
    ended = conn.execute(
        text(
            "UPDATE user_sessions SET ended_at = now(), end_reason = :r "
            "WHERE user_id = :id AND ended_at IS NULL AND expires_at > now()"
        ),
        {"id": user_id, "r": reason},
    )
    return ended.rowcount

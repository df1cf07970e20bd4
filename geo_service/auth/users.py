"""Users: creating them, their role, password, activity and site assignments.

Every change is an audit row in the same transaction. A user without a password can only
use API tokens issued for them.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, text

from geo_service import audit
from geo_service.access import ANONYMOUS, Principal, get_role, local_operator
from geo_service.audit import AuditAction
from geo_service.auth.passwords import check_password, hash_password, new_password, verify_password
from geo_service.auth.sessions import end_sessions
from geo_service.auth.sites import (
    check_sites_apply,
    known_site_codes,
    role_takes_sites,
    write_sites,
)
from geo_service.errors import InvalidAccount, NotFound

_USERNAME = re.compile(r"[\w.@-]{1,64}")
_RESERVED_NAMES = {ANONYMOUS, "local", "token", "system"}


def check_username(username: str) -> str:
    if not _USERNAME.fullmatch(username) or username.lower() in _RESERVED_NAMES:
        raise InvalidAccount(
            f"user name {username!r} is not allowed: use 1-64 letters, digits, '.', '_', '@' "
            f"or '-', and none of {', '.join(sorted(_RESERVED_NAMES))}"
        )
    return username


def create_user(
    conn: Connection,
    username: str,
    role: str,
    *,
    password: str | None,
    sites: Sequence[str] = (),
    by: Principal,
) -> None:
    """A new user; without a password they can only use API tokens issued for them."""
    check_username(username)
    get_role(role)
    check_sites_apply(role, sites)
    if password is not None:
        check_password(password, username)
    taken = conn.execute(
        text("SELECT 1 FROM users WHERE lower(username) = lower(:u)"), {"u": username}
    ).first()
    if taken:
        raise InvalidAccount(f"a user named {username!r} exists already")
    codes = known_site_codes(conn, sites)
    user_id = conn.execute(
        text("INSERT INTO users (username, password_hash, role) VALUES (:u, :h, :r) RETURNING id"),
        {"u": username, "h": hash_password(password) if password else None, "r": role},
    ).scalar_one()
    write_sites(conn, "user_sites", "user_id", user_id, codes)
    audit.record(
        conn,
        by,
        AuditAction.USER_CREATE,
        target=f"user:{username}",
        detail={"role": role, "sites": codes},
    )


@dataclass(frozen=True)
class UserSites:
    """A user's role and assigned site codes, as the admin API shows them."""

    username: str
    role: str
    sites: list[str]


def user_id_role(conn: Connection, username: str) -> tuple[int, str, str]:
    """The user's row id, stored name and role; names match without regard to case."""
    row = conn.execute(
        text("SELECT id, username, role FROM users WHERE lower(username) = lower(:u)"),
        {"u": username},
    ).first()
    if row is None:
        raise NotFound(f"no user is named {username!r}")
    return row.id, row.username, row.role


def user_sites(conn: Connection, username: str) -> UserSites:
    user_id, name, role = user_id_role(conn, username)
    codes = conn.execute(
        text("SELECT site_code FROM user_sites WHERE user_id = :id ORDER BY site_code"),
        {"id": user_id},
    ).scalars()
    return UserSites(name, role, list(codes))


def set_user_sites(
    conn: Connection, username: str, codes: Sequence[str], *, by: Principal
) -> UserSites:
    """Replace a user's site assignments (audited, with the previous ones)."""
    before = user_sites(conn, username)
    check_sites_apply(before.role, codes)
    known = known_site_codes(conn, list(dict.fromkeys(codes)))
    user_id, _, _ = user_id_role(conn, username)
    write_sites(conn, "user_sites", "user_id", user_id, known)
    audit.record(
        conn,
        by,
        AuditAction.ASSIGN_SITES,
        target=f"user:{before.username}",
        record_count=len(known),
        detail={"sites": known, "previous": before.sites},
    )
    return UserSites(before.username, before.role, known)


@dataclass(frozen=True)
class UserRow:
    """One user as ``geo-service user list`` shows them (never a password hash)."""

    username: str
    role: str
    active: bool
    has_password: bool
    sites: list[str]
    active_tokens: int
    created_at: dt.datetime


def list_users(conn: Connection) -> list[UserRow]:
    rows = conn.execute(
        text("""
        SELECT u.username, u.role, u.active, u.password_hash IS NOT NULL AS has_password,
               ARRAY(SELECT site_code FROM user_sites s WHERE s.user_id = u.id
                     ORDER BY site_code) AS sites,
               (SELECT count(*) FROM api_tokens t WHERE t.user_id = u.id
                AND t.revoked_at IS NULL AND t.expires_at > now()) AS active_tokens,
               u.created_at
        FROM users u ORDER BY lower(u.username)
        """)
    )
    return [UserRow(**r._mapping) for r in rows]


def _update_user(
    conn: Connection, username: str, changes: dict[str, Any], detail: dict[str, Any], by: Principal
) -> str:
    """Apply ``changes`` to a user's row and audit ``detail``; returns the stored name."""
    user_id, name, _ = user_id_role(conn, username)
    sets = ", ".join(f"{column} = :{column}" for column in changes)
    conn.execute(
        text(f"UPDATE users SET {sets}, updated_at = now() WHERE id = :id"),
        {**changes, "id": user_id},
    )
    audit.record(conn, by, AuditAction.USER_UPDATE, target=f"user:{name}", detail=detail)
    return name


def set_user_active(conn: Connection, username: str, active: bool, *, by: Principal) -> str:
    """Deactivate (or reactivate) a user: their sessions end, passwords and tokens stop
    working."""
    detail: dict[str, Any] = {"active": active}
    if not active:
        user_id, _, _ = user_id_role(conn, username)
        detail["sessions_ended"] = end_sessions(conn, user_id, "deactivated")
    return _update_user(conn, username, {"active": active}, detail, by)


def set_user_password(conn: Connection, username: str, password: str, *, by: Principal) -> str:
    """A new password (audited, never recorded); it ends the user's browser sessions."""
    user_id, name, _ = user_id_role(conn, username)
    check_password(password, name)
    ended = end_sessions(conn, user_id, "password changed")
    return _update_user(
        conn,
        name,
        {"password_hash": hash_password(password)},
        {"password": "changed", "sessions_ended": ended},
        by,
    )


def end_user_sessions(conn: Connection, username: str, *, by: Principal) -> int:
    """An administrator signs a user out everywhere (a lost phone, a shared computer)."""
    user_id, name, _ = user_id_role(conn, username)
    ended = end_sessions(conn, user_id, "ended by admin")
    audit.record(
        conn, by, AuditAction.USER_UPDATE, target=f"user:{name}", detail={"sessions_ended": ended}
    )
    return ended


def set_user_role(
    conn: Connection, username: str, role: str, *, by: Principal
) -> tuple[str, list[str]]:
    """A new role; site assignments go when the new role takes none (returned, audited).

    The user's browser sessions end (they sign in again, into the new role); tokens issued
    for the user with a role above the new one stop working at once
    (``geo_service.auth.tokens``).
    """
    get_role(role)
    before = user_sites(conn, username)
    user_id, _, _ = user_id_role(conn, username)
    dropped = [] if role_takes_sites(role) else before.sites
    if dropped:
        write_sites(conn, "user_sites", "user_id", user_id, [])
    ended = end_sessions(conn, user_id, "role changed") if role != before.role else 0
    name = _update_user(
        conn,
        username,
        {"role": role},
        {"role": role, "previous": before.role, "sites_removed": dropped, "sessions_ended": ended},
        by,
    )
    return name, dropped


# -- the demo administrator -----------------------------------------------------------------------
DEMO_ADMIN = "admin"
_PASSWORD_HASH = text("SELECT password_hash FROM users WHERE lower(username) = lower(:u)")


def ensure_demo_admin(engine: Engine, home: Path) -> tuple[str, str | None]:
    """Development only: an ``admin`` user whose generated password is kept in a file.

    Returns the password while the file still holds the valid one (None once someone
    changed it), so ``./dev serve`` can say how to sign in every time it starts.
    """
    path = home / "admin-password"
    with engine.begin() as conn:
        row = conn.execute(_PASSWORD_HASH, {"u": DEMO_ADMIN}).first()
        if row is None:
            password = new_password()
            create_user(conn, DEMO_ADMIN, "admin", password=password, by=local_operator())
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(password + "\n")
            return DEMO_ADMIN, password
    kept = path.read_text().strip() if path.is_file() else ""
    return DEMO_ADMIN, kept if kept and verify_password(row.password_hash, kept) else None

"""Accounts and credentials: users, API tokens, browser sessions and signing in.

- Passwords are hashed with Argon2id (``argon2-cffi``, the OWASP first choice); a wrong
  user name costs the same time as a wrong password, so names cannot be probed.
- API tokens are 256-bit random secrets; only their SHA-256 is stored (a token is not a
  human password, so a fast hash is enough and lookups stay cheap on every tile request).
  A token has a role, an expiry, and optionally a user (it never does more than that user)
  and sites (it never reaches further than them).
- Browser sessions are a cookie signed with the secret key (``itsdangerous``). It holds
  the user name and a fingerprint of the password hash, so changing a password ends every
  session.
- A credential that worked is remembered by the process for
  ``AuthSettings.credential_cache_seconds`` (10 s; ``PrincipalCache``): a map asks for
  dozens of tiles at once, and an Argon2 check on each would cost more than the tile. A
  revoked token, a deactivated user or a changed role therefore takes effect within
  those seconds (at once in the process that made the change).
- Failed sign-ins are audit rows (``login_failed``), and the rate limit counts them in the
  database: it holds across server processes and restarts, and is one fact in one place.
  While throttled, credentials are not even checked, and nothing more is written.

Site assignments are kept by site code, the stable feature id: re-importing sites (which
renews row ids) keeps them, and they resolve to the current row ids on every request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import Connection, Engine, Row, text

from geo_service import audit
from geo_service.access import (
    ANONYMOUS,
    Permission,
    Principal,
    anonymous,
    get_role,
    local_operator,
)
from geo_service.audit import AuditAction
from geo_service.errors import InvalidAccount, NotAuthenticated, NotFound, TooManyAttempts
from geo_service.settings import AuthSettings

HASHER = PasswordHasher()
TOKEN_PREFIX = "gst_"  # says what a leaked string is, so secret scanners can find it
MIN_PASSWORD_LENGTH = 10
_USERNAME = re.compile(r"[\w.@-]{1,64}")
_RESERVED_NAMES = {ANONYMOUS, "local", "token", "system"}
_DURATION = re.compile(r"([0-9]{1,5})\s*([hdw])")
_SESSION_SALT = "geo-service.session"


# -- passwords ------------------------------------------------------------------------------
def hash_password(password: str) -> str:
    return HASHER.hash(password)


@cache
def _dummy_hash() -> str:
    return HASHER.hash(secrets.token_urlsafe(16))


def verify_password(stored: str | None, password: str) -> bool:
    """Whether the password matches; an absent hash costs a verification all the same."""
    try:
        return HASHER.verify(stored or _dummy_hash(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def new_password() -> str:
    """A password to hand out once (demo admin, users created without one)."""
    return secrets.token_urlsafe(12)


def check_username(username: str) -> str:
    if not _USERNAME.fullmatch(username) or username.lower() in _RESERVED_NAMES:
        raise InvalidAccount(
            f"user name {username!r} is not allowed: use 1-64 letters, digits, '.', '_', '@' "
            f"or '-', and none of {', '.join(sorted(_RESERVED_NAMES))}"
        )
    return username


def check_password(password: str, username: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidAccount(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if password.lower() == username.lower():
        raise InvalidAccount("the password must differ from the user name")


# -- users and site assignments ---------------------------------------------------------------
def parse_site_codes(value: str | None) -> list[str]:
    """``"AZF-2024-01, ROAD-2024-07"`` -> the codes, without blanks or repeats."""
    codes = [c.strip() for c in (value or "").split(",")]
    return list(dict.fromkeys(c for c in codes if c))


def _known_site_codes(conn: Connection, codes: Sequence[str]) -> list[str]:
    found = set(
        conn.execute(text("SELECT code FROM sites WHERE code = ANY(:c)"), {"c": list(codes)})
        .scalars()
        .all()
    )
    missing = [c for c in codes if c not in found]
    if missing:
        raise InvalidAccount(f"no site has the code(s) {', '.join(missing)}")
    return sorted(codes)


def _check_sites_apply(role: str, codes: Sequence[str]) -> None:
    """Sites only scope roles that read personal data of assigned sites; say so, not ignore."""
    if codes and not role_takes_sites(role):
        raise InvalidAccount(
            f"site assignments apply to roles that read households of their own sites "
            f"(liaison), not to {role}"
        )


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
    _check_sites_apply(role, sites)
    if password is not None:
        check_password(password, username)
    taken = conn.execute(
        text("SELECT 1 FROM users WHERE lower(username) = lower(:u)"), {"u": username}
    ).first()
    if taken:
        raise InvalidAccount(f"a user named {username!r} exists already")
    codes = _known_site_codes(conn, sites)
    user_id = conn.execute(
        text("INSERT INTO users (username, password_hash, role) VALUES (:u, :h, :r) RETURNING id"),
        {"u": username, "h": hash_password(password) if password else None, "r": role},
    ).scalar_one()
    _write_sites(conn, "user_sites", "user_id", user_id, codes)
    audit.record(
        conn,
        by,
        AuditAction.USER_CREATE,
        target=f"user:{username}",
        detail={"role": role, "sites": codes},
    )


def _write_sites(
    conn: Connection, table: str, owner: str, owner_id: int, codes: Iterable[str]
) -> None:
    conn.execute(text(f"DELETE FROM {table} WHERE {owner} = :id"), {"id": owner_id})
    rows = [{"id": owner_id, "code": code} for code in codes]
    if rows:
        conn.execute(text(f"INSERT INTO {table} ({owner}, site_code) VALUES (:id, :code)"), rows)


@dataclass(frozen=True)
class UserSites:
    """A user's role and assigned site codes, as the admin API shows them."""

    username: str
    role: str
    sites: list[str]


def _user_id_role(conn: Connection, username: str) -> tuple[int, str, str]:
    row = conn.execute(
        text("SELECT id, username, role FROM users WHERE lower(username) = lower(:u)"),
        {"u": username},
    ).first()
    if row is None:
        raise NotFound(f"no user is named {username!r}")
    return row.id, row.username, row.role


def user_sites(conn: Connection, username: str) -> UserSites:
    user_id, name, role = _user_id_role(conn, username)
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
    _check_sites_apply(before.role, codes)
    known = _known_site_codes(conn, list(dict.fromkeys(codes)))
    user_id, _, _ = _user_id_role(conn, username)
    _write_sites(conn, "user_sites", "user_id", user_id, known)
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
    user_id, name, _ = _user_id_role(conn, username)
    sets = ", ".join(f"{column} = :{column}" for column in changes)
    conn.execute(
        text(f"UPDATE users SET {sets}, updated_at = now() WHERE id = :id"),
        {**changes, "id": user_id},
    )
    audit.record(conn, by, AuditAction.USER_UPDATE, target=f"user:{name}", detail=detail)
    return name


def set_user_active(conn: Connection, username: str, active: bool, *, by: Principal) -> str:
    """Deactivate (or reactivate) a user: their sessions, passwords and tokens stop working."""
    return _update_user(conn, username, {"active": active}, {"active": active}, by)


def set_user_password(conn: Connection, username: str, password: str, *, by: Principal) -> str:
    """A new password (audited, never recorded); it ends the user's browser sessions."""
    _, name, _ = _user_id_role(conn, username)
    check_password(password, name)
    return _update_user(
        conn, name, {"password_hash": hash_password(password)}, {"password": "changed"}, by
    )


def set_user_role(
    conn: Connection, username: str, role: str, *, by: Principal
) -> tuple[str, list[str]]:
    """A new role; site assignments go when the new role takes none (returned, audited).

    Tokens issued for the user with a role above the new one stop working at once
    (``_token_refusal``).
    """
    get_role(role)
    before = user_sites(conn, username)
    dropped = [] if role_takes_sites(role) else before.sites
    if dropped:
        user_id, _, _ = _user_id_role(conn, username)
        _write_sites(conn, "user_sites", "user_id", user_id, [])
    name = _update_user(
        conn,
        username,
        {"role": role},
        {"role": role, "previous": before.role, "sites_removed": dropped},
        by,
    )
    return name, dropped


def role_takes_sites(role: str) -> bool:
    return Permission.READ_PERSONAL_ASSIGNED in get_role(role).permissions


# -- API tokens -----------------------------------------------------------------------------
def token_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_expiry(value: str | None, *, now: dt.datetime, default_days: int) -> dt.datetime:
    """``30d``, ``12h``, ``8w`` from now, or a date/time (``2027-01-01``: local midnight)."""
    if value is None:
        return now + dt.timedelta(days=default_days)
    duration = _DURATION.fullmatch(value.strip().lower())
    if duration:
        count, unit = int(duration[1]), duration[2]
        key = {"h": "hours", "d": "days", "w": "weeks"}[unit]
        expires = now + dt.timedelta(**{key: count})
    else:
        try:
            expires = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidAccount(
                f"expiry {value!r} is neither a duration (30d, 12h, 8w) nor a date (2027-01-01)"
            ) from None
        if expires.tzinfo is None:
            expires = expires.astimezone()  # the machine's local time, as people mean it
    if expires <= now:
        raise InvalidAccount(f"expiry {value!r} is not in the future")
    return expires


@dataclass(frozen=True)
class IssuedToken:
    """A token as created: ``secret`` is shown once and stored only as its hash."""

    secret: str
    prefix: str
    role: str
    username: str | None
    sites: list[str]
    expires_at: dt.datetime


def create_token(
    conn: Connection,
    role: str | None,
    *,
    username: str | None = None,
    sites: Sequence[str] = (),
    expires_at: dt.datetime,
    label: str | None = None,
    by: Principal,
) -> IssuedToken:
    """Issue a token; one for a user may not exceed that user's role or sites."""
    user_id = None
    if username is not None:
        user_id, username, user_role = _user_id_role(conn, username)
        role = role or user_role
        if not get_role(role).permissions <= get_role(user_role).permissions:
            raise InvalidAccount(
                f"a token for {username} ({user_role}) cannot have the {role} role"
            )
        if sites:
            outside = set(sites) - set(user_sites(conn, username).sites)
            if outside:
                raise InvalidAccount(
                    f"{username} is not assigned the site(s) {', '.join(sorted(outside))}"
                )
    if role is None:
        raise InvalidAccount("a token needs a role (or a user whose role it takes)")
    get_role(role)
    _check_sites_apply(role, sites)
    codes = _known_site_codes(conn, list(dict.fromkeys(sites)))
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    prefix = secret[: len(TOKEN_PREFIX) + 6]
    token_id = conn.execute(
        text("""
        INSERT INTO api_tokens (prefix, token_hash, role, user_id, label, created_by, expires_at)
        VALUES (:prefix, :digest, :role, :user_id, :label, :by, :expires)
        RETURNING id
        """),
        {
            "prefix": prefix,
            "digest": token_digest(secret),
            "role": role,
            "user_id": user_id,
            "label": label,
            "by": by.actor,
            "expires": expires_at,
        },
    ).scalar_one()
    _write_sites(conn, "token_sites", "token_id", token_id, codes)
    audit.record(
        conn,
        by,
        AuditAction.TOKEN_CREATE,
        target=f"token:{prefix}",
        detail={
            "role": role,
            "user": username,
            "sites": codes,
            "expires_at": expires_at.isoformat(),
            "label": label,
        },
    )
    return IssuedToken(secret, prefix, role, username, codes, expires_at)


@dataclass(frozen=True)
class TokenRow:
    """One token as ``geo-service token list`` shows it: never its secret or hash."""

    prefix: str
    role: str
    username: str | None
    sites: list[str]
    label: str | None
    created_by: str | None
    created_at: dt.datetime
    expires_at: dt.datetime
    state: str  # active, expired, revoked


def list_tokens(conn: Connection, *, ended: bool = False) -> list[TokenRow]:
    """Tokens in use (and, with ``ended``, the expired and revoked ones), newest first."""
    rows = conn.execute(
        text("""
        SELECT t.prefix, t.role, u.username,
               ARRAY(SELECT site_code FROM token_sites s WHERE s.token_id = t.id
                     ORDER BY site_code) AS sites,
               t.label, t.created_by, t.created_at, t.expires_at,
               CASE WHEN t.revoked_at IS NOT NULL THEN 'revoked'
                    WHEN t.expires_at <= now() THEN 'expired' ELSE 'active' END AS state
        FROM api_tokens t LEFT JOIN users u ON u.id = t.user_id
        WHERE :ended OR (t.revoked_at IS NULL AND t.expires_at > now())
        ORDER BY t.created_at DESC, t.id DESC
        """),
        {"ended": ended},
    )
    return [TokenRow(**r._mapping) for r in rows]


def revoke_token(conn: Connection, prefix: str, *, by: Principal) -> None:
    revoked = conn.execute(
        text(
            "UPDATE api_tokens SET revoked_at = now() "
            "WHERE prefix = :p AND revoked_at IS NULL RETURNING id"
        ),
        {"p": prefix},
    ).first()
    if revoked is None:
        raise NotFound(f"no active token starts with {prefix!r}")
    audit.record(conn, by, AuditAction.TOKEN_REVOKE, target=f"token:{prefix}")


_TOKEN = text("""
SELECT t.prefix, t.role, t.revoked_at, t.expires_at, t.expires_at <= now() AS expired,
       t.user_id, u.username, u.role AS user_role, u.active AS user_active,
       EXISTS (SELECT 1 FROM token_sites ts WHERE ts.token_id = t.id) AS own_sites,
       ARRAY(SELECT s.id FROM token_sites ts JOIN sites s ON s.code = ts.site_code
             WHERE ts.token_id = t.id) AS token_site_ids,
       ARRAY(SELECT s.id FROM user_sites us JOIN sites s ON s.code = us.site_code
             WHERE us.user_id = t.user_id) AS user_site_ids
FROM api_tokens t LEFT JOIN users u ON u.id = t.user_id
WHERE t.token_hash = :digest
""")


def principal_for_token(
    engine: Engine, secret: str, *, client: str | None, settings: AuthSettings
) -> Principal:
    """The principal a token stands for, or ``NotAuthenticated`` (recorded) saying why."""
    with engine.begin() as conn:
        row = conn.execute(_TOKEN, {"digest": token_digest(secret)}).first()
        reason = _token_refusal(row)
        if reason is None:
            assert row is not None
            if row.user_id is None:
                site_ids = set(row.token_site_ids)
            elif row.own_sites:
                site_ids = set(row.token_site_ids) & set(row.user_site_ids)
            else:
                site_ids = set(row.user_site_ids)
            return Principal(
                role=row.role,
                username=row.username,
                site_ids=frozenset(site_ids),
                via="token",
                client=client,
                token_prefix=row.prefix,
            )
        _throttle(conn, settings, username=None, client=client)
        audit.record(
            conn,
            anonymous(client),
            AuditAction.LOGIN_FAILED,
            target=f"token:{row.prefix}" if row is not None else None,
            detail={"via": "token", "reason": reason},
        )
    raise NotAuthenticated(reason)


def _token_refusal(row: Row[Any] | None) -> str | None:
    """Why a stored token (or none) cannot be used now; None when it can."""
    if row is None:
        return "unknown API token"
    if row.revoked_at is not None:
        return "this API token was revoked"
    if row.expired:
        return f"this API token expired at {row.expires_at.isoformat(timespec='minutes')}"
    if row.user_id is not None:
        if not row.user_active:
            return "the user of this API token is deactivated"
        role, user_role = get_role(row.role), get_role(row.user_role)
        if not role.permissions <= user_role.permissions:
            return "this API token's role exceeds its user's current role"
    return None


# -- signing in -----------------------------------------------------------------------------
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
        _throttle(conn, settings, username=username, client=client)
        row = conn.execute(_USER, {"username": username}).first()
        ok = verify_password(row.password_hash if row else None, password)
        if ok and row is not None and row.active:
            if HASHER.check_needs_rehash(row.password_hash):
                conn.execute(
                    text("UPDATE users SET password_hash = :h WHERE username = :u"),
                    {"h": hash_password(password), "u": row.username},
                )
            principal = _user_principal(row, via=via, client=client)
            if via == "session":
                audit.record(conn, principal, AuditAction.LOGIN, detail={"via": via})
            return principal
        audit.record(
            conn,
            anonymous(client),
            AuditAction.LOGIN_FAILED,
            actor=username[:200],
            detail={"via": via, "reason": "deactivated" if ok else "wrong user name or password"},
        )
    raise NotAuthenticated("wrong user name or password")


_RETRY_AFTER = """
SELECT ceil(extract(epoch FROM at + make_interval(secs => :window) - now()))::int
FROM audit_log
WHERE action = 'login_failed' AND at > now() - make_interval(secs => :window) AND {match}
ORDER BY at DESC
OFFSET :nth LIMIT 1
"""


def _throttle(
    conn: Connection, settings: AuthSettings, *, username: str | None, client: str | None
) -> None:
    """Refuse (429) while the name or the address has too many recent failed sign-ins.

    The wait is until the oldest failure that keeps the count at its limit leaves the window.
    """
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


# -- remembering credentials that worked ---------------------------------------------------------
class PrincipalCache:
    """Principals of credentials that worked, kept for ``seconds`` by a hash of the credential.

    Only successes are kept: a wrong credential is checked, throttled and audited every
    time. ``clear`` is called by every change to accounts made in this process; other
    processes see a change within ``seconds``. Zero seconds turns the cache off.
    """

    MAX_ENTRIES = 10_000

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._entries: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(kind: str, *parts: str) -> str:
        return hashlib.sha256("\0".join((kind, *parts)).encode()).hexdigest()

    def peek(self, key: str, client: str | None) -> Principal | None:
        """The remembered principal (from ``client`` this time), or None: no database."""
        hit = self._entries.get(key) if self.seconds > 0 else None
        if hit is not None and hit[0] > self._clock():
            return replace(hit[1], client=client)
        return None

    def get(
        self, key: str, client: str | None, check: Callable[[], Principal | None]
    ) -> Principal | None:
        """The remembered principal (from ``client`` this time), else ``check()``'s."""
        if self.seconds <= 0:
            return check()
        remembered = self.peek(key, client)
        if remembered is not None:
            return remembered
        now = self._clock()
        principal = check()
        if principal is None:
            return None
        with self._lock:
            if len(self._entries) >= self.MAX_ENTRIES:
                self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
                if len(self._entries) >= self.MAX_ENTRIES:
                    self._entries.clear()
            self._entries[key] = (now + self.seconds, principal)
        return principal

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


# -- the demo administrator -----------------------------------------------------------------------
DEMO_ADMIN = "admin"


def ensure_demo_admin(engine: Engine, home: Path) -> tuple[str, str | None]:
    """Development only: an ``admin`` user whose generated password is kept in a file.

    Returns the password while the file still holds the valid one (None once someone
    changed it), so ``./dev serve`` can say how to sign in every time it starts.
    """
    path = home / "admin-password"
    with engine.begin() as conn:
        row = conn.execute(_USER, {"username": DEMO_ADMIN}).first()
        if row is None:
            password = new_password()
            create_user(conn, DEMO_ADMIN, "admin", password=password, by=local_operator())
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(password + "\n")
            return DEMO_ADMIN, password
    kept = path.read_text().strip() if path.is_file() else ""
    return DEMO_ADMIN, kept if kept and verify_password(row.password_hash, kept) else None

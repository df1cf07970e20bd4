"""API tokens: issuing, listing and revoking them, and the principal a token stands for.

A token is a 256-bit random secret; only its SHA-256 is stored (a token is not a human
password, so a fast hash is enough and lookups stay cheap on every tile request). A token
has a role, an expiry, and optionally a user (it never does more than that user) and sites
(it never reaches further than them).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Row, text

from geo_service import audit
from geo_service.access import Principal, get_role
from geo_service.audit import AuditAction
from geo_service.auth.sites import check_sites_apply, known_site_codes, write_sites
from geo_service.auth.throttle import record_failure, throttle
from geo_service.auth.users import user_id_role, user_sites
from geo_service.errors import InvalidAccount, NotAuthenticated, NotFound
from geo_service.settings import AuthSettings

TOKEN_PREFIX = "gst_"  # says what a leaked string is, so secret scanners can find it
_DURATION = re.compile(r"([0-9]{1,5})\s*([hdw])")


def token_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_expiry(
    value: str | None, *, now: dt.datetime, default_days: int, max_days: int
) -> dt.datetime:
    """``30d``, ``12h``, ``8w`` from now, or a date/time (``2027-01-01``: local midnight).

    No later than ``max_days`` from now (``AuthSettings.max_token_days``, a year): a token
    that outlives the people and tools it was issued for is a credential nobody watches."""
    if value is None:
        return now + dt.timedelta(days=min(default_days, max_days))
    latest = now + dt.timedelta(days=max_days)
    duration = _DURATION.fullmatch(value.strip().lower())
    if duration:
        count, unit = int(duration[1]), duration[2]
        hours = count * {"h": 1, "d": 24, "w": 7 * 24}[unit]
        if hours > max_days * 24:
            raise InvalidAccount(f"expiry {value!r} is more than {max_days} days from now")
        expires = now + dt.timedelta(hours=hours)
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
    if expires > latest:
        raise InvalidAccount(f"expiry {value!r} is more than {max_days} days from now")
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


def _user_bounds(
    conn: Connection, username: str, role: str | None, sites: Sequence[str]
) -> tuple[int, str, str]:
    """The user's id, stored name and the token's role, which cannot exceed the user's."""
    user_id, username, user_role = user_id_role(conn, username)
    role = role or user_role
    if not get_role(role).permissions <= get_role(user_role).permissions:
        raise InvalidAccount(f"a token for {username} ({user_role}) cannot have the {role} role")
    if sites:
        outside = set(sites) - set(user_sites(conn, username).sites)
        if outside:
            raise InvalidAccount(
                f"{username} is not assigned the site(s) {', '.join(sorted(outside))}"
            )
    return user_id, username, role


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
        user_id, username, role = _user_bounds(conn, username, role, sites)
    if role is None:
        raise InvalidAccount("a token needs a role (or a user whose role it takes)")
    get_role(role)
    check_sites_apply(role, sites)
    codes = known_site_codes(conn, list(dict.fromkeys(sites)))
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
    write_sites(conn, "token_sites", "token_id", token_id, codes)
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


# -- the principal a token stands for ----------------------------------------------------------
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
            return _token_principal(row, client)
        throttle(conn, settings, username=None, client=client)
        record_failure(
            conn,
            client,
            {"via": "token", "reason": reason},
            target=f"token:{row.prefix}" if row is not None else None,
        )
    raise NotAuthenticated(reason)


def _token_principal(row: Row[Any], client: str | None) -> Principal:
    """A usable token's principal: its own sites, its user's, or those both have."""
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

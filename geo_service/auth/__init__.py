"""Accounts and credentials: users, API tokens, browser sessions and signing in.

- Passwords are hashed with Argon2id (``argon2-cffi``, the OWASP first choice); a wrong
  user name costs the same time as a wrong password, so names cannot be probed.
- API tokens are 256-bit random secrets; only their SHA-256 is stored (a token is not a
  human password, so a fast hash is enough and lookups stay cheap on every tile request).
  A token has a role, an expiry, and optionally a user (it never does more than that user)
  and sites (it never reaches further than them).
- Browser sessions are rows kept by the server; the cookie carries a session's random id,
  signed with the secret key (``itsdangerous``). Logout, a password or role change,
  deactivation or an administrator ends them, and a copied cookie stops working with it.
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

What belongs here, by concern:

- ``passwords``: hashing, verifying and the rules for a password;
- ``sites``: site assignments of users and tokens, by code;
- ``users``: creating and changing users (role, password, activity, sites), the demo admin;
- ``tokens``: issuing, listing and revoking API tokens, and the principal a token stands for;
- ``throttle``: failed sign-ins as audit rows, and the rate limit that counts them;
- ``signin``: signing in with a password (the form, HTTP Basic);
- ``sessions``: browser sessions, opened, checked and ended (their guard against requests
  forged by other sites is ``geo_service.api.csrf``);
- ``cache``: ``PrincipalCache``.

Who may do what is ``geo_service.access`` (roles, permissions, ``Principal``); this package
says who a request comes from. Callers import from this package, not from its modules.
"""

from geo_service.auth.cache import PrincipalCache
from geo_service.auth.passwords import check_password, hash_password, new_password, verify_password
from geo_service.auth.sessions import (
    end_session,
    end_sessions,
    principal_for_session,
    start_session,
)
from geo_service.auth.signin import principal_for_basic, sign_in
from geo_service.auth.sites import parse_site_codes
from geo_service.auth.tokens import (
    create_token,
    list_tokens,
    parse_expiry,
    principal_for_token,
    revoke_token,
    token_digest,
)
from geo_service.auth.users import (
    check_username,
    create_user,
    end_user_sessions,
    ensure_demo_admin,
    list_users,
    set_user_active,
    set_user_password,
    set_user_role,
    set_user_sites,
    user_sites,
)

__all__ = [
    "PrincipalCache",
    "check_password",
    "check_username",
    "create_token",
    "create_user",
    "end_session",
    "end_sessions",
    "end_user_sessions",
    "ensure_demo_admin",
    "hash_password",
    "list_tokens",
    "list_users",
    "new_password",
    "parse_expiry",
    "parse_site_codes",
    "principal_for_basic",
    "principal_for_session",
    "principal_for_token",
    "revoke_token",
    "set_user_active",
    "set_user_password",
    "set_user_role",
    "set_user_sites",
    "sign_in",
    "start_session",
    "token_digest",
    "user_sites",
    "verify_password",
]

"""Users and API tokens for tests, made through the same functions the CLI uses."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import Engine

from geo_service import auth
from geo_service.access import local_operator

PASSWORD = "correct-horse-battery"


def make_user(
    engine: Engine,
    username: str,
    role: str,
    *,
    password: str | None = PASSWORD,
    sites: Sequence[str] = (),
) -> str:
    """A user with a password (``PASSWORD`` unless given); returns the user name."""
    with engine.begin() as conn:
        auth.create_user(conn, username, role, password=password, sites=sites, by=local_operator())
    return username


def issue_token(
    engine: Engine,
    role: str | None,
    *,
    username: str | None = None,
    sites: Sequence[str] = (),
    expires_in: dt.timedelta = dt.timedelta(days=1),
) -> str:
    """A token's secret; ``expires_in`` may be negative only through ``expire_token``."""
    with engine.begin() as conn:
        issued = auth.create_token(
            conn,
            role,
            username=username,
            sites=sites,
            expires_at=dt.datetime.now(dt.UTC) + expires_in,
            by=local_operator(),
        )
    return issued.secret


def expire_token(engine: Engine, secret: str) -> None:
    """Move a token's expiry into the past (tokens cannot be issued already expired)."""
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE api_tokens SET expires_at = now() - interval '1 minute' "
            "WHERE token_hash = %(h)s",
            {"h": auth.token_digest(secret)},
        )


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}

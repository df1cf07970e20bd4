"""Site assignments of users and tokens, kept by site code.

The code is the stable feature id of a site: re-importing sites (which renews row ids) keeps
the assignments, and they resolve to the current row ids on every request. Only roles that
work on their own sites (``access.SITE_SCOPED``: liaison officers, working-group members)
take sites.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, text

from geo_service.access import SITE_SCOPED, get_role
from geo_service.errors import InvalidAccount


def parse_site_codes(value: str | None) -> list[str]:
    """``"AZF-2024-01, ROAD-2024-07"`` -> the codes, without blanks or repeats."""
    codes = [c.strip() for c in (value or "").split(",")]
    return list(dict.fromkeys(c for c in codes if c))


def role_takes_sites(role: str) -> bool:
    return bool(SITE_SCOPED & get_role(role).permissions)


def check_sites_apply(role: str, codes: Sequence[str]) -> None:
    """Sites only scope roles that read personal data of assigned sites; say so, not ignore."""
    if codes and not role_takes_sites(role):
        raise InvalidAccount(
            f"site assignments apply to roles that read households of their own sites "
            f"(liaison, member), not to {role}"
        )


def known_site_codes(conn: Connection, codes: Sequence[str]) -> list[str]:
    """The codes, sorted, when every one names a site; else which do not."""
    found = set(
        conn.execute(text("SELECT code FROM sites WHERE code = ANY(:c)"), {"c": list(codes)})
        .scalars()
        .all()
    )
    missing = [c for c in codes if c not in found]
    if missing:
        raise InvalidAccount(f"no site has the code(s) {', '.join(missing)}")
    return sorted(codes)


def write_sites(
    conn: Connection, table: str, owner: str, owner_id: int, codes: Iterable[str]
) -> None:
    """Replace the assignments of one user (``user_sites``) or token (``token_sites``)."""
    conn.execute(text(f"DELETE FROM {table} WHERE {owner} = :id"), {"id": owner_id})
    rows = [{"id": owner_id, "code": code} for code in codes]
    if rows:
        conn.execute(text(f"INSERT INTO {table} ({owner}, site_code) VALUES (:id, :code)"), rows)

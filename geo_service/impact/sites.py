"""A site as the impact queries name it: by its code (the stable id) or its numeric id."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Connection, text

from geo_service.errors import NotFound


@dataclass(frozen=True)
class SiteRef:
    id: int
    code: str
    name: str


_ROW_ID = re.compile(r"[0-9]{1,10}")
_MAX_ROW_ID = 2**31 - 1  # sites.id is an integer column


def _row_id(key: str) -> int | None:
    """The numeric id a reference may be; None when it cannot be one (so no SQL error)."""
    if _ROW_ID.fullmatch(key) and int(key) <= _MAX_ROW_ID:
        return int(key)
    return None


def resolve_site(conn: Connection, ref: str | int) -> SiteRef:
    """A site by code or numeric id; codes win (they are the stable ids, and row ids change
    when data is imported again), so links from lists and from people both work."""
    key = str(ref)
    row_id = _row_id(key)
    row = conn.execute(
        text(
            "SELECT id, code, name FROM sites WHERE code = :code OR id = :id "
            "ORDER BY (code = :code) DESC LIMIT 1"
        ),
        {"code": key, "id": row_id},
    ).one_or_none()
    if row is None:
        raise NotFound(f"no site has the id or code {key!r}", site=key)
    return SiteRef(*row)

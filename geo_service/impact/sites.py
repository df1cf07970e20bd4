"""A site as the impact queries name it: by its code (the stable id) or its numeric id."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

from geo_service.errors import NotFound


@dataclass(frozen=True)
class SiteRef:
    id: int
    code: str
    name: str


def resolve_site(conn: Connection, ref: str | int) -> SiteRef:
    """A site by code or numeric id; codes win (they are the stable ids)."""
    key = str(ref)
    row_id = int(key) if key.isdigit() and len(key) < 10 else None
    row = conn.execute(
        text(
            "SELECT id, code, name FROM sites WHERE code = :code OR id = :id "
            "ORDER BY (code = :code) DESC LIMIT 1"
        ),
        {"code": key, "id": row_id},
    ).one_or_none()
    if row is None:
        raise NotFound(f"no site has the id or code {key!r}")
    return SiteRef(*row)

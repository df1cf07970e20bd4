"""Versions of a site's editable impact inputs, for optimistic concurrency.

Two people editing the same site's bands or equipment must not silently overwrite each
other. Reads give the version as an ``ETag``; a write that sends ``If-Match`` with a
version that is no longer current is refused (412, ``EditConflict``) and changes nothing.
The version is a digest PostgreSQL computes from the rows themselves, so there is no
counter to keep in step, and any change (by the API, the CLI or SQL) moves it.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from geo_service.errors import EditConflict, PreconditionRequired

_VERSION = text("""
SELECT md5(
    coalesce((SELECT row_to_json(st)::text FROM site_impact_settings st
              WHERE st.site_id = :site), '')
    || '|' ||
    coalesce((SELECT string_agg(row_to_json(e)::text, ';' ORDER BY row_to_json(e)::text)
              FROM site_equipment e WHERE e.site_id = :site), '')
)
""")

# Held until the writing transaction ends, so a concurrent writer waits, then sees the
# version the first one made.
_LOCK = text("SELECT id FROM sites WHERE id = :site FOR UPDATE")


def site_etag(conn: Connection, site_id: int) -> str:
    """The current version of the site's impact settings and equipment, as an ETag."""
    return f'"{conn.execute(_VERSION, {"site": site_id}).scalar_one()}"'


def require_current(conn: Connection, site_id: int, if_match: str | None) -> None:
    """Lock the site for this transaction and check the client edits the current version.

    ``If-Match`` is required: without it two editors could overwrite each other unseen.
    ``*`` says "whatever is stored", for scripts that mean to overwrite.
    """
    conn.execute(_LOCK, {"site": site_id})
    if if_match is None:
        raise PreconditionRequired(
            "send If-Match with the ETag of GET /api/sites/{ref}/impact-settings (or * to "
            "overwrite whatever is stored), so that two editors cannot overwrite each other"
        )
    wanted = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if "*" in wanted:
        return
    current = site_etag(conn, site_id)
    if current not in wanted:
        raise EditConflict(
            f"the site's impact settings or equipment changed since you read them "
            f"(If-Match {if_match}, now {current}); read them again and reapply your change"
        )

"""Whole map pages, drawn once for every way they leave the service.

Belongs here: a page from its data, as the web service answers it and as ``geo-service map``
writes it to a file, so the two cannot drift apart. Who may see a page is the caller's
business: the API checks its reader, the command line runs as the local operator.
"""

from __future__ import annotations

from sqlalchemy import Connection

from geo_service.monitoring.states import monitor_states
from geo_service.settings import AlarmSettings
from maps import assets, builders, data


def site_page(
    conn: Connection,
    site_id: int,
    lang: str,
    base: builders.Basemap | None,
    alarms: AlarmSettings | None = None,
) -> str:
    """One site's map page (local assets only; ``assets.inline`` makes it one file), its
    monitors in their current states (under ``alarms``' offline rule; the environment's by
    default)."""
    states = monitor_states(conn, alarms or AlarmSettings())
    bundle = data.site_bundle(conn, site_id, states)
    return assets.render_page(builders.site_map(bundle, lang, base))

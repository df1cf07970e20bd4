"""The impact views as the database holds them: one readable SQL file per view in ``sql/``.

The views compute everything from the current rows (sites, households, settings, equipment,
reference data), so results follow every change without a cache to refresh. Holding no data,
they are not a migration's: ``geo_service.database.migrate`` drops them before Alembic runs
(so a migration may alter any table they read) and creates them again afterwards from these
files, in one transaction, so the database always holds the definitions here, the way the
reference tables always hold ``geo_service/reference``. A file's header names the schema
revision it needs (``-- requires revision: 0004``); a database not yet at that revision (a
``migrate(url, "0003")``, a downgrade) goes without the view.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from functools import cache
from importlib import resources

from sqlalchemy import Connection

# In dependency order: each view reads only views before it.
VIEWS = ("site_noise_phases", "site_impact", "household_impacts", "impact_zones")
_REQUIRES = re.compile(r"^-- requires revision: (\w+)", re.MULTILINE)


@dataclass(frozen=True)
class View:
    name: str
    requires: str  # the schema revision its SQL needs
    sql: str  # the file: CREATE VIEW ... with the comments that explain it


@cache
def views() -> tuple[View, ...]:
    """The files of ``sql/``, in dependency order; a file not in ``VIEWS`` is an error, not
    a view silently never created."""
    folder = resources.files("geo_service.impact").joinpath("sql")
    files = {f.name.removesuffix(".sql"): f for f in folder.iterdir() if f.name.endswith(".sql")}
    if set(files) != set(VIEWS):
        raise RuntimeError(f"impact views: sql/ holds {sorted(files)}, VIEWS names {VIEWS}")
    out = []
    for name in VIEWS:
        sql = files[name].read_text("utf-8")
        requires = _REQUIRES.search(sql)
        if requires is None:
            raise RuntimeError(f"sql/{name}.sql: no '-- requires revision: ...' line")
        out.append(View(name, requires.group(1), sql))
    return tuple(out)


def drop_views(conn: Connection) -> None:
    """Drop the views, each before those it reads; those that do not exist are skipped.

    Without CASCADE: an object of someone else's that reads a view stops the migration
    rather than disappearing.
    """
    for view in reversed(views()):
        conn.exec_driver_sql(f"DROP VIEW IF EXISTS {view.name}")


def apply_views(conn: Connection, applied_revisions: Collection[str]) -> None:
    """Make the views those of the files: drop them, then create each whose revision is
    among the database's ``applied_revisions``."""
    drop_views(conn)
    for view in views():
        if view.requires in applied_revisions:
            conn.exec_driver_sql(view.sql)  # verbatim: no bind parameters parsed

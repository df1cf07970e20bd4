"""The service area: the lon/lat box imported data must lie in, and who set it.

An administrator widens or moves it without a restart, for every server process at once:
the box is stored in the database (``import_service_area``, one row) and read at the start
of each import, and ``GEO_SERVICE_IMPORT_SERVICE_AREA`` is only the default while no one
has set it. Reading the environment per import would not do: a running process never sees
a variable set after it started, and each of several workers would need its own restart.
Every change is audited (``set_service_area``), from the API and the CLI alike.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, text

from geo_service import audit
from geo_service.access import Principal
from geo_service.audit import AuditAction
from geo_service.errors import InvalidServiceArea
from geo_service.settings import ImportSettings

SETTING = "GEO_SERVICE_IMPORT_SERVICE_AREA"
# How a person widens it; the row messages of a refused import say so.
HOW_TO_CHANGE = (
    "an administrator widens it with geo-service service-area set W S E N, or PUT "
    "/api/imports/service-area (default from " + SETTING + ")"
)


@dataclass(frozen=True)
class ServiceArea:
    """The box (west, south, east, north in degrees); ``set_by`` None: the default."""

    west: float
    south: float
    east: float
    north: float
    set_by: str | None = None
    set_at: dt.datetime | None = None

    @property
    def box(self) -> tuple[float, float, float, float]:
        return (self.west, self.south, self.east, self.north)

    def describe(self) -> str:
        """``lon 73.0..136.0, lat 3.0..54.0 (the default, GEO_SERVICE_IMPORT_SERVICE_AREA)``."""
        origin = f"set by {self.set_by}" if self.set_by else f"the default, {SETTING}"
        return f"lon {self.west}..{self.east}, lat {self.south}..{self.north} ({origin})"

    def as_dict(self) -> dict:
        return {
            "west": self.west,
            "south": self.south,
            "east": self.east,
            "north": self.north,
            "default": self.set_by is None,
            "set_by": self.set_by,
            "set_at": self.set_at.isoformat() if self.set_at else None,
        }


def checked_box(values: Sequence[float]) -> tuple[float, float, float, float]:
    """Four finite degrees, west < east within -180..180 and south < north within -90..90."""
    if len(values) != 4 or not all(isinstance(v, int | float) for v in values):
        raise InvalidServiceArea(
            f"a service area is four numbers: west, south, east, north (got {list(values)!r})"
        )
    west, south, east, north = (float(v) for v in values)
    if not all(math.isfinite(v) for v in (west, south, east, north)):
        raise InvalidServiceArea("the service area's sides must be finite numbers")
    if not -180 <= west < east <= 180:
        raise InvalidServiceArea(
            f"west {west} and east {east} must lie within -180..180 with west < east "
            "(an area across the antimeridian is not supported)"
        )
    if not -90 <= south < north <= 90:
        raise InvalidServiceArea(
            f"south {south} and north {north} must lie within -90..90 with south < north"
        )
    return west, south, east, north


def current_area(conn: Connection, settings: ImportSettings) -> ServiceArea:
    """The stored area, or the setting's while none is stored."""
    row = conn.execute(
        text("SELECT west, south, east, north, updated_by, updated_at FROM import_service_area")
    ).one_or_none()
    if row is None:
        return ServiceArea(*settings.service_area)
    return ServiceArea(*row)


def set_service_area(
    conn: Connection, values: Sequence[float], *, settings: ImportSettings, by: Principal
) -> ServiceArea:
    """Store a new area (audited with the one it replaces); imports use it from now on."""
    box = checked_box(values)
    before = current_area(conn, settings)
    conn.execute(
        text(
            "INSERT INTO import_service_area (id, west, south, east, north, updated_by) "
            "VALUES (true, :w, :s, :e, :n, :by) ON CONFLICT (id) DO UPDATE SET "
            "west = :w, south = :s, east = :e, north = :n, updated_by = :by, updated_at = now()"
        ),
        {"w": box[0], "s": box[1], "e": box[2], "n": box[3], "by": by.actor},
    )
    return _audited(conn, before, settings, by)


def reset_service_area(conn: Connection, *, settings: ImportSettings, by: Principal) -> ServiceArea:
    """Forget the stored area: imports use ``GEO_SERVICE_IMPORT_SERVICE_AREA`` again."""
    before = current_area(conn, settings)
    conn.execute(text("DELETE FROM import_service_area"))
    return _audited(conn, before, settings, by)


def _audited(
    conn: Connection, before: ServiceArea, settings: ImportSettings, by: Principal
) -> ServiceArea:
    after = current_area(conn, settings)
    audit.record(
        conn,
        by,
        AuditAction.SET_SERVICE_AREA,
        target="import_service_area",
        detail={"from": list(before.box), "to": list(after.box), "default": after.set_by is None},
    )
    return after

"""``/healthz``: is the service up, and which database, PostGIS and schema does it use."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from geo_service.access import Permission
from geo_service.api.deps import EngineDep, Visitor
from geo_service.database import server_versions

router = APIRouter(tags=["health"])


class TileCacheStatus(BaseModel):
    """This process's tile cache: off, or listening for changes, and how full."""

    listening: bool
    tiles: int
    megabytes: float
    limit_megabytes: float
    hits: int
    misses: int


class Health(BaseModel):
    """What an operator checks first when something looks wrong."""

    status: str
    # Where the database is (user, host, port, name): for administrators only, since it
    # tells an attacker where to knock.
    database: str | None
    postgresql: str
    postgis: str
    schema_revision: str
    tile_cache: TileCacheStatus


@router.get(
    "/healthz",
    response_model=Health,
    summary="Service and database status",
    responses={503: {"description": "The database cannot be reached"}},
)
def healthz(request: Request, engine: EngineDep, principal: Visitor) -> Health:
    """Query the database: a 503 (from the OperationalError handler) when it is down."""
    where = engine.url.render_as_string(hide_password=True)
    versions = server_versions(engine)
    cache = request.app.state.tile_cache
    return Health(
        status="ok",
        database=where if principal.has(Permission.MANAGE_ACCESS) else None,
        # "15.18 (Debian 15.18-0+deb12u1)": the number is what operators compare.
        postgresql=versions["postgresql"].split()[0],
        postgis=versions["postgis"],
        schema_revision=versions["schema_revision"],
        tile_cache=TileCacheStatus(
            listening=cache.active,
            tiles=cache.tiles,
            megabytes=round(cache.size_bytes / 2**20, 1),
            limit_megabytes=round(cache.max_bytes / 2**20, 1),
            hits=cache.hits,
            misses=cache.misses,
        ),
    )

"""``/healthz``: is the service up, and which database, PostGIS and schema does it use."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from geo_service.api.deps import EngineDep
from geo_service.database import server_versions

router = APIRouter(tags=["health"])


class Health(BaseModel):
    """What an operator checks first when something looks wrong."""

    status: str
    database: str
    postgresql: str
    postgis: str
    schema_revision: str


@router.get(
    "/healthz",
    response_model=Health,
    summary="Service and database status",
    responses={503: {"description": "The database cannot be reached"}},
)
def healthz(engine: EngineDep) -> Health:
    """Query the database: a 503 (from the OperationalError handler) when it is down."""
    versions = server_versions(engine)
    return Health(
        status="ok",
        database=engine.url.render_as_string(hide_password=True),
        # "15.18 (Debian 15.18-0+deb12u1)": the number is what operators compare.
        postgresql=versions["postgresql"].split()[0],
        postgis=versions["postgis"],
        schema_revision=versions["schema_revision"],
    )

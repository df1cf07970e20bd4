"""What every command shares: settings read once (``CliSettings``), domain errors as one
line and exit 2 (``Group``), the database URL with the embedded cluster started, the engine,
and the ``main`` group the other modules add their commands to."""

from __future__ import annotations

import sys
from typing import TypeVar

import click
from pydantic_settings import BaseSettings
from sqlalchemy import Engine

from geo_service.database import (
    database_url,
    embedded_cluster,
    make_engine,
    owner_url,
)
from geo_service.errors import GeoServiceError
from geo_service.settings import DatabaseSettings

_S = TypeVar("_S", bound=BaseSettings)


def fail(exc: GeoServiceError) -> None:
    click.echo(f"error: {exc.message}", err=True)
    sys.exit(2)


class Group(click.Group):
    """Report domain errors as one clear line and exit 2, never as a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except GeoServiceError as exc:
            fail(exc)
            return None


def prepared_url(settings: DatabaseSettings, *, owner: bool = False) -> str:
    """The service's database URL (or the tables' owner's, for the migrations), starting
    the embedded cluster first when that is the one in use.

    The commands that migrate (``owner``) also bring an older cluster's passwords and roles
    up to date (``EmbeddedCluster.up``); the data commands only start it when it is down.
    """
    if not settings.database_url:
        cluster = embedded_cluster(settings)
        if owner or not cluster.is_running():
            cluster.up()
        cluster.create_database(settings.embedded_database)
    return owner_url(settings) if owner else database_url(settings)


class CliSettings:
    """The settings of one command, read from the environment once, by the ``main`` group.

    Commands receive this object (``ctx.obj``) instead of reading the environment
    themselves, as ``create_app`` receives its settings; tests may give theirs. Each kind is
    read when a command first asks for it, so a command never fails on a setting it does not
    use.
    """

    def __init__(self, *given: BaseSettings) -> None:
        self._read: dict[type[BaseSettings], BaseSettings] = {type(s): s for s in given}

    def get(self, kind: type[_S]) -> _S:
        if kind not in self._read:
            self._read[kind] = kind()
        return self._read[kind]  # type: ignore[return-value]  # keyed by its own type


def engine_for(cli: CliSettings) -> Engine:
    """An engine on the configured database (the embedded one started if need be)."""
    return make_engine(prepared_url(cli.get(DatabaseSettings)))


@click.group(cls=Group)
@click.version_option(package_name="geo-service")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Site-impact service: parcels, sites and the households they affect."""
    ctx.ensure_object(CliSettings)

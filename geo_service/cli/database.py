"""``geo-service db ...``: bring the database up (the embedded cluster, migrations, grants),
write a migration, show its state, stop the cluster."""

from __future__ import annotations

import sys

import click

from geo_service.cli.edge import CliSettings, Group, main, prepared_url
from geo_service.database import (
    database_url,
    embedded_cluster,
    make_engine,
    migrate,
)
from geo_service.settings import DatabaseSettings


@main.group(cls=Group)
def db() -> None:
    """The database: the embedded local PostGIS, or the one GEO_SERVICE_DATABASE_URL names."""


@db.command("up")
@click.pass_obj
def db_up(cli: CliSettings) -> None:
    """Create and start the embedded cluster if needed, then run the migrations."""
    settings = cli.get(DatabaseSettings)
    if settings.database_url:
        click.echo("GEO_SERVICE_DATABASE_URL is set: migrating that database only")
    url = prepared_url(settings, owner=True)
    migrate(url)
    click.echo(f"database ready: {_safe(url)}")


@db.command("revision")
@click.option("-m", "--message", required=True, help="What it does, e.g. 'noise barriers'.")
@click.pass_obj
def db_revision(cli: CliSettings, message: str) -> None:
    """Write a migration for what the declarations in layers/ add (alembic --autogenerate)."""
    from alembic import command

    from geo_service.database import alembic_config

    url = prepared_url(cli.get(DatabaseSettings), owner=True)
    script = command.revision(alembic_config(url), message=message, autogenerate=True)
    click.echo(f"wrote {getattr(script, 'path', script)}; review it, then: geo-service db up")


@db.command("status")
@click.pass_obj
def db_status(cli: CliSettings) -> None:
    """Say whether the database runs, where, and which versions it has."""
    from geo_service.database import server_versions

    settings = cli.get(DatabaseSettings)
    if not settings.database_url:
        status = embedded_cluster(settings).status(settings.embedded_database)
        click.echo(f"embedded cluster: {status.data_dir}")
        click.echo(f"initialised: {'yes' if status.initialised else 'no'}")
        click.echo(f"running: {'yes' if status.running else 'no'}")
        if status.port:
            click.echo(f"port: {status.port}")
        if not status.running:
            sys.exit(1)
    url = database_url(settings)
    try:
        versions = server_versions(make_engine(url, pool_size=1))
    except Exception as exc:  # any failure to connect is the answer here
        click.echo(f"database unreachable at {_safe(url)}: {exc}".splitlines()[0], err=True)
        sys.exit(1)
    click.echo(f"url: {_safe(url)}")
    for name, value in versions.items():
        click.echo(f"{name}: {value}")


@db.command("down")
@click.pass_obj
def db_down(cli: CliSettings) -> None:
    """Stop the embedded cluster (its data stays)."""
    settings = cli.get(DatabaseSettings)
    if settings.database_url:
        click.echo("GEO_SERVICE_DATABASE_URL is set: nothing embedded to stop")
        return
    stopped = embedded_cluster(settings).down()
    click.echo("stopped" if stopped else "not running")


def _safe(url: str) -> str:
    """The URL without its password, for printing."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)

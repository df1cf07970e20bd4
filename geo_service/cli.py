"""The ``geo-service`` command line: database, demo data, imports, exports and the server."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from geo_service.database import database_url, embedded_cluster, make_engine, migrate
from geo_service.errors import GeoServiceError
from geo_service.settings import DatabaseSettings, ImportSettings, ServerSettings


def _fail(exc: GeoServiceError) -> None:
    click.echo(f"error: {exc.message}", err=True)
    sys.exit(2)


class _Group(click.Group):
    """Report domain errors as one clear line and exit 2, never as a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except GeoServiceError as exc:
            _fail(exc)
            return None


def _prepared_url(settings: DatabaseSettings) -> str:
    """The database URL, starting the embedded cluster first when that is the one in use."""
    if not settings.database_url:
        cluster = embedded_cluster(settings)
        if not cluster.is_running():
            cluster.up()
        cluster.create_database(settings.embedded_database)
    return database_url(settings)


@click.group(cls=_Group)
@click.version_option(package_name="geo-service")
def main() -> None:
    """Site-impact service: parcels, sites and the households they affect."""


# -- database -------------------------------------------------------------------------------
@main.group(cls=_Group)
def db() -> None:
    """The database: the embedded local PostGIS, or the one GEO_SERVICE_DATABASE_URL names."""


@db.command("up")
def db_up() -> None:
    """Create and start the embedded cluster if needed, then run the migrations."""
    settings = DatabaseSettings()
    if settings.database_url:
        click.echo("GEO_SERVICE_DATABASE_URL is set: migrating that database only")
    url = _prepared_url(settings)
    migrate(url)
    click.echo(f"database ready: {_safe(url)}")


@db.command("status")
def db_status() -> None:
    """Say whether the database runs, where, and which versions it has."""
    from geo_service.database import server_versions

    settings = DatabaseSettings()
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
def db_down() -> None:
    """Stop the embedded cluster (its data stays)."""
    settings = DatabaseSettings()
    if settings.database_url:
        click.echo("GEO_SERVICE_DATABASE_URL is set: nothing embedded to stop")
        return
    stopped = embedded_cluster(settings).down()
    click.echo("stopped" if stopped else "not running")


def _safe(url: str) -> str:
    """The URL without its password, for printing."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


# -- data -----------------------------------------------------------------------------------
@main.command("demo")
@click.option("--if-empty", is_flag=True, help="Load only into an empty database.")
@click.option("--serve/--no-serve", default=False, help="Start the server after loading.")
def demo(if_empty: bool, serve: bool) -> None:
    """Load the demo district (a Hangzhou renewal area), replacing what is stored."""
    from geo_service.demo import load_demo

    url = _prepared_url(DatabaseSettings())
    migrate(url)
    load_demo(make_engine(url), progress=True, if_empty=if_empty)
    if serve:
        _serve(ServerSettings())


@main.command("import")
@click.argument("layer")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--mode",
    type=click.Choice(["append", "replace", "upsert"]),
    default="append",
    show_default=True,
    help="Add rows, replace the layer, or update by natural key.",
)
@click.option("--crs", default=None, help="CRS of a file that has none, e.g. EPSG:4549.")
@click.option(
    "--on-invalid",
    type=click.Choice(["repair", "reject"]),
    default="repair",
    show_default=True,
    help="Repair invalid geometries (and report them) or refuse.",
)
def import_(layer: str, path: Path, mode: str, crs: str | None, on_invalid: str) -> None:
    """Import PATH (GeoJSON, GeoPackage, zipped Shapefile, CSV) into LAYER, all or nothing."""
    from geo_service.ingest import TqdmProgress, import_file

    url = _prepared_url(DatabaseSettings())
    report = import_file(
        make_engine(url),
        layer,
        path,
        mode=mode,
        crs=crs,
        on_invalid=on_invalid,
        settings=ImportSettings(),
        progress=TqdmProgress(),
    )
    click.echo(report.summary())


@main.command("export")
@click.argument("layer")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Output file; .geojson, .gpkg or .csv decides the format.",
)
def export(layer: str, output: Path) -> None:
    """Write LAYER to a file (public fields only)."""
    from geo_service.export import export_layer

    url = _prepared_url(DatabaseSettings())
    count = export_layer(make_engine(url), layer, output)
    click.echo(f"wrote {count} {layer} to {output}")


# -- server ---------------------------------------------------------------------------------
@main.command("serve")
@click.option("--host", default=None, help="Interface to listen on (default from settings).")
@click.option("--port", default=None, type=int, help="Port (default from settings).")
def serve(host: str | None, port: int | None) -> None:
    """Start the web service (maps, API, OGC API)."""
    settings = ServerSettings()
    if host:
        settings.host = host
    if port:
        settings.port = port
    url = _prepared_url(DatabaseSettings())
    migrate(url)
    _serve(settings)


def _serve(settings: ServerSettings) -> None:
    import uvicorn

    click.echo(f"serving on http://{settings.host}:{settings.port}/")
    uvicorn.run(
        "geo_service.main:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        log_level="info",
    )


if __name__ == "__main__":
    main()

"""``geo-service serve`` and ``geo-service map``: the web service, and one site's map as a
stand-alone file."""

from __future__ import annotations

from pathlib import Path

import click

from geo_service.basemap import open_package
from geo_service.cli.edge import CliSettings, engine_for, main, prepared_url
from geo_service.database import migrate
from geo_service.settings import (
    AuthSettings,
    DatabaseSettings,
    MapSettings,
    ServerSettings,
    require_safe_secret,
)


@main.command("map")
@click.argument("site")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The HTML file to write: one file, every script, style and font inside.",
)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option(
    "--basemap",
    default="none",
    show_default=True,
    help="none, osm, tianditu, amap (the local one is served by the service: not in a file)",
)
@click.pass_obj
def map_(cli: CliSettings, site: str, output: Path, lang: str, basemap: str) -> None:
    """Write SITE's map as one self-contained HTML file (to share or print offline)."""
    from geo_service import impact
    from maps import assets, builders, pages

    if basemap == "local":
        raise click.BadParameter(
            "the local basemap is served by the running service, so a stand-alone file "
            "cannot load it; use none, or a remote basemap",
            param_hint="--basemap",
        )
    try:
        base = builders.basemap(basemap, cli.get(MapSettings))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--basemap") from None
    with engine_for(cli).connect() as conn:
        ref = impact.resolve_site(conn, site)
        page = pages.site_page(conn, ref.id, lang, base)
    html = assets.inline(page)
    output.write_text(html, encoding="utf-8")
    click.echo(f"wrote the map of {ref.code} to {output} ({len(html) // 1024} KiB)")


@main.command("serve")
@click.option("--host", default=None, help="Interface to listen on (default from settings).")
@click.option("--port", default=None, type=int, help="Port (default from settings).")
@click.pass_obj
def serve(cli: CliSettings, host: str | None, port: int | None) -> None:
    """Start the web service (maps, API, OGC API)."""
    from maps import builders

    given = {"host": host, "port": port}
    settings = cli.get(ServerSettings).model_copy(update={k: v for k, v in given.items() if v})
    # Refuse a default session key before anything starts (one line, exit 2).
    require_safe_secret(settings.environment, cli.get(AuthSettings).secret_key.get_secret_value())
    # And a basemap it cannot serve or draw (InvalidBasemap: one line naming the problem).
    maps = cli.get(MapSettings)
    package = open_package(maps.basemap_file) if maps.basemap_file else None
    if package is not None:
        package.close()
        info = package.info
        click.echo(
            f"basemap {info.name} ({info.format}, zoom {info.min_zoom}-{info.max_zoom}) "
            f"from {maps.basemap_file}"
        )
    builders.check_default(maps, package.info if package else None)
    migrate(prepared_url(cli.get(DatabaseSettings), owner=True))
    start_server(settings)


def start_server(settings: ServerSettings) -> None:
    from geo_service.server import run

    click.echo(
        f"serving on http://{settings.host}:{settings.port}/ with {settings.workers} "
        f"worker(s); X-Forwarded-For believed from {settings.forwarded_allow_ips or 'nobody'}"
    )
    run(settings)

"""The data commands: the demo district and generated data sets, imports (and the service
area they check), exports, and the household lists of a site's impact."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import click
from sqlalchemy import Engine

from geo_service.access import local_operator
from geo_service.cli.edge import CliSettings, Group, engine_for, main, prepared_url
from geo_service.cli.server import start_server
from geo_service.database import make_engine, migrate
from geo_service.formats import HOUSEHOLD_LIST, LAYER_EXPORT, HouseholdListFormat
from geo_service.settings import DatabaseSettings, ImportSettings, ServerSettings


@main.group("demo", cls=Group, invoke_without_command=True)
@click.option("--if-empty", is_flag=True, help="Load only into an empty database.")
@click.option("--serve/--no-serve", default=False, help="Start the server after loading.")
@click.pass_context
def demo(ctx: click.Context, if_empty: bool, serve: bool) -> None:
    """Load the demo district (a Hangzhou renewal area), replacing what is stored.

    The subcommands write the demo's files instead and leave the database alone.
    """
    if ctx.invoked_subcommand is not None:
        if if_empty or serve:
            command = ctx.invoked_subcommand
            raise click.UsageError(
                f"--if-empty and --serve are for loading the demo, not for demo {command}"
            )
        return
    from geo_service.demo import load_demo

    cli: CliSettings = ctx.obj
    url = prepared_url(cli.get(DatabaseSettings), owner=True)
    migrate(url)
    engine = make_engine(url)
    load_demo(engine, progress=True, if_empty=if_empty)
    announce_demo_admin(engine, cli)
    if serve:
        start_server(cli.get(ServerSettings))


def _list_written(write: Callable[[], dict[str, Path]]) -> None:
    """Run a writer of layer files, then name each file with its size and the time taken."""
    started = time.perf_counter()
    for layer, path in write().items():
        click.echo(f"{layer:12s} {path}  {path.stat().st_size / 1e6:.1f} MB")
    click.echo(f"done in {time.perf_counter() - started:.1f} s")


_OUTDIR = click.argument("outdir", type=click.Path(path_type=Path))


@demo.command("city")
@_OUTDIR
@click.option("--households", type=int, default=1_000_000, show_default=True)
@click.option("--sites", type=int, default=120, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
def demo_city(outdir: Path, households: int, sites: int, seed: int) -> None:
    """Write the city-scale benchmark data set (greater Hangzhou) as city_<layer>.gpkg."""
    from geo_service.demo import write_city

    _list_written(lambda: write_city(outdir, households, seed, sites))


@demo.command("files")
@_OUTDIR
def demo_files(outdir: Path) -> None:
    """Write the demo district into OUTDIR, one GeoPackage per layer."""
    from geo_service.demo import write_demo_files

    _list_written(lambda: write_demo_files(outdir))


@demo.command("samples")
@_OUTDIR
def demo_samples(outdir: Path) -> None:
    """Write the small sample import files of data/samples into OUTDIR."""
    from geo_service.demo import write_samples

    _list_written(lambda: write_samples(outdir))


@demo.command("osm")
@click.argument("extract", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("output", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--unit", default="OSM01", show_default=True, help="Planning unit of the parcel codes."
)
def demo_osm(extract: Path, output: Path, unit: str) -> None:
    """Turn an OpenStreetMap EXTRACT (landuse, buildings) into OUTPUT, a GeoPackage with the
    layers parcels, buildings and households (see data/samples/osm/README.md)."""
    from geo_service.demo.osm import write_osm_import

    written = write_osm_import(extract, output, unit)
    rows = ", ".join(f"{n} {layer}" for layer, n in written.rows.items())
    click.echo(f"wrote {output}: {rows}")
    if written.unmapped:
        left = ", ".join(f"{v} ({n})" for v, n in sorted(written.unmapped.items()))
        click.echo(f"landuse values with no GB 50137 class, left out: {left}")


def announce_demo_admin(engine: Engine, settings: CliSettings | None = None) -> None:
    """Development only: make sure a demo admin exists and say how to sign in.

    Settings from the environment unless given, as ``create_app`` takes them.
    """
    from geo_service.auth import ensure_demo_admin

    settings = settings or CliSettings()
    if settings.get(ServerSettings).environment != "development":
        return
    home = settings.get(DatabaseSettings).home
    user, password = ensure_demo_admin(engine, home)
    kept = home / "admin-password"
    if password:
        click.echo(f"sign in at /login as {user}, password {password} (kept in {kept})")
    else:
        click.echo(f"the {user} user exists; its password is no longer the one in {kept}")


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
    type=click.Choice(["repair", "reject", "skip"]),
    default="repair",
    show_default=True,
    help="Repair invalid geometries (and report them) or refuse the file; skip: also import "
    "the rows without problems and write a report of every row left out.",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where --on-invalid skip writes the skipped rows (CSV); default PATH's name, then "
    ".LAYER.skipped.csv, in the current folder.",
)
@click.option(
    "--layer",
    "file_layer",
    default=None,
    help="The layer of PATH to read, when it holds several (a GeoPackage).",
)
@click.option(
    "--merge-parts",
    is_flag=True,
    help="Rows that share a natural key (the parts of one building's address) become one "
    "feature: their polygons unioned into one multipolygon.",
)
@click.option(
    "--site",
    default=None,
    help="visits and requests: the site (its code) the sheet (XLSX or CSV) is for.",
)
@click.option(
    "--lang",
    type=click.Choice(["zh", "en"]),
    default="zh",
    show_default=True,
    help="visits and requests: the language of the row problems.",
)
@click.pass_obj
def import_(
    cli: CliSettings,
    layer: str,
    path: Path,
    mode: str,
    crs: str | None,
    on_invalid: str,
    file_layer: str | None,
    merge_parts: bool,
    report_path: Path | None,
    site: str | None,
    lang: str,
) -> None:
    """Import PATH (GeoJSON, GeoPackage, zipped Shapefile, CSV) into LAYER, all or nothing
    (or, with --on-invalid skip, the rows without problems). LAYER visits or requests: a
    team's sheet (XLSX, CSV) for one --site, recorded as the API records them."""
    from geo_service.liaison import imports as workflow

    if layer in workflow.KINDS:
        if site is None:
            raise click.UsageError(f"importing {layer} needs --site CODE: the site they are for")
        done = workflow.import_file(
            engine_for(cli),
            local_operator(),
            layer,
            site,
            path,
            lang=lang,  # type: ignore[arg-type]
        )
        click.echo(done.summary())
        return
    from geo_service.ingest import TqdmProgress, import_file

    report = import_file(
        engine_for(cli),
        layer,
        path,
        mode=mode,
        crs=crs,
        on_invalid=on_invalid,
        settings=cli.get(ImportSettings),
        progress=TqdmProgress(),
        file_layer=file_layer,
        merge_parts=merge_parts,
    )
    click.echo(report.summary())
    if report.skipped:
        written = report_path or Path(f"{path.name}.{layer}.skipped.csv")
        written.write_text(report.skipped_csv(), encoding="utf-8-sig")
        click.echo(f"every skipped row, with its problems: {written}")


@main.group("service-area", cls=Group, invoke_without_command=True)
@click.pass_context
def service_area(ctx: click.Context) -> None:
    """Where imported data may lie: show it, or (subcommands) move it or reset it.

    Stored in the database, so running servers use a change from their next import.
    """
    if ctx.invoked_subcommand is None:
        from geo_service.ingest import area

        cli: CliSettings = ctx.obj
        with engine_for(cli).connect() as conn:
            click.echo(area.current_area(conn, cli.get(ImportSettings)).describe())


@service_area.command(
    "set", context_settings={"ignore_unknown_options": True}
)  # west may be negative: "-70.5" is a number here, not an option
@click.argument("west", type=float)
@click.argument("south", type=float)
@click.argument("east", type=float)
@click.argument("north", type=float)
@click.pass_obj
def service_area_set(
    cli: CliSettings, west: float, south: float, east: float, north: float
) -> None:
    """Make WEST SOUTH EAST NORTH (degrees, lon/lat) the service area (audited)."""
    from geo_service.ingest import area

    with engine_for(cli).begin() as conn:
        now = area.set_service_area(
            conn, (west, south, east, north), settings=cli.get(ImportSettings), by=local_operator()
        )
    click.echo(f"service area: {now.describe()}")


@service_area.command("reset")
@click.pass_obj
def service_area_reset(cli: CliSettings) -> None:
    """Forget the stored area; imports use GEO_SERVICE_IMPORT_SERVICE_AREA again (audited)."""
    from geo_service.ingest import area

    with engine_for(cli).begin() as conn:
        now = area.reset_service_area(conn, settings=cli.get(ImportSettings), by=local_operator())
    click.echo(f"service area: {now.describe()}")


@main.command("export")
@click.argument("layer")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"Output file; {LAYER_EXPORT.spoken_extensions()} decides the format.",
)
@click.pass_obj
def export(cli: CliSettings, layer: str, output: Path) -> None:
    """Write LAYER to a file (public fields only)."""
    from geo_service.export import export_layer

    count = export_layer(engine_for(cli), layer, output)
    click.echo(f"wrote {count} {layer} to {output}")


@main.command("impact")
@click.argument("site", required=False)
@click.option("--all", "all_sites", is_flag=True, help="Every site, one file each, into -o DIR.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(HOUSEHOLD_LIST.names),
    default="csv",
    show_default=True,
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path),
    help="Output file (a folder with --all).",
)
@click.option(
    "--sort",
    type=click.Choice(["distance", "address"]),
    default="distance",
    show_default=True,
    help="Nearest first, or by community, building, unit.",
)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option(
    "--include-personal",
    is_flag=True,
    help="Add contact and vulnerability fields (audited as an export).",
)
@click.pass_obj
def impact_(
    cli: CliSettings,
    site: str | None,
    all_sites: bool,
    fmt: HouseholdListFormat,
    output: Path,
    sort: str,
    lang: str,
    include_personal: bool,
) -> None:
    """Write the households SITE affects (or every site's, with --all) to a file."""
    from sqlalchemy import text
    from tqdm import tqdm

    from geo_service import impact
    from geo_service.impact_export import export_file

    if bool(site) == all_sites:
        raise click.UsageError("give one SITE, or --all")
    engine = engine_for(cli)
    personal = impact.personal_columns() if include_personal else ()
    operator = local_operator()
    with engine.begin() as conn:
        sites = (
            [impact.resolve_site(conn, site)]
            if site
            else [
                impact.resolve_site(conn, code)
                for code in conn.execute(text("SELECT code FROM sites ORDER BY code")).scalars()
            ]
        )
        if all_sites:
            output.mkdir(parents=True, exist_ok=True)
        written = 0
        for ref in tqdm(sites, desc="sites", unit=" site", disable=len(sites) == 1):
            body, name = export_file(
                conn, ref, operator, personal=personal, fmt=fmt, sort=sort, lang=lang
            )
            (output / name if all_sites else output).write_bytes(body)
            written += 1
    click.echo(f"wrote the household lists of {written} site(s) to {output}")

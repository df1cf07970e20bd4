"""The ``geo-service`` command line: database, demo data, imports, exports and the server.

One module of about 650 lines on purpose: each command is a few lines of arguments around one
call into the service, and all of them share the edge defined first (settings read once,
domain errors as one line and exit 2, the engine). The sections (database, data, access,
server) are where it would split if the commands grew logic of their own.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click
from pydantic_settings import BaseSettings
from sqlalchemy import Engine

from geo_service.access import ROLES, local_operator
from geo_service.database import (
    database_url,
    embedded_cluster,
    make_engine,
    migrate,
    owner_url,
)
from geo_service.errors import GeoServiceError
from geo_service.formats import HOUSEHOLD_LIST, LAYER_EXPORT, HouseholdListFormat
from geo_service.settings import (
    AuthSettings,
    DatabaseSettings,
    ImportSettings,
    MapSettings,
    ServerSettings,
    require_safe_secret,
)

_S = TypeVar("_S", bound=BaseSettings)


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


def _prepared_url(settings: DatabaseSettings, *, owner: bool = False) -> str:
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


def _engine(cli: CliSettings) -> Engine:
    """An engine on the configured database (the embedded one started if need be)."""
    return make_engine(_prepared_url(cli.get(DatabaseSettings)))


@click.group(cls=_Group)
@click.version_option(package_name="geo-service")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Site-impact service: parcels, sites and the households they affect."""
    ctx.ensure_object(CliSettings)


# -- database -------------------------------------------------------------------------------
@main.group(cls=_Group)
def db() -> None:
    """The database: the embedded local PostGIS, or the one GEO_SERVICE_DATABASE_URL names."""


@db.command("up")
@click.pass_obj
def db_up(cli: CliSettings) -> None:
    """Create and start the embedded cluster if needed, then run the migrations."""
    settings = cli.get(DatabaseSettings)
    if settings.database_url:
        click.echo("GEO_SERVICE_DATABASE_URL is set: migrating that database only")
    url = _prepared_url(settings, owner=True)
    migrate(url)
    click.echo(f"database ready: {_safe(url)}")


@db.command("revision")
@click.option("-m", "--message", required=True, help="What it does, e.g. 'noise barriers'.")
@click.pass_obj
def db_revision(cli: CliSettings, message: str) -> None:
    """Write a migration for what the declarations in layers/ add (alembic --autogenerate)."""
    from alembic import command

    from geo_service.database import alembic_config

    url = _prepared_url(cli.get(DatabaseSettings), owner=True)
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


# -- data -----------------------------------------------------------------------------------
@main.group("demo", cls=_Group, invoke_without_command=True)
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
    url = _prepared_url(cli.get(DatabaseSettings), owner=True)
    migrate(url)
    engine = make_engine(url)
    load_demo(engine, progress=True, if_empty=if_empty)
    _announce_demo_admin(engine, cli)
    if serve:
        _serve(cli.get(ServerSettings))


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


def _announce_demo_admin(engine: Engine, settings: CliSettings | None = None) -> None:
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
) -> None:
    """Import PATH (GeoJSON, GeoPackage, zipped Shapefile, CSV) into LAYER, all or nothing
    (or, with --on-invalid skip, the rows without problems)."""
    from geo_service.ingest import TqdmProgress, import_file

    report = import_file(
        _engine(cli),
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


@main.group("service-area", cls=_Group, invoke_without_command=True)
@click.pass_context
def service_area(ctx: click.Context) -> None:
    """Where imported data may lie: show it, or (subcommands) move it or reset it.

    Stored in the database, so running servers use a change from their next import.
    """
    if ctx.invoked_subcommand is None:
        from geo_service.ingest import area

        cli: CliSettings = ctx.obj
        with _engine(cli).connect() as conn:
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

    with _engine(cli).begin() as conn:
        now = area.set_service_area(
            conn, (west, south, east, north), settings=cli.get(ImportSettings), by=local_operator()
        )
    click.echo(f"service area: {now.describe()}")


@service_area.command("reset")
@click.pass_obj
def service_area_reset(cli: CliSettings) -> None:
    """Forget the stored area; imports use GEO_SERVICE_IMPORT_SERVICE_AREA again (audited)."""
    from geo_service.ingest import area

    with _engine(cli).begin() as conn:
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

    count = export_layer(_engine(cli), layer, output)
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
    engine = _engine(cli)
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


# -- access ---------------------------------------------------------------------------------
@main.group(cls=_Group)
def user() -> None:
    """Users who sign in (browser, or Basic auth) and the sites liaison officers look after."""


_PASSWORD_STDIN = click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input; otherwise one is generated and shown once.",
)


def _password(from_stdin: bool) -> str:
    """The password typed into standard input, or a generated one (shown after the change)."""
    from geo_service.auth import new_password

    return sys.stdin.readline().rstrip("\r\n") if from_stdin else new_password()


def _show_generated(password: str, from_stdin: bool) -> None:
    """Show a generated password once, after the change succeeded; never a typed one."""
    if not from_stdin:
        click.echo(f"password (shown once): {password}")


@user.command("create")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(list(ROLES)), help="What they may do.")
@click.option("--sites", default=None, help="Site codes, comma-separated (liaison officers).")
@_PASSWORD_STDIN
@click.pass_obj
def user_create(
    cli: CliSettings, username: str, role: str, sites: str | None, password_stdin: bool
) -> None:
    """Create USERNAME with a role (and, for a liaison officer, their sites)."""
    from geo_service.auth import create_user, parse_site_codes

    password = _password(password_stdin)
    codes = parse_site_codes(sites)
    with _engine(cli).begin() as conn:
        create_user(conn, username, role, password=password, sites=codes, by=local_operator())
    scope = f"{role}; sites {', '.join(codes)}" if codes else role
    click.echo(f"created user {username} ({scope})")
    _show_generated(password, password_stdin)


def _table(header: list[str], rows: list[list[str]]) -> None:
    """Columns padded to their widest cell (names may be Chinese: counted as characters)."""
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]
    for row in [header, *rows]:
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


@user.command("list")
@click.pass_obj
def user_list(cli: CliSettings) -> None:
    """Every user: role, whether active, whether they have a password, sites, tokens."""
    from geo_service.auth import list_users

    with _engine(cli).connect() as conn:
        users = list_users(conn)
    _table(
        ["user", "role", "active", "password", "sites", "tokens", "created"],
        [
            [
                u.username,
                u.role,
                "yes" if u.active else "NO",
                "yes" if u.has_password else "-",
                ",".join(u.sites) or "-",
                str(u.active_tokens),
                f"{u.created_at.astimezone():%Y-%m-%d}",
            ]
            for u in users
        ],
    )


def _set_active(cli: CliSettings, username: str, active: bool) -> str:
    """Deactivate or activate a user, audited as the local operator; their stored name."""
    from geo_service.auth import set_user_active

    with _engine(cli).begin() as conn:
        return set_user_active(conn, username, active, by=local_operator())


@user.command("deactivate")
@click.argument("username")
@click.pass_obj
def user_deactivate(cli: CliSettings, username: str) -> None:
    """Stop USERNAME: sign-in, sessions and their tokens are refused (kept for the audit)."""
    name = _set_active(cli, username, False)
    click.echo(f"deactivated {name}; their sessions and tokens no longer work")


@user.command("activate")
@click.argument("username")
@click.pass_obj
def user_activate(cli: CliSettings, username: str) -> None:
    """Let a deactivated USERNAME back in (their unexpired tokens work again)."""
    click.echo(f"activated {_set_active(cli, username, True)}")


@user.command("sign-out")
@click.argument("username")
@click.pass_obj
def user_sign_out(cli: CliSettings, username: str) -> None:
    """End every browser session of USERNAME (a lost phone, a shared computer)."""
    from geo_service.auth import end_user_sessions

    with _engine(cli).begin() as conn:
        ended = end_user_sessions(conn, username, by=local_operator())
    click.echo(f"ended {ended} browser session(s) of {username}")


@user.command("password")
@click.argument("username")
@_PASSWORD_STDIN
@click.pass_obj
def user_password(cli: CliSettings, username: str, password_stdin: bool) -> None:
    """Set a new password for USERNAME (a reset); it signs them out of every browser."""
    from geo_service.auth import set_user_password

    password = _password(password_stdin)
    with _engine(cli).begin() as conn:
        name = set_user_password(conn, username, password, by=local_operator())
    click.echo(f"new password for {name}; their browser sessions have ended")
    _show_generated(password, password_stdin)


@user.command("role")
@click.argument("username")
@click.argument("role", type=click.Choice(list(ROLES)))
@click.pass_obj
def user_role(cli: CliSettings, username: str, role: str) -> None:
    """Give USERNAME another ROLE (a role without sites drops their site assignments)."""
    from geo_service.auth import set_user_role

    with _engine(cli).begin() as conn:
        name, dropped = set_user_role(conn, username, role, by=local_operator())
    click.echo(f"{name} is now {role}")
    if dropped:
        click.echo(f"site assignments removed ({role} takes none): {', '.join(dropped)}")


@main.group(cls=_Group)
def token() -> None:
    """API tokens for GIS tools and scripts: Bearer, X-API-Key, or Basic with it as password."""


@token.command("create")
@click.option(
    "--role", type=click.Choice(list(ROLES)), default=None, help="Its role (default: the user's)."
)
@click.option("--user", "username", default=None, help="Act as this user, never beyond them.")
@click.option("--sites", default=None, help="Site codes, comma-separated (liaison tokens).")
@click.option(
    "--expires",
    default=None,
    help="30d, 12h, 8w or a date (2027-01-01); default GEO_SERVICE_DEFAULT_TOKEN_DAYS (90).",
)
@click.option("--label", default=None, help="What it is for, e.g. 'QGIS, planning office'.")
@click.pass_obj
def token_create(
    cli: CliSettings,
    role: str | None,
    username: str | None,
    sites: str | None,
    expires: str | None,
    label: str | None,
) -> None:
    """Issue a token and print it once (only its hash is kept); details go to stderr."""
    import datetime as dt

    from geo_service.auth import create_token, parse_expiry, parse_site_codes

    settings = cli.get(AuthSettings)
    expires_at = parse_expiry(
        expires,
        now=dt.datetime.now(dt.UTC),
        default_days=settings.default_token_days,
        max_days=settings.max_token_days,
    )
    with _engine(cli).begin() as conn:
        issued = create_token(
            conn,
            role,
            username=username,
            sites=parse_site_codes(sites),
            expires_at=expires_at,
            label=label,
            by=local_operator(),
        )
    scope = f"; user {issued.username}" if issued.username else ""
    scope += f"; sites {', '.join(issued.sites)}" if issued.sites else ""
    click.echo(
        f"token {issued.prefix}… (role {issued.role}{scope}) expires "
        f"{issued.expires_at.astimezone():%Y-%m-%d %H:%M %z}; it is shown once:",
        err=True,
    )
    click.echo(issued.secret)


@token.command("list")
@click.option("--all", "ended", is_flag=True, help="Also the expired and revoked ones.")
@click.pass_obj
def token_list(cli: CliSettings, ended: bool) -> None:
    """Tokens by prefix, role, user, sites, label and expiry (never the secrets)."""
    from geo_service.auth import list_tokens

    with _engine(cli).connect() as conn:
        tokens = list_tokens(conn, ended=ended)
    _table(
        ["prefix", "role", "user", "sites", "label", "expires", "state", "created by"],
        [
            [
                t.prefix,
                t.role,
                t.username or "-",
                ",".join(t.sites) or "-",
                t.label or "-",
                f"{t.expires_at.astimezone():%Y-%m-%d %H:%M}",
                t.state,
                t.created_by or "-",
            ]
            for t in tokens
        ],
    )


@token.command("revoke")
@click.argument("prefix")
@click.pass_obj
def token_revoke(cli: CliSettings, prefix: str) -> None:
    """Stop the token whose first characters (as token create showed them) are PREFIX."""
    from geo_service.auth import revoke_token

    with _engine(cli).begin() as conn:
        revoke_token(conn, prefix, by=local_operator())
    click.echo(f"revoked {prefix}")


# -- server ---------------------------------------------------------------------------------
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
@click.option("--basemap", default="none", show_default=True, help="none, osm, tianditu, amap")
@click.pass_obj
def map_(cli: CliSettings, site: str, output: Path, lang: str, basemap: str) -> None:
    """Write SITE's map as one self-contained HTML file (to share or print offline)."""
    from geo_service import impact
    from maps import assets, builders, pages

    try:
        base = builders.basemap(basemap, cli.get(MapSettings))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--basemap") from None
    with _engine(cli).connect() as conn:
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
    given = {"host": host, "port": port}
    settings = cli.get(ServerSettings).model_copy(update={k: v for k, v in given.items() if v})
    # Refuse a default session key before anything starts (one line, exit 2).
    require_safe_secret(settings.environment, cli.get(AuthSettings).secret_key.get_secret_value())
    migrate(_prepared_url(cli.get(DatabaseSettings), owner=True))
    _serve(settings)


def _serve(settings: ServerSettings) -> None:
    from geo_service.server import run

    click.echo(
        f"serving on http://{settings.host}:{settings.port}/ with {settings.workers} "
        f"worker(s); X-Forwarded-For believed from {settings.forwarded_allow_ips or 'nobody'}"
    )
    run(settings)


if __name__ == "__main__":
    main()

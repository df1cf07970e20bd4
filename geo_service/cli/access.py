"""``geo-service user ...`` and ``token ...``: accounts, passwords, browser sessions and API
tokens, each change audited as the local operator."""

from __future__ import annotations

import sys

import click

from geo_service.access import ROLES, local_operator
from geo_service.cli.edge import CliSettings, Group, engine_for, main
from geo_service.settings import AuthSettings


@main.group(cls=Group)
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
    with engine_for(cli).begin() as conn:
        create_user(conn, username, role, password=password, sites=codes, by=local_operator())
    scope = f"{role}; sites {', '.join(codes)}" if codes else role
    click.echo(f"created user {username} ({scope})")
    _show_generated(password, password_stdin)


def print_table(header: list[str], rows: list[list[str]]) -> None:
    """Columns padded to their widest cell (names may be Chinese: counted as characters)."""
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]
    for row in [header, *rows]:
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


@user.command("list")
@click.pass_obj
def user_list(cli: CliSettings) -> None:
    """Every user: role, whether active, whether they have a password, sites, tokens."""
    from geo_service.auth import list_users

    with engine_for(cli).connect() as conn:
        users = list_users(conn)
    print_table(
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

    with engine_for(cli).begin() as conn:
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

    with engine_for(cli).begin() as conn:
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
    with engine_for(cli).begin() as conn:
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

    with engine_for(cli).begin() as conn:
        name, dropped = set_user_role(conn, username, role, by=local_operator())
    click.echo(f"{name} is now {role}")
    if dropped:
        click.echo(f"site assignments removed ({role} takes none): {', '.join(dropped)}")


@main.group(cls=Group)
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
    with engine_for(cli).begin() as conn:
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

    with engine_for(cli).connect() as conn:
        tokens = list_tokens(conn, ended=ended)
    print_table(
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

    with engine_for(cli).begin() as conn:
        revoke_token(conn, prefix, by=local_operator())
    click.echo(f"revoked {prefix}")

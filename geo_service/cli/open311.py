"""``geo-service open311 key ...``: the API keys of Open311 clients, each change audited as
the local operator."""

from __future__ import annotations

import click

from geo_service.access import local_operator
from geo_service.cli.edge import CliSettings, Group, engine_for, main


@main.group(cls=Group)
def open311() -> None:
    """Open311 GeoReport v2 (/open311/v2/): the keys its clients post requests with."""


@open311.group(cls=Group)
def key() -> None:
    """Keys for Open311 clients, one per client, scoped to sites."""


@key.command("create")
@click.option("--label", required=True, help="The client it is for, e.g. '街道 App'.")
@click.option("--sites", default=None, help="Site codes, comma-separated (default: every site).")
@click.pass_obj
def key_create(cli: CliSettings, label: str, sites: str | None) -> None:
    """Issue a key and print it once (only its hash is kept); details go to stderr."""
    from geo_service.auth import parse_site_codes
    from geo_service.liaison.open311 import create_key

    with engine_for(cli).begin() as conn:
        issued = create_key(conn, label, parse_site_codes(sites), by=local_operator())
    scope = ", ".join(issued.sites) or "every site"
    shown = f"Open311 key {issued.prefix}… ({issued.label}; {scope}); it is shown once:"
    click.echo(shown, err=True)
    click.echo(issued.secret)


@key.command("list")
@click.pass_obj
def key_list(cli: CliSettings) -> None:
    """Keys by prefix, label, sites and state (never the secrets)."""
    from geo_service.cli.access import print_table
    from geo_service.liaison.open311 import list_keys

    with engine_for(cli).connect() as conn:
        keys = list_keys(conn)
    print_table(
        ["prefix", "label", "sites", "created", "state", "created by"],
        [
            [
                k.prefix,
                k.label,
                ",".join(k.sites) or "(every site)",
                f"{k.created_at.astimezone():%Y-%m-%d %H:%M}",
                "revoked" if k.revoked_at else "active",
                k.created_by or "-",
            ]
            for k in keys
        ],
    )


@key.command("revoke")
@click.argument("prefix")
@click.pass_obj
def key_revoke(cli: CliSettings, prefix: str) -> None:
    """Stop the key whose first characters (as key create showed them) are PREFIX."""
    from geo_service.liaison.open311 import revoke_key

    with engine_for(cli).begin() as conn:
        revoke_key(conn, prefix, by=local_operator())
    click.echo(f"revoked {prefix}")

"""``geo-service retention run [--dry-run]``: the retention rule over completed sites'
finished cases (``geo_service.liaison.retention``), for cron (e.g. nightly)."""

from __future__ import annotations

import click

from geo_service.cli.edge import CliSettings, Group, engine_for, main
from geo_service.settings import LiaisonSettings


@main.group(cls=Group)
def retention() -> None:
    """Personal data of completed sites' cases, removed after the retention period."""


@retention.command("run")
@click.option("--dry-run", is_flag=True, help="Count what is due; change nothing.")
@click.pass_obj
def retention_run(cli: CliSettings, dry_run: bool) -> None:
    """Blank reporter contacts, internal notes, visit notes and micro-wish descriptions and
    delete visit photos of finished cases of sites completed more than
    GEO_SERVICE_LIAISON_RETENTION_DAYS ago (one audit row with the counts)."""
    from geo_service.access import local_operator
    from geo_service.liaison import retention as rule

    settings = cli.get(LiaisonSettings)
    click.echo(f"retention: sites completed over {settings.retention_days} days ago ...")
    with engine_for(cli).begin() as conn:
        report = rule.run(conn, local_operator(), settings, dry_run=dry_run)
    for code in report.sites:
        click.echo(f"  {code}")
    click.echo(("dry run: " if dry_run else "") + report.summary())

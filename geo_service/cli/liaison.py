"""``geo-service sla run``: the SLA pass over open requests and the delivery of the
outbox to the configured webhooks, for cron (or set GEO_SERVICE_LIAISON_SLA_INTERVAL_SECONDS
and the server runs it itself)."""

from __future__ import annotations

import click
from sqlalchemy import Engine

from geo_service.cli.edge import CliSettings, Group, engine_for, main
from geo_service.settings import LiaisonSettings

# Both passes (``sla run``, ``alarms run``) end by posting the outbox, unless told not to.
deliver_option = click.option(
    "--deliver/--no-deliver",
    default=True,
    show_default=True,
    help="Also post the outbox to the configured webhooks.",
)


def deliver_outbox(engine: Engine, settings: LiaisonSettings) -> None:
    """Post what the pass put in the outbox and say how it went."""
    from geo_service.liaison import outbox

    sent = outbox.deliver(engine, settings)
    click.echo(f"outbox: {sent.delivered} delivered, {sent.retried} to retry, {sent.failed} failed")


@main.group(cls=Group)
def sla() -> None:
    """Deadlines of residents' requests: warnings, breaches, escalations, notifications."""


@sla.command("run")
@deliver_option
@click.pass_obj
def sla_run(cli: CliSettings, deliver: bool) -> None:
    """Warn at 75 % of a due time, record breaches and escalate (each once), then deliver."""
    from geo_service.liaison import sla as passes

    settings = cli.get(LiaisonSettings)
    engine = engine_for(cli)
    with engine.begin() as conn:
        report = passes.run(conn, settings)
    click.echo(
        f"checked {report.checked} open requests: {report.warnings} warnings, "
        f"{report.breaches} breaches, {report.escalations} escalations, "
        f"{report.notifications} notifications"
    )
    if deliver:
        deliver_outbox(engine, settings)

"""``geo-service hj212 ...``: the HJ 212 receiver on its own, the simulator, retention."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import socket
import sys
from pathlib import Path

import click

from geo_service.cli.edge import CliSettings, Group, engine_for, main
from geo_service.cli.liaison import deliver_option, deliver_outbox
from geo_service.settings import MonitoringSettings


@main.group(cls=Group)
def hj212() -> None:
    """Noise and dust monitors reporting over HJ 212-2017."""


@hj212.command("listen")
@click.option("--host", default=None, help="Interface (default GEO_SERVICE_HJ212_HOST).")
@click.option("--port", default=None, type=int, help="Port (default GEO_SERVICE_HJ212_PORT).")
@click.pass_obj
def listen(cli: CliSettings, host: str | None, port: int | None) -> None:
    """Receive packets over TCP until stopped (``geo-service serve`` does it too when
    GEO_SERVICE_HJ212_PORT is set)."""
    from geo_service.monitoring import forward
    from geo_service.monitoring.receiver import Receiver, serve
    from geo_service.monitoring.store import DatabaseSink

    settings = cli.get(MonitoringSettings)
    port = port if port is not None else settings.port
    if port is None:
        raise click.UsageError("give --port, or set GEO_SERVICE_HJ212_PORT")
    engine = engine_for(cli)
    receiver = Receiver(DatabaseSink(engine, settings.timezone, settings.upstreams))

    async def ready(bound: int) -> None:
        click.echo(f"receiving HJ 212 on {host or settings.host}:{bound} (Ctrl+C stops)")
        if settings.upstreams:
            click.echo(f"forwarding accepted packets to {', '.join(settings.upstreams)}")

    async def run() -> None:
        forwarding = forward.start(forward.Forwarder.configured(engine, settings))
        try:
            await serve(receiver, host or settings.host, port, ready)
        finally:
            await forward.stop(forwarding)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


@hj212.command("simulate")
@click.option(
    "--monitor",
    "monitors",
    multiple=True,
    required=True,
    metavar="MN:PW:KIND",
    help="A monitor to play (KIND noise, dust or both); repeat for several.",
)
@click.option("--start", type=click.DateTime(["%Y-%m-%d"]), default=None, help="First day.")
@click.option("--days", type=click.IntRange(1, 366), default=1, show_default=True)
@click.option("--to", "target", default=None, help="tcp://HOST:PORT of a receiver.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--offline", default=None, help="MN of a monitor silent for the last two days.")
@click.option("--seed", type=int, default=212, show_default=True)
def simulate(
    monitors: tuple[str, ...],
    start: dt.datetime | None,
    days: int,
    target: str | None,
    output: Path | None,
    offline: str | None,
    seed: int,
) -> None:
    """Play minute packets (CN 2051) of a season: working days, quiet nights, a piling week,
    dusty afternoons, one unpermitted night; to a receiver (--to) or a file (-o)."""
    from tqdm import tqdm

    from geo_service.monitoring.simulator import Monitor, Season, packets

    if (target is None) == (output is None):
        raise click.UsageError("give --to tcp://HOST:PORT or -o FILE")
    played = []
    for spec in monitors:
        parts = spec.split(":")
        if len(parts) != 3 or parts[2] not in ("noise", "dust", "both"):
            raise click.BadParameter(f"{spec!r} is not MN:PW:KIND", param_hint="--monitor")
        played.append(Monitor(parts[0], parts[1], parts[2]))  # type: ignore[arg-type]
    first = start.date() if start else dt.date.today() - dt.timedelta(days=days)
    season = Season.demo(first, days, offline) if days >= 12 else Season(first, days)
    total = days * 24 * 60 * len(played)
    stream = tqdm(packets(played, season, seed), total=total, unit=" packet", file=sys.stderr)
    if output is not None:
        with output.open("wb") as out:
            for _, _, raw in stream:
                out.write(raw)
        click.echo(f"wrote {stream.n:,} packets to {output}")
        return
    _send_tcp(target or "", stream)


def _send_tcp(target: str, stream) -> None:
    """Send every packet over one connection, reading the receiver's answers as they come."""
    if not target.startswith("tcp://") or ":" not in target[6:]:
        raise click.BadParameter(f"{target!r} is not tcp://HOST:PORT", param_hint="--to")
    host, _, port = target[6:].rpartition(":")
    answers = refused = 0
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        replies = conn.makefile("rb")
        for _, _, raw in stream:
            conn.sendall(raw)
            line = replies.readline()  # every simulated packet asks for an answer
            answers += 1
            refused += b"CN=9011" in line
    click.echo(f"sent {answers:,} packets to {target}: {answers - refused:,} acknowledged")


@hj212.command("retention")
@click.option("--keep-months", type=click.IntRange(1), default=None)
@click.pass_obj
def retention(cli: CliSettings, keep_months: int | None) -> None:
    """Detach the readings' partitions older than the kept months (they stay as tables)."""
    from geo_service.monitoring import partitions

    settings = cli.get(MonitoringSettings)
    keep = keep_months or settings.retention_months
    if not keep:
        raise click.UsageError("give --keep-months, or set GEO_SERVICE_HJ212_RETENTION_MONTHS")
    with engine_for(cli).begin() as conn:
        detached = partitions.detach_older_than(
            conn, dt.datetime.now(dt.UTC), keep, settings.timezone
        )
    click.echo(
        f"detached {len(detached)} partition(s): {', '.join(detached) or 'none'}"
        " (still in the database as tables: archive them, then DROP TABLE)"
    )


@main.group(cls=Group)
def alarms() -> None:
    """Exceedance alarms of the monitors: the evaluation, escalation of late replies."""


@alarms.command("run")
@deliver_option
@click.pass_obj
def alarms_run(cli: CliSettings, deliver: bool) -> None:
    """Judge the windows due, open, extend and clear alarms, link them to residents'
    requests and escalate late replies (each once); for cron."""
    from geo_service.monitoring import alarms as passes
    from geo_service.settings import AlarmSettings, LiaisonSettings

    liaison = cli.get(LiaisonSettings)
    engine = engine_for(cli)
    with engine.begin() as conn:
        report = passes.run(
            conn, cli.get(AlarmSettings), liaison, zone=cli.get(MonitoringSettings).timezone
        )
    for problem in report.problems:
        click.echo(f"skipped: {problem}", err=True)
    click.echo(
        f"judged {report.windows} windows: {report.exceedances} exceedances, "
        f"{report.opened} alarms opened, {report.auto_cleared} auto-cleared, "
        f"{report.linked} linked to requests, {report.escalated} escalated "
        f"({report.notifications} notifications)"
    )
    if deliver:
        deliver_outbox(engine, liaison)

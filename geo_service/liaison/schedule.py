"""The passes inside the server: every ``sla_interval_seconds`` (0, the default: never;
use ``geo-service sla run`` and ``geo-service alarms run`` from cron), the SLA pass, the
monitors' alarm pass (``geo_service.monitoring.alarms``) and the delivery of the outbox
run in a worker thread. With several server processes each runs them: the passes' once-only
keys, the alarms' row locks and the outbox's ``SKIP LOCKED`` make that safe."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine

from geo_service.liaison import outbox, sla
from geo_service.monitoring import alarms, partitions
from geo_service.settings import AlarmSettings, LiaisonSettings

log = logging.getLogger(__name__)


def tick(
    engine: Engine,
    settings: LiaisonSettings,
    alarm_settings: AlarmSettings | None = None,
    zone: str = partitions.ZONE,
) -> None:
    with engine.begin() as conn:
        sla.run(conn, settings)
    with engine.begin() as conn:
        report = alarms.run(conn, alarm_settings or AlarmSettings(), settings, zone=zone)
    for problem in report.problems:
        log.warning("alarm rules: %s", problem)
    outbox.deliver(engine, settings)


async def _loop(
    engine: Engine, settings: LiaisonSettings, alarm_settings: AlarmSettings | None, zone: str
) -> None:
    while True:
        try:
            await run_in_threadpool(tick, engine, settings, alarm_settings, zone)
        except Exception:  # a database restart must not end the loop; the next tick retries
            log.exception("the SLA or alarm pass failed")
        await asyncio.sleep(settings.sla_interval_seconds)


def start(
    engine: Engine,
    settings: LiaisonSettings,
    alarm_settings: AlarmSettings | None = None,
    zone: str = partitions.ZONE,
) -> asyncio.Task | None:
    if settings.sla_interval_seconds <= 0:
        return None
    return asyncio.get_running_loop().create_task(_loop(engine, settings, alarm_settings, zone))


async def stop(task: asyncio.Task | None) -> None:
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task

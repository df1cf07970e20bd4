"""The SLA pass inside the server: every ``sla_interval_seconds`` (0, the default: never;
use ``geo-service sla run`` from cron), the pass and the delivery of the outbox run in a
worker thread. With several server processes each runs it: the pass's once-only keys and
the outbox's ``SKIP LOCKED`` make that safe."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine

from geo_service.liaison import outbox, sla
from geo_service.settings import LiaisonSettings

log = logging.getLogger(__name__)


def tick(engine: Engine, settings: LiaisonSettings) -> None:
    with engine.begin() as conn:
        sla.run(conn, settings)
    outbox.deliver(engine, settings)


async def _loop(engine: Engine, settings: LiaisonSettings) -> None:
    while True:
        try:
            await run_in_threadpool(tick, engine, settings)
        except Exception:  # a database restart must not end the loop; the next tick retries
            log.exception("the SLA pass failed")
        await asyncio.sleep(settings.sla_interval_seconds)


def start(engine: Engine, settings: LiaisonSettings) -> asyncio.Task | None:
    if settings.sla_interval_seconds <= 0:
        return None
    return asyncio.get_running_loop().create_task(_loop(engine, settings))


async def stop(task: asyncio.Task | None) -> None:
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task

"""The server process's background work: the timer scheduler and the outbox worker, started
in the app's lifespan (unless `GONGDAN_BACKGROUND=false`) and stopped with it.

On SQLite they run only in the process that holds the `background` lease
(`gongdan.timers.lease`): one process at a time, another taking over when it dies. On
PostgreSQL every process runs them and they share the work (`FOR UPDATE SKIP LOCKED`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from gongdan.outbox.worker import OutboxWorker
from gongdan.settings import Settings
from gongdan.store.engine import Database

log = logging.getLogger("gongdan.timers")


def loops(db: Database, settings: Settings) -> list[Callable[[asyncio.Event], Awaitable[None]]]:
    """The loops to run: each takes the stop event."""
    from gongdan.timers.scheduler import Scheduler

    scheduler, worker = Scheduler(db, settings), OutboxWorker(db, settings)
    if not db.is_sqlite:
        return [scheduler.run_forever, worker.run_forever]
    from gongdan.timers.lease import BACKGROUND, Lease

    lease = Lease(db, BACKGROUND, scheduler.owner, settings.lease_ttl)

    def gated(loop: Callable[..., Awaitable[None]]) -> Callable[[asyncio.Event], Awaitable[None]]:
        return lambda stop: loop(stop, lambda: lease.held)

    return [lease.run_forever, gated(scheduler.run_forever), gated(worker.run_forever)]


@contextlib.asynccontextmanager
async def running(db: Database, settings: Settings) -> AsyncIterator[None]:
    """Run the background loops for the duration of the block."""
    if not settings.background:
        yield
        return
    stop = asyncio.Event()
    tasks = [asyncio.create_task(loop(stop)) for loop in loops(db, settings)]
    try:
        yield
    finally:
        stop.set()
        done, pending = await asyncio.wait(tasks, timeout=10)
        for task in pending:
            task.cancel()
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                log.error("background loop failed", exc_info=task.exception())

"""A lease in the database: on SQLite, one server process at a time runs the timer
scheduler and the outbox worker.

SQLite has one writer, so several processes firing timers only take turns at the write
lock (safe, since each timer fires in an IMMEDIATE transaction, but wasted work). The
lease is a row of `gd_lease` (name, holder, expires_at), taken or renewed in ONE atomic
statement (`INSERT ... ON CONFLICT DO UPDATE ... WHERE holder = me OR expired`), so two
processes can never both hold it. The holder renews it every `ttl / 3`; when the holder
dies its lease runs out after `GONGDAN_LEASE_TTL` seconds and another process takes it
over. A holder that could not renew in time stops running before the lease can have
expired (it counts from before its renewal, on its own monotonic clock). A clean stop
releases the lease so another process takes over at once.

Leases count real time, not the injectable `timers.clock` (a test that moves the clock
forward must not make every lease look expired). PostgreSQL needs no lease: processes
share the work with `FOR UPDATE SKIP LOCKED`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from typing import Any

from gongdan.store.engine import Database
from gongdan.store.tables import GdLease

log = logging.getLogger("gongdan.timers")
BACKGROUND = "background"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Lease:
    """The lease `name` for `holder`; `held` says whether this process may run now."""

    def __init__(self, db: Database, name: str, holder: str, ttl: float) -> None:
        self.db = db
        self.name = name
        self.holder = holder
        self.ttl = max(0.5, float(ttl))
        self._until = 0.0  # monotonic time until which this process holds the lease

    @property
    def held(self) -> bool:
        return time.monotonic() < self._until

    async def acquire(self) -> bool:
        """Take the lease, or renew it if this process holds it; False when another live
        process holds it."""
        started = time.monotonic()
        now = _now()
        expires = now + dt.timedelta(seconds=self.ttl)
        async with self.db.transaction():
            rows = await GdLease.raw(
                "INSERT INTO gd_lease (name, holder, expires_at, acquired_at) "
                "VALUES ({}, {}, {}, {}) ON CONFLICT (name) DO UPDATE SET "
                "holder = excluded.holder, expires_at = excluded.expires_at, "
                "acquired_at = CASE WHEN gd_lease.holder = excluded.holder "
                "THEN gd_lease.acquired_at ELSE excluded.acquired_at END "
                "WHERE gd_lease.holder = excluded.holder OR gd_lease.expires_at <= {} "
                "RETURNING holder",
                self.name, self.holder, expires, now, now)
        if rows:
            if not self.held:
                log.info("lease %s taken by %s", self.name, self.holder)
            # held until just before it can expire, counted from before the statement
            self._until = started + self.ttl * 0.9
            return True
        if self.held:
            log.warning("lease %s lost by %s", self.name, self.holder)
        self._until = 0.0
        return False

    async def release(self) -> None:
        """Give the lease up (a clean stop), so another process takes over at once."""
        self._until = 0.0
        with contextlib.suppress(Exception):
            async with self.db.transaction():
                await GdLease.delete().where((GdLease.name == self.name)
                                             & (GdLease.holder == self.holder))

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Take or renew the lease every `ttl / 3` seconds until `stop`; release it then."""
        try:
            while not stop.is_set():
                try:
                    await self.acquire()
                except Exception:
                    log.exception("lease %s: could not renew", self.name)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.ttl / 3)
        finally:
            await self.release()


async def current(name: str = BACKGROUND) -> dict[str, Any] | None:
    """Who holds the lease `name` and until when (None when nobody ever took it)."""
    rows = await GdLease.select().where(GdLease.name == name)
    if not rows:
        return None
    r = rows[0]
    return {"name": r["name"], "holder": r["holder"],
            "expires_at": r["expires_at"].isoformat(timespec="seconds"),
            "acquired_at": r["acquired_at"].isoformat(timespec="seconds"),
            "live": r["expires_at"] > _now()}

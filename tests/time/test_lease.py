"""The background lease (`gongdan.timers.lease`) on SQLite and PostgreSQL: taken atomically
by one holder, renewed by it, taken over once it expires, released on a clean stop."""

from __future__ import annotations

import asyncio
import datetime as dt

from gongdan.store.tables import GdLease
from gongdan.timers.lease import Lease, current
from tests.time.conftest import TimeApi


async def test_one_holder_at_a_time_and_takeover_after_expiry(tapi: TimeApi) -> None:
    async def scenario() -> None:
        a = Lease(tapi.db, "t", "a", ttl=60)
        b = Lease(tapi.db, "t", "b", ttl=60)
        got = await asyncio.gather(a.acquire(), b.acquire())
        assert sorted(got) == [False, True]  # exactly one, whoever came first
        first, second = (a, b) if got[0] else (b, a)
        assert first.held and not second.held
        assert await first.acquire()  # renewing
        assert not await second.acquire()
        assert (await current("t"))["holder"] == first.holder  # type: ignore[index]
        # the holder dies: its lease runs out (moved into the past instead of waiting)
        await GdLease.update({GdLease.expires_at: dt.datetime.now(dt.UTC)
                              - dt.timedelta(seconds=1)}).where(GdLease.name == "t")
        assert await second.acquire() and second.held
        assert not await first.acquire() and not first.held  # it lost the lease
        await second.release()
        assert await current("t") is None
        assert await first.acquire()  # released: taken at once

    await tapi.run(scenario)

"""The outbox worker: delivers committed messages through the channels' connectors.

At least once: a row is claimed (state `sending`, a lease, `attempts + 1`) in a short
transaction, sent outside any transaction, then marked `sent`, re-queued with exponential
back-off and jitter (never sooner than the provider's `retry_after`), or dead-lettered
(`PermanentDeliveryError`, or `GONGDAN_OUTBOX_MAX_ATTEMPTS` used up). A process that dies
while sending leaves the row `sending`; when its lease ends another poll claims it again,
with the same idempotency key. On PostgreSQL several processes claim with
`FOR UPDATE SKIP LOCKED`; on SQLite the claim runs in an IMMEDIATE transaction.

Working hours (`GONGDAN_NOTIFY_CALENDAR`): a claimed message that falls outside the working
windows of its line's calendar is not sent; it goes back to `pending`, due when the next
window opens, its attempt not counted. Escalations of urgent tiers (`GONGDAN_NOTIFY_URGENT_TIERS`,
P0 by default) go out at any hour.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import random
import socket
from collections.abc import Callable
from typing import Any, Protocol

from gongdan.connectors import (
    Connector,
    DeliveryReceipt,
    OutgoingMessage,
    PermanentDeliveryError,
    RetryableDeliveryError,
)
from gongdan.outbox.log_connector import LogConnector
from gongdan.settings import Settings
from gongdan.store.engine import Database
from gongdan.store.tables import GdOutbox, GdTicket
from gongdan.timers import clock

log = logging.getLogger("gongdan.outbox")


class Sender(Protocol):
    """What the worker needs of `gongdan.plugins.ConnectorPool`."""

    @property
    def channels(self) -> list[str]: ...

    async def asend(self, message: OutgoingMessage) -> DeliveryReceipt: ...


def default_pool() -> Any:
    """A `ConnectorPool` with every plugin's connectors plus the built-in `log` channel."""
    from gongdan.plugins import ConnectorPool, connectors

    classes: dict[str, type[Connector]] = {"log": LogConnector}
    classes.update(connectors())
    return ConnectorPool(classes)


def backoff(attempts: int, settings: Settings, retry_after: float | None = None,
            rng: random.Random | None = None) -> float:
    """Seconds to wait after the `attempts`-th failed attempt: base * 2^(attempts-1), capped,
    with jitter (a random 50-100% of it), and never less than the provider's `retry_after`."""
    rng = rng or random.Random()
    exp = min(settings.outbox_backoff_max,
              settings.outbox_backoff_base * (2 ** max(0, attempts - 1)))
    delay = exp * (0.5 + rng.random() / 2)
    if retry_after is not None:
        delay = max(delay, float(retry_after))
    return delay


def _csv(value: str) -> set[str]:
    return {v.strip() for v in value.split(",") if v.strip()}


def notify_calendar_for(settings: Settings, line: str | None) -> str:
    """The working-hours calendar of `line` under `GONGDAN_NOTIFY_CALENDAR` ("" for none):
    a plain name applies to every line; `repair=工作日,*=客服班次` names one per line, `*`
    for the others (and for messages of no ticket)."""
    value = settings.notify_calendar.strip()
    if "=" not in value:
        return value
    pairs = dict((k.strip(), v.strip()) for k, _, v in
                 (item.partition("=") for item in value.split(",") if "=" in item))
    return pairs.get(line or "", pairs.get("*", ""))


def owner_id() -> str:
    """This process: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


class OutboxWorker:
    """Claims due messages and delivers them; `run_once()` is one poll (tests call it)."""

    def __init__(self, db: Database, settings: Settings, sender: Sender | None = None) -> None:
        self.db = db
        self.settings = settings
        self._sender = sender
        self.owner = owner_id()
        self.rng = random.Random()

    @property
    def sender(self) -> Sender:
        if self._sender is None:
            self._sender = default_pool()
        return self._sender

    async def claim(self, now: dt.datetime) -> list[dict[str, Any]]:
        """Take up to `outbox_batch` due rows (pending and due, or `sending` past its lease)."""
        lease = now + dt.timedelta(seconds=self.settings.outbox_lease)
        skip = "" if self.db.is_sqlite else " FOR UPDATE SKIP LOCKED"
        sql = (
            "UPDATE gd_outbox SET state = 'sending', attempts = attempts + 1, "
            "locked_until = {}, owner = {} WHERE id IN (SELECT id FROM gd_outbox WHERE "
            "(state = 'pending' AND next_attempt_at <= {}) OR "
            "(state = 'sending' AND locked_until <= {}) "
            f"ORDER BY next_attempt_at LIMIT {int(self.settings.outbox_batch)}{skip}) "
            "RETURNING *"
        )
        async with self.db.transaction():
            rows = await GdOutbox.raw(sql, lease, self.owner, now, now)
        return [dict(r) for r in rows]

    def _message(self, row: dict[str, Any]) -> OutgoingMessage:
        channel = row["channel"]
        fallback = self.settings.outbox_fallback_channel
        if fallback and channel not in self.sender.channels:
            channel = fallback
        return OutgoingMessage(channel=channel, to=row["recipient"] or "", text=row["text"] or "",
                               subject=row["subject"] or "", markdown=bool(row["markdown"]),
                               idempotency_key=row["idempotency_key"])

    async def hold_until(self, row: dict[str, Any], now: dt.datetime) -> tuple[
            dt.datetime, str] | None:
        """(when, calendar) if the message must wait for working hours, else None."""
        settings = self.settings
        if not settings.notify_calendar.strip():
            return None
        channels = _csv(settings.notify_calendar_channels)
        if channels and row["channel"] not in channels:
            return None
        line = tier = None
        if row.get("ticket_id") is not None:
            found = await GdTicket.select(GdTicket.line_key, GdTicket.tier).where(
                GdTicket.id == row["ticket_id"])
            if found:
                line, tier = found[0]["line_key"], found[0]["tier"]
        if row.get("kind") == "escalation" and tier in _csv(settings.notify_urgent_tiers):
            return None  # an urgent escalation wakes people up
        name = notify_calendar_for(settings, line)
        if not name:
            return None
        from gongdan.domain.tickets.deadlines import calendar

        cal = await calendar(name)
        if cal.is_working_time(now):
            return None
        return cal.next_working_time(now), name

    async def _defer(self, row: dict[str, Any], until: dt.datetime, name: str) -> str:
        """Back to `pending` until `until` (the next working window), the attempt uncounted."""
        async with self.db.transaction():
            await GdOutbox.update({
                GdOutbox.state: "pending", GdOutbox.locked_until: None,
                GdOutbox.next_attempt_at: until, GdOutbox.attempts: GdOutbox.attempts - 1,
                GdOutbox.last_error: f"deferred: outside the working hours of calendar {name}",
            }).where((GdOutbox.id == row["id"]) & (GdOutbox.owner == self.owner)
                     & (GdOutbox.state == "sending"))
        return "deferred"

    async def deliver(self, row: dict[str, Any]) -> str:
        """Send one claimed row and record the outcome; returns the new state (`deferred`
        when it waits for working hours)."""
        hold = await self.hold_until(row, clock.now())
        if hold is not None:
            return await self._defer(row, *hold)
        attempts = int(row["attempts"])
        try:
            await self.sender.asend(self._message(row))
        except PermanentDeliveryError as exc:
            return await self._finish(row, "dead", error=f"permanent: {exc}")
        except Exception as exc:  # retryable, or a connector bug: try again later
            retry_after = exc.retry_after if isinstance(exc, RetryableDeliveryError) else None
            error = f"{type(exc).__name__}: {exc}"
            if attempts >= self.settings.outbox_max_attempts:
                return await self._finish(row, "dead", error=f"gave up after {attempts}: {error}")
            delay = backoff(attempts, self.settings, retry_after, self.rng)
            return await self._finish(row, "pending", error=error,
                                      next_at=clock.now() + dt.timedelta(seconds=delay))
        return await self._finish(row, "sent")

    async def _finish(self, row: dict[str, Any], state: str, *, error: str = "",
                      next_at: dt.datetime | None = None) -> str:
        values: dict[Any, Any] = {GdOutbox.state: state, GdOutbox.locked_until: None,
                                  GdOutbox.last_error: error[:2000]}
        if state == "sent":
            values[GdOutbox.sent_at] = clock.now()
        if next_at is not None:
            values[GdOutbox.next_attempt_at] = next_at
        if state == "dead":
            log.warning("outbox message %s dead: %s", row["idempotency_key"], error)
        async with self.db.transaction():
            # only if this process still holds the claim (an admin may have retried it)
            await GdOutbox.update(values).where(
                (GdOutbox.id == row["id"]) & (GdOutbox.owner == self.owner)
                & (GdOutbox.state == "sending"))
        return state

    async def run_once(self) -> int:
        """One poll: claim due messages and deliver them concurrently; how many were claimed."""
        rows = await self.claim(clock.now())
        if rows:
            await asyncio.gather(*(self.deliver(r) for r in rows))
        return len(rows)

    async def run_forever(self, stop: asyncio.Event,
                          gate: Callable[[], bool] | None = None) -> None:
        """Poll until `stop` is set; a full batch polls again at once. With `gate` (the
        SQLite lease), poll only while it says this process may."""
        while not stop.is_set():
            if gate is not None and not gate():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.settings.outbox_interval)
                continue
            try:
                n = await self.run_once()
            except Exception:
                log.exception("outbox poll failed")
                n = 0
            if n >= self.settings.outbox_batch:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.settings.outbox_interval)

"""The scheduler: fires due timers, each exactly once, inside the server process.

A tick selects the due timers through the (state, due_at) index, so it costs time in
proportion to what is due, not to how many timers wait. Each timer fires in ONE
transaction that locks its ticket, re-reads the timer (still pending?), applies the
effect (events on the ticket's record, outbox rows, the next repeat) and marks it fired:
a crash before COMMIT leaves it pending, to fire after the restart; a committed timer is
never fired again. On PostgreSQL several processes share the work: the ticket row is
locked first (`FOR UPDATE`, the order every change of a ticket takes, so no deadlock),
then the timer row with `FOR UPDATE SKIP LOCKED`, re-checked to be still pending; a process
fires up to 8 tickets' timers at once. On SQLite the IMMEDIATE transaction serialises
writers.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import importlib
import logging
import random
import secrets
from collections.abc import Callable
from typing import Any

from gongdan.outbox import service as outbox
from gongdan.outbox.worker import owner_id
from gongdan.settings import Settings
from gongdan.store.engine import Database
from gongdan.store.tables import GdEvent, GdTicket, GdTimer
from gongdan.timers import clock, escalation

log = logging.getLogger("gongdan.timers")
ACTOR = "timer"
RETRY_S = 60


def _load(row: dict[str, Any]) -> dict[str, Any]:
    import json

    for key in ("fields", "facts", "sla", "payload"):
        if isinstance(row.get(key), str):
            row[key] = json.loads(row[key])
    return row


class Firing:
    """What a handler may do while its timer fires: add events to the ticket's record and
    messages to the outbox (all in the firing transaction)."""

    def __init__(self, scheduler: Scheduler, timer: dict[str, Any],
                 ticket: dict[str, Any] | None, now: dt.datetime) -> None:
        self.scheduler = scheduler
        self.settings = scheduler.settings
        self.timer = timer
        self.ticket = ticket
        self.now = now
        self.events: list[GdEvent] = []
        self.ticket_values: dict[Any, Any] = {}
        self._messages = 0
        self.skipped: str | None = None

    def skip(self, reason: str) -> None:
        """The timer no longer applies: it is marked `skipped` with `reason`, no effect."""
        self.skipped = reason

    def event(self, type_: str, data: dict[str, Any], before: Any = None,
              after: Any = None) -> None:
        assert self.ticket is not None
        seq = int(self.ticket["last_seq"]) + len(self.events) + 1
        self.events.append(GdEvent(ticket_id=self.ticket["id"], seq=seq, type=type_, at=self.now,
                                   actor=ACTOR, channel="timer", before=before, after=after,
                                   data={"timer": self.timer["id"], "kind": self.timer["kind"],
                                         **data}))

    async def message(self, *, template: str, channel: str | None, to: str,
                      context: dict[str, Any], kind: str) -> None:
        i = self._messages
        self._messages += 1
        # the cause: the event this firing put on the record just before the message
        cause = self.events[-1] if self.events else None
        event = ({**(cause.data or {}), "type": cause.type, "seq": cause.seq, "at": self.now}
                 if cause is not None else {"type": kind, "timer": self.timer["id"], "at": self.now})
        await outbox.enqueue(
            key=f"timer:{self.timer['id']}:{i}", channel=channel or self.settings.timer_channel,
            template=template, context=context, to=to, kind=kind,
            ticket_id=self.ticket["id"] if self.ticket else None,
            event=event, settings=self.settings, now=self.now)

    async def write(self) -> None:
        if self.ticket is None:
            return
        if self.events:
            self.ticket_values[GdTicket.last_seq] = int(self.ticket["last_seq"]) + len(self.events)
            await GdEvent.insert(*self.events)
        if self.ticket_values:
            await GdTicket.update(self.ticket_values).where(GdTicket.id == self.ticket["id"])


# --------------------------------------------------------------------------- handlers


async def _sla_skip_reason(f: Firing) -> str | None:
    """Why an SLA timer no longer applies, re-checked from the record in the firing's
    transaction (None: it does). Re-arming cancels such timers; this is the defence in
    depth for a change that did not re-arm."""
    from gongdan.domain.lines.states import machine_from_json
    from gongdan.domain.tickets.deadlines import clock_events, record, tier_of
    from gongdan.store.tables import GdLine

    ticket = f.ticket or {}
    tier = tier_of(ticket.get("sla"))
    if tier is None:
        return "no_sla"
    lines = await GdLine.select(GdLine.states).where(
        GdLine.key == str(ticket["line_key"])).output(load_json=True)
    machine = machine_from_json(lines[0]["states"]) if lines else None
    if machine is not None and machine.category(str(ticket["state"])) == "closed":
        return "closed"
    which = f.timer["payload"].get("clock")
    if which == "respond":
        _, responded, _ = clock_events(await record(int(ticket["id"])), tier)
        if responded is not None:
            return "responded"
    elif which == "resolve" and ticket.get("state") in tier.pause_states:
        return "paused"
    return None


async def _sla_warning(f: Firing) -> None:
    if (reason := await _sla_skip_reason(f)) is not None:
        f.skip(reason)
        return
    p = f.timer["payload"]
    ticket = f.ticket or {}
    if ticket.get("assignee"):
        to = [str(ticket["assignee"])]
    else:
        to, _ = await escalation.recipients(ticket)
    f.event("sla_warning", {"clock": p.get("clock"), "deadline": p.get("deadline"),
                            "notified": to})
    for person in to:
        await f.message(template="SLA预警", channel=None, to=person, kind="sla_warning",
                        context={"clock": p.get("clock"), "deadline": p.get("deadline")})


async def _sla_breach(f: Firing) -> None:
    if (reason := await _sla_skip_reason(f)) is not None:
        f.skip(reason)
        return
    p = f.timer["payload"]
    ticket = f.ticket or {}
    to, why = await escalation.recipients(ticket)
    f.event("sla_breached", {"clock": p.get("clock"), "deadline": p.get("deadline"),
                             "notified": to, "notified_as": why})
    what = "响应" if p.get("clock") == "respond" else "解决"
    for person in to:
        await f.message(template="超时升级", channel=None, to=person, kind="escalation",
                        context={"reason_zh": f"{what}时限（{p.get('deadline')}）已过",
                                 "reason_en": f"the {p.get('clock')} deadline {p.get('deadline')} passed",
                                 "assignee": ticket.get("assignee") or ""})


def _duration_text(seconds: float) -> str:
    hours = seconds / 3600
    return f"{hours:g} 小时 / {hours:g} h"


async def _dwell(f: Firing) -> None:
    from gongdan.outbox.service import recipient

    p = f.timer["payload"]
    ticket = f.ticket or {}
    if ticket.get("state") != p.get("state"):
        return  # moved on (its re-arm cancels these; a stale one does nothing)
    count = int(p.get("count") or 1)
    dwelt = float(p.get("after_s") or 0) + float(p.get("repeat_every_s") or 0) * (count - 1)
    f.event("dwell_alert", {"state": p.get("state"), "dwelt_s": dwelt, "count": count,
                            "rule_line": p.get("rule_line")})
    for n in p.get("notify") or []:
        await f.message(template=n.get("template") or "滞留告警", channel=n.get("channel"),
                        to=recipient(n.get("target") or {}, ticket), kind="dwell",
                        context={"dwell_text": _duration_text(dwelt)})
    for target in p.get("escalate") or []:
        await f.message(template="超时升级", channel=None, to=recipient(target, ticket),
                        kind="escalation",
                        context={"reason_zh": f"在“{p.get('state')}”停留 {_duration_text(dwelt)}",
                                 "reason_en": f"in {p.get('state')} for {dwelt / 3600:g} h",
                                 "assignee": ticket.get("assignee") or ""})
    if p.get("repeat_every_s"):
        due = f.timer["due_at"] + dt.timedelta(seconds=float(p["repeat_every_s"]))
        await GdTimer.insert(GdTimer(due_at=due, kind="dwell", ticket_id=ticket["id"],
                                     payload={**p, "count": count + 1}, state="pending",
                                     created_at=f.now))


def _dispatch_reoffer() -> Any | None:
    """`gongdan.domain.dispatch`'s reoffer, when that package provides one."""
    try:
        module = importlib.import_module("gongdan.domain.dispatch.services")
    except ImportError:
        return None
    # Only this contract: `reoffer_on_timeout(ticket_id=, offer=, now=)` running inside the
    # firing's transaction. Dispatch's HTTP-facing `reoffer` opens its own transaction and
    # takes other arguments, so it is not called from here.
    return getattr(module, "reoffer_on_timeout", None)


async def _claim_timeout(f: Firing) -> None:
    if f.ticket is None:
        log.warning("claim time-out %s: the ticket is gone", f.timer["id"])
        return
    reoffer = _dispatch_reoffer()
    if reoffer is not None:
        # the dispatch service records its own events; it runs in this transaction
        await reoffer(ticket_id=f.timer["ticket_id"], offer=f.timer["payload"], now=f.now)
        return
    # TODO(dispatch): until gongdan.domain.dispatch provides a reoffer, a claim time-out is
    # only recorded; the dispatcher sees it on the timeline.
    f.event("claim_timeout", {"offer": f.timer["payload"]})


async def _archive(f: Firing) -> None:
    p = f.timer["payload"]
    ticket = f.ticket or {}
    if ticket.get("state") != p.get("state"):
        return
    facts = dict(ticket.get("facts") or {})
    if facts.get("archived"):
        return
    facts["archived"] = True
    facts["archived_at"] = f.now.isoformat(timespec="seconds")
    f.ticket_values[GdTicket.facts] = facts
    f.ticket_values[GdTicket.version] = int(ticket["version"]) + 1
    f.ticket_values[GdTicket.updated_at] = f.now
    f.event("archived", {"state": p.get("state"), "rule_line": p.get("rule_line")},
            {"archived": False}, {"archived": True})
    if p.get("survey"):
        # one token per ticket, kept on the record: the survey page checks it (the ticket
        # number alone is guessable)
        token = str(facts.get("survey_token") or secrets.token_urlsafe(16))
        facts["survey_token"] = token
        await f.message(template=str(p["survey"]), channel=p.get("channel"),
                        to=outbox.recipient({"kind": "customer"}, ticket), kind="survey",
                        context={"survey_url": outbox.survey_link(f.settings, ticket, token)})


HANDLERS = {
    "respond_warn": _sla_warning, "resolve_warn": _sla_warning,
    "respond_breach": _sla_breach, "resolve_breach": _sla_breach,
    "dwell": _dwell, "claim_timeout": _claim_timeout, "archive": _archive,
}


class Scheduler:
    """Fires due timers; `tick()` is one round (tests call it with the clock moved)."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.owner = owner_id()
        self.fired = 0
        self.rng = random.Random()

    async def due(self, now: dt.datetime) -> list[dict[str, Any]]:
        """The earliest due timers (at most `timer_batch`), through the (state, due_at) index."""
        return [dict(r) for r in await GdTimer.raw(
            "SELECT id, ticket_id FROM gd_timer WHERE state = 'pending' AND due_at <= {} "
            f"ORDER BY due_at LIMIT {int(self.settings.timer_batch)}", now)]

    async def fire(self, timer_id: int, ticket_id: int | None, now: dt.datetime) -> bool:
        """Fire one timer in one transaction; False when it is no longer pending (fired by
        another process, or cancelled)."""
        lock = "" if self.db.is_sqlite else " FOR UPDATE"
        skip = "" if self.db.is_sqlite else " FOR UPDATE SKIP LOCKED"
        async with self.db.transaction():
            ticket = None
            if ticket_id is not None:
                # the ticket first, as every change of the ticket does (no deadlock)
                rows = await GdTicket.raw(f"SELECT * FROM gd_ticket WHERE id = {{}}{lock}",
                                          ticket_id)
                ticket = _load(dict(rows[0])) if rows else None
            timers = await GdTimer.raw(
                f"SELECT * FROM gd_timer WHERE id = {{}} AND state = 'pending'{skip}", timer_id)
            if not timers:
                return False
            timer = _load(dict(timers[0]))
            handler = HANDLERS.get(timer["kind"])
            firing = Firing(self, timer, ticket, now)
            # dispatch's reoffer (and anything else writing to the outbox) uses these settings
            token = outbox.SETTINGS.set(self.settings)
            try:
                if handler is None:
                    log.error("timer %s has unknown kind %r", timer_id, timer["kind"])
                elif ticket is None:
                    log.warning("timer %s: ticket %s is gone", timer_id, ticket_id)
                else:
                    await handler(firing)
                    await firing.write()
            finally:
                outbox.SETTINGS.reset(token)
            done: dict[Any, Any] = {GdTimer.state: "fired", GdTimer.fired_at: now,
                                    GdTimer.owner: self.owner}
            if firing.skipped is not None:
                log.info("timer %s (%s) skipped: %s", timer_id, timer["kind"], firing.skipped)
                done.update({GdTimer.state: "skipped",
                             GdTimer.payload: {**timer["payload"], "skipped": firing.skipped}})
            await GdTimer.update(done).where(GdTimer.id == timer_id)
        return True

    async def tick(self) -> int:
        """Fire what is due now; returns how many fired here."""
        clock.refresh_from_file(self.settings.clock_file)
        now = clock.now()
        # one ticket's timers fire in due order, one after the other
        groups: dict[Any, list[dict[str, Any]]] = {}
        for t in await self.due(now):
            groups.setdefault(t["ticket_id"] if t["ticket_id"] is not None else -t["id"],
                              []).append(t)
        batches = list(groups.values())
        # processes sharing the database start at different places in the same batch
        self.rng.shuffle(batches)
        # PostgreSQL: several tickets at once, each timer in its own transaction and
        # connection; SQLite has one writer, so one at a time
        limit = asyncio.Semaphore(1 if self.db.is_sqlite
                                  else max(1, min(8, self.settings.pg_pool_max - 2)))

        async def one(batch: list[dict[str, Any]]) -> int:
            fired = 0
            async with limit:
                for t in batch:
                    try:
                        fired += 1 if await self.fire(t["id"], t["ticket_id"], now) else 0
                    except Exception:
                        log.exception("timer %s failed to fire; retrying in %s s", t["id"],
                                      RETRY_S)
                        await self._postpone(t["id"], now)
            return fired

        n = sum(await asyncio.gather(*(one(b) for b in batches)))
        self.fired += n
        await self._dispatch_tick(now)
        return n

    async def _dispatch_tick(self, now: dt.datetime) -> None:
        """Dispatch's periodic work (shift schedules: `dispatch_tick(db, settings, now)`)."""
        try:
            module = importlib.import_module("gongdan.domain.dispatch.services")
        except ImportError:
            return
        tick = getattr(module, "dispatch_tick", None)
        if tick is None:
            return
        try:
            await tick(self.db, self.settings, now)
        except Exception:
            log.exception("dispatch tick failed")

    async def _postpone(self, timer_id: int, now: dt.datetime) -> None:
        """A timer whose effect failed stays pending, due again in `RETRY_S` seconds (so
        one broken timer cannot hold up the others)."""
        try:
            async with self.db.transaction():
                await GdTimer.update({GdTimer.due_at: now + dt.timedelta(seconds=RETRY_S)}).where(
                    (GdTimer.id == timer_id) & (GdTimer.state == "pending"))
        except Exception:
            log.exception("could not postpone timer %s", timer_id)

    async def run_forever(self, stop: asyncio.Event,
                          gate: Callable[[], bool] | None = None) -> None:
        """Tick until `stop` is set; a full batch ticks again at once. With `gate` (the
        SQLite lease), tick only while it says this process may."""
        while not stop.is_set():
            if gate is not None and not gate():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.settings.timer_interval)
                continue
            try:
                n = await self.tick()
            except Exception:
                log.exception("scheduler tick failed")
                n = 0
            if n >= self.settings.timer_batch:
                await asyncio.sleep(0)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.settings.timer_interval)

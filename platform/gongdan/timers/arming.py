"""Arming a ticket's timers from its record, in the transaction of the change.

Whenever a ticket's state or SLA tier changes (and when it is created or first claimed),
`rearm()` cancels the ticket's pending state-bound timers and arms new ones from
`gongdan.sla.compute_clock` (respond/resolve warnings and breaches), the ruleset's
`dwell` rules (for the state it is in now) and its `archive` rules. A timer that already
fired at the same due time is not armed again, so re-arming never repeats an alert.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from gongdan.domain.tickets import deadlines
from gongdan.domain.tickets.deadlines import Tier, clock_events, tier_of
from gongdan.store.tables import GdTicket, GdTimer

log = logging.getLogger("gongdan.timers")

SLA_KINDS = ("respond_warn", "respond_breach", "resolve_warn", "resolve_breach")
STATE_KINDS = (*SLA_KINDS, "dwell", "archive")
KINDS = (*STATE_KINDS, "claim_timeout")
__all__ = ["KINDS", "SLA_KINDS", "STATE_KINDS", "arm", "rearm"]


async def rearm(ticket_id: int, *, rules: Any, closed: bool, now: dt.datetime,
                warn_share: float = 0.8,
                created: tuple[Mapping[str, Any], list[Mapping[str, Any]]] | None = None,
                ) -> dict[str, Any]:
    """Cancel and re-arm the ticket's state-bound timers (call inside its transaction, after
    writing the ticket and its events). Returns the timers armed (`armed`) and the
    calendar-aware deadlines written to the ticket (`respond_by`, `resolve_by`).

    `created` is (the row, its record) of a ticket created in this very transaction: it
    has no timers of these kinds yet and nothing fired, so arming it reads nothing back
    (the create path's cost)."""
    fresh = created is not None
    if created is not None:
        row, events = dict(created[0]), list(created[1])
    else:
        rows = await GdTicket.select().where(GdTicket.id == ticket_id).output(load_json=True)
        row = rows[0]
        events = await deadlines.record(ticket_id)
        await GdTimer.update({GdTimer.state: "cancelled"}).where(
            (GdTimer.ticket_id == ticket_id) & (GdTimer.state == "pending")
            & GdTimer.kind.is_in(list(STATE_KINDS)))
    state = row["state"]
    current = tier_of(row.get("sla"))
    wanted: list[tuple[str, dt.datetime, dict[str, Any]]] = []
    _, responded, entered = clock_events(events, current or Tier("-", dt.timedelta(0),
                                                                  dt.timedelta(0), None))
    assert entered is not None, "a ticket's record starts with its created event"
    if responded is not None and row.get("assignee"):  # put back and offered again: keep it
        await GdTimer.update({GdTimer.state: "cancelled"}).where(
            (GdTimer.ticket_id == ticket_id) & (GdTimer.state == "pending")
            & (GdTimer.kind == "claim_timeout"))
    ticket_update: dict[Any, Any] = {}
    if current is not None and not closed:
        clock = await deadlines.clock(created_at=row["created_at"], sla=row["sla"],
                                      events=events, now=now, warn_share=warn_share)
        base = {"tier": current.tier, "calendar": current.calendar}
        if responded is None:
            wanted.append(("respond_warn", clock.respond_warn_at,
                           {**base, "clock": "respond", "deadline": clock.respond_by.isoformat()}))
            wanted.append(("respond_breach", clock.respond_by,
                           {**base, "clock": "respond", "deadline": clock.respond_by.isoformat()}))
        if clock.resolve_by is not None:
            if clock.resolve_warn_at is not None:
                wanted.append(("resolve_warn", clock.resolve_warn_at,
                               {**base, "clock": "resolve",
                                "deadline": clock.resolve_by.isoformat()}))
            wanted.append(("resolve_breach", clock.resolve_by,
                           {**base, "clock": "resolve", "deadline": clock.resolve_by.isoformat()}))
        # resolve_by is None while the ticket is paused: its resolve clock is stopped;
        # only what differs from the stored row is written
        if clock.respond_by != row.get("respond_by"):
            ticket_update[GdTicket.respond_by] = clock.respond_by
        if clock.resolve_by != row.get("resolve_by"):
            ticket_update[GdTicket.resolve_by] = clock.resolve_by
        sla = deadlines.with_deadlines(row["sla"], clock)
        if sla != row["sla"]:
            ticket_update[GdTicket.sla] = sla
    if rules is not None:
        for d in getattr(rules, "dwell_rules", ()):
            if d.state == state:
                wanted.append(("dwell", entered + d.after, {
                    "state": state, "after_s": d.after.total_seconds(), "count": 1,
                    "repeat_every_s": d.repeat_every.total_seconds() if d.repeat_every else None,
                    "escalate": list(d.escalate),
                    "notify": [{"target": n.target, "channel": n.channel, "template": n.template}
                               for n in d.notify],
                    "rule_line": d.line}))
        for a in getattr(rules, "archive_rules", ()):
            if a.state == state:
                wanted.append(("archive", entered + a.after, {
                    "state": state, "survey": a.survey, "channel": a.channel,
                    "rule_line": a.line}))
    armed: list[dict[str, Any]] = []
    if wanted:
        fired = [] if fresh else await GdTimer.select(GdTimer.kind, GdTimer.due_at).where(
            (GdTimer.ticket_id == ticket_id) & (GdTimer.state == "fired"))
        done = {(f["kind"], f["due_at"].replace(microsecond=0)) for f in fired}
        new = [GdTimer(due_at=due, kind=kind, ticket_id=ticket_id, payload=payload,
                       state="pending", created_at=now)
               for kind, due, payload in wanted
               if (kind, due.astimezone(dt.UTC).replace(microsecond=0)) not in done]
        if new:
            await GdTimer.insert(*new)
            armed = [{"kind": t.kind, "due_at": t.due_at} for t in new]
    if ticket_update:
        await GdTicket.update(ticket_update).where(GdTicket.id == ticket_id)
    out: dict[str, Any] = {"armed": armed}
    if current is not None and not closed:  # the ticket's deadlines, written or already right
        out.update(respond_by=clock.respond_by, resolve_by=clock.resolve_by)
    return out


async def arm(kind: str, due_at: dt.datetime, *, ticket_id: int | None,
              payload: dict[str, Any] | None = None, now: dt.datetime) -> None:
    """Arm one timer (inside the caller's transaction): dispatch arms `claim_timeout` with
    the offer in `payload` when it offers a ticket."""
    if kind not in KINDS:
        raise ValueError(f"unknown timer kind {kind!r}")
    await GdTimer.insert(GdTimer(due_at=due_at, kind=kind, ticket_id=ticket_id,
                                 payload=payload or {}, state="pending", created_at=now))

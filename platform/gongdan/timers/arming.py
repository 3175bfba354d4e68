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
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from gongdan.calendars import Calendar
from gongdan.sla import ALWAYS, ClockEvent, compute_clock
from gongdan.store.tables import GdCalendar, GdEvent, GdTicket, GdTimer

log = logging.getLogger("gongdan.timers")

SLA_KINDS = ("respond_warn", "respond_breach", "resolve_warn", "resolve_breach")
STATE_KINDS = (*SLA_KINDS, "dwell", "archive")
KINDS = (*STATE_KINDS, "claim_timeout")
RESPONSE_EVENTS = frozenset({"claimed", "claim", "accepted", "accept"})


@dataclass(frozen=True, slots=True)
class Tier:
    """An SLA tier as stored on the ticket (`sla` JSON), in the shape the clock needs."""

    tier: str
    respond_within: dt.timedelta
    resolve_within: dt.timedelta
    calendar: str | None
    pause_states: list[str] = field(default_factory=list)


def tier_of(sla: dict[str, Any] | None) -> Tier | None:
    """The tier of a stored `sla` dict (None when the ticket has no SLA)."""
    if not sla or not sla.get("tier"):
        return None
    return Tier(str(sla["tier"]), dt.timedelta(seconds=int(sla.get("respond_within_s") or 0)),
                dt.timedelta(seconds=int(sla.get("resolve_within_s") or 0)),
                sla.get("calendar"), list(sla.get("pause_states") or []))


class Calendars(dict[str, Calendar]):
    """Named calendars; a name nobody defined counts as 24x7 (logged once per name)."""

    _warned: set[str] = set()  # noqa: RUF012

    def __bool__(self) -> bool:  # an empty one still answers every name
        return True

    def __missing__(self, name: str) -> Calendar:
        if name not in self._warned:
            self._warned.add(name)
            log.warning("calendar %r is not defined; counting 24x7 (PUT /api/calendars/%s)",
                        name, name)
        return ALWAYS


_CAL_CACHE: dict[str, tuple[str, Calendar]] = {}


async def load_calendars() -> Calendars:
    """Every calendar saved by name (parsed once per version)."""
    out = Calendars()
    for row in await GdCalendar.select(GdCalendar.name, GdCalendar.data, GdCalendar.updated_at):
        stamp = str(row["updated_at"])
        cached = _CAL_CACHE.get(row["name"])
        if cached is None or cached[0] != stamp:
            data = row["data"]
            if isinstance(data, str):
                import json

                data = json.loads(data)
            cached = (stamp, Calendar.from_dict(data))
            _CAL_CACHE[row["name"]] = cached
        out[row["name"]] = cached[1]
    return out


def _json(v: Any) -> Any:
    if isinstance(v, str):
        import json

        return json.loads(v)
    return v


def clock_events(
    events: Iterable[dict[str, Any]], current: Tier
) -> tuple[list[ClockEvent], dt.datetime | None, dt.datetime]:
    """(clock events, first response time, when the current state was entered) of a record."""
    out: list[ClockEvent] = []
    responded: dt.datetime | None = None
    entered: dt.datetime | None = None
    for e in events:
        after = _json(e.get("after")) or {}
        at = e["at"]
        if e["type"] == "created":
            out.append(ClockEvent(at, str(after.get("state")), tier_of(after.get("sla")) or current))
            entered = at
        elif e["type"] == "state_changed":
            out.append(ClockEvent(at, state=str(after.get("state"))))
            entered = at
        elif e["type"] == "sla_changed":
            tier = tier_of(after.get("sla"))
            if tier is not None:
                out.append(ClockEvent(at, tier=tier))
        elif e["type"] in RESPONSE_EVENTS and responded is None:
            responded = at
    assert entered is not None
    return out, responded, entered


async def rearm(ticket_id: int, *, rules: Any, closed: bool, now: dt.datetime,
                warn_share: float = 0.8) -> dict[str, Any]:
    """Cancel and re-arm the ticket's state-bound timers (call inside its transaction, after
    writing the ticket and its events). Returns the timers armed (`armed`) and the
    calendar-aware deadlines written to the ticket (`respond_by`, `resolve_by`)."""
    rows = await GdTicket.select().where(GdTicket.id == ticket_id).output(load_json=True)
    row = rows[0]
    events = await GdEvent.select(GdEvent.type, GdEvent.at, GdEvent.after).where(
        GdEvent.ticket_id == ticket_id).order_by(GdEvent.seq)
    await GdTimer.update({GdTimer.state: "cancelled"}).where(
        (GdTimer.ticket_id == ticket_id) & (GdTimer.state == "pending")
        & GdTimer.kind.is_in(list(STATE_KINDS)))
    state = row["state"]
    current = tier_of(row.get("sla"))
    wanted: list[tuple[str, dt.datetime, dict[str, Any]]] = []
    _, responded, entered = clock_events(events, current or Tier("-", dt.timedelta(0),
                                                                  dt.timedelta(0), None))
    if responded is not None and row.get("assignee"):  # put back and offered again: keep it
        await GdTimer.update({GdTimer.state: "cancelled"}).where(
            (GdTimer.ticket_id == ticket_id) & (GdTimer.state == "pending")
            & (GdTimer.kind == "claim_timeout"))
    ticket_update: dict[Any, Any] = {}
    if current is not None and not closed:
        cevents, responded, entered = clock_events(events, current)
        calendars = await load_calendars()
        clock = compute_clock(created_at=row["created_at"], events=cevents, now=now,
                              calendars=calendars, responded_at=responded,
                              warn_share=warn_share)
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
        ticket_update[GdTicket.respond_by] = clock.respond_by
        if clock.resolve_by is not None:
            ticket_update[GdTicket.resolve_by] = clock.resolve_by
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
        fired = await GdTimer.select(GdTimer.kind, GdTimer.due_at).where(
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
    return {"armed": armed, **{c._meta.name: v for c, v in ticket_update.items()}}


async def arm(kind: str, due_at: dt.datetime, *, ticket_id: int | None,
              payload: dict[str, Any] | None = None, now: dt.datetime) -> None:
    """Arm one timer (inside the caller's transaction): dispatch arms `claim_timeout` with
    the offer in `payload` when it offers a ticket."""
    if kind not in KINDS:
        raise ValueError(f"unknown timer kind {kind!r}")
    await GdTimer.insert(GdTimer(due_at=due_at, kind=kind, ticket_id=ticket_id,
                                 payload=payload or {}, state="pending", created_at=now))

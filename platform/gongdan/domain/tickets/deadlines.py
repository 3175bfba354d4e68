"""SLA deadlines: the ONE place that turns a ticket's tier and record into deadlines.

Every deadline the platform shows or acts on comes from `clock()` here: the ticket's
stored `sla` JSON and its `respond_by`/`resolve_by` columns (on create and on
reclassification), the `created`/`sla_changed` events, the timers armed by
`gongdan.timers.arming.rearm()` and the rules' dry-run preview. It counts on the tier's
calendar, looked up by name in the store (`gd_calendar`; a name nobody defined counts
24x7, logged once), and takes the paused time from the ticket's event record
(`gongdan.sla.compute_clock`), so a reclassified ticket keeps the pause it already had.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gongdan.calendars import Calendar
from gongdan.sla import ALWAYS, ClockEvent, SlaClock, compute_clock
from gongdan.store.tables import GdCalendar, GdEvent

log = logging.getLogger("gongdan.timers")

RESPONSE_EVENTS = frozenset({"claimed", "claim", "accepted", "accept"})


@dataclass(frozen=True, slots=True)
class Tier:
    """An SLA tier as stored on the ticket (`sla` JSON), in the shape the clock needs."""

    tier: str
    respond_within: dt.timedelta
    resolve_within: dt.timedelta
    calendar: str | None
    pause_states: list[str] = field(default_factory=list)


def tier_of(sla: Mapping[str, Any] | None) -> Tier | None:
    """The tier of a stored `sla` dict (None when the ticket has no SLA)."""
    if not sla or not sla.get("tier"):
        return None
    return Tier(str(sla["tier"]), dt.timedelta(seconds=int(sla.get("respond_within_s") or 0)),
                dt.timedelta(seconds=int(sla.get("resolve_within_s") or 0)),
                sla.get("calendar"), list(sla.get("pause_states") or []))


def sla_json(decision: Any) -> dict[str, Any] | None:
    """The stored `sla` dict of a rules decision (`SlaDecision`), without its deadlines."""
    if decision is None:
        return None
    return {
        "tier": decision.tier,
        "label": decision.label,
        "respond_within_s": int(decision.respond_within.total_seconds()),
        "resolve_within_s": int(decision.resolve_within.total_seconds()),
        "calendar": decision.calendar,
        "pause_states": list(decision.pause_states),
        "bypass_queue": bool(decision.bypass_queue),
    }


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


def _json(v: Any) -> Any:
    return json.loads(v) if isinstance(v, str) else v


async def load_calendars() -> Calendars:
    """Every calendar saved by name (parsed once per version)."""
    out = Calendars()
    for row in await GdCalendar.select(GdCalendar.name, GdCalendar.data, GdCalendar.updated_at):
        stamp = str(row["updated_at"])
        cached = _CAL_CACHE.get(row["name"])
        if cached is None or cached[0] != stamp:
            cached = (stamp, Calendar.from_dict(_json(row["data"])))
            _CAL_CACHE[row["name"]] = cached
        out[row["name"]] = cached[1]
    return out


async def calendar(name: str | None) -> Calendar:
    """The calendar called `name` (24x7 for None or an undefined name)."""
    if not name:
        return ALWAYS
    return (await load_calendars())[name]


def clock_events(
    events: Iterable[Mapping[str, Any]], current: Tier
) -> tuple[list[ClockEvent], dt.datetime | None, dt.datetime | None]:
    """(clock events, first response time, when the current state was entered) of a record
    (dicts with `type`, `at`, `after`, in record order)."""
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
    return out, responded, entered


async def record(ticket_id: int) -> list[dict[str, Any]]:
    """The ticket's events as the clock reads them, in record order."""
    return [dict(r) for r in await GdEvent.select(GdEvent.type, GdEvent.at, GdEvent.after).where(
        GdEvent.ticket_id == ticket_id).order_by(GdEvent.seq)]


async def clock(
    *, created_at: dt.datetime, sla: Mapping[str, Any], events: Iterable[Mapping[str, Any]],
    now: dt.datetime, warn_share: float = 0.8,
) -> SlaClock:
    """THE deadline computation: the clock of a ticket whose current tier is `sla` (the
    stored dict) and whose record is `events` (a new ticket's is just its `created`
    event), on the tier's calendar from the store, pauses from the record."""
    current = tier_of(sla)
    if current is None:
        raise ValueError("clock() needs an SLA tier")
    cevents, responded, _ = clock_events(events, current)
    return compute_clock(created_at=created_at, events=cevents, now=max(now, created_at),
                         calendars=await load_calendars(), responded_at=responded,
                         warn_share=warn_share)


def with_deadlines(sla: dict[str, Any], c: SlaClock) -> dict[str, Any]:
    """The stored `sla` dict with the clock's deadlines (resolve_by None while paused)."""
    return {**sla, "respond_by": c.respond_by.isoformat(),
            "resolve_by": c.resolve_by.isoformat() if c.resolve_by else None}


async def for_new_ticket(
    decision: Any, state: str, now: dt.datetime
) -> tuple[dict[str, Any] | None, dt.datetime | None, dt.datetime | None]:
    """(stored `sla` dict with its deadlines, respond_by, resolve_by) of a ticket created
    now in `state` with the rules' `decision` (all None without one). The dry-run preview
    calls this too, so it shows what a create would store."""
    sla = sla_json(decision)
    if sla is None:
        return None, None, None
    c = await clock(created_at=now, sla=sla, now=now,
                    events=[{"type": "created", "at": now, "after": {"state": state, "sla": sla}}])
    return with_deadlines(sla, c), c.respond_by, c.resolve_by


async def for_reclassified(
    ticket_id: int, created_at: dt.datetime, decision: Any, now: dt.datetime
) -> tuple[dict[str, Any] | None, dt.datetime | None, dt.datetime | None]:
    """Like `for_new_ticket` for a ticket whose tier becomes `decision` now: the record so
    far (with its paused time) plus the tier change."""
    sla = sla_json(decision)
    if sla is None:
        return None, None, None
    events = [*await record(ticket_id), {"type": "sla_changed", "at": now, "after": {"sla": sla}}]
    c = await clock(created_at=created_at, sla=sla, events=events, now=now)
    return with_deadlines(sla, c), c.respond_by, c.resolve_by

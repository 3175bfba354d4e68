"""SLA clocks, computed from the ticket's record.

SLA 时钟：由工单的事件记录推算首次响应与解决时限。

A clock is a pure function of the ticket's history, never a counter kept somewhere: the
timer engine re-arms its timers from it whenever the state or the tier changes, and a
restart recomputes the same answer.

- **Respond-by** is `respond_within` of business time after creation, on the tier's
  calendar. The first claim or acceptance stops it. It does not pause.
- **Resolve-by** is `resolve_within` of business time after creation, not counting the
  time spent in a pause state. Whether an interval was paused is decided by the tier *in
  force during that interval*, so a reclassified ticket keeps the paused time it already
  had; durations and the calendar are the current tier's.
- While the ticket sits in a pause state the resolve clock is stopped: `resolve_by` is
  None and `resolve_remaining` tells what is left.
- Warnings fall at `warn_share` (default 80%) of each duration.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from gongdan.calendars import Calendar

ALWAYS = Calendar.always()


class TierLike(Protocol):
    """What the clock needs of an SLA tier (`gongdan_rules.SlaDecision` has it)."""

    tier: str
    respond_within: timedelta
    resolve_within: timedelta
    calendar: str | None
    pause_states: list[str]


@dataclass(frozen=True, slots=True)
class ClockEvent:
    """A change the clock cares about: the ticket entered `state`, and/or its tier became `tier`."""

    at: datetime
    state: str | None = None
    tier: TierLike | None = None


@dataclass(frozen=True, slots=True)
class SlaClock:
    """Where a ticket stands against its SLA at `now`."""

    tier: str
    created_at: datetime
    respond_by: datetime
    respond_warn_at: datetime
    responded_at: datetime | None
    respond_breached: bool
    resolve_within: timedelta
    resolve_used: timedelta  # business time counted so far (pauses excluded)
    resolve_remaining: timedelta  # never negative
    paused_for: timedelta  # business time spent paused so far
    paused: bool
    resolve_by: datetime | None  # None while paused
    resolve_warn_at: datetime | None  # None while paused or once passed
    resolve_breached: bool
    resolve_breached_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        def iso(v: datetime | None) -> str | None:
            return v.isoformat(timespec="seconds") if v else None

        return {
            "tier": self.tier,
            "respond_by": iso(self.respond_by),
            "respond_warn_at": iso(self.respond_warn_at),
            "responded_at": iso(self.responded_at),
            "respond_breached": self.respond_breached,
            "resolve_by": iso(self.resolve_by),
            "resolve_warn_at": iso(self.resolve_warn_at),
            "resolve_used_seconds": int(self.resolve_used.total_seconds()),
            "resolve_remaining_seconds": int(self.resolve_remaining.total_seconds()),
            "paused_seconds": int(self.paused_for.total_seconds()),
            "paused": self.paused,
            "resolve_breached": self.resolve_breached,
            "resolve_breached_at": iso(self.resolve_breached_at),
        }


class SlaError(ValueError):
    """Bad clock input (naive datetimes, events out of order, an unknown calendar)."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{zh} / {en}")
        self.message_zh = zh
        self.message_en = en


def calendar_for(tier: TierLike, calendars: Mapping[str, Calendar]) -> Calendar:
    """The tier's calendar (24x7 when it names none)."""
    if tier.calendar is None:
        return ALWAYS
    try:
        return calendars[tier.calendar]
    except KeyError:
        raise SlaError(f"未知的日历“{tier.calendar}”", f"unknown calendar {tier.calendar!r}") from None


def compute_clock(
    *,
    created_at: datetime,
    events: Iterable[ClockEvent],
    now: datetime,
    calendars: Mapping[str, Calendar] | None = None,
    responded_at: datetime | None = None,
    warn_share: float = 0.8,
) -> SlaClock:
    """The clock at `now` from the ticket's creation and its state/tier events.

    `events` must start with the ticket's first state and tier (at `created_at`) and be in
    time order; events after `now` are ignored.
    """
    if not 0 < warn_share <= 1:
        raise SlaError("预警比例必须在 0 到 1 之间", "warn_share must be in (0, 1]")
    for name, value in (("created_at", created_at), ("now", now)):
        if value.tzinfo is None:
            raise SlaError(f"{name} 必须带时区", f"{name} must be timezone-aware")
    timeline = [e for e in events if e.at <= now]
    if not timeline or timeline[0].tier is None or timeline[0].state is None:
        raise SlaError("第一条事件必须给出初始状态和 SLA 等级", "the first event must give the initial state and tier")
    for a, b in itertools.pairwise(timeline):
        if b.at < a.at:
            raise SlaError("事件必须按时间排序", "events must be in time order")
        if b.at.tzinfo is None:
            raise SlaError("事件时间必须带时区", "event times must be timezone-aware")
    cals = calendars or {}

    # Walk the record: each interval [start, end) with the state and tier in force.
    tier: TierLike = timeline[0].tier
    state: str = timeline[0].state
    intervals: list[tuple[datetime, datetime, bool]] = []  # (start, end, paused)
    start = created_at
    for ev in timeline[1:]:
        if ev.at > start:
            intervals.append((start, ev.at, state in tier.pause_states))
            start = ev.at
        if ev.state is not None:
            state = ev.state
        if ev.tier is not None:
            tier = ev.tier
    paused_now = state in tier.pause_states
    if now > start:
        intervals.append((start, now, paused_now))

    cal = calendar_for(tier, cals)
    respond_by = cal.add_business_time(created_at, tier.respond_within)
    respond_warn_at = cal.add_business_time(created_at, tier.respond_within * warn_share)
    respond_breached = (responded_at or now) > respond_by

    used = timedelta(0)
    paused_for = timedelta(0)
    breached_at: datetime | None = None
    for a, b, paused in intervals:
        span = cal.business_time_between(a, b)
        if paused:
            paused_for += span
            continue
        if breached_at is None and used + span > tier.resolve_within:  # the deadline itself is not late
            breached_at = cal.add_business_time(a, tier.resolve_within - used)
        used += span
    remaining = max(timedelta(0), tier.resolve_within - used)
    if paused_now:
        resolve_by = None
        resolve_warn_at = None
    elif breached_at is not None:
        resolve_by = breached_at
        resolve_warn_at = None
    else:
        resolve_by = cal.add_business_time(now, remaining)
        warn_left = tier.resolve_within * warn_share - used
        resolve_warn_at = cal.add_business_time(now, warn_left) if warn_left > timedelta(0) else None
    return SlaClock(
        tier=tier.tier,
        created_at=created_at,
        respond_by=respond_by,
        respond_warn_at=respond_warn_at,
        responded_at=responded_at,
        respond_breached=respond_breached,
        resolve_within=tier.resolve_within,
        resolve_used=used,
        resolve_remaining=remaining,
        paused_for=paused_for,
        paused=paused_now,
        resolve_by=resolve_by,
        resolve_warn_at=resolve_warn_at,
        resolve_breached=breached_at is not None,
        resolve_breached_at=breached_at,
    )

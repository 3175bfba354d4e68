"""SLA clocks computed from the event record (pure: no database, no sleeping)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from gongdan.calendars import Calendar
from gongdan.sla import ClockEvent, SlaError, compute_clock
from gongdan_rules import compile_ruleset

SH = ZoneInfo("Asia/Shanghai")
H = timedelta(hours=1)
WORKDAY = Calendar.from_dict({
    "timezone": "Asia/Shanghai",
    "windows": {d: [["09:00", "12:00"], ["13:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
    "country_holidays": "CN",
})


@dataclass
class Tier:
    tier: str = "P1"
    respond_within: timedelta = 2 * H
    resolve_within: timedelta = 24 * H
    calendar: str | None = None
    pause_states: list[str] = field(default_factory=lambda: ["待备件"])


def at(day: int, hour: int, minute: int = 0, month: int = 6) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SH)


def test_24x7_clock() -> None:
    c0 = at(1, 10)
    clock = compute_clock(created_at=c0, events=[ClockEvent(c0, "新建", Tier())], now=at(1, 11))
    assert clock.respond_by == at(1, 12) and clock.resolve_by == at(2, 10)
    assert clock.respond_warn_at == c0 + 96 * timedelta(minutes=1)  # 80% of 2h
    assert clock.resolve_warn_at == c0 + 0.8 * 24 * H
    assert clock.resolve_used == H and clock.resolve_remaining == 23 * H
    assert not clock.paused and not clock.respond_breached and not clock.resolve_breached


def test_business_calendar_friday_evening_to_monday() -> None:
    tier = Tier(resolve_within=3 * H, calendar="工作日")
    fri = at(5, 17)  # 2026-06-05 is a Friday
    clock = compute_clock(created_at=fri, events=[ClockEvent(fri, "新建", tier)], now=fri,
                          calendars={"工作日": WORKDAY})
    assert clock.resolve_by == at(8, 11)  # 1h Friday + 2h Monday morning
    assert clock.respond_by == at(8, 10)


def test_cn_public_holiday_is_skipped() -> None:
    tier = Tier(resolve_within=2 * H, calendar="工作日")
    eve = at(30, 17, month=9)  # 2026-09-30, the eve of 国庆
    clock = compute_clock(created_at=eve, events=[ClockEvent(eve, "新建", tier)], now=eve,
                          calendars={"工作日": WORKDAY})
    assert clock.resolve_by.date() > datetime(2026, 10, 7).date()  # after the Golden Week


def test_pause_state_stops_the_resolve_clock() -> None:
    c0 = at(1, 8)
    events = [ClockEvent(c0, "新建", Tier()), ClockEvent(at(1, 10), "待备件"), ClockEvent(at(1, 13), "维修中")]
    clock = compute_clock(created_at=c0, events=events, now=at(1, 14))
    assert clock.paused_for == 3 * H and clock.resolve_used == 3 * H
    assert clock.resolve_by == at(2, 8) + 3 * H  # pushed back by the 3 paused hours
    paused = compute_clock(created_at=c0, events=events[:2], now=at(1, 12))
    assert paused.paused and paused.resolve_by is None and paused.resolve_warn_at is None
    assert paused.resolve_remaining == 22 * H and paused.paused_for == 2 * H


def test_a_reclassified_ticket_keeps_the_paused_time_it_had() -> None:
    c0 = at(1, 8)
    old = Tier("P2", pause_states=["待备件"])
    new = Tier("P1", resolve_within=12 * H, pause_states=[])
    events = [ClockEvent(c0, "新建", old), ClockEvent(at(1, 9), "待备件"), ClockEvent(at(1, 11), tier=new)]
    clock = compute_clock(created_at=c0, events=events, now=at(1, 12))
    # 8-9 counts, 9-11 paused under P2, 11-12 counts under P1 (which has no pause states)
    assert clock.tier == "P1" and clock.paused_for == 2 * H and clock.resolve_used == 2 * H
    assert not clock.paused and clock.resolve_by == at(1, 12) + 10 * H


def test_breach_moment_is_exact_and_the_deadline_itself_is_not_late() -> None:
    c0 = at(1, 8)
    tier = Tier(resolve_within=4 * H)
    events = [ClockEvent(c0, "新建", tier), ClockEvent(at(1, 9), "待备件"), ClockEvent(at(1, 10), "维修中")]
    exactly = compute_clock(created_at=c0, events=events, now=at(1, 13))
    assert not exactly.resolve_breached and exactly.resolve_by == at(1, 13)
    late = compute_clock(created_at=c0, events=events, now=at(1, 15))
    assert late.resolve_breached and late.resolve_breached_at == at(1, 13) and late.resolve_remaining == timedelta(0)


def test_first_response_stops_the_respond_clock() -> None:
    c0 = at(1, 8)
    ev = [ClockEvent(c0, "新建", Tier())]
    assert not compute_clock(created_at=c0, events=ev, now=at(1, 20), responded_at=at(1, 9)).respond_breached
    assert compute_clock(created_at=c0, events=ev, now=at(1, 20), responded_at=at(1, 11)).respond_breached
    assert compute_clock(created_at=c0, events=ev, now=at(1, 20)).respond_breached


def test_future_events_are_ignored() -> None:
    c0 = at(1, 8)
    events = [ClockEvent(c0, "新建", Tier()), ClockEvent(at(1, 20), "待备件")]
    assert not compute_clock(created_at=c0, events=events, now=at(1, 10)).paused


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"created_at": datetime(2026, 6, 1, 8)}, "timezone-aware"),
        ({"events": []}, "first event"),
        ({"events": [ClockEvent(at(1, 8), "新建", Tier()), ClockEvent(at(1, 9), "a"), ClockEvent(at(1, 8, 30), "b")]},
         "time order"),
        ({"events": [ClockEvent(at(1, 8), "新建", Tier(calendar="夜班"))]}, "unknown calendar"),
        ({"warn_share": 0}, "warn_share"),
    ],
)
def test_bad_input_is_a_clear_error(kwargs: dict, needle: str) -> None:  # type: ignore[type-arg]
    args = {"created_at": at(1, 8), "events": [ClockEvent(at(1, 8), "新建", Tier())], "now": at(1, 12)} | kwargs
    with pytest.raises(SlaError) as info:
        compute_clock(**args)
    assert needle in str(info.value) and info.value.message_zh


def test_with_a_compiled_repair_tier() -> None:
    rules = open_repair()
    p1 = rules.classify({"description": "主轴异响"})
    assert p1 is not None and p1.calendar == "工作日" and p1.pause_states == ["待备件"]
    mon = at(1, 9)  # Monday 2026-06-01
    events = [ClockEvent(mon, "新建", p1), ClockEvent(at(1, 14), "待备件"), ClockEvent(at(2, 10), "维修中")]
    clock = compute_clock(created_at=mon, events=events, now=at(2, 11), calendars={"工作日": WORKDAY})
    # 9-12 + 13-14 = 4h counted; paused 14:00 Mon -> 10:00 Tue = 4h (Mon) + 1h (Tue) of working time
    assert clock.resolve_used == 5 * H and clock.paused_for == 5 * H
    # 1d is 24 hours of working time (W113 warns about it): 19h left after Tue 11:00 -> Thu 15:00
    assert clock.resolve_by == at(4, 15)


def open_repair():  # type: ignore[no-untyped-def]
    from rules.kit import example_source

    return compile_ruleset(example_source("repair"))

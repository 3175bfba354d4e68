"""Benchmark: gongdan.calendars against a naive minute-stepping baseline, same run.

    .venv/bin/python benchmarks/bench_calendars.py

Prints absolute figures (per call) and the ratio baseline / gongdan. The baseline walks
the clock one minute at a time and asks, for each minute, whether it is working time (with
a per-day memo of the day's windows, so it is not penalised for chinese_calendar look-ups).
Both compute the same deadlines; the run checks that they agree.
"""

from __future__ import annotations

import random
import time as _time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar

# isort: split
from gongdan.calendars import Calendar

SH = ZoneInfo("Asia/Shanghai")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
OFFICE = [["09:00", "12:00"], ["13:00", "18:00"]]
WORKDAY_CN: dict[str, Any] = {
    "timezone": "Asia/Shanghai",
    "windows": {d: OFFICE for d in DAYS[:5]},
    "country_holidays": "CN",
}


class MinuteStepper:
    """The naive way: one minute at a time (Shanghai has no DST)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.weekly = {
            i: [(_minutes(a), _minutes(b)) for a, b in data["windows"].get(d, [])]
            for i, d in enumerate(DAYS)
        }
        self.memo: dict[date, list[tuple[int, int]]] = {}

    def day(self, d: date) -> list[tuple[int, int]]:
        if d not in self.memo:
            _, name = chinese_calendar.get_holiday_detail(d)
            if name is None:
                self.memo[d] = self.weekly[d.weekday()]
            elif chinese_calendar.is_holiday(d):
                self.memo[d] = []
            else:
                self.memo[d] = self.weekly[0]
        return self.memo[d]

    def add(self, start: datetime, duration: timedelta) -> datetime:
        t = start.astimezone(SH)
        left = int(duration.total_seconds() // 60)
        while left:
            m = t.hour * 60 + t.minute
            if any(a <= m < b for a, b in self.day(t.date())):
                left -= 1
            t += timedelta(minutes=1)
        return t


def _minutes(text: str) -> int:
    hh, mm = text.split(":")
    return int(hh) * 60 + int(mm)


def _per_call(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(3):
        t0 = _time.perf_counter()
        for _ in range(repeat):
            fn()
        best = min(best, (_time.perf_counter() - t0) / repeat)
    return best


def _fmt(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:8.2f} s "
    if seconds >= 1e-3:
        return f"{seconds * 1e3:8.2f} ms"
    return f"{seconds * 1e6:8.1f} µs"


def main() -> None:
    rng = random.Random(5)
    starts = [
        datetime(2026, 1, 5, 9, 0, tzinfo=SH) + timedelta(minutes=rng.randrange(0, 60 * 24 * 60))
        for _ in range(200)
    ]
    cal = Calendar.from_dict(WORKDAY_CN)
    naive = MinuteStepper(WORKDAY_CN)
    rows: list[tuple[str, float, float]] = []

    # 1. 30 days (720 h) of business time: ~90 working days, about four calendar months.
    start = datetime(2026, 1, 5, 9, 0, tzinfo=SH)
    month = timedelta(days=30)
    ours = cal.add_business_time(start, month)
    theirs = naive.add(start, month)
    assert ours == theirs, (ours, theirs)
    t_cold = _per_call(lambda: Calendar.from_dict(WORKDAY_CN).add_business_time(start, month), 20)
    t_warm = _per_call(lambda: cal.add_business_time(start, month), 200)
    t_naive = _per_call(lambda: naive.add(start, month), 1)
    rows.append(("add 30 days of business time (new Calendar)", t_cold, t_naive))
    rows.append(("add 30 days of business time (cached days)", t_warm, t_naive))

    # 2. A typical SLA: 8 working hours from 200 random starts.
    eight = timedelta(hours=8)
    for s in starts[:20]:
        assert cal.add_business_time(s, eight) == naive.add(s, eight)
    it = iter(starts * 10_000)
    t_ours = _per_call(lambda: cal.add_business_time(next(it), eight), 2000)
    it2 = iter(starts * 100)
    t_naive8 = _per_call(lambda: naive.add(next(it2), eight), 50)
    rows.append(("add 8 working hours (random starts)", t_ours, t_naive8))

    # 3. business_time_between over a month.
    end = start + timedelta(days=31)
    t_between = _per_call(lambda: cal.business_time_between(start, end), 500)
    rows.append(("business_time_between over 31 days", t_between, float("nan")))

    # 4. is_working_time.
    it3 = iter(starts * 100_000)
    t_is = _per_call(lambda: cal.is_working_time(next(it3)), 20_000)
    rows.append(("is_working_time", t_is, float("nan")))

    print("gongdan.calendars vs naive minute stepping (Asia/Shanghai, 9-12/13-18, CN holidays)")
    print(f"{'case':48} {'gongdan':>11} {'minute steps':>13} {'ratio':>8}")
    for name, mine, base in rows:
        if base == base:  # not NaN
            print(f"{name:48} {_fmt(mine):>11} {_fmt(base):>13} {base / mine:7.0f}x")
        else:
            print(f"{name:48} {_fmt(mine):>11} {'-':>13} {'-':>8}")
    print(f"30 days of business time from {start:%Y-%m-%d %H:%M} end at {ours:%Y-%m-%d %H:%M %Z}")


if __name__ == "__main__":
    main()

"""Business calendars: working windows, holidays, make-up days and time zones.

营业日历：每周工作时段、节假日、调休与时区。纯 Python，不依赖数据库。

A :class:`Calendar` answers three questions for SLA clocks and timers:

* ``add_business_time(start, duration)`` — when is ``duration`` of working time used up?
* ``business_time_between(a, b)`` — how much working time lies in ``[a, b)``?
* ``is_working_time(dt)`` / ``next_working_time(dt)``.

Semantics (see ``docs/time.md`` for the full text):

* Windows are wall-clock local times in the calendar's zone; a working day across a DST
  change has its real length. A window boundary that falls into a DST gap is moved to the
  instant of the change; one that falls into a repeated hour means its first occurrence.
* Windows are half-open ``[start, end)``: a deadline that uses up the duration exactly at
  a window's end stays at that end (18:00, not the next morning).
* Adding a zero duration returns the start unchanged (converted to the calendar's zone),
  as Znuny does, even outside working hours. Negative durations are an error.
* A night shift crossing midnight is written with an explicit next-day end,
  ``["22:00", "06:00+1"]``; it belongs to the day it starts on (that day's holiday status
  decides it). ``["22:00", "06:00"]`` is rejected as a reversed window.
* ``timedelta(days=1)`` is 24 hours of working time, not one working day (as in Znuny).
"""

from __future__ import annotations

import datetime as _dt
import functools
import itertools
import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "DAY_KEYS",
    "Calendar",
    "CalendarError",
    "CalendarWarning",
]

DAY_KEYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
_KNOWN_KEYS = frozenset(
    {
        "name",
        "timezone",
        "windows",
        "workday_windows",
        "holidays",
        "workdays",
        "country_holidays",
        "country_holidays_fallback",
    }
)
_SUPPORTED_COUNTRIES = ("CN",)
_FALLBACKS = ("weekly", "error")
_DAY = 86_400
_UTC = _dt.UTC
# A calendar with no working time at all would loop for ever; give up after this many
# consecutive days without a single working window.
_MAX_EMPTY_DAYS = 3_700

_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?(\+1)?$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONTH_DAY_RE = re.compile(r"^(\d{2})-(\d{2})$")


class CalendarError(ValueError):
    """Bad calendar definition or bad argument. The message is bilingual (zh-CN / English)
    and starts with the offending key, e.g. ``windows.mon[0]``."""

    def __init__(self, key: str, zh: str, en: str) -> None:
        self.key = key
        self.message_zh = zh
        self.message_en = en
        super().__init__(f"{key}: {zh} / {en}")


class CalendarWarning(UserWarning):
    """Emitted once per calendar and year when country holiday data is missing for a year
    and the calendar falls back to its plain weekly pattern."""


# --------------------------------------------------------------------------- parsing


def _parse_time(value: Any, key: str, *, is_end: bool) -> int:
    """``"HH:MM"`` / ``"HH:MM:SS"`` -> seconds after midnight; ``"24:00"`` and the
    ``+1`` (next day) suffix are allowed for window ends only."""
    if not isinstance(value, str):
        raise CalendarError(
            key,
            f'时间必须是 "HH:MM" 格式的字符串，收到 {value!r}',
            f'a time must be a string "HH:MM", got {value!r}',
        )
    m = _TIME_RE.match(value.strip())
    if not m:
        raise CalendarError(
            key,
            f'时间格式错误 {value!r}，应为 "HH:MM"（如 "09:00"）',
            f'bad time format {value!r}, expected "HH:MM" (e.g. "09:00")',
        )
    hh, mm, ss = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    next_day = m.group(4) is not None
    if next_day and not is_end:
        raise CalendarError(
            key,
            f'只有时段的结束时间可以带 "+1"（次日），收到 {value!r}',
            f'only a window\'s end may carry "+1" (next day), got {value!r}',
        )
    seconds = hh * 3600 + mm * 60 + ss
    if mm > 59 or ss > 59 or hh > 24 or (hh == 24 and seconds != 24 * 3600):
        raise CalendarError(
            key,
            f"时间超出范围 {value!r}",
            f"time out of range {value!r}",
        )
    if hh == 24 and (not is_end or next_day):
        raise CalendarError(
            key,
            f'"24:00" 只能作为当天时段的结束时间，收到 {value!r}',
            f'"24:00" is allowed only as a same-day window end, got {value!r}',
        )
    return seconds + (_DAY if next_day else 0)


def _format_time(seconds: int) -> str:
    suffix = ""
    if seconds > _DAY:
        seconds -= _DAY
        suffix = "+1"
    hh, rest = divmod(seconds, 3600)
    mm, ss = divmod(rest, 60)
    text = f"{hh:02d}:{mm:02d}" + (f":{ss:02d}" if ss else "")
    return text + suffix


def _parse_windows(value: Any, key: str) -> tuple[tuple[int, int], ...]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        raise CalendarError(
            key,
            '时段列表必须是 [["开始", "结束"], ...]',
            'windows must be a list of ["start", "end"] pairs',
        )
    out: list[tuple[int, int]] = []
    for i, pair in enumerate(value):
        wkey = f"{key}[{i}]"
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise CalendarError(
                wkey,
                f'时段必须是 ["开始", "结束"] 两个时间，收到 {pair!r}',
                f'a window must be a pair ["start", "end"], got {pair!r}',
            )
        start = _parse_time(pair[0], wkey, is_end=False)
        end = _parse_time(pair[1], wkey, is_end=True)
        if end <= start:
            raise CalendarError(
                wkey,
                f"时段 {pair[0]}–{pair[1]} 结束早于或等于开始；跨午夜的夜班请写成 "
                f'["{pair[0]}", "{pair[1]}+1"]',
                f"window {pair[0]}-{pair[1]} ends before it starts; write a night shift "
                f'crossing midnight as ["{pair[0]}", "{pair[1]}+1"]',
            )
        if end - start > _DAY:
            raise CalendarError(
                wkey,
                f"时段 {pair[0]}–{pair[1]} 超过 24 小时",
                f"window {pair[0]}-{pair[1]} is longer than 24 hours",
            )
        out.append((start, end))
    out.sort()
    for (s1, e1), (s2, e2) in itertools.pairwise(out):
        if s2 < e1:
            raise CalendarError(
                key,
                f"时段重叠：{_format_time(s1)}–{_format_time(e1)} 与 "
                f"{_format_time(s2)}–{_format_time(e2)}",
                f"overlapping windows: {_format_time(s1)}-{_format_time(e1)} and "
                f"{_format_time(s2)}-{_format_time(e2)}",
            )
    return tuple(out)


def _parse_date(value: Any, key: str) -> _dt.date:
    if isinstance(value, _dt.date) and not isinstance(value, _dt.datetime):
        return value
    if not isinstance(value, str) or not _DATE_RE.match(value):
        raise CalendarError(
            key,
            f'日期格式错误 {value!r}，应为 "YYYY-MM-DD"',
            f'bad date {value!r}, expected "YYYY-MM-DD"',
        )
    try:
        return _dt.date.fromisoformat(value)
    except ValueError:
        raise CalendarError(key, f"不存在的日期 {value!r}", f"no such date {value!r}") from None


def _split(
    windows: Sequence[tuple[int, int]],
) -> tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]:
    """Split windows into the part on their own day and the part past midnight."""
    same: list[tuple[int, int]] = []
    over: list[tuple[int, int]] = []
    for s, e in windows:
        if e <= _DAY:
            same.append((s, e))
        else:
            if s < _DAY:
                same.append((s, _DAY))
            over.append((max(s - _DAY, 0), e - _DAY))
    return tuple(same), tuple(over)


def _merge(intervals: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    intervals.sort()
    out: list[tuple[int, int]] = []
    for s, e in intervals:
        if e <= s:
            continue
        if out and s <= out[-1][1]:
            if e > out[-1][1]:
                out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return tuple(out)


# ------------------------------------------------------------------ country holidays


@dataclass(frozen=True)
class _CountryDay:
    official_holiday: bool
    makeup_workday: bool


@functools.lru_cache(maxsize=65_536)
def _cn_day(day: _dt.date) -> _CountryDay | None:
    """chinese_calendar's verdict for ``day``: an official holiday (法定节假日, with the
    days off in lieu), a make-up working day (调休上班), or neither. ``None`` when the
    package has no data for that year. Cached: the package's own look-up scans all its data
    on every call."""
    import chinese_calendar  # type: ignore[import-untyped]

    try:
        is_holiday, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:
        return None
    if name is None:
        return _CountryDay(False, False)
    return _CountryDay(bool(is_holiday), not is_holiday)


# ------------------------------------------------------------------------ calendar


def _require_aware(value: Any, key: str) -> _dt.datetime:
    if not isinstance(value, _dt.datetime):
        raise CalendarError(
            key,
            f"需要带时区的 datetime，收到 {type(value).__name__}",
            f"expected a timezone-aware datetime, got {type(value).__name__}",
        )
    if value.tzinfo is None or value.utcoffset() is None:
        raise CalendarError(
            key,
            f"datetime 没有时区（naive）：{value.isoformat()}；请带上 tzinfo",
            f"naive datetime {value.isoformat()}: a timezone-aware datetime is required",
        )
    return value


class Calendar:
    """A business calendar. Build it with :meth:`from_dict` or :meth:`always`."""

    __slots__ = (
        "_cache",
        "_country",
        "_fallback",
        "_holiday_dates",
        "_name",
        "_recurring_holidays",
        "_tz",
        "_warned_years",
        "_weekly",
        "_workday_dates",
        "_workday_windows",
        "_workday_windows_given",
        "timezone",
    )

    def __init__(
        self,
        *,
        timezone: str,
        weekly: Sequence[tuple[tuple[int, int], ...]],
        workday_windows: tuple[tuple[int, int], ...] | None = None,
        holidays: Sequence[_dt.date] = (),
        recurring_holidays: Sequence[tuple[int, int]] = (),
        workdays: Sequence[_dt.date] = (),
        country_holidays: str | None = None,
        country_holidays_fallback: str = "weekly",
        name: str | None = None,
    ) -> None:
        self.timezone = timezone
        self._tz = _load_zone(timezone, "timezone")
        if len(weekly) != 7:
            raise CalendarError("windows", "需要 7 天的时段", "seven days of windows needed")
        self._weekly = tuple(tuple(w) for w in weekly)
        self._workday_windows_given = workday_windows is not None
        self._workday_windows = (
            tuple(workday_windows) if workday_windows is not None else self._weekly[0]
        )
        self._holiday_dates = frozenset(holidays)
        self._recurring_holidays = frozenset(recurring_holidays)
        self._workday_dates = frozenset(workdays)
        clash = self._holiday_dates & self._workday_dates
        if clash:
            day = min(clash).isoformat()
            raise CalendarError(
                "workdays",
                f"{day} 同时出现在 holidays 和 workdays 中",
                f"{day} is listed in both holidays and workdays",
            )
        if country_holidays is not None and country_holidays not in _SUPPORTED_COUNTRIES:
            raise CalendarError(
                "country_holidays",
                f'不支持的国家/地区代码 {country_holidays!r}，目前只支持 "CN"',
                f'unknown country code {country_holidays!r}; only "CN" is supported',
            )
        if country_holidays_fallback not in _FALLBACKS:
            raise CalendarError(
                "country_holidays_fallback",
                f'取值必须是 "weekly" 或 "error"，收到 {country_holidays_fallback!r}',
                f'must be "weekly" or "error", got {country_holidays_fallback!r}',
            )
        self._country = country_holidays
        self._fallback = country_holidays_fallback
        self._name = name
        self._cache: dict[_dt.date, tuple[tuple[_dt.datetime, _dt.datetime], ...]] = {}
        self._warned_years: set[int] = set()
        self._check_night_shift_overlaps()

    # ----------------------------------------------------------------- construction

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calendar:
        """Build a calendar from its JSON form (see ``docs/time.md``)."""
        if not isinstance(data, Mapping):
            raise CalendarError(
                "calendar", "日历定义必须是对象（dict）", "a calendar must be a mapping (dict)"
            )
        for key in data:
            if key not in _KNOWN_KEYS:
                raise CalendarError(
                    str(key),
                    f"未知的键 {key!r}；可用的键：{', '.join(sorted(_KNOWN_KEYS))}",
                    f"unknown key {key!r}; known keys: {', '.join(sorted(_KNOWN_KEYS))}",
                )
        if "timezone" not in data:
            raise CalendarError("timezone", "缺少时区", "the time zone is missing")
        tz = data["timezone"]
        if not isinstance(tz, str):
            raise CalendarError("timezone", "时区必须是字符串", "the time zone must be a string")
        windows = data.get("windows") or {}
        if not isinstance(windows, Mapping):
            raise CalendarError(
                "windows",
                "windows 必须是以 mon..sun 为键的对象",
                "windows must be a mapping keyed mon..sun",
            )
        weekly: list[tuple[tuple[int, int], ...]] = [() for _ in DAY_KEYS]
        for day_key, value in windows.items():
            if day_key not in DAY_KEYS:
                raise CalendarError(
                    f"windows.{day_key}",
                    f"未知的星期 {day_key!r}，应为 mon、tue、wed、thu、fri、sat、sun 之一",
                    f"unknown day {day_key!r}, expected one of mon tue wed thu fri sat sun",
                )
            weekly[DAY_KEYS.index(day_key)] = _parse_windows(value, f"windows.{day_key}")
        workday_windows = None
        if data.get("workday_windows") is not None:
            workday_windows = _parse_windows(data["workday_windows"], "workday_windows")
        holidays: list[_dt.date] = []
        recurring: list[tuple[int, int]] = []
        for i, value in enumerate(_as_list(data.get("holidays"), "holidays")):
            key = f"holidays[{i}]"
            if isinstance(value, str) and (m := _MONTH_DAY_RE.match(value)):
                month, day = int(m.group(1)), int(m.group(2))
                try:
                    _dt.date(2000, month, day)  # a leap year accepts 02-29
                except ValueError:
                    raise CalendarError(
                        key, f"不存在的日期 {value!r}", f"no such date {value!r}"
                    ) from None
                recurring.append((month, day))
            else:
                holidays.append(_parse_date(value, key))
        workdays = [
            _parse_date(v, f"workdays[{i}]")
            for i, v in enumerate(_as_list(data.get("workdays"), "workdays"))
        ]
        country = data.get("country_holidays")
        if country is not None and not isinstance(country, str):
            raise CalendarError(
                "country_holidays",
                'country_holidays 必须是字符串，如 "CN"',
                'country_holidays must be a string such as "CN"',
            )
        name = data.get("name")
        if name is not None and not isinstance(name, str):
            raise CalendarError("name", "名称必须是字符串", "the name must be a string")
        return cls(
            timezone=tz,
            weekly=weekly,
            workday_windows=workday_windows,
            holidays=holidays,
            recurring_holidays=recurring,
            workdays=workdays,
            country_holidays=country.strip().upper() or None if country else None,
            country_holidays_fallback=data.get("country_holidays_fallback", "weekly"),
            name=name,
        )

    @classmethod
    def always(cls, timezone: str = "UTC") -> Calendar:
        """A 24x7 calendar (every second is working time)."""
        full = ((0, _DAY),)
        return cls(timezone=timezone, weekly=[full] * 7)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form; ``Calendar.from_dict(cal.to_dict())`` gives an equal calendar."""
        out: dict[str, Any] = {}
        if self._name is not None:
            out["name"] = self._name
        out["timezone"] = self.timezone
        out["windows"] = {
            key: [[_format_time(s), _format_time(e)] for s, e in self._weekly[i]]
            for i, key in enumerate(DAY_KEYS)
            if self._weekly[i]
        }
        if self._workday_windows_given:
            out["workday_windows"] = [
                [_format_time(s), _format_time(e)] for s, e in self._workday_windows
            ]
        holidays = [f"{m:02d}-{d:02d}" for m, d in sorted(self._recurring_holidays)]
        holidays += [d.isoformat() for d in sorted(self._holiday_dates)]
        out["holidays"] = holidays
        out["workdays"] = [d.isoformat() for d in sorted(self._workday_dates)]
        if self._country is not None:
            out["country_holidays"] = self._country
            if self._fallback != "weekly":
                out["country_holidays_fallback"] = self._fallback
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Calendar):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(repr(self.to_dict()))

    def __repr__(self) -> str:
        return f"Calendar.from_dict({self.to_dict()!r})"

    @property
    def tzinfo(self) -> ZoneInfo:
        return self._tz

    # -------------------------------------------------------------- day resolution

    def _check_night_shift_overlaps(self) -> None:
        for i in range(7):
            _, over = _split(self._weekly[i])
            if not over:
                continue
            nxt = (i + 1) % 7
            same_next, _ = _split(self._weekly[nxt])
            for s, e in over:
                for s2, e2 in same_next:
                    if s < e2 and s2 < e:
                        raise CalendarError(
                            f"windows.{DAY_KEYS[i]}",
                            f"{_DAY_ZH[i]}的夜班跨到{_DAY_ZH[nxt]} {_format_time(e)}，与"
                            f"{_DAY_ZH[nxt]}的时段 {_format_time(s2)}–{_format_time(e2)} 重叠",
                            f"the night shift of {DAY_KEYS[i]} runs into {DAY_KEYS[nxt]} until "
                            f"{_format_time(e)} and overlaps {DAY_KEYS[nxt]}'s window "
                            f"{_format_time(s2)}-{_format_time(e2)}",
                        )

    def _day_windows(self, day: _dt.date) -> tuple[tuple[int, int], ...]:
        """The windows of ``day`` as configured (may include a ``+1`` night part)."""
        if day in self._holiday_dates:
            return ()
        if day in self._workday_dates:
            return self._workday_windows
        if (day.month, day.day) in self._recurring_holidays:
            return ()
        if self._country == "CN":
            verdict = _cn_day(day)
            if verdict is None:
                self._missing_country_data(day)
            elif verdict.official_holiday:
                return ()
            elif verdict.makeup_workday:
                return self._workday_windows
        return self._weekly[day.weekday()]

    def _missing_country_data(self, day: _dt.date) -> None:
        if self._fallback == "error":
            raise CalendarError(
                "country_holidays",
                f"chinese-calendar 没有 {day.year} 年的节假日数据；请升级该包，"
                '或把 country_holidays_fallback 设为 "weekly"',
                f"chinese-calendar has no holiday data for {day.year}; upgrade the package "
                'or set country_holidays_fallback to "weekly"',
            )
        if day.year not in self._warned_years:
            self._warned_years.add(day.year)
            warnings.warn(
                f"chinese-calendar 没有 {day.year} 年的数据，该年按每周时段计算（不含法定节假日"
                f"和调休） / chinese-calendar has no data for {day.year}; that year follows the "
                "plain weekly pattern (no official holidays or make-up days)",
                CalendarWarning,
                stacklevel=4,
            )

    def _local_windows(self, day: _dt.date) -> tuple[tuple[int, int], ...]:
        """Working windows of the local date ``day`` in seconds after its midnight,
        including the part of yesterday's night shift that runs past midnight."""
        same, _ = _split(self._day_windows(day))
        _, over = _split(self._day_windows(day - _dt.timedelta(days=1)))
        if not over:
            return same
        return _merge(list(same) + list(over))

    def _intervals(self, day: _dt.date) -> tuple[tuple[_dt.datetime, _dt.datetime], ...]:
        """Working intervals of the local date ``day`` as UTC instants, ordered."""
        cached = self._cache.get(day)
        if cached is not None:
            return cached
        out: list[tuple[_dt.datetime, _dt.datetime]] = []
        for s, e in self._local_windows(day):
            a = self._to_utc(day, s)
            b = self._to_utc(day, e)
            if b > a:
                if out and a <= out[-1][1]:
                    out[-1] = (out[-1][0], max(b, out[-1][1]))
                else:
                    out.append((a, b))
        result = tuple(out)
        if len(self._cache) > 50_000:
            self._cache.clear()
        self._cache[day] = result
        return result

    def _to_utc(self, day: _dt.date, seconds: int) -> _dt.datetime:
        """Local wall time ``day`` + ``seconds`` -> UTC instant. A wall time in a DST gap
        maps to the instant of the change; a repeated wall time to its first occurrence."""
        naive = _dt.datetime(day.year, day.month, day.day) + _dt.timedelta(seconds=seconds)
        tz = self._tz
        first = naive.replace(tzinfo=tz, fold=0)
        utc = first.astimezone(_UTC)
        if utc.astimezone(tz).replace(tzinfo=None) == naive:
            return utc
        # In a gap: find the transition between the two readings by bisection.
        lo = naive.replace(tzinfo=tz, fold=1).astimezone(_UTC)
        hi = utc
        if lo > hi:
            lo, hi = hi, lo
        after = hi.astimezone(tz).utcoffset()
        while hi - lo > _dt.timedelta(seconds=1):
            mid = lo + (hi - lo) / 2
            mid = mid.replace(microsecond=0)
            if mid <= lo:
                break
            if mid.astimezone(tz).utcoffset() == after:
                hi = mid
            else:
                lo = mid
        return hi

    def _local_date(self, instant: _dt.datetime) -> _dt.date:
        return instant.astimezone(self._tz).date()

    def _iter_intervals(self, start: _dt.datetime) -> Iterator[tuple[_dt.datetime, _dt.datetime]]:
        """Working intervals that end after ``start`` (UTC), in order, without end."""
        day = self._local_date(start)
        empty = 0
        while True:
            intervals = self._intervals(day)
            if intervals:
                empty = 0
            else:
                empty += 1
                if empty > _MAX_EMPTY_DAYS:
                    raise CalendarError(
                        "windows",
                        f"自 {day.isoformat()} 往前约 10 年都没有工作时间",
                        f"the calendar has no working time in the ~10 years up to "
                        f"{day.isoformat()}",
                    )
            for a, b in intervals:
                if b > start:
                    yield a, b
            day += _dt.timedelta(days=1)

    # ----------------------------------------------------------------------- API

    def add_business_time(self, start: _dt.datetime, duration: _dt.timedelta) -> _dt.datetime:
        """The instant at which ``duration`` of working time, counted from ``start``, is
        used up, in the calendar's zone. Ending exactly on a window's end stays there."""
        start = _require_aware(start, "start")
        if not isinstance(duration, _dt.timedelta):
            raise CalendarError(
                "duration",
                f"时长必须是 timedelta，收到 {type(duration).__name__}",
                f"duration must be a timedelta, got {type(duration).__name__}",
            )
        if duration < _dt.timedelta(0):
            raise CalendarError(
                "duration",
                f"时长不能为负：{duration}",
                f"duration must not be negative: {duration}",
            )
        s = start.astimezone(_UTC)
        if not duration:
            return s.astimezone(self._tz)
        remaining = duration
        for a, b in self._iter_intervals(s):
            seg_start = a if a > s else s
            available = b - seg_start
            if remaining <= available:
                return (seg_start + remaining).astimezone(self._tz)
            remaining -= available
        raise AssertionError("unreachable")  # pragma: no cover

    def business_time_between(self, a: _dt.datetime, b: _dt.datetime) -> _dt.timedelta:
        """Working time in ``[a, b)``; zero when ``b <= a`` (as Znuny's Delta)."""
        a = _require_aware(a, "a").astimezone(_UTC)
        b = _require_aware(b, "b").astimezone(_UTC)
        total = _dt.timedelta(0)
        if b <= a:
            return total
        day = self._local_date(a)
        last = self._local_date(b)
        while day <= last:
            for s, e in self._intervals(day):
                lo = s if s > a else a
                hi = e if e < b else b
                if hi > lo:
                    total += hi - lo
            day += _dt.timedelta(days=1)
        return total

    def is_working_time(self, dt: _dt.datetime) -> bool:
        """Is ``dt`` inside a working window (start included, end excluded)?"""
        u = _require_aware(dt, "dt").astimezone(_UTC)
        return any(a <= u < b for a, b in self._intervals(self._local_date(u)))

    def next_working_time(self, dt: _dt.datetime) -> _dt.datetime:
        """``dt`` itself if it is working time, else the start of the next window; in the
        calendar's zone."""
        u = _require_aware(dt, "dt").astimezone(_UTC)
        for a, _b in self._iter_intervals(u):
            return (a if a > u else u).astimezone(self._tz)
        raise AssertionError("unreachable")  # pragma: no cover

    def working_windows(self, day: _dt.date) -> list[tuple[_dt.datetime, _dt.datetime]]:
        """The working intervals of the local date ``day`` as aware datetimes in the
        calendar's zone (handy for displays and tests)."""
        return [(a.astimezone(self._tz), b.astimezone(self._tz)) for a, b in self._intervals(day)]


def _load_zone(name: str, key: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise CalendarError(
            key,
            f'未知的时区 {name!r}（应为 IANA 名称，如 "Asia/Shanghai"）',
            f'unknown time zone {name!r} (expected an IANA name such as "Asia/Shanghai")',
        ) from None


def _as_list(value: Any, key: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise CalendarError(key, f"{key} 必须是列表", f"{key} must be a list")
    return list(value)

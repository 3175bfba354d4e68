"""gongdan.calendars: our own cases (split shifts, CN holidays 2026, DST, night shifts,
errors, round trips) and property tests."""

from __future__ import annotations

import warnings
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

# isort: split
from gongdan.calendars import Calendar, CalendarError, CalendarWarning

SH = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
OFFICE = [["09:00", "12:00"], ["13:00", "18:00"]]  # 工作日 9-12 / 13-18

# 工作日 with China's official holidays and make-up days
WORKDAY_CN: dict[str, Any] = {
    "timezone": "Asia/Shanghai",
    "windows": {d: OFFICE for d in WEEKDAYS},
    "country_holidays": "CN",
}
# 三班倒: three eight-hour shifts, every day, the night shift crossing midnight
THREE_SHIFTS: dict[str, Any] = {
    "timezone": "Asia/Shanghai",
    "windows": {
        d: [["06:00", "14:00"], ["14:00", "22:00"], ["22:00", "06:00+1"]]
        for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    },
}


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)  # type: ignore[misc]


def office(**extra: Any) -> Calendar:
    return Calendar.from_dict(
        {"timezone": "Asia/Shanghai", "windows": {d: OFFICE for d in WEEKDAYS}, **extra}
    )


# ------------------------------------------------------------ split shifts, edges


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        (sh(2026, 3, 2, 9, 0), 1, sh(2026, 3, 2, 10, 0)),
        (sh(2026, 3, 2, 11, 30), 1, sh(2026, 3, 2, 13, 30)),  # over the lunch break
        (sh(2026, 3, 2, 12, 30), 1, sh(2026, 3, 2, 14, 0)),  # starting in the lunch break
        (sh(2026, 3, 2, 11, 0), 1, sh(2026, 3, 2, 12, 0)),  # ends on a window's end: 12:00
        (sh(2026, 3, 2, 17, 0), 1, sh(2026, 3, 2, 18, 0)),  # 18:00, not the next morning
        (sh(2026, 3, 2, 17, 0), 2, sh(2026, 3, 3, 10, 0)),
        (sh(2026, 3, 2, 8, 0), 8, sh(2026, 3, 2, 18, 0)),  # a whole day, from before opening
        (sh(2026, 3, 6, 17, 0), 2, sh(2026, 3, 9, 10, 0)),  # Friday -> Monday
        (sh(2026, 3, 7, 10, 0), 1, sh(2026, 3, 9, 10, 0)),  # from a Saturday
        (sh(2026, 3, 2, 9, 0), 40, sh(2026, 3, 6, 18, 0)),  # a whole week
    ],
)
def test_split_shift_with_lunch_break(start: datetime, hours: int, expected: datetime) -> None:
    cal = office()
    result = cal.add_business_time(start, timedelta(hours=hours))
    assert result == expected
    assert result.tzinfo == SH


def test_zero_duration_returns_start_unchanged_even_outside_hours() -> None:
    # Znuny's Add() with nothing to add leaves the time unchanged; so do we.
    cal = office()
    saturday_night = sh(2026, 3, 7, 23, 0)
    assert cal.add_business_time(saturday_night, timedelta(0)) == saturday_night
    utc_input = datetime(2026, 3, 7, 15, 0, tzinfo=UTC)
    out = cal.add_business_time(utc_input, timedelta(0))
    assert out == utc_input and out.tzinfo == SH


def test_inputs_in_any_zone_output_in_calendar_zone() -> None:
    cal = office()
    start = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    out = cal.add_business_time(start, timedelta(hours=1))
    assert out == sh(2026, 3, 2, 10, 0)
    assert out.utcoffset() == timedelta(hours=8)
    assert out.tzinfo == SH
    assert cal.next_working_time(datetime(2026, 3, 2, 6, 0, tzinfo=NY)).tzinfo == SH


def test_is_working_time_half_open_windows() -> None:
    cal = office()
    assert cal.is_working_time(sh(2026, 3, 2, 9, 0))
    assert cal.is_working_time(sh(2026, 3, 2, 11, 59, 59))
    assert not cal.is_working_time(sh(2026, 3, 2, 12, 0))  # the end is not working time
    assert not cal.is_working_time(sh(2026, 3, 2, 18, 0))
    assert not cal.is_working_time(sh(2026, 3, 7, 10, 0))


def test_next_working_time() -> None:
    cal = office()
    assert cal.next_working_time(sh(2026, 3, 2, 10, 15)) == sh(2026, 3, 2, 10, 15)
    assert cal.next_working_time(sh(2026, 3, 2, 12, 0)) == sh(2026, 3, 2, 13, 0)
    assert cal.next_working_time(sh(2026, 3, 2, 18, 0)) == sh(2026, 3, 3, 9, 0)
    assert cal.next_working_time(sh(2026, 3, 6, 19, 0)) == sh(2026, 3, 9, 9, 0)


def test_business_time_between() -> None:
    cal = office()
    assert cal.business_time_between(sh(2026, 3, 2, 8, 0), sh(2026, 3, 2, 20, 0)) == timedelta(
        hours=8
    )
    assert cal.business_time_between(sh(2026, 3, 2, 11, 0), sh(2026, 3, 2, 14, 0)) == timedelta(
        hours=2
    )
    assert cal.business_time_between(sh(2026, 3, 6, 17, 0), sh(2026, 3, 9, 10, 0)) == timedelta(
        hours=2
    )
    # an empty or reversed interval has no working time (as Znuny's Delta)
    assert cal.business_time_between(sh(2026, 3, 2, 10, 0), sh(2026, 3, 2, 10, 0)) == timedelta(0)
    assert cal.business_time_between(sh(2026, 3, 3, 10, 0), sh(2026, 3, 2, 10, 0)) == timedelta(0)


def test_extra_holidays_and_workdays() -> None:
    cal = office(holidays=["2026-03-03"], workdays=["2026-03-07"])
    assert cal.add_business_time(sh(2026, 3, 2, 17, 0), timedelta(hours=2)) == sh(2026, 3, 4, 10, 0)
    # the extra working Saturday uses Monday's windows (with the lunch break)
    assert cal.add_business_time(sh(2026, 3, 6, 17, 0), timedelta(hours=5)) == sh(2026, 3, 7, 14, 0)


def test_extra_workdays_use_workday_windows_when_given() -> None:
    cal = office(workdays=["2026-03-07"], workday_windows=[["10:00", "16:00"]])
    assert cal.working_windows(date(2026, 3, 7)) == [(sh(2026, 3, 7, 10, 0), sh(2026, 3, 7, 16, 0))]


def test_recurring_holiday() -> None:
    cal = office(holidays=["12-25"])
    assert not cal.is_working_time(sh(2026, 12, 25, 10, 0))
    assert not cal.is_working_time(sh(2030, 12, 25, 10, 0))
    assert cal.is_working_time(sh(2026, 12, 24, 10, 0))


def test_always() -> None:
    cal = Calendar.always()
    start = datetime(2026, 3, 7, 23, 30, tzinfo=UTC)
    assert cal.add_business_time(start, timedelta(hours=5)) == start + timedelta(hours=5)
    assert cal.business_time_between(start, start + timedelta(days=3)) == timedelta(days=3)
    assert cal.is_working_time(start)
    assert Calendar.always("Asia/Shanghai").timezone == "Asia/Shanghai"


def test_24_00_window_end() -> None:
    cal = Calendar.from_dict({"timezone": "UTC", "windows": {"mon": [["20:00", "24:00"]]}})
    start = datetime(2026, 3, 2, 23, 0, tzinfo=UTC)
    assert cal.add_business_time(start, timedelta(hours=1)) == datetime(
        2026, 3, 3, 0, 0, tzinfo=UTC
    )
    assert cal.add_business_time(start, timedelta(hours=2)) == datetime(
        2026, 3, 9, 21, 0, tzinfo=UTC
    )


def test_deadline_long_duration_steps_by_window() -> None:
    # 30 days of working time on an office calendar is about 90 working days.
    cal = Calendar.from_dict(WORKDAY_CN)
    start = sh(2026, 1, 5, 9, 0)
    end = cal.add_business_time(start, timedelta(days=30))
    assert cal.business_time_between(start, end) == timedelta(days=30)
    assert end.year == 2026 and end.month == 5


# ----------------------------------------------------------- China 2026 (chinese_calendar)


def test_cn_2026_follows_chinese_calendar_every_day() -> None:
    # A Mon-Fri calendar with country_holidays=CN has working time on exactly the days
    # chinese_calendar calls workdays (weekdays minus official holidays plus 调休 days).
    cal = Calendar.from_dict(WORKDAY_CN)
    day = date(2026, 1, 1)
    while day.year == 2026:
        has_windows = bool(cal.working_windows(day))
        assert has_windows == chinese_calendar.is_workday(day), day
        day += timedelta(days=1)


def test_cn_2026_national_day() -> None:
    # 国庆 2026: 10-01..10-07 off; 09-20 (Sun) and 10-10 (Sat) are make-up working days.
    cal = Calendar.from_dict(WORKDAY_CN)
    assert cal.add_business_time(sh(2026, 9, 30, 17, 0), timedelta(hours=1)) == sh(
        2026, 9, 30, 18, 0
    )
    assert cal.add_business_time(sh(2026, 9, 30, 17, 0), timedelta(hours=2)) == sh(
        2026, 10, 8, 10, 0
    )
    assert cal.business_time_between(sh(2026, 9, 30, 9, 0), sh(2026, 10, 9, 9, 0)) == timedelta(
        hours=16
    )
    assert cal.is_working_time(sh(2026, 9, 20, 10, 0))  # 调休 Sunday
    assert cal.is_working_time(sh(2026, 10, 10, 14, 0))  # 调休 Saturday, Monday's windows
    assert not cal.is_working_time(sh(2026, 10, 10, 12, 30))  # lunch break on it too


def test_cn_2026_spring_festival() -> None:
    # 春节 2026: 02-15..02-23 off; 02-14 (Sat) and 02-28 (Sat) are make-up working days.
    cal = Calendar.from_dict(WORKDAY_CN)
    assert cal.add_business_time(sh(2026, 2, 13, 17, 0), timedelta(hours=2)) == sh(
        2026, 2, 14, 10, 0
    )
    assert cal.add_business_time(sh(2026, 2, 14, 17, 0), timedelta(hours=2)) == sh(
        2026, 2, 24, 10, 0
    )
    assert cal.next_working_time(sh(2026, 2, 15, 0, 0)) == sh(2026, 2, 24, 9, 0)
    assert cal.is_working_time(sh(2026, 2, 28, 9, 30))


def test_explicit_days_beat_country_holidays() -> None:
    cal = Calendar.from_dict({**WORKDAY_CN, "holidays": ["2026-10-10"], "workdays": ["2026-10-02"]})
    assert not cal.is_working_time(sh(2026, 10, 10, 10, 0))
    assert cal.is_working_time(sh(2026, 10, 2, 10, 0))


def test_cn_missing_year_falls_back_to_weekly_with_a_warning() -> None:
    cal = Calendar.from_dict(WORKDAY_CN)
    with pytest.warns(CalendarWarning, match="2035"):
        assert cal.is_working_time(sh(2035, 10, 1, 10, 0))  # a Monday, weekly pattern
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cal.is_working_time(sh(2035, 10, 2, 10, 0))  # warned once per year only


def test_cn_missing_year_can_be_an_error() -> None:
    cal = Calendar.from_dict({**WORKDAY_CN, "country_holidays_fallback": "error"})
    with pytest.raises(CalendarError) as err:
        cal.is_working_time(sh(2035, 10, 1, 10, 0))
    assert err.value.key == "country_holidays"


# ----------------------------------------------------------------------- DST


def test_dst_spring_forward_new_york() -> None:
    # 2026-03-08 02:00 -> 03:00 in New York: a 24x7 day lasts 23 hours.
    cal = Calendar.always("America/New_York")
    day = datetime(2026, 3, 8, tzinfo=NY)
    assert cal.business_time_between(day, day + timedelta(days=1)) == timedelta(hours=23)
    assert cal.add_business_time(
        datetime(2026, 3, 8, 1, 0, tzinfo=NY), timedelta(hours=2)
    ) == datetime(2026, 3, 8, 4, 0, tzinfo=NY)


def test_dst_fall_back_new_york() -> None:
    # 2026-11-01 02:00 -> 01:00 in New York: a 24x7 day lasts 25 hours.
    cal = Calendar.always("America/New_York")
    day = datetime(2026, 11, 1, tzinfo=NY)
    assert cal.business_time_between(day, datetime(2026, 11, 2, tzinfo=NY)) == timedelta(hours=25)
    end = cal.add_business_time(datetime(2026, 11, 1, 0, 0, tzinfo=NY), timedelta(hours=3))
    assert end.replace(tzinfo=None) == datetime(2026, 11, 1, 2, 0)
    assert end.utcoffset() == timedelta(hours=-5)


def test_office_hours_across_dst_weekend_keep_wall_clock() -> None:
    cal = Calendar.from_dict(
        {"timezone": "America/New_York", "windows": {d: [["09:00", "17:00"]] for d in WEEKDAYS}}
    )
    friday = datetime(2026, 3, 6, 16, 0, tzinfo=NY)  # EST
    monday = cal.add_business_time(friday, timedelta(hours=2))
    assert monday.replace(tzinfo=None) == datetime(2026, 3, 9, 10, 0)  # EDT, still 10:00
    assert monday.utcoffset() == timedelta(hours=-4)
    assert cal.business_time_between(friday, monday) == timedelta(hours=2)


def test_window_in_the_spring_gap_is_cut_at_the_change() -> None:
    # Sunday 2026-03-29 in Berlin: 02:00-03:00 does not exist. A 01:00-02:30 window ends at
    # the change (03:00 CEST): one real hour.
    cal = Calendar.from_dict(
        {"timezone": "Europe/Berlin", "windows": {"sun": [["01:00", "02:30"]]}}
    )
    [(start, end)] = cal.working_windows(date(2026, 3, 29))
    assert start == datetime(2026, 3, 29, 1, 0, tzinfo=BERLIN)
    assert end == datetime(2026, 3, 29, 3, 0, tzinfo=BERLIN)
    assert (end.astimezone(UTC) - start.astimezone(UTC)) == timedelta(hours=1)


def test_window_in_the_repeated_hour_uses_its_first_occurrence() -> None:
    # Sunday 2026-10-25 in Berlin: 02:00-03:00 happens twice. 00:00-02:30 ends at the first
    # 02:30 (CEST): 2.5 real hours.
    cal = Calendar.from_dict(
        {"timezone": "Europe/Berlin", "windows": {"sun": [["00:00", "02:30"]]}}
    )
    [(start, end)] = cal.working_windows(date(2026, 10, 25))
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=2, minutes=30)
    assert end.utcoffset() == timedelta(hours=2)


def test_berlin_working_day_across_dst_has_real_length() -> None:
    cal = Calendar.from_dict(
        {"timezone": "Europe/Berlin", "windows": {"sun": [["00:00", "24:00"]]}}
    )
    sunday = datetime(2026, 3, 29, tzinfo=BERLIN)
    assert cal.business_time_between(sunday, sunday + timedelta(days=1)) == timedelta(hours=23)
    sunday = datetime(2026, 10, 25, tzinfo=BERLIN)
    assert cal.business_time_between(sunday, datetime(2026, 10, 26, tzinfo=BERLIN)) == timedelta(
        hours=25
    )


# -------------------------------------------------------------- night shifts


def test_three_shifts_is_24x7() -> None:
    cal = Calendar.from_dict(THREE_SHIFTS)
    monday = sh(2026, 3, 2)
    assert cal.business_time_between(monday, monday + timedelta(days=7)) == timedelta(days=7)
    assert cal.add_business_time(sh(2026, 3, 2, 23, 0), timedelta(hours=10)) == sh(2026, 3, 3, 9, 0)
    assert cal.is_working_time(sh(2026, 3, 3, 3, 0))


def test_night_shift_belongs_to_the_day_it_starts() -> None:
    # Only the Monday night shift; Monday a holiday -> the Tuesday 00:00-06:00 part is off.
    night = {"timezone": "Asia/Shanghai", "windows": {"mon": [["22:00", "06:00+1"]]}}
    cal = Calendar.from_dict(night)
    assert cal.is_working_time(sh(2026, 3, 3, 5, 0))
    assert cal.add_business_time(sh(2026, 3, 2, 21, 0), timedelta(hours=8)) == sh(2026, 3, 3, 6, 0)
    off = Calendar.from_dict({**night, "holidays": ["2026-03-02"]})
    assert not off.is_working_time(sh(2026, 3, 3, 5, 0))
    assert not off.is_working_time(sh(2026, 3, 2, 23, 0))


def test_night_shift_on_sunday_runs_into_monday() -> None:
    cal = Calendar.from_dict({"timezone": "UTC", "windows": {"sun": [["22:00", "02:00+1"]]}})
    assert cal.is_working_time(datetime(2026, 3, 9, 1, 0, tzinfo=UTC))  # Monday 01:00


# ------------------------------------------------------------------- errors


def _error(data: dict[str, Any]) -> CalendarError:
    with pytest.raises(CalendarError) as err:
        Calendar.from_dict(data)
    return err.value


@pytest.mark.parametrize(
    ("windows", "key"),
    [
        ({"mon": [["9am", "18:00"]]}, "windows.mon[0]"),
        ({"mon": [["09:00", "25:00"]]}, "windows.mon[0]"),
        ({"mon": [["09:60", "18:00"]]}, "windows.mon[0]"),
        ({"mon": [["24:00", "24:00"]]}, "windows.mon[0]"),
        ({"mon": [["09:00", 18]]}, "windows.mon[0]"),
        ({"tue": [["09:00"]]}, "windows.tue[0]"),
        ({"wed": [["18:00", "09:00"]]}, "windows.wed[0]"),  # reversed
        ({"wed": [["09:00", "09:00"]]}, "windows.wed[0]"),  # empty
        ({"thu": [["09:00", "12:00"], ["11:00", "18:00"]]}, "windows.thu"),  # overlapping
        ({"fri": [["09:00", "10:00+1"]]}, "windows.fri[0]"),  # longer than 24 h
        ({"monday": [["09:00", "18:00"]]}, "windows.monday"),  # unknown day
        ({"mon": [["22:00", "07:00+1"]], "tue": [["06:00", "14:00"]]}, "windows.mon"),
    ],
)
def test_bad_windows(windows: dict[str, Any], key: str) -> None:
    err = _error({"timezone": "Asia/Shanghai", "windows": windows})
    assert err.key == key
    assert str(err).startswith(key)


def test_error_messages_are_bilingual() -> None:
    err = _error({"timezone": "Asia/Shanghai", "windows": {"mon": [["18:00", "09:00"]]}})
    assert "时段" in err.message_zh and "window" in err.message_en
    assert err.message_zh in str(err) and err.message_en in str(err)
    assert "06:00+1" not in str(err) and '"09:00+1"' in str(err)  # suggests the night syntax


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"timezone": "Asia/Shanghia"}, "timezone"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({}, "timezone"),
        ({"timezone": "UTC", "country_holidays": "US"}, "country_holidays"),
        ({"timezone": "UTC", "country_holidays_fallback": "ignore"}, "country_holidays_fallback"),
        ({"timezone": "UTC", "holidays": ["2026-02-30"]}, "holidays[0]"),
        ({"timezone": "UTC", "holidays": ["2026-05-01", "May 2"]}, "holidays[1]"),
        ({"timezone": "UTC", "holidays": ["13-01"]}, "holidays[0]"),
        ({"timezone": "UTC", "holidays": "2026-05-01"}, "holidays"),
        ({"timezone": "UTC", "workdays": ["2026/02/14"]}, "workdays[0]"),
        ({"timezone": "UTC", "holidays": ["2026-05-01"], "workdays": ["2026-05-01"]}, "workdays"),
        ({"timezone": "UTC", "holiday": ["2026-05-01"]}, "holiday"),
        ({"timezone": "UTC", "windows": [["09:00", "18:00"]]}, "windows"),
    ],
)
def test_bad_calendar(data: dict[str, Any], key: str) -> None:
    assert _error(data).key == key


@pytest.mark.parametrize("method", ["add", "between_a", "between_b", "is_working", "next"])
def test_naive_datetimes_are_rejected(method: str) -> None:
    cal = office()
    naive = datetime(2026, 3, 2, 10, 0)
    aware = sh(2026, 3, 2, 10, 0)
    with pytest.raises(CalendarError) as err:
        if method == "add":
            cal.add_business_time(naive, timedelta(hours=1))
        elif method == "between_a":
            cal.business_time_between(naive, aware)
        elif method == "between_b":
            cal.business_time_between(aware, naive)
        elif method == "is_working":
            cal.is_working_time(naive)
        else:
            cal.next_working_time(naive)
    assert "naive" in str(err.value)


def test_calendar_without_working_time_fails_instead_of_looping() -> None:
    cal = Calendar.from_dict({"timezone": "UTC"})
    with pytest.raises(CalendarError) as err:
        cal.add_business_time(datetime(2026, 3, 2, tzinfo=UTC), timedelta(hours=1))
    assert err.value.key == "windows"
    assert cal.business_time_between(
        datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    ) == timedelta(0)


# ---------------------------------------------------------------- round trip


@pytest.mark.parametrize(
    "data",
    [
        WORKDAY_CN,
        THREE_SHIFTS,
        {
            "name": "售后",
            "timezone": "Europe/Berlin",
            "windows": {
                "mon": [["08:00", "12:00"], ["13:00", "17:30:30"]],
                "sat": [["10:00", "24:00"]],
            },
            "workday_windows": [["10:00", "14:00"]],
            "holidays": ["2026-05-01", "12-25"],
            "workdays": ["2026-02-14"],
            "country_holidays": "CN",
            "country_holidays_fallback": "error",
        },
    ],
)
def test_to_dict_round_trip(data: dict[str, Any]) -> None:
    cal = Calendar.from_dict(data)
    again = Calendar.from_dict(cal.to_dict())
    assert again == cal
    assert again.to_dict() == cal.to_dict()
    assert cal.to_dict()["timezone"] == data["timezone"]


def test_to_dict_of_always() -> None:
    data = Calendar.always("Asia/Shanghai").to_dict()
    assert data["windows"]["sun"] == [["00:00", "24:00"]]
    assert Calendar.from_dict(data) == Calendar.always("Asia/Shanghai")


# ------------------------------------------------- cross-check against minute stepping


def _naive_add(data: dict[str, Any], start: datetime, minutes: int) -> datetime:
    """Minute-by-minute reference (Shanghai has no DST, so wall minutes are real)."""
    windows = {
        i: [(time.fromisoformat(a), b) for a, b in data["windows"].get(d, [])]
        for i, d in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))
    }

    def working(t: datetime) -> bool:
        day = t.date()
        if data.get("country_holidays") == "CN":
            _, name = chinese_calendar.get_holiday_detail(day)
            if name is not None:
                if chinese_calendar.is_holiday(day):
                    return False
                wins = windows[0]
            else:
                wins = windows[day.weekday()]
        else:
            wins = windows[day.weekday()]
        hm = t.strftime("%H:%M")
        return any(a.strftime("%H:%M") <= hm < b for a, b in wins)

    t = start.astimezone(SH)
    while minutes:
        if working(t):
            minutes -= 1
        t += timedelta(minutes=1)
    return t


@settings(max_examples=40, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 11, 30)),
    minutes=st.integers(min_value=1, max_value=60 * 40),
)
def test_matches_minute_stepping_reference(start: datetime, minutes: int) -> None:
    start = start.replace(second=0, microsecond=0, tzinfo=SH)
    cal = Calendar.from_dict(WORKDAY_CN)
    assert cal.add_business_time(start, timedelta(minutes=minutes)) == _naive_add(
        WORKDAY_CN, start, minutes
    )


# ------------------------------------------------------------ property tests

CALENDARS = {
    "workday_cn": Calendar.from_dict(WORKDAY_CN),
    "three_shifts": Calendar.from_dict(THREE_SHIFTS),
    "berlin_office": Calendar.from_dict(
        {
            "timezone": "Europe/Berlin",
            "windows": {d: OFFICE for d in WEEKDAYS},
            "holidays": ["12-24", "12-25", "12-26"],
        }
    ),
    "new_york_night": Calendar.from_dict(
        {"timezone": "America/New_York", "windows": {d: [["20:00", "04:00+1"]] for d in WEEKDAYS}}
    ),
}
# kept inside chinese_calendar's data (it ends with 2026): 30 days of office working time
# from the end of June run into November
instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2026, 6, 30), timezones=st.just(UTC)
)
durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30))


@settings(max_examples=200, deadline=None)
@given(name=st.sampled_from(sorted(CALENDARS)), start=instants, duration=durations)
def test_between_inverts_add(name: str, start: datetime, duration: timedelta) -> None:
    cal = CALENDARS[name]
    end = cal.add_business_time(start, duration)
    assert end >= start
    assert cal.business_time_between(start, end) == duration


@settings(max_examples=200, deadline=None)
@given(name=st.sampled_from(sorted(CALENDARS)), start=instants, duration=durations)
def test_between_inverts_add_from_working_starts(
    name: str, start: datetime, duration: timedelta
) -> None:
    cal = CALENDARS[name]
    start = cal.next_working_time(start)
    assert cal.is_working_time(start)
    assert cal.business_time_between(start, cal.add_business_time(start, duration)) == duration


@settings(max_examples=200, deadline=None)
@given(name=st.sampled_from(sorted(CALENDARS)), a=instants, b=instants)
def test_add_inverts_between(name: str, a: datetime, b: datetime) -> None:
    cal = CALENDARS[name]
    a, b = min(a, b), max(a, b)
    spent = cal.business_time_between(a, b)
    end = cal.add_business_time(a, spent)
    assert end <= b
    assert cal.business_time_between(end, b) == timedelta(0)


# ------------------------------------------------------------------------ docs


def test_docs_examples_load() -> None:
    import json
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "time.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```json\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 2
    cals = {c.to_dict()["name"]: c for c in (Calendar.from_dict(json.loads(b)) for b in blocks)}
    assert cals["三班倒"].business_time_between(sh(2026, 3, 2), sh(2026, 3, 9)) == timedelta(days=7)
    office_cn = cals["工作日"]
    assert office_cn.add_business_time(sh(2026, 9, 30, 17, 0), timedelta(hours=2)) == sh(
        2026, 10, 8, 10, 0
    )


def test_times_are_normalised() -> None:
    cal = Calendar.from_dict({"timezone": "UTC", "windows": {"mon": [["9:00", "17:30:00"]]}})
    assert cal.to_dict()["windows"] == {"mon": [["09:00", "17:30"]]}


def test_country_code_is_case_insensitive() -> None:
    cal = Calendar.from_dict({**WORKDAY_CN, "country_holidays": "cn"})
    assert cal.to_dict()["country_holidays"] == "CN"
    assert not cal.is_working_time(sh(2026, 10, 1, 10, 0))

"""SLA deadlines: the ONE function that turns a start time and a duration into a deadline.

Today every clock is 24x7. The time engine makes it calendar-aware (working hours,
public holidays, 调休) by changing this function only: every caller passes the calendar
name the ruleset gave, even though it is ignored for now.
"""

from __future__ import annotations

import datetime as dt


def deadline(start: dt.datetime, within: dt.timedelta, calendar: str | None = None) -> dt.datetime:
    """The moment `within` after `start` on `calendar` (None = 24x7; named calendars are
    24x7 too until the time engine lands)."""
    if start.tzinfo is None:
        raise ValueError("deadline() needs an aware datetime")
    del calendar  # accepted so callers are already calendar-aware
    return start + within

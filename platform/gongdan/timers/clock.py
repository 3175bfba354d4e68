"""The platform's clock, injectable so tests cover days and weeks without sleeping.

`now()` is real UTC time plus an offset. Tests in the process call `set_offset()`; a
server process started with `GONGDAN_CLOCK_FILE` re-reads the offset (seconds, a float)
from that file on every scheduler tick (`refresh_from_file`).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

_offset = dt.timedelta(0)


def aware(value: dt.datetime | str) -> dt.datetime:
    """A stored time as an aware datetime: ISO text parsed, a naive value taken as UTC
    (SQLite hands timestamps back as text or naive datetimes)."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def now() -> dt.datetime:
    """The current time, aware, in UTC (shifted by the test offset, if any)."""
    return dt.datetime.now(dt.UTC) + _offset


def set_offset(offset: dt.timedelta) -> None:
    """Shift the clock (tests only)."""
    global _offset
    _offset = offset


def advance(delta: dt.timedelta) -> dt.datetime:
    """Move the clock forward by `delta` (tests only); returns the new now."""
    set_offset(_offset + delta)
    return now()


def offset() -> dt.timedelta:
    """The current shift."""
    return _offset


def refresh_from_file(path: str) -> None:
    """Read the offset from `path` (seconds); a missing or empty file means no shift."""
    if not path:
        return
    try:
        raw = Path(path).read_text().strip()
    except OSError:
        return
    try:
        set_offset(dt.timedelta(seconds=float(raw or 0)))
    except ValueError:
        return

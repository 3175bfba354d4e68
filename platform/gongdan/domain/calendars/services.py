"""Named business calendars: list, read, save (validated by `Calendar.from_dict`), delete.

The SLA clock (`gongdan.domain.tickets.deadlines`) looks tier calendars up by name here; a
name no calendar has counts as 24x7 (and is logged), so a ruleset can go live before its
calendar is defined. Saving or deleting a calendar re-arms, in the same transaction, the
timers of every open ticket whose tier counts on it (`rearm_tickets_on`).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from gongdan.calendars import Calendar, CalendarError
from gongdan.domain import audit
from gongdan.errors import FieldError, invalid, not_found
from gongdan.store.tables import GdCalendar
from gongdan.timers import clock

MAX_NAME = 100


def _out(row: dict[str, Any]) -> dict[str, Any]:
    data = row["data"]
    if isinstance(data, str):
        data = json.loads(data)
    at = row["updated_at"]
    return {"name": row["name"], "calendar": data, "updated_by": row["updated_by"],
            "updated_at": at.isoformat(timespec="seconds") if isinstance(at, dt.datetime) else at}


def check(name: str, data: Any) -> dict[str, Any]:
    """The normalised calendar dict, or 422 naming the bad key."""
    if not name or len(name) > MAX_NAME or "/" in name:
        raise invalid("日历名称无效", "invalid calendar name",
                      [FieldError(key="name", message_zh=f"1–{MAX_NAME} 个字符，不含 /",
                                  message_en=f"1-{MAX_NAME} characters, no /")])
    if not isinstance(data, dict):
        raise invalid("日历必须是 JSON 对象", "a calendar is a JSON object")
    try:
        cal = Calendar.from_dict({k: v for k, v in data.items() if k != "name"})
    except CalendarError as exc:
        raise invalid(f"日历 {name} 无效：{exc.message_zh}", f"calendar {name} is invalid: "
                      f"{exc.message_en}", [FieldError(key=exc.key or "calendar",
                                                       message_zh=exc.message_zh,
                                                       message_en=exc.message_en)]) from None
    return {**cal.to_dict(), "name": name}


async def list_calendars() -> list[dict[str, Any]]:
    """Every calendar, by name."""
    rows = await GdCalendar.select().order_by(GdCalendar.name)
    return [_out(r) for r in rows]


async def get_calendar(name: str) -> dict[str, Any]:
    """One calendar; 404 when no calendar has that name."""
    rows = await GdCalendar.select().where(GdCalendar.name == name)
    if not rows:
        raise not_found("日历", "calendar", name)
    return _out(rows[0])


async def rearm_tickets_on(db: Any, name: str, *, now: dt.datetime,
                           warn_share: float | None = None) -> int:
    """Re-arm the timers (and deadlines) of every open ticket whose tier counts on the
    calendar `name`, inside the caller's transaction, after the calendar changed; returns
    how many. Each ticket row is locked first, in id order, as every change of a ticket is."""
    from gongdan.domain.tickets import services as tickets
    from gongdan.store.tables import GdTicket
    from gongdan.timers import arming

    if warn_share is None:
        from gongdan.settings import Settings

        warn_share = Settings.from_env().sla_warn_share
    cal = "json_extract(sla, '$.calendar')" if db.is_sqlite else "(sla::jsonb ->> 'calendar')"
    rows = await GdTicket.raw(
        f"SELECT id FROM gd_ticket WHERE tier IS NOT NULL AND {cal} = {{}} ORDER BY id", name)
    count = 0
    for r in rows:
        locked = await GdTicket.raw(
            "UPDATE gd_ticket SET last_seq = last_seq WHERE id = {} "
            "RETURNING line_key, form_version, state", r["id"])
        if not locked:
            continue
        ctx = await tickets._context(locked[0]["line_key"], locked[0]["form_version"])
        if ctx.machine is not None and ctx.machine.category(locked[0]["state"]) == "closed":
            continue  # a closed ticket's clock has stopped
        await arming.rearm(int(r["id"]), rules=ctx.rules, closed=False, now=now,
                           warn_share=warn_share)
        count += 1
    return count


async def put_calendar(db: Any, name: str, data: Any, actor: str,
                       warn_share: float | None = None) -> tuple[dict[str, Any], bool]:
    """Create or replace the calendar `name` and re-arm the open tickets that count on it
    (`rearmed_tickets`, same transaction); returns (calendar, created). Audited."""
    normalised = check(name, data)
    now = clock.now()
    async with db.transaction():
        exists = await GdCalendar.exists().where(GdCalendar.name == name)
        if exists:
            await GdCalendar.update({GdCalendar.data: normalised, GdCalendar.updated_by: actor,
                                     GdCalendar.updated_at: now}).where(GdCalendar.name == name)
        else:
            await GdCalendar.insert(GdCalendar(name=name, data=normalised, updated_by=actor,
                                               updated_at=now))
        rearmed = await rearm_tickets_on(db, name, now=now, warn_share=warn_share)
        await audit.record(actor, "calendar.set", "", {"name": name, "rearmed_tickets": rearmed})
    return {**await get_calendar(name), "rearmed_tickets": rearmed}, not exists


async def delete_calendar(db: Any, name: str, actor: str,
                          warn_share: float | None = None) -> int:
    """Delete the calendar `name` (tiers that name it count 24x7 until it is defined again)
    and re-arm the open tickets that counted on it; returns how many."""
    async with db.transaction():
        if not await GdCalendar.exists().where(GdCalendar.name == name):
            raise not_found("日历", "calendar", name)
        await GdCalendar.delete().where(GdCalendar.name == name)
        rearmed = await rearm_tickets_on(db, name, now=clock.now(), warn_share=warn_share)
        await audit.record(actor, "calendar.deleted", "", {"name": name,
                                                           "rearmed_tickets": rearmed})
    return rearmed

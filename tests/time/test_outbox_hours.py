"""Notify only within working hours (`GONGDAN_NOTIFY_CALENDAR`), on SQLite and PostgreSQL,
with the injectable clock: a message outside the calendar's windows waits until the next
window opens; a P0 escalation and a channel the rule does not cover go out at once."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from gongdan.demo import demo_ticket
from gongdan.outbox import service
from gongdan.outbox.worker import OutboxWorker, notify_calendar_for
from gongdan.settings import Settings
from gongdan.timers import clock
from tests.time.conftest import FakeSender, TimeApi, repair_line_with_rules

SH = ZoneInfo("Asia/Shanghai")
OFFICE = {"timezone": "Asia/Shanghai",
          "windows": {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}}


def at(when: dt.datetime) -> None:
    clock.set_offset(when - dt.datetime.now(dt.UTC))


async def enqueue(api: TimeApi, key: str, ticket: dict[str, Any], *, kind: str,
                  channel: str = "sms") -> None:
    async def work() -> None:
        async with api.db.transaction():
            # an address of the channel's kind, so the recipient needs no look-up
            to = "13800138000" if channel in ("sms", "voice") else "ops@example.com"
            await service.enqueue(key=key, channel=channel, template="状态变化", to=to,
                                  kind=kind, ticket_id=ticket["id"],
                                  context={"ticket": {"number": ticket["number"]},
                                           "from_state": "a", "to_state": "b"})

    await api.run(work)


async def recipient_x(api: TimeApi) -> None:
    """The recipient `x`, with an address of each channel's kind (a phone, a WeCom user id)."""
    r = await api.post("/api/users", {"name": "x", "role": "engineer",
                                      "profile": {"phone": "13800138000", "wecom_userid": "x1"}})
    assert r.status_code == 201, r.text


async def message(api: TimeApi, key: str) -> dict[str, Any]:
    items = (await api.get("/api/outbox", params={"limit": 500})).json()["items"]
    return next(m for m in items if m["idempotency_key"] == key)


def test_per_line_calendars() -> None:
    s = Settings(notify_calendar="repair=工作日, *=客服班次")
    assert notify_calendar_for(s, "repair") == "工作日"
    assert notify_calendar_for(s, "aftersales") == "客服班次"
    assert notify_calendar_for(s, None) == "客服班次"
    assert notify_calendar_for(Settings(notify_calendar="工作日"), "x") == "工作日"
    assert notify_calendar_for(Settings(notify_calendar="repair=工作日"), "x") == ""


async def test_messages_wait_for_the_next_working_window(tapi: TimeApi) -> None:
    await repair_line_with_rules(tapi)
    assert (await tapi.put("/api/calendars/工作日", OFFICE)).status_code == 201
    await recipient_x(tapi)
    at(dt.datetime(2026, 12, 4, 20, 0, tzinfo=SH))  # Friday evening, after hours
    p2 = (await tapi.post("/api/lines/repair/tickets",
                          demo_ticket(1, description="一般问题"))).json()
    p0 = (await tapi.post("/api/lines/repair/tickets",
                          demo_ticket(2, description="注塑机停机"))).json()
    assert (p2["sla"]["tier"], p0["sla"]["tier"]) == ("P2", "P0")
    await enqueue(tapi, "k:notice", p2, kind="notify")  # waits for Monday
    await enqueue(tapi, "k:p2-escalation", p2, kind="escalation")  # P2: waits too
    await enqueue(tapi, "k:p0-escalation", p0, kind="escalation")  # P0 overrides
    await enqueue(tapi, "k:email", p2, kind="notify", channel="email")  # not covered

    settings = dataclasses.replace(tapi.settings, notify_calendar="工作日",
                                   notify_calendar_channels="sms,voice")
    sender = FakeSender()
    worker = OutboxWorker(tapi.db, settings, sender)
    await tapi.run(worker.run_once)
    assert sorted(m.idempotency_key for m in sender.sent) == ["k:email", "k:p0-escalation"]
    monday = dt.datetime(2026, 12, 7, 9, 0, tzinfo=SH)
    for key in ("k:notice", "k:p2-escalation"):
        m = await message(tapi, key)
        assert m["state"] == "pending" and m["attempts"] == 0
        assert dt.datetime.fromisoformat(m["next_attempt_at"]) == monday
        assert "工作日" in m["last_error"]

    at(dt.datetime(2026, 12, 7, 8, 59, tzinfo=SH))  # Monday, a minute early
    assert await tapi.run(worker.run_once) == 0
    assert len(sender.sent) == 2
    at(dt.datetime(2026, 12, 7, 9, 0, 1, tzinfo=SH))  # the window is open
    assert await tapi.run(worker.run_once) == 2
    assert sorted(m.idempotency_key for m in sender.sent[2:]) == ["k:notice", "k:p2-escalation"]
    for key in ("k:notice", "k:p2-escalation"):
        m = await message(tapi, key)
        assert m["state"] == "sent" and m["attempts"] == 1


async def test_a_retry_that_falls_after_hours_waits_as_well(tapi: TimeApi) -> None:
    from gongdan.connectors import RetryableDeliveryError

    await repair_line_with_rules(tapi)
    assert (await tapi.put("/api/calendars/工作日", OFFICE)).status_code == 201
    await recipient_x(tapi)
    at(dt.datetime(2026, 12, 4, 17, 59, 50, tzinfo=SH))  # Friday, ten seconds left
    p2 = (await tapi.post("/api/lines/repair/tickets",
                          demo_ticket(1, description="一般问题"))).json()
    await enqueue(tapi, "k:retry", p2, kind="notify")
    settings = dataclasses.replace(tapi.settings, notify_calendar="工作日",
                                   outbox_backoff_base=60)
    sender = FakeSender()
    sender.fail = RetryableDeliveryError("busy")
    worker = OutboxWorker(tapi.db, settings, sender)
    assert await tapi.run(worker.run_once) == 1  # tried within hours, failed
    sender.fail = None
    at(dt.datetime(2026, 12, 4, 18, 5, tzinfo=SH))  # the retry is due, after hours
    await tapi.run(worker.run_once)
    assert sender.sent == []
    m = await message(tapi, "k:retry")
    assert m["state"] == "pending" and m["attempts"] == 1  # the deferral is not an attempt
    assert dt.datetime.fromisoformat(m["next_attempt_at"]) == dt.datetime(2026, 12, 7, 9, 0,
                                                                          tzinfo=SH)

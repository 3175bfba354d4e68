"""One calendar-aware computation of deadlines (`gongdan.domain.tickets.deadlines`), on
SQLite and PostgreSQL through the real API: the ticket, its timeline, its timers and the
dry-run preview all carry the same respond-by; a reclassified ticket keeps its paused time."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from gongdan.demo import demo_ticket
from gongdan.store.tables import GdTimer
from gongdan.timers import clock
from tests.time.conftest import TimeApi, repair_line_with_rules

SH = ZoneInfo("Asia/Shanghai")
H = dt.timedelta(hours=1)
OFFICE = {"timezone": "Asia/Shanghai",
          "windows": {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}}


def at(when: dt.datetime) -> None:
    """Put the platform clock at `when`."""
    clock.set_offset(when - dt.datetime.now(dt.UTC))


def parse(s: str) -> dt.datetime:
    """An API time, to the second (the API shows seconds; the record keeps microseconds)."""
    return dt.datetime.fromisoformat(s).replace(microsecond=0)


async def due(api: TimeApi, ticket_id: int, kind: str) -> dt.datetime:
    async def q() -> Any:
        rows = await GdTimer.select(GdTimer.due_at).where(
            (GdTimer.ticket_id == ticket_id) & (GdTimer.state == "pending")
            & (GdTimer.kind == kind))
        assert len(rows) == 1, rows
        return rows[0]["due_at"]

    return (await api.run(q)).replace(microsecond=0)  # type: ignore[no-any-return]


async def timeline(api: TimeApi, ticket_id: int, type_: str) -> list[dict[str, Any]]:
    r = await api.get(f"/api/tickets/{ticket_id}/timeline")
    assert r.status_code == 200, r.text
    return [e for e in r.json()["events"] if e["type"] == type_]


async def test_friday_evening_ticket_has_one_respond_by_everywhere(tapi: TimeApi) -> None:
    await repair_line_with_rules(tapi)
    r = await tapi.put("/api/calendars/工作日", OFFICE)
    assert r.status_code == 201, r.text
    at(dt.datetime(2026, 12, 4, 17, 0, tzinfo=SH))  # a Friday, one working hour left
    monday_noon = dt.datetime(2026, 12, 7, 12, 0, tzinfo=SH)  # P2: respond 4h on 工作日
    r = await tapi.post("/api/lines/repair/dry-run", {"ticket": demo_ticket(1, description="一般问题")})
    assert r.status_code == 200, r.text
    preview = parse(r.json()["sla"]["respond_by"])
    r = await tapi.post("/api/lines/repair/tickets", demo_ticket(1, description="一般问题"))
    assert r.status_code == 201, r.text
    t = r.json()
    assert t["sla"]["tier"] == "P2" and t["sla"]["calendar"] == "工作日"
    respond_by = parse(t["sla"]["respond_by"])
    assert dt.timedelta(0) <= respond_by - monday_noon < dt.timedelta(minutes=1)
    assert abs(preview - respond_by) < dt.timedelta(minutes=1)  # seconds apart, same rule
    got = parse((await tapi.get(f"/api/tickets/{t['id']}")).json()["sla"]["respond_by"])
    created = (await timeline(tapi, t["id"], "created"))[0]
    assert got == respond_by == parse(created["after"]["sla"]["respond_by"])
    assert await due(tapi, t["id"], "respond_breach") == respond_by
    # 3d of working time on 9-18 (72 working hours = 8 working days): Wednesday 16 Dec
    resolve_by = parse(t["sla"]["resolve_by"])
    assert resolve_by.date() == dt.date(2026, 12, 16)
    assert parse(created["after"]["sla"]["resolve_by"]) == resolve_by
    assert await due(tapi, t["id"], "resolve_breach") == resolve_by

    # reclassified to P1 (respond 2h on 工作日): the sla_changed event, the ticket and the
    # timers agree again, and none of them says 24x7
    r = await tapi.patch(f"/api/tickets/{t['id']}", {"version": t["version"],
                                                     "fields": {"description": "设备异响"}})
    assert r.status_code == 200, r.text
    t = r.json()
    assert t["sla"]["tier"] == "P1"
    respond_by = parse(t["sla"]["respond_by"])
    assert dt.timedelta(0) <= respond_by - dt.datetime(2026, 12, 7, 10, 0, tzinfo=SH) \
        < dt.timedelta(minutes=1)
    changed = (await timeline(tapi, t["id"], "sla_changed"))[0]
    assert parse(changed["after"]["sla"]["respond_by"]) == respond_by
    assert parse(changed["after"]["sla"]["resolve_by"]) == parse(t["sla"]["resolve_by"])
    assert await due(tapi, t["id"], "respond_breach") == respond_by
    assert await due(tapi, t["id"], "resolve_breach") == parse(t["sla"]["resolve_by"])


async def move(api: TimeApi, t: dict[str, Any], *states: str) -> dict[str, Any]:
    for to in states:
        r = await api.post(f"/api/tickets/{t['id']}/move", {"to": to, "version": t["version"]})
        assert r.status_code == 200, r.text
        t = r.json()
    return t


async def test_reclassified_ticket_keeps_its_paused_time(tapi: TimeApi) -> None:
    # no calendar 工作日 is defined: both tiers count 24x7, so the arithmetic is plain
    await repair_line_with_rules(tapi)
    r = await tapi.post("/api/lines/repair/tickets", demo_ticket(1, description="一般问题"))
    t = r.json()
    assert t["sla"]["tier"] == "P2"  # pauses in 待备件 and 等待客户确认
    t = await move(tapi, t, "已派单", "已到达", "诊断中", "维修中", "等待客户确认")
    clock.advance(10 * H)  # 10 h waiting for the customer: paused under P2
    t = await move(tapi, t, "维修中")
    moves = await timeline(tapi, t["id"], "state_changed")
    paused = parse(moves[-1]["at"]) - parse(moves[-2]["at"])
    assert paused >= 10 * H
    # P1 (resolve 1d) does NOT pause in 等待客户确认; the interval was paused by the tier in
    # force then, so it stays paused
    r = await tapi.patch(f"/api/tickets/{t['id']}", {"version": t["version"],
                                                     "fields": {"description": "设备异响"}})
    assert r.status_code == 200, r.text
    t = r.json()
    assert t["sla"]["tier"] == "P1"
    created = parse(t["created_at"])
    resolve_by = parse(t["sla"]["resolve_by"])
    assert abs(resolve_by - (created + 24 * H + paused)) < dt.timedelta(seconds=2)
    assert await due(tapi, t["id"], "resolve_breach") == resolve_by
    changed = (await timeline(tapi, t["id"], "sla_changed"))[0]
    assert parse(changed["after"]["sla"]["resolve_by"]) == resolve_by
    # and it does not breach at created + 24 h
    from gongdan.timers.scheduler import Scheduler

    clock.set_offset(clock.offset() + (created + 24 * H + dt.timedelta(minutes=1)
                                       - clock.now()))
    await tapi.run(Scheduler(tapi.db, tapi.settings).tick)
    breaches = await timeline(tapi, t["id"], "sla_breached")
    assert [b["data"]["clock"] for b in breaches] == ["respond"]  # P1's 2h, not resolve


async def test_a_changed_calendar_rearms_the_open_tickets_on_it(tapi: TimeApi) -> None:
    await repair_line_with_rules(tapi)  # 工作日 not defined yet: 24x7, with a warning
    at(dt.datetime(2026, 12, 4, 17, 0, tzinfo=SH))  # Friday
    r = await tapi.post("/api/lines/repair/tickets", demo_ticket(1, description="一般问题"))
    t = r.json()
    assert t["sla"]["tier"] == "P2"
    friday_nine = dt.datetime(2026, 12, 4, 21, 0, tzinfo=SH)  # 4h of 24x7
    assert dt.timedelta(0) <= parse(t["sla"]["respond_by"]) - friday_nine < dt.timedelta(minutes=1)
    p0 = (await tapi.post("/api/lines/repair/tickets",
                          demo_ticket(2, description="注塑机停机"))).json()  # P0: no calendar
    p0_due = await due(tapi, p0["id"], "respond_breach")

    r = await tapi.put("/api/calendars/工作日", OFFICE)
    assert r.status_code == 201, r.text
    assert r.json()["rearmed_tickets"] == 1  # the P2 ticket; P0 counts on no calendar
    monday_noon = dt.datetime(2026, 12, 7, 12, 0, tzinfo=SH)
    got = parse((await tapi.get(f"/api/tickets/{t['id']}")).json()["sla"]["respond_by"])
    assert dt.timedelta(0) <= got - monday_noon < dt.timedelta(minutes=1)
    assert await due(tapi, t["id"], "respond_breach") == got
    assert await due(tapi, p0["id"], "respond_breach") == p0_due
    # the old 21:00 breach is cancelled: nothing fires on Friday night
    from gongdan.timers.scheduler import Scheduler

    at(dt.datetime(2026, 12, 4, 22, 0, tzinfo=SH))
    await tapi.run(Scheduler(tapi.db, tapi.settings).tick)
    tl = (await tapi.get(f"/api/tickets/{t['id']}/timeline")).json()["events"]
    assert [e for e in tl if e["type"] in ("sla_warning", "sla_breached")] == []

    # deleted: back to 24x7, re-armed in the same transaction (due at once)
    r = await tapi.client.delete("/api/calendars/工作日", headers=tapi._h(None))
    assert r.status_code == 204, r.text
    back = await due(tapi, t["id"], "respond_breach")
    assert dt.timedelta(0) <= back - friday_nine < dt.timedelta(minutes=1)

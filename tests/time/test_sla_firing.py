"""SLA timers at firing time, on SQLite and PostgreSQL: they re-check the record and skip
a ticket that no longer needs them, and a breach escalates to the assignee's real
supervisor, else the line's escalation target, else the admins (recorded on the event)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from gongdan.demo import demo_ticket
from gongdan.store.tables import GdEvent, GdTicket, GdTimer
from gongdan.timers import clock
from gongdan.timers.scheduler import Scheduler
from tests.time.conftest import LOG_RULES, TimeApi, repair_line_with_rules

M = dt.timedelta(minutes=1)


async def create(api: TimeApi, **overrides: Any) -> dict[str, Any]:
    r = await api.post("/api/lines/repair/tickets", demo_ticket(1, **overrides))
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def tick(api: TimeApi) -> int:
    return int(await api.run(Scheduler(api.db, api.settings).tick))


async def timers(api: TimeApi, ticket_id: int) -> list[dict[str, Any]]:
    async def q() -> list[dict[str, Any]]:
        return [dict(r) for r in await GdTimer.select(GdTimer.kind, GdTimer.state, GdTimer.payload)
                .where(GdTimer.ticket_id == ticket_id).order_by(GdTimer.due_at)
                .output(load_json=True)]

    return list(await api.run(q))


async def timeline(api: TimeApi, ticket_id: int, *types: str) -> list[dict[str, Any]]:
    tl = (await api.get(f"/api/tickets/{ticket_id}/timeline")).json()["events"]
    return [e for e in tl if e["type"] in types]


async def outbox(api: TimeApi, ticket_id: int, kind: str) -> list[dict[str, Any]]:
    items = (await api.get("/api/outbox", params={"ticket": ticket_id})).json()["items"]
    return [m for m in items if m["kind"] == kind]


async def test_respond_timer_of_a_claimed_ticket_does_not_fire(tapi: TimeApi) -> None:
    await repair_line_with_rules(tapi)
    t = await create(tapi, description="注塑机停机")  # P0: respond 30m

    async def claimed_without_rearming() -> None:
        # what a claim path that forgot to re-arm would leave: the event, the timers as armed
        async with tapi.db.transaction():
            row = (await GdTicket.select(GdTicket.last_seq).where(GdTicket.id == t["id"]))[0]
            seq = int(row["last_seq"]) + 1
            await GdEvent.insert(GdEvent(ticket_id=t["id"], seq=seq, type="claimed",
                                         at=clock.now(), actor="xiaowang", channel="app",
                                         data={}))
            await GdTicket.update({GdTicket.last_seq: seq}).where(GdTicket.id == t["id"])

    await tapi.run(claimed_without_rearming)
    assert [x["kind"] for x in await timers(tapi, t["id"]) if x["state"] == "pending"][:2] == [
        "respond_warn", "respond_breach"]
    clock.advance(31 * M)
    await tick(tapi)
    assert await timeline(tapi, t["id"], "sla_warning", "sla_breached") == []
    assert await outbox(tapi, t["id"], "escalation") == []
    done = {x["kind"]: x for x in await timers(tapi, t["id"])}
    for kind in ("respond_warn", "respond_breach"):
        assert done[kind]["state"] == "skipped"
        assert done[kind]["payload"]["skipped"] == "responded"
    r = await tapi.get("/api/timers", params={"ticket": t["id"], "state": "skipped"})
    assert r.status_code == 200 and r.json()["counts"]["skipped"] == 2


async def test_resolve_timer_of_a_closed_ticket_does_not_fire(tapi: TimeApi) -> None:
    await repair_line_with_rules(tapi)
    t = await create(tapi, description="注塑机停机")  # P0: resolve 4h

    async def closed_without_rearming() -> None:
        async with tapi.db.transaction():
            await GdTicket.update({GdTicket.state: "已结案"}).where(GdTicket.id == t["id"])

    await tapi.run(closed_without_rearming)
    clock.advance(5 * 60 * M)
    await tick(tapi)
    assert await timeline(tapi, t["id"], "sla_warning", "sla_breached") == []
    assert {x["payload"].get("skipped") for x in await timers(tapi, t["id"])} == {"closed"}


async def test_breach_escalates_to_the_assignees_supervisor(tapi: TimeApi) -> None:
    await repair_line_with_rules(tapi)
    r = await tapi.post("/api/engineers", {"id": "xiaowang", "name": "小王", "skills": {"液压": 5},
                                           "supervisor": "laozhang", "max_load": 3})
    assert r.status_code in (200, 201), r.text
    t = await create(tapi, description="注塑机停机")
    r = await tapi.patch(f"/api/tickets/{t['id']}", {"version": t["version"],
                                                     "assignee": "xiaowang"})
    assert r.status_code == 200, r.text
    clock.advance(31 * M)
    await tick(tapi)
    breach = (await timeline(tapi, t["id"], "sla_breached"))[0]
    assert breach["data"]["notified"] == ["laozhang"]
    assert breach["data"]["notified_as"] == "supervisor"
    assert [m["to"] for m in await outbox(tapi, t["id"], "escalation")] == ["laozhang"]
    assert [m["to"] for m in await outbox(tapi, t["id"], "sla_warning")] == ["xiaowang"]


async def test_breach_without_a_supervisor_goes_to_the_lines_target(tapi: TimeApi) -> None:
    rules = LOG_RULES.replace("after 2 reoffers escalate supervisor",
                              'after 2 reoffers escalate role "服务经理"')
    assert rules != LOG_RULES
    await repair_line_with_rules(tapi, rules)
    t = await create(tapi, description="注塑机停机")  # onsite: pool 现场维修
    clock.advance(31 * M)
    await tick(tapi)
    breach = (await timeline(tapi, t["id"], "sla_breached"))[0]
    assert breach["data"]["notified"] == ["role:服务经理"]
    assert breach["data"]["notified_as"] == "line_target"
    assert [m["to"] for m in await outbox(tapi, t["id"], "escalation")] == ["role:服务经理"]


async def test_breach_without_anyone_goes_to_the_admins(tapi: TimeApi) -> None:
    await repair_line_with_rules(tapi)  # 现场维修 escalates to `supervisor`: nobody has one
    r = await tapi.post("/api/users", {"name": "admin2", "role": "admin"})
    assert r.status_code in (200, 201), r.text
    t = await create(tapi, description="注塑机停机")
    clock.advance(31 * M)
    await tick(tapi)
    breach = (await timeline(tapi, t["id"], "sla_breached"))[0]
    assert breach["data"]["notified"] == ["admin", "admin2"]
    assert breach["data"]["notified_as"] == "admins"
    assert sorted(m["to"] for m in await outbox(tapi, t["id"], "escalation")) == [
        "admin", "admin2"]

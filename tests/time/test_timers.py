"""Durable timers on SQLite and PostgreSQL, with the clock moved instead of sleeping:
SLA warnings and breaches, re-arming on state and tier changes, dwell repeats, archive
and survey, claim time-outs; each fires once."""

from __future__ import annotations

import datetime as dt
from typing import Any

from gongdan.demo import demo_ticket
from gongdan.store.tables import GdTimer
from gongdan.timers import arming, clock
from gongdan.timers.scheduler import Scheduler
from tests.time.conftest import TimeApi, repair_line_with_rules

H = dt.timedelta(hours=1)


async def create(api: TimeApi, **overrides: Any) -> dict:
    r = await api.post("/api/lines/repair/tickets", demo_ticket(1, **overrides))
    assert r.status_code == 201, r.text
    return r.json()


async def move(api: TimeApi, t: dict, *states: str) -> dict:
    for to in states:
        r = await api.post(f"/api/tickets/{t['id']}/move", {"to": to, "version": t["version"]})
        assert r.status_code == 200, r.text
        t = r.json()
    return t


async def tick(api: TimeApi) -> int:
    return int(await api.run(Scheduler(api.db, api.settings).tick))


async def kinds(api: TimeApi, ticket_id: int, state: str = "pending") -> list[str]:
    async def q() -> list[str]:
        rows = await GdTimer.select(GdTimer.kind).where(
            (GdTimer.ticket_id == ticket_id) & (GdTimer.state == state)).order_by(GdTimer.due_at)
        return [r["kind"] for r in rows]

    return list(await api.run(q))


async def events(api: TimeApi, ticket_id: int, *types: str) -> list[dict]:
    tl = (await api.get(f"/api/tickets/{ticket_id}/timeline")).json()["events"]
    return [e for e in tl if not types or e["type"] in types]


async def test_p0_respond_warning_then_breach_each_once(tapi: TimeApi) -> None:
    await repair_line_with_rules(tapi)
    t = await create(tapi, description="注塑机停机")  # P0: respond 30m, resolve 4h, 24x7
    assert t["sla"]["tier"] == "P0"
    assert await kinds(tapi, t["id"]) == ["respond_warn", "respond_breach", "resolve_warn",
                                          "resolve_breach"]
    assert await tick(tapi) == 0
    clock.advance(dt.timedelta(minutes=25))  # 80% of 30 min = 24 min
    assert await tick(tapi) == 1
    assert await tick(tapi) == 0
    clock.advance(dt.timedelta(minutes=6))
    assert await tick(tapi) == 1
    ev = await events(tapi, t["id"], "sla_warning", "sla_breached")
    assert [(e["type"], e["data"]["clock"], e["channel"], e["actor"]) for e in ev] == [
        ("sla_warning", "respond", "timer", "timer"), ("sla_breached", "respond", "timer", "timer")]
    out = (await tapi.get("/api/outbox", params={"ticket": t["id"]})).json()["items"]
    assert sorted(m["template"] for m in out) == ["SLA预警", "超时升级"]
    esc = next(m for m in out if m["template"] == "超时升级")
    assert esc["to"] == "admin" and t["number"] in esc["text"]  # nobody supervises: the admins
    clock.advance(4 * H)
    assert await tick(tapi) == 2  # resolve warning and breach
    assert await tick(tapi) == 0
    assert await kinds(tapi, t["id"]) == []


async def test_claim_stops_the_respond_clock(tapi: TimeApi) -> None:
    await repair_line_with_rules(tapi)
    t = await create(tapi, description="注塑机停机")
    r = await tapi.post(f"/api/tickets/{t['id']}/events", {"type": "claimed"})
    assert r.status_code == 200, r.text
    assert await kinds(tapi, t["id"]) == ["resolve_warn", "resolve_breach"]
    assert "respond_warn" in await kinds(tapi, t["id"], "cancelled")


async def test_pause_state_stops_resolve_and_rearms_on_leaving(tapi: TimeApi) -> None:
    await repair_line_with_rules(tapi)
    t = await create(tapi, description="PLC 报警")  # P1: resolve 1d on calendar 工作日
    assert t["sla"]["tier"] == "P1"
    t = await move(tapi, t, "已派单", "已到达", "诊断中", "待备件")  # 待备件 pauses P1
    pending = await kinds(tapi, t["id"])
    assert "resolve_breach" not in pending and "respond_breach" in pending
    clock.advance(10 * H)
    await tick(tapi)
    t = (await tapi.get(f"/api/tickets/{t['id']}")).json()
    t = await move(tapi, t, "维修中")
    async def due() -> Any:
        rows = await GdTimer.select(GdTimer.due_at).where(
            (GdTimer.ticket_id == t["id"]) & (GdTimer.state == "pending")
            & (GdTimer.kind == "resolve_breach"))
        return rows[0]["due_at"]
    breach = await tapi.run(due)
    created = dt.datetime.fromisoformat(t["created_at"])
    # 24h of (24x7, undefined calendar) time, plus the ~10h spent paused
    assert breach - created >= dt.timedelta(hours=33, minutes=59)


async def test_tier_change_rearms(tapi: TimeApi) -> None:
    await repair_line_with_rules(tapi)
    t = await create(tapi, description="一般问题")
    assert t["sla"]["tier"] == "P2"
    r = await tapi.patch(f"/api/tickets/{t['id']}", {"version": t["version"],
                                                     "fields": {"description": "停机了"}})
    assert r.status_code == 200, r.text
    assert r.json()["sla"]["tier"] == "P0"
    clock.advance(dt.timedelta(minutes=31))
    assert await tick(tapi) == 2  # P0's respond warning and breach, not P2's 4h
    ev = await events(tapi, t["id"], "sla_breached")
    assert len(ev) == 1 and ev[0]["data"]["clock"] == "respond"


async def test_dwell_alert_repeats_until_the_state_changes(tapi: TimeApi) -> None:
    await repair_line_with_rules(tapi)
    t = await create(tapi)
    r = await tapi.post(f"/api/tickets/{t['id']}/events", {"type": "claimed"})
    t = await move(tapi, r.json()["ticket"], "已派单", "已到达", "诊断中", "维修中")
    clock.advance(71 * H)
    await tick(tapi)
    assert await events(tapi, t["id"], "dwell_alert") == []
    clock.advance(2 * H)  # 73h in 维修中
    await tick(tapi)
    assert len(await events(tapi, t["id"], "dwell_alert")) == 1
    clock.advance(24 * H)  # repeat every 24h
    await tick(tapi)
    clock.advance(24 * H)
    await tick(tapi)
    alerts = await events(tapi, t["id"], "dwell_alert")
    assert [a["data"]["count"] for a in alerts] == [1, 2, 3]
    esc = [m for m in (await tapi.get("/api/outbox", params={"ticket": t["id"]})).json()["items"]
           if m["kind"] == "escalation" and m["to"] == "role:服务经理"]
    assert len(esc) == 3
    t = (await tapi.get(f"/api/tickets/{t['id']}")).json()
    await move(tapi, t, "等待客户确认")
    pending = await kinds(tapi, t["id"])
    assert pending.count("dwell") == 1  # the 4h dwell of 等待客户确认, not 维修中's
    clock.advance(5 * H)
    await tick(tapi)
    alerts = await events(tapi, t["id"], "dwell_alert")
    assert [a["data"]["state"] for a in alerts] == ["维修中"] * 3 + ["等待客户确认"]
    voice = [m for m in (await tapi.get("/api/outbox", params={"ticket": t["id"]})).json()["items"]
             if m["kind"] == "dwell"]
    assert len(voice) == 1 and voice[0]["to"] == "supervisor" and voice[0]["channel"] == "log"


async def test_archive_then_survey(tapi: TimeApi) -> None:
    await repair_line_with_rules(tapi)
    t = await create(tapi)
    for body in ({"type": "photo", "kind": "photo", "url": "x.jpg"},
                 {"type": "customer_signature", "signature": "sig"},
                 {"type": "root_cause", "text": "轴承磨损"}):
        assert (await tapi.post(f"/api/tickets/{t['id']}/events", body)).status_code == 200
    t = (await tapi.get(f"/api/tickets/{t['id']}")).json()
    t = await move(tapi, t, "已派单", "已到达", "诊断中", "维修中", "等待客户确认", "已结案")
    assert await kinds(tapi, t["id"]) == ["archive"]  # closed: no SLA timers, no dwell
    clock.advance(47 * H)
    assert await tick(tapi) == 0
    clock.advance(2 * H)
    assert await tick(tapi) == 1
    assert len(await events(tapi, t["id"], "archived")) == 1
    survey = [m for m in (await tapi.get("/api/outbox", params={"ticket": t["id"]})).json()["items"]
              if m["kind"] == "survey"]
    assert len(survey) == 1
    assert survey[0]["template"] == "满意度调研" and survey[0]["to"] == t["fields"]["customer_phone"]
    assert f"/survey/{t['number']}" in survey[0]["text"]
    clock.advance(100 * H)
    assert await tick(tapi) == 0


async def test_a_stale_claim_timeout_fires_once_and_changes_nothing(tapi: TimeApi) -> None:
    # dispatch's reoffer_on_timeout handles claim time-outs (tests/dispatch/test_claim_timeout.py);
    # one whose offers are gone (here: the ticket never had any) is stale
    await repair_line_with_rules(tapi)
    t = await create(tapi)

    async def arm() -> None:
        async with tapi.db.transaction():
            await arming.arm("claim_timeout", clock.now() + dt.timedelta(minutes=15),
                             ticket_id=t["id"], payload={"offered": ["wang"]}, now=clock.now())

    await tapi.run(arm)
    clock.advance(dt.timedelta(minutes=16))
    before = await events(tapi, t["id"])
    assert await tick(tapi) == 1
    assert await events(tapi, t["id"]) == before
    assert await kinds(tapi, t["id"], "fired") == ["claim_timeout"]


async def test_two_schedulers_fire_each_timer_once(tapi: TimeApi) -> None:
    await repair_line_with_rules(tapi)
    ids = [(await create(tapi, description="停机"))["id"] for _ in range(5)]
    clock.advance(dt.timedelta(minutes=31))
    a, b = Scheduler(tapi.db, tapi.settings), Scheduler(tapi.db, tapi.settings)
    b.owner = "other"

    async def both() -> list[int]:
        import asyncio

        return list(await asyncio.gather(a.tick(), b.tick()))

    fired = await tapi.run(both)
    assert sum(fired) == 10
    for i in ids:
        assert len(await events(tapi, i, "sla_warning", "sla_breached")) == 2

"""The load limit at claim time, `bypass queue`, the queue's order and re-routing when an
engineer frees up (across lines), and imports that keep what the file does not give;
through HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from gongdan import rules_runtime
from gongdan.demo import demo_ticket
from gongdan.domain.dispatch import services as dispatch
from gongdan.store.tables import GdDispatchQueue
from gongdan.timers import clock
from tests.dispatch.conftest import DISPATCH_RULES, dispatch_line, token_for
from tests.platform.conftest import make_repair_line
from tests.time.conftest import TimeApi

pytestmark = pytest.mark.skipif(not rules_runtime.available(), reason="needs gongdan_rules")

P0 = {"description": "注塑机停机，无法启动"}
ELIGIBLE = ("xiaowang", "xiaoli", "xiaozhao")


async def create(api: TimeApi, i: int = 1, line: str = "dispatch", **overrides: Any) -> dict:
    r = await api.post(f"/api/lines/{line}/tickets", demo_ticket(i, **overrides))
    assert r.status_code == 201, r.text
    return r.json()


async def decisions(api: TimeApi, ticket_id: int) -> list[dict]:
    return list((await api.get(f"/api/tickets/{ticket_id}/dispatch")).json()["decisions"])


async def live(api: TimeApi, ticket_id: int) -> list[str]:
    offers = (await api.get(f"/api/tickets/{ticket_id}/dispatch")).json()["offers"]
    return [o["engineer"] for o in offers if o["state"] == "live"]


async def loads(api: TimeApi) -> dict[str, int]:
    return {e["id"]: e["load"] for e in (await api.get("/api/engineers")).json()["items"]}


async def patch(api: TimeApi, key: str, **values: Any) -> None:
    r = await api.patch(f"/api/engineers/{key}", values)
    assert r.status_code == 200, r.text


async def test_a_claim_at_max_load_is_refused_atomically(tapi: TimeApi) -> None:
    await dispatch_line(tapi)
    await patch(tapi, "xiaowang", max_load=1)
    a, b = await create(tapi, 1), await create(tapi, 2)
    assert await live(tapi, a["id"]) == ["xiaowang"] and await live(tapi, b["id"]) == ["xiaowang"]
    wang = await token_for(tapi, "xiaowang")
    assert (await wang.post(f"/api/tickets/{a['id']}/claim")).status_code == 200
    r = await wang.post(f"/api/tickets/{b['id']}/claim")
    assert r.status_code == 409, r.text
    body = r.json()
    assert body["data"] == {"load": 1, "max_load": 1}
    assert "负载上限 1" in body["message_zh"] and "max_load of 1" in body["message_en"]
    t = (await tapi.get(f"/api/tickets/{b['id']}")).json()
    assert t["assignee"] is None and t["version"] == 1  # nothing half-written
    assert (await loads(tapi))["xiaowang"] == 1
    tl = (await tapi.get(f"/api/tickets/{b['id']}/timeline")).json()["events"]
    assert [e["type"] for e in tl] == ["created"]


async def test_going_off_shift_withdraws_live_offers_and_routes_again(tapi: TimeApi) -> None:
    await dispatch_line(tapi)
    t = await create(tapi)
    assert await live(tapi, t["id"]) == ["xiaowang"]
    wang = await token_for(tapi, "xiaowang")
    assert (await wang.post("/api/engineers/xiaowang/off-shift")).status_code == 200
    assert await live(tapi, t["id"]) == ["xiaoli"]
    assert (await wang.post(f"/api/tickets/{t['id']}/claim")).status_code == 409
    offers = (await wang.get("/api/engineers/xiaowang/offers")).json()["items"]
    assert offers == []
    await patch(tapi, "xiaoli", on_shift=False)  # the same through PATCH
    assert await live(tapi, t["id"]) == ["xiaozhao"]


async def fill(api: TimeApi, *keys: str) -> None:
    """Each of `keys` gets max_load 1 and claims one ticket: they are full."""
    for key in keys:
        await patch(api, key, max_load=1)
    for i, key in enumerate(keys, 100):
        for other in keys:  # only `key` on shift while its ticket is made
            await patch(api, other, on_shift=other == key)
        t = await create(api, i)
        assert await live(api, t["id"]) == [key]
        assert (await (await token_for(api, key)).post(f"/api/tickets/{t['id']}/claim")).status_code == 200
    for key in keys:
        await patch(api, key, on_shift=True)


async def test_bypass_queue_goes_out_at_once_over_the_soft_load_limit(tapi: TimeApi) -> None:
    await dispatch_line(tapi)
    await fill(tapi, *ELIGIBLE)
    normal = await create(tapi, 1)
    (d,) = await decisions(tapi, normal["id"])
    assert d["offered"] == [] and d["load_limit_lifted"] is False  # a normal tier waits
    p0 = await create(tapi, 2, **P0)
    (d,) = await decisions(tapi, p0["id"])
    assert d["bypass_queue"] is True and d["load_limit_lifted"] is True
    assert sorted(d["offered"]) == sorted(ELIGIBLE)  # at once, to the top 3
    li = await token_for(tapi, "xiaoli")
    assert (await li.post(f"/api/tickets/{p0['id']}/claim")).status_code == 200
    assert (await loads(tapi))["xiaoli"] == 2  # one over max_load 1
    again = await create(tapi, 3, **P0)
    (d,) = await decisions(tapi, again["id"])
    assert sorted(d["offered"]) == ["xiaowang", "xiaozhao"]  # only one over
    third = await create(tapi, 4, **P0)
    assert sorted((await decisions(tapi, third["id"]))[0]["offered"]) == ["xiaowang", "xiaozhao"]
    # the claim allows the same one over, no more
    wang = await token_for(tapi, "xiaowang")
    assert (await wang.post(f"/api/tickets/{again['id']}/claim")).status_code == 200
    assert (await loads(tapi))["xiaowang"] == 2
    r = await wang.post(f"/api/tickets/{third['id']}/claim")
    assert r.status_code == 409, r.text
    assert r.json()["data"] == {"load": 2, "max_load": 1} and "紧急工单" in r.json()["message_zh"]
    assert (await tapi.get(f"/api/tickets/{normal['id']}")).json()["assignee"] is None


async def test_bypass_tiers_head_the_queue(tapi: TimeApi) -> None:
    await dispatch_line(tapi)
    for key in ELIGIBLE:
        await patch(tapi, key, on_shift=False, max_load=1)
    normal = await create(tapi, 1)
    p0 = await create(tapi, 2, **P0)  # nobody on shift, even lifted: it waits, first in line
    order = await tapi.run(dispatch.queued)
    assert [q["ticket_id"] for q in order] == [p0["id"], normal["id"]]
    li = await token_for(tapi, "xiaoli")
    assert (await li.post("/api/engineers/xiaoli/on-shift")).status_code == 200
    assert await live(tapi, p0["id"]) == ["xiaoli"]
    assert await live(tapi, normal["id"]) == []  # xiaoli's one free slot went to the head


ORDER_RULES = DISPATCH_RULES.replace('''sla P0 "停机类":
    when description has any ["停机", "无法启动"]
    respond 30m
    resolve 4h
    bypass queue

sla P2 "一般":''', '''sla urgent "紧急":
    when description has any ["紧急"]
    respond 1h
    resolve 4h

sla normal "一般":''').replace("offer top 3 if sla == P0 else top 1", "offer top 1")


async def test_the_queue_is_ordered_by_tier_rank_then_deadline(tapi: TimeApi) -> None:
    await dispatch_line(tapi, ORDER_RULES)
    for key in ELIGIBLE:
        await patch(tapi, key, on_shift=False)
    n1 = await create(tapi, 1)
    u1 = await create(tapi, 2, description="紧急：液压站漏油")
    n2 = await create(tapi, 3)
    assert (u1["sla"]["tier"], n1["sla"]["tier"]) == ("urgent", "normal")  # "normal" < "urgent" as text
    order = [q["ticket_id"] for q in await tapi.run(dispatch.queued)]
    assert order == [u1["id"], n1["id"], n2["id"]]
    await patch(tapi, "xiaoli", max_load=2, on_shift=True)  # two free slots
    assert await live(tapi, u1["id"]) == ["xiaoli"] and await live(tapi, n1["id"]) == ["xiaoli"]
    assert await live(tapi, n2["id"]) == []
    assert [q["ticket_id"] for q in await tapi.run(dispatch.queued)] == [n2["id"]]


async def test_no_deadline_is_last_on_both_engines(tapi: TimeApi) -> None:
    now = dt.datetime(2026, 12, 1, 8, tzinfo=dt.UTC)

    async def fill_and_read() -> list[int]:
        rows = [(1, 1, None, False), (2, 1, now + dt.timedelta(hours=2), False),
                (3, 1, now + dt.timedelta(hours=1), False), (4, 0, None, False), (5, 5, None, True)]
        async with tapi.db.transaction():
            await GdDispatchQueue.insert(*[GdDispatchQueue(ticket_id=t, line_key="x", tier="t", deadline=d,
                                                           since=now, rank=r, bypass=b) for t, r, d, b in rows])
        return [q["ticket_id"] for q in await dispatch.queued()]

    assert await tapi.run(fill_and_read) == [5, 4, 3, 2, 1]


async def second_line(api: TimeApi) -> None:
    await make_repair_line(api, "dispatch2", "PE")
    r = await api.put("/api/lines/dispatch2/rules",
                      {"source": DISPATCH_RULES.replace("for line dispatch", "for line dispatch2")})
    assert r.status_code == 201, r.text
    r = await api.post(f"/api/lines/dispatch2/rules/{r.json()['version']}/activate")
    assert r.status_code == 200, r.text


async def test_freeing_up_routes_the_queues_of_every_line(tapi: TimeApi) -> None:
    await dispatch_line(tapi)
    await second_line(tapi)
    for key in ("xiaoli", "xiaozhao"):
        await patch(tapi, key, on_shift=False)
    await patch(tapi, "xiaowang", max_load=1)
    wang = await token_for(tapi, "xiaowang")
    x = await create(tapi, 1)
    assert (await wang.post(f"/api/tickets/{x['id']}/claim")).status_code == 200
    y = await create(tapi, 2, line="dispatch2")
    assert await live(tapi, y["id"]) == []  # xiaowang is full: it waits in dispatch2's queue
    # reassigning x frees xiaowang: dispatch2's queue is routed too
    # (xiaoli is off shift: the dispatcher forces it)
    r = await tapi.post(f"/api/tickets/{x['id']}/reassign", {"engineer": "xiaoli", "reason": "换人", "force": True})
    assert r.status_code == 200, r.text
    assert await live(tapi, y["id"]) == ["xiaowang"]
    assert (await wang.post(f"/api/tickets/{y['id']}/claim")).status_code == 200
    z = await create(tapi, 3)
    assert await live(tapi, z["id"]) == []
    # releasing y: y is not offered back to who released it, z (the other line) is
    r = await wang.post(f"/api/tickets/{y['id']}/release", {"reason": "缺备件"})
    assert r.status_code == 200, r.text
    assert await live(tapi, z["id"]) == ["xiaowang"] and await live(tapi, y["id"]) == []
    assert (await wang.post(f"/api/tickets/{z['id']}/claim")).status_code == 200
    w = await create(tapi, 4, line="dispatch2")
    assert await live(tapi, w["id"]) == []
    # a PATCH of the assignee frees xiaowang too
    z = (await tapi.get(f"/api/tickets/{z['id']}")).json()
    r = await tapi.patch(f"/api/tickets/{z['id']}", {"version": z["version"], "assignee": "xiaozhao"})
    assert r.status_code == 200, r.text
    assert await live(tapi, w["id"]) == ["xiaowang"]
    assert await loads(tapi) == {"xiaowang": 0, "xiaoli": 1, "xiaozhao": 1, "xiaosun": 0}


async def test_a_drain_skips_what_it_cannot_place(tapi: TimeApi) -> None:
    await dispatch_line(tapi)
    for key in ELIGIBLE:
        await patch(tapi, key, on_shift=False)
    machine = await create(tapi, 1, required_skill="机械")  # only xiaozhao has it
    hydraulic = await create(tapi, 2)
    order = [q["ticket_id"] for q in await tapi.run(dispatch.queued)]
    assert order == [machine["id"], hydraulic["id"]]
    wang = await token_for(tapi, "xiaowang")
    assert (await wang.post("/api/engineers/xiaowang/on-shift")).status_code == 200
    assert await live(tapi, machine["id"]) == [] and await live(tapi, hydraulic["id"]) == ["xiaowang"]
    await patch(tapi, "xiaozhao", on_shift=True)
    assert await live(tapi, machine["id"]) == ["xiaozhao"]


async def test_import_keeps_what_the_file_does_not_give_and_routes_the_queue(tapi: TimeApi) -> None:
    await dispatch_line(tapi)
    await patch(tapi, "xiaowang", shifts=[["08:00", "18:00"]], certifications=["电工证"])
    before = (await tapi.get("/api/engineers/xiaowang")).json()

    async def upload(text: str) -> dict:
        r = await tapi.post("/api/engineers/import",
                            files={"file": ("team.csv", text.encode("utf-8"), "text/csv")})
        assert r.status_code == 200, r.text
        return dict(r.json())

    assert (await upload("工号,姓名,负载上限\nxiaowang,小王,4\n"))["updated"] == 1
    after = (await tapi.get("/api/engineers/xiaowang")).json()
    assert after["max_load"] == 4
    for key in ("skills", "team", "supervisor", "region", "location", "location_at", "shifts",
                "certifications", "on_shift"):
        assert after[key] == before[key], key
    clock.advance(dt.timedelta(minutes=5))
    await upload("工号,姓名,技能,班组,位置\nxiaowang,小王,,-,\"31.3,121.5\"\n")  # blank keeps; - clears
    after = (await tapi.get("/api/engineers/xiaowang")).json()
    assert after["skills"] == before["skills"] and after["team"] is None
    assert after["location"] == {"lat": 31.3, "lon": 121.5} and after["location_at"] != before["location_at"]
    # a ticket nobody can take waits; an import that gives the skill routes it
    t = await create(tapi, 1, required_skill="PLC调试")
    assert await live(tapi, t["id"]) == []
    await upload("工号,姓名,技能\nxiaoli,小李,\"液压:4; PLC调试:4\"\n")
    assert await live(tapi, t["id"]) == ["xiaoli"]


async def test_unassigning_by_patch_puts_the_ticket_back(tapi: TimeApi) -> None:
    await dispatch_line(tapi)
    t = await create(tapi)
    wang = await token_for(tapi, "xiaowang")
    t = (await wang.post(f"/api/tickets/{t['id']}/claim")).json()
    r = await tapi.patch(f"/api/tickets/{t['id']}", {"version": t["version"], "assignee": None})
    assert r.status_code == 200, r.text
    assert r.json()["assignee"] is None
    assert await live(tapi, t["id"]) == ["xiaoli"]  # not back to who had it
    assert (await decisions(tapi, t["id"]))[-1]["reason"] == "unassign"
    assert (await loads(tapi))["xiaowang"] == 0


async def test_closing_and_transferring_free_the_engineer_for_the_queue(tapi: TimeApi) -> None:
    await dispatch_line(tapi)
    await second_line(tapi)
    for key in ("xiaoli", "xiaozhao"):
        await patch(tapi, key, on_shift=False)
    await patch(tapi, "xiaowang", max_load=1)
    wang = await token_for(tapi, "xiaowang")
    x = (await wang.post(f"/api/tickets/{(await create(tapi, 1))['id']}/claim")).json()
    y = await create(tapi, 2, line="dispatch2")
    assert await live(tapi, y["id"]) == []
    for to in ("已派单", "已到达", "诊断中", "维修中", "等待客户确认", "已结案"):
        r = await tapi.post(f"/api/tickets/{x['id']}/move", {"to": to, "version": x["version"]})
        assert r.status_code == 200, r.text
        x = r.json()
    assert await live(tapi, y["id"]) == ["xiaowang"]  # closing on one line routed the other's queue
    assert (await wang.post(f"/api/tickets/{y['id']}/claim")).status_code == 200
    z = await create(tapi, 3)
    assert await live(tapi, z["id"]) == []
    r = await tapi.post(f"/api/tickets/{y['id']}/transfer", {"team": "二组", "reason": "二组更近"})
    assert r.status_code == 200, r.text
    assert await live(tapi, z["id"]) == ["xiaowang"]


async def test_unassigning_when_nobody_else_can_take_it_leaves_it_queued(tapi: TimeApi) -> None:
    """The drain that frees the old assignee runs in the PATCH's own transaction: it must
    not take the just-queued ticket off the queue as 'still assigned'."""
    await dispatch_line(tapi)
    for key in ("xiaoli", "xiaozhao"):
        await patch(tapi, key, on_shift=False)
    t = await create(tapi)
    wang = await token_for(tapi, "xiaowang")
    t = (await wang.post(f"/api/tickets/{t['id']}/claim")).json()
    r = await tapi.patch(f"/api/tickets/{t['id']}", {"version": t["version"], "assignee": None})
    assert r.status_code == 200 and r.json()["assignee"] is None, r.text
    assert await live(tapi, t["id"]) == []  # nobody else can take it, and not back to xiaowang
    assert t["id"] in [q["ticket_id"] for q in await tapi.run(dispatch.queued)]


async def test_a_transfer_waits_for_its_team_instead_of_bouncing_to_another(tapi: TimeApi) -> None:
    """Transferred to 二组 with nobody of 二组 free, the ticket waits in the queue; the drain
    that frees the old assignee must not hand it to 一组 again."""
    await dispatch_line(tapi)
    await patch(tapi, "xiaozhao", on_shift=False)
    await patch(tapi, "xiaosun", on_shift=False)
    t = await create(tapi)
    wang = await token_for(tapi, "xiaowang")
    t = (await wang.post(f"/api/tickets/{t['id']}/claim")).json()
    r = await tapi.post(f"/api/tickets/{t['id']}/transfer", {"team": "二组", "reason": "二组负责该区域"})
    assert r.status_code == 200, r.text
    assert await live(tapi, t["id"]) == []
    assert t["id"] in [q["ticket_id"] for q in await tapi.run(dispatch.queued)]

"""Routing on create, offers, claims, decline, release, reoffer and escalation, reassign and
transfer, load accounting and the dispatch explanation, through HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from gongdan import rules_runtime
from gongdan.demo import demo_ticket
from tests.dispatch.conftest import dispatch_line, token_for
from tests.platform.conftest import Api

pytestmark = pytest.mark.skipif(not rules_runtime.available(), reason="needs gongdan_rules")

P0 = {"description": "注塑机停机，无法启动"}


def assert_error(r, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert r.status_code == status, r.text
    body = r.json()
    assert body["status"] == status and body["message_zh"] and body["message_en"]
    return body


async def create(api: Api, i: int = 1, **overrides: object) -> dict:
    r = await api.post("/api/lines/dispatch/tickets", demo_ticket(i, **overrides))
    assert r.status_code == 201, r.text
    return r.json()


async def loads(api: Api) -> dict[str, int]:
    return {e["id"]: e["load"] for e in (await api.get("/api/engineers")).json()["items"]}


async def timeline_types(api: Api, ticket_id: int) -> list[str]:
    return [e["type"] for e in (await api.get(f"/api/tickets/{ticket_id}/timeline")).json()["events"]]


async def test_create_offers_to_the_best_and_claim_assigns(api: Api) -> None:
    await dispatch_line(api)
    t = await create(api)
    assert t["assignee"] is None and t["sla"]["tier"] == "P2"
    view = (await api.get(f"/api/tickets/{t['id']}/dispatch")).json()
    (d,) = view["decisions"]
    assert d["reason"] == "create" and d["pool"] == "现场维修" and d["offered"] == ["xiaowang"]
    assert [o["engineer"] for o in view["offers"]] == ["xiaowang"] and view["offers"][0]["state"] == "live"
    by_id = {c["engineer_id"]: c for c in d["candidates"]}
    assert by_id["xiaowang"]["rank"] == 1 and by_id["xiaowang"]["name"] == "小王"
    assert by_id["xiaosun"]["rejected_by"] == "engineer.skills[required_skill] >= 3"
    assert "skill_fit" in by_id["xiaowang"]["factors"]
    assert "小王" in d["summary"]["zh"] and "小王" in d["report"]["zh"] and d["summary"]["en"]
    assert (await timeline_types(api, t["id"])) == ["created"]  # routing at creation: in /dispatch

    wang = await token_for(api, "xiaowang")
    li = await token_for(api, "xiaoli")
    offers = (await wang.get("/api/engineers/xiaowang/offers")).json()["items"]
    assert [o["ticket"] for o in offers] == [t["id"]]
    # only the engineer with a live offer may claim
    assert_error(await li.post(f"/api/tickets/{t['id']}/claim"), 409)
    assert_error(await api.post(f"/api/tickets/{t['id']}/claim"), 403)  # admins do not claim
    r = await wang.post(f"/api/tickets/{t['id']}/claim", {"channel": "app"})
    assert r.status_code == 200, r.text
    assert r.json()["assignee"] == "xiaowang" and r.json()["version"] == 2
    body = assert_error(await wang.post(f"/api/tickets/{t['id']}/claim"), 409)
    assert body["data"]["assignee"] == "xiaowang"
    assert (await loads(api))["xiaowang"] == 1
    assert (await wang.get(f"/api/tickets/{t['id']}")).status_code == 200  # now visible to them
    tl = (await api.get(f"/api/tickets/{t['id']}/timeline")).json()["events"]
    assert tl[-1]["type"] == "claimed" and tl[-1]["actor"] == "xiaowang" and tl[-1]["channel"] == "app"
    assert tl[-1]["after"] == {"assignee": "xiaowang"}
    assert_error(await api.post("/api/tickets/9999/claim"), 403)
    assert_error(await wang.post("/api/tickets/9999/claim"), 404)


async def test_p0_offers_top_three_and_the_others_are_withdrawn(api: Api) -> None:
    await dispatch_line(api)
    t = await create(api, **P0)
    assert t["sla"]["tier"] == "P0"
    view = (await api.get(f"/api/tickets/{t['id']}/dispatch")).json()
    assert view["decisions"][0]["offered"] == ["xiaowang", "xiaoli", "xiaozhao"]
    zhao = await token_for(api, "xiaozhao")
    assert (await zhao.post(f"/api/tickets/{t['id']}/claim")).status_code == 200
    states = {o["engineer"]: o["state"] for o in (await api.get(f"/api/tickets/{t['id']}/dispatch")).json()["offers"]}
    assert states == {"xiaowang": "withdrawn", "xiaoli": "withdrawn", "xiaozhao": "claimed"}
    wang = await token_for(api, "xiaowang")
    body = assert_error(await wang.post(f"/api/tickets/{t['id']}/claim"), 409)
    assert "小赵" in body["message_zh"] or "xiaozhao" in body["message_zh"]
    assert await loads(api) == {"xiaowang": 0, "xiaoli": 0, "xiaozhao": 1, "xiaosun": 0}


async def test_no_eligible_engineer_waits_in_the_queue_until_someone_comes_on_shift(api: Api) -> None:
    await dispatch_line(api)
    for e in ("xiaowang", "xiaoli", "xiaozhao"):
        assert (await api.post(f"/api/engineers/{e}/off-shift")).status_code == 200
    t = await create(api)
    assert (await timeline_types(api, t["id"])) == ["created"]
    view = (await api.get(f"/api/tickets/{t['id']}/dispatch")).json()
    assert view["decisions"][0]["offered"] == [] and "队列" in view["decisions"][0]["summary"]["zh"]
    li = await token_for(api, "xiaoli")
    assert (await li.post("/api/engineers/xiaoli/on-shift")).status_code == 200
    view = (await api.get(f"/api/tickets/{t['id']}/dispatch")).json()
    assert [d["reason"] for d in view["decisions"]] == ["create", "requeue"]
    assert view["decisions"][1]["offered"] == ["xiaoli"]
    assert (await li.post(f"/api/tickets/{t['id']}/claim")).status_code == 200


async def test_decline_and_release_put_the_ticket_back(api: Api) -> None:
    await dispatch_line(api)
    t = await create(api)
    wang, li = await token_for(api, "xiaowang"), await token_for(api, "xiaoli")
    assert_error(await li.post(f"/api/tickets/{t['id']}/decline"), 409)  # no offer
    r = await wang.post(f"/api/tickets/{t['id']}/decline", {"reason": "在外地"})
    assert r.status_code == 200, r.text
    assert r.json()["routing"]["offered"] == ["xiaoli"]
    assert (await li.post(f"/api/tickets/{t['id']}/claim")).status_code == 200
    assert (await loads(api))["xiaoli"] == 1
    assert_error(await wang.post(f"/api/tickets/{t['id']}/release"), 403)  # not theirs
    r = await li.post(f"/api/tickets/{t['id']}/release", {"reason": "缺工具"})
    assert r.status_code == 200, r.text
    assert r.json()["ticket"]["assignee"] is None
    # neither who declined nor who released is offered it again
    assert r.json()["routing"]["offered"] == ["xiaozhao"]
    assert (await loads(api))["xiaoli"] == 0
    types = await timeline_types(api, t["id"])
    assert types == ["created", "declined", "offered", "claimed", "released", "offered"]
    assert_error(await api.post(f"/api/tickets/{t['id']}/release"), 409)  # nobody holds it


async def test_reoffer_then_escalate_after_the_pools_limit(api: Api) -> None:
    await dispatch_line(api)
    t = await create(api)
    r = await api.post(f"/api/tickets/{t['id']}/reoffer", {"channel": "timer"})
    assert r.status_code == 200, r.text
    assert r.json()["offered"] == ["xiaoli"] and r.json()["reoffers"] == 1
    r = await api.post(f"/api/tickets/{t['id']}/reoffer", {"channel": "timer"})
    assert r.json()["offered"] == ["xiaozhao"] and r.json()["reoffers"] == 2
    r = await api.post(f"/api/tickets/{t['id']}/reoffer", {"channel": "timer"})
    assert r.json()["escalated"] is True and r.json()["to"] == {"kind": "supervisor", "name": None}
    assert r.json()["person"] == "laoqian"  # the supervisor of the last offered engineer
    tl = (await api.get(f"/api/tickets/{t['id']}/timeline")).json()["events"]
    assert tl[-1]["type"] == "escalated" and tl[-1]["channel"] == "timer"
    assert [e["type"] for e in tl].count("offer_expired") == 3
    offers = (await api.get(f"/api/tickets/{t['id']}/dispatch")).json()["offers"]
    assert {o["state"] for o in offers} == {"expired"}
    assert_error(await api.post(f"/api/tickets/{t['id']}/reoffer", {"channel": "fax"}), 422)
    agent = await api.as_("amy", "agent")
    assert_error(await agent.post(f"/api/tickets/{t['id']}/reoffer"), 403)


async def test_reassign_and_transfer_are_recorded_with_reasons(api: Api) -> None:
    await dispatch_line(api)
    t = await create(api)
    wang = await token_for(api, "xiaowang")
    await wang.post(f"/api/tickets/{t['id']}/claim")
    r = await api.post(f"/api/tickets/{t['id']}/reassign", {"engineer": "xiaoli", "reason": "小王请假"})
    assert r.status_code == 200, r.text
    assert r.json()["assignee"] == "xiaoli"
    assert await loads(api) == {"xiaowang": 0, "xiaoli": 1, "xiaozhao": 0, "xiaosun": 0}
    assert_error(await api.post(f"/api/tickets/{t['id']}/reassign", {"engineer": "xiaoli", "reason": "x"}), 409)
    assert_error(await api.post(f"/api/tickets/{t['id']}/reassign", {"engineer": "nobody", "reason": "x"}), 422)
    assert_error(await api.post(f"/api/tickets/{t['id']}/reassign", {"engineer": "xiaowang", "reason": " "}), 422)
    r = await api.post(f"/api/tickets/{t['id']}/transfer", {"team": "二组", "reason": "二组更近", "channel": "api"})
    assert r.status_code == 200, r.text
    assert r.json()["assignee"] is None and r.json()["routing"]["offered"] == ["xiaozhao"]
    assert (await loads(api))["xiaoli"] == 0
    tl = (await api.get(f"/api/tickets/{t['id']}/timeline")).json()["events"]
    moves = [e for e in tl if e["type"] in ("reassigned", "transferred")]
    assert [(m["type"], m["data"]["cross_team"], m["data"]["reason"], m["channel"]) for m in moves] == [
        ("reassigned", False, "小王请假", "app"), ("transferred", True, "二组更近", "api")]
    assert moves[1]["before"] == {"assignee": "xiaoli", "team": "一组"}
    assert_error(await api.post(f"/api/tickets/{t['id']}/transfer", {"team": "三组", "reason": "x"}), 422)
    r = await api.post(f"/api/tickets/{t['id']}/transfer", {"team": "一组", "reason": "回一组", "engineer": "xiaowang"})
    assert r.status_code == 200 and r.json()["assignee"] == "xiaowang"
    assert_error(await api.post(f"/api/tickets/{t['id']}/transfer",
                                {"team": "二组", "reason": "x", "engineer": "xiaoli"}), 422)
    engineer = await token_for(api, "xiaowang")
    assert_error(await engineer.post(f"/api/tickets/{t['id']}/reassign", {"engineer": "xiaoli", "reason": "x"}), 403)


async def test_closing_frees_the_engineer_and_reopening_counts_again(api: Api) -> None:
    await dispatch_line(api)
    t = await create(api)
    wang = await token_for(api, "xiaowang")
    t = (await wang.post(f"/api/tickets/{t['id']}/claim")).json()
    for to in ("已派单", "已到达", "诊断中", "维修中", "等待客户确认", "已结案"):
        r = await api.post(f"/api/tickets/{t['id']}/move", {"to": to, "version": t["version"]})
        assert r.status_code == 200, r.text
        t = r.json()
    assert (await loads(api))["xiaowang"] == 0
    r = await api.post(f"/api/tickets/{t['id']}/move", {"to": "维修中", "version": t["version"]})
    assert r.status_code == 200
    assert (await loads(api))["xiaowang"] == 1
    # a PATCH of the assignee moves the load too
    r = await api.patch(f"/api/tickets/{t['id']}", {"version": r.json()["version"], "assignee": "xiaoli"})
    assert r.status_code == 200, r.text
    assert await loads(api) == {"xiaowang": 0, "xiaoli": 1, "xiaozhao": 0, "xiaosun": 0}


async def test_load_limit_and_fatigue_inputs(api: Api) -> None:
    await dispatch_line(api)
    await api.patch("/api/engineers/xiaowang", {"max_load": 1})
    wang = await token_for(api, "xiaowang")
    a = await create(api, 1)
    assert (await wang.post(f"/api/tickets/{a['id']}/claim")).status_code == 200
    b = await create(api, 2)
    d = (await api.get(f"/api/tickets/{b['id']}/dispatch")).json()["decisions"][0]
    assert d["offered"] == ["xiaoli"]
    by_id = {c["engineer_id"]: c for c in d["candidates"]}
    assert by_id["xiaowang"]["rejected_by"] == "engineer.load < engineer.max_load"
    wang_row = (await api.get("/api/engineers/xiaowang")).json()
    assert wang_row["load"] == 1 and wang_row["idle_since"]


async def test_why_not_explains_in_chinese_and_english(api: Api) -> None:
    await dispatch_line(api)
    t = await create(api)
    r = await api.get(f"/api/tickets/{t['id']}/dispatch?why=xiaowang&not=xiaosun")
    assert r.status_code == 200, r.text
    why = r.json()["why"]
    assert why["zh"].startswith("为什么派给小王而不是小孙") and "skills" in why["zh"]
    assert why["en"].startswith("Why 小王 and not 小孙")
    why = (await api.get(f"/api/tickets/{t['id']}/dispatch?why=xiaowang&not=xiaoli")).json()["why"]
    assert "得分" in why["zh"] and "scored" in why["en"]
    assert_error(await api.get(f"/api/tickets/{t['id']}/dispatch?why=xiaowang"), 422)
    assert_error(await api.get("/api/tickets/9999/dispatch"), 404)
    engineer = await token_for(api, "xiaowang")
    assert_error(await engineer.get(f"/api/tickets/{t['id']}/dispatch"), 403)


async def test_line_without_rules_does_not_route(api: Api) -> None:
    from tests.platform.conftest import make_repair_line

    await make_repair_line(api, "dispatch", "PD")
    t = await create(api)
    assert (await api.get(f"/api/tickets/{t['id']}/dispatch")).json()["decisions"] == []
    assert (await timeline_types(api, t["id"])) == ["created"]


async def test_large_roster_goes_through_the_index(api: Api) -> None:
    await dispatch_line(api, engineers=[])
    rows = ["工号,姓名,技能,负载上限,班组"] + [
        f"L{i:03d},工程师{i:03d},液压:{5 if i == 7 else 1 + i % 2},3,{i % 5}组" for i in range(320)]
    r = await api.post("/api/engineers/import", files={"file": ("big.csv", "\n".join(rows).encode(), "text/csv")})
    assert r.status_code == 200, r.text
    assert (await api.post("/api/engineers/L007/on-shift")).status_code == 200
    assert (await api.post("/api/engineers/L009/on-shift")).status_code == 200
    t = await create(api)
    d = (await api.get(f"/api/tickets/{t['id']}/dispatch")).json()["decisions"][0]
    assert d["offered"] == ["L007"]
    assert d["excluded"] == 319 and d["considered"] == 1  # only who can pass was scored
    why = (await api.get(f"/api/tickets/{t['id']}/dispatch?why=L007&not=L009")).json()["why"]
    assert "工程师009" in why["zh"] and "索引" in why["zh"]


async def test_fatigue_uses_the_engineers_recent_assignments(api: Api) -> None:
    await dispatch_line(api)
    await api.patch("/api/engineers/xiaowang", {"max_load": 10})
    wang = await token_for(api, "xiaowang")
    for i in (1, 2):
        t = await create(api, i)
        assert (await wang.post(f"/api/tickets/{t['id']}/claim")).status_code == 200
    t = await create(api, 3)  # the third 漏油 in a row for 小王: fatigue halves his score
    d = (await api.get(f"/api/tickets/{t['id']}/dispatch")).json()["decisions"][0]
    by_id = {c["engineer_id"]: c for c in d["candidates"]}
    assert by_id["xiaowang"]["factors"]["streak"] == 2 and by_id["xiaowang"]["factors"]["fatigue"] is True
    assert d["offered"] == ["xiaoli"]
    t = await create(api, 4, fault_type="报警")  # another kind of fault: no streak
    d = (await api.get(f"/api/tickets/{t['id']}/dispatch")).json()["decisions"][0]
    assert d["offered"] == ["xiaowang"]

"""Rulesets through HTTP: upload, diagnostics, activation (audited), classification,
`on` triggers, the close lock, compare. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

from gongdan.demo import demo_ticket, repair_rules_source
from tests.platform.conftest import Api, make_repair_line
from tests.platform.test_lines_api import assert_error_shape


async def active_repair_line(api: Api) -> None:
    await make_repair_line(api)
    r = await api.put("/api/lines/repair/rules", {"source": repair_rules_source()})
    assert r.status_code == 201, r.text
    assert r.json()["version"] == 1
    r = await api.post("/api/lines/repair/rules/1/activate")
    assert r.status_code == 200, r.text


async def test_upload_list_activate_audit(api: Api) -> None:
    await active_repair_line(api)
    versions = (await api.get("/api/lines/repair/rules")).json()
    assert [(v["version"], v["active"]) for v in versions] == [(1, True)]
    assert (await api.get("/api/lines/repair")).json()["rules_version"] == 1
    audit = (await api.get("/api/lines/repair/audit")).json()
    assert audit[0]["action"] == "rules.activated"
    assert audit[0]["actor"] == "admin" and audit[0]["detail"] == {"before": None, "after": 1}
    supervisor = await api.as_("sue", "supervisor")
    assert (await supervisor.post("/api/lines/repair/rules/1/activate")).status_code == 403


async def test_bad_rules_come_back_with_positions(api: Api) -> None:
    await make_repair_line(api)
    source = 'ruleset "坏" for line repair\n\nsla P0:\n    when no_such_field == 1\n' \
             '    respond 30m\n    resolve 4h\n'
    r = await api.put("/api/lines/repair/rules", {"source": source})
    assert r.status_code == 422, r.text
    body = r.json()
    assert_error_shape(body, 422)
    diags = body["data"]["diagnostics"]
    err = next(d for d in diags if d["severity"] == "error")
    assert err["line"] == 4 and err["message_zh"] and err["message_en"]
    assert body["extra"][0]["key"].startswith("source:4:")
    assert (await api.get("/api/lines/repair/rules")).json() == []
    other = 'ruleset "别的" for line aftersales\n\nsla P2:\n    otherwise\n    respond 4h\n' \
            '    resolve 3d\n'
    assert (await api.put("/api/lines/repair/rules", {"source": other})).status_code == 422


async def test_classify_and_reclassify(api: Api) -> None:
    await active_repair_line(api)
    r = await api.post("/api/lines/repair/tickets",
                       demo_ticket(1, description="3号线注塑机停机，无法启动"))
    t = r.json()
    assert t["sla"]["tier"] == "P0" and t["sla"]["bypass_queue"] is True
    created = dt.datetime.fromisoformat(t["created_at"])
    respond = dt.datetime.fromisoformat(t["sla"]["respond_by"])
    assert abs((respond - created) - dt.timedelta(minutes=30)) <= dt.timedelta(seconds=1)
    p0 = (await api.get("/api/tickets", params={"tier": "P0"})).json()["items"]
    assert [x["id"] for x in p0] == [t["id"]]
    r = await api.patch(f"/api/tickets/{t['id']}",
                        {"version": 1, "fields": {"description": "外壳有划痕",
                                                  "device_category": "其他"}})
    assert r.status_code == 200, r.text
    assert r.json()["sla"]["tier"] == "P2"
    events = (await api.get(f"/api/tickets/{t['id']}/timeline")).json()["events"]
    assert [e["type"] for e in events] == ["created", "fields_changed", "sla_changed"]
    assert events[2]["before"]["sla"]["tier"] == "P0" and events[2]["after"]["sla"]["tier"] == "P2"


async def test_triggers_and_close_lock(api: Api) -> None:
    await active_repair_line(api)
    t = (await api.post("/api/lines/repair/tickets", demo_ticket(1))).json()
    url = f"/api/tickets/{t['id']}"
    v = (await api.post(url + "/move", {"to": "已派单", "version": 1})).json()["version"]
    r = await api.post(url + "/events", {"type": "scan_checkin", "channel": "qr"})
    body = r.json()
    assert body["transition"]["from"] == "已派单" and body["transition"]["to"] == "已到达"
    assert body["ticket"]["state"] == "已到达"
    last = (await api.get(url + "/timeline")).json()["events"][-2:]
    assert [(e["type"], e["channel"]) for e in last] == [("scan_checkin", "qr"),
                                                         ("state_changed", "rule")]
    r = await api.post(url + "/events", {"type": "photo", "kind": "铭牌"})
    assert r.json()["ticket"]["state"] == "诊断中"
    v = r.json()["ticket"]["version"]
    for to in ("维修中", "等待客户确认"):
        r = await api.post(url + "/move", {"to": to, "version": v})
        assert r.status_code == 200, r.text
        v = r.json()["version"]
    r = await api.post(url + "/move", {"to": "已结案", "version": v})
    assert r.status_code == 409
    assert r.json()["data"]["failing"] == ["现场证据", "客户验收", "知识沉淀"]
    # the rule-triggered close is refused the same way, and the event is still recorded
    r = await api.post(url + "/events", {"type": "customer_confirmed"})
    assert r.status_code == 200
    assert r.json()["refused"]["failing"] == ["现场证据", "客户验收", "知识沉淀"]
    assert r.json()["ticket"]["state"] == "等待客户确认"
    for event in ({"type": "photo", "kind": "photo"}, {"type": "customer_signature",
                                                       "signature": "sig-token"},
                  {"type": "root_cause", "text": "密封圈老化"}):
        assert (await api.post(url + "/events", event)).status_code == 200
    r = await api.post(url + "/events", {"type": "customer_confirmed"})
    assert r.json()["ticket"]["state"] == "已结案"
    assert r.json()["ticket"]["state_category"] == "closed"


async def test_compare_versions(api: Api) -> None:
    await active_repair_line(api)
    await api.post("/api/lines/repair/tickets", demo_ticket(1, description="机器冒烟了"))
    await api.post("/api/lines/repair/tickets", demo_ticket(2, description="漏油"))
    source = repair_rules_source().replace('"冒烟", ', "")
    r = await api.put("/api/lines/repair/rules", {"source": source})
    assert r.status_code == 201 and r.json()["version"] == 2
    cmp = (await api.get("/api/lines/repair/rules/compare", params={"a": 1, "b": 2})).json()
    assert '-    when description has any ["停机", "无法启动", "冒烟", "冷却异常"]' in cmp["diff"]
    assert cmp["replayed"] == 2
    assert [(c["tier_a"], c["tier_b"]) for c in cmp["tier_changes"]] == [("P0", "P2")]


async def test_rules_are_checked_against_the_line_states(api: Api) -> None:
    await make_repair_line(api)
    source = repair_rules_source().replace("on parts_issued: 待备件 -> 维修中",
                                           "on parts_issued: 待备件 -> 修理中")
    r = await api.put("/api/lines/repair/rules", {"source": source})
    assert r.status_code == 422, r.text
    assert any("修理中" in d["message_zh"] or "修理中" in d["message_en"]
               for d in r.json()["data"]["diagnostics"])


async def test_check_stores_nothing(api: Api) -> None:
    await make_repair_line(api)
    r = await api.post("/api/lines/repair/rules/check", {"source": repair_rules_source()})
    assert r.status_code == 200 and r.json()["ok"] is True
    bad = repair_rules_source().replace("fault_code in", "fault_cod in")
    r = await api.post("/api/lines/repair/rules/check", {"source": bad})
    assert r.status_code == 200 and r.json()["ok"] is False
    assert any(d["severity"] == "error" for d in r.json()["diagnostics"])
    assert (await api.get("/api/lines/repair/rules")).json() == []


async def test_dry_run(api: Api) -> None:
    await active_repair_line(api)
    for name, skills in (("wang", {"液压": 5}), ("li", {"液压": 1})):
        await api.as_(name, "engineer", {"skills": skills, "max_load": 5, "on_shift": True,
                                         "location": {"lat": 31.2304, "lon": 121.4737}})
    r = await api.post("/api/lines/repair/dry-run",
                       {"ticket": demo_ticket(1, description="注塑机停机")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["sla"]["tier"] == "P0" and body["sla"]["respond_within"] == 1800
    assert body["route"]["pool"] == "现场维修"
    assert body["route"]["offered"] == ["wang"]
    assert {c["name"] for c in body["route"]["candidates"]} == {"wang", "li"}
    assert (await api.get("/api/tickets")).json()["items"] == []


async def test_caches_do_not_leak_between_databases(api: Api) -> None:
    # another test's database had a different repair ruleset v1; this one has none, then its own
    await make_repair_line(api)
    source = repair_rules_source().replace('"停机", ', "")
    assert (await api.put("/api/lines/repair/rules", {"source": source})).status_code == 201
    assert (await api.post("/api/lines/repair/rules/1/activate")).status_code == 200
    r = await api.post("/api/lines/repair/tickets", demo_ticket(1, description="停机"))
    assert r.json()["sla"]["tier"] == "P2"


def _v2_source() -> str:
    """The demo rules, changed in ways each part of a replay notices."""
    source = repair_rules_source()
    for old, new in (('"冒烟", ', ""),  # 机器冒烟了: P0 -> P2
                     ("    respond 2h\n", "    respond 1h\n"),  # P1's respond window
                     ("    when onsite\n", '    when onsite and fault_type != "漏油"\n'),
                     ("    stage 知识沉淀: root_cause_recorded == true\n", "")):
        assert old in source
        source = source.replace(old, new)
    return source


async def test_replay_a_version_against_past_tickets(api: Api) -> None:
    await active_repair_line(api)
    smoke = (await api.post("/api/lines/repair/tickets",
                            demo_ticket(1, description="机器冒烟了"))).json()
    oil = (await api.post("/api/lines/repair/tickets", demo_ticket(2, description="漏油"))).json()
    scratch = (await api.post("/api/lines/repair/tickets",
                              demo_ticket(3, description="外壳有划痕", device_category="其他",
                                          fault_type="其他"))).json()
    for event in ({"type": "photo", "kind": "photo"},
                  {"type": "customer_signature", "signature": "sig"}):
        r = await api.post(f"/api/tickets/{scratch['id']}/events", event)
        assert r.status_code == 200, r.text
    r = await api.put("/api/lines/repair/rules", {"source": _v2_source()})
    assert r.status_code == 201 and r.json()["version"] == 2
    timeline_before = (await api.get(f"/api/tickets/{smoke['id']}/timeline")).json()

    r = await api.post("/api/lines/repair/rules/2/replay", {})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["version"] == 2 and out["against"] == 1  # the active version by default
    by_id = {t["ticket"]: t for t in out["tickets"]}
    assert list(by_id) == [scratch["id"], oil["id"], smoke["id"]]  # newest first
    s = by_id[smoke["id"]]
    assert (s["current"]["tier"], s["replayed"]["tier"]) == ("P0", "P2")
    assert {"tier", "respond_window", "resolve_window", "pool"} <= set(s["changed"])
    assert (s["current"]["pool"], s["replayed"]["pool"]) == ("现场维修", "远程支持")
    o = by_id[oil["id"]]
    assert o["current"]["tier"] == o["replayed"]["tier"] == "P1"
    assert (o["current"]["respond_within_s"], o["replayed"]["respond_within_s"]) == (7200, 3600)
    assert "respond_window" in o["changed"] and "tier" not in o["changed"]
    created = dt.datetime.fromisoformat(oil["created_at"])
    assert dt.datetime.fromisoformat(o["replayed"]["respond_by"]) - created <= \
        dt.timedelta(hours=1, seconds=1)
    c = by_id[scratch["id"]]
    assert c["current"]["close_ok"] is False and c["current"]["close_failing"] == ["知识沉淀"]
    assert c["replayed"]["close_ok"] is True and c["replayed"]["close_failing"] == []
    assert c["current"]["pool"] == c["replayed"]["pool"] == "现场维修"
    assert "close_lock" in c["changed"] and "tier" not in c["changed"]
    assert isinstance(c["replayed"]["top"], list)
    summary = out["summary"]
    assert summary["replayed"] == 3 and summary["changed"] == 3
    assert summary["tier"] == 1 and summary["tier_moves"] == {"P0->P2": 1}
    assert summary["pool"] == 2 and summary["respond_window"] == 2
    # nothing was stored or changed
    assert (await api.get(f"/api/tickets/{smoke['id']}/timeline")).json() == timeline_before
    assert (await api.get(f"/api/tickets/{smoke['id']}")).json()["sla"]["tier"] == "P0"

    # filters: state, time range, limit; only the tickets that change
    await api.post(f"/api/tickets/{oil['id']}/move", {"to": "已派单", "version": 1})
    r = await api.post("/api/lines/repair/rules/2/replay", {"state": "已派单"})
    assert [t["ticket"] for t in r.json()["tickets"]] == [oil["id"]]
    r = await api.post("/api/lines/repair/rules/2/replay", {"limit": 1})
    assert [t["ticket"] for t in r.json()["tickets"]] == [scratch["id"]]
    r = await api.post("/api/lines/repair/rules/2/replay",
                       {"until": "2000-01-01T00:00:00+08:00"})
    assert r.json()["tickets"] == [] and r.json()["summary"]["replayed"] == 0
    r = await api.post("/api/lines/repair/rules/2/replay",
                       {"since": "2000-01-01T00:00:00+08:00"})
    assert r.json()["summary"]["replayed"] == 3
    r = await api.post("/api/lines/repair/rules/1/replay", {"changed_only": True})
    assert r.json()["tickets"] == [] and r.json()["summary"]["replayed"] == 3
    # against no ruleset at all: every ticket gains a tier
    r = await api.post("/api/lines/repair/rules/1/replay", {"against": None})
    assert r.json()["summary"]["tier_moves"] == {"-->P0": 1, "-->P1": 1, "-->P2": 1}
    # compare is built on the same replay
    cmp = (await api.get("/api/lines/repair/rules/compare", params={"a": 1, "b": 2})).json()
    assert [(x["tier_a"], x["tier_b"]) for x in cmp["tier_changes"]] == [("P0", "P2")]
    assert cmp["replay"]["summary"]["changed"] == 3


async def test_replay_refuses_bad_requests(api: Api) -> None:
    await active_repair_line(api)
    r = await api.post("/api/lines/repair/rules/9/replay", {})
    assert r.status_code == 404
    assert_error_shape(r.json(), 404)
    for body, key in (({"limit": 0}, "limit"), ({"limit": 5000}, "limit"),
                      ({"since": "yesterday"}, "since"),
                      ({"since": "2026-02-01T00:00:00+08:00",
                        "until": "2026-01-01T00:00:00+08:00"}, "until")):
        r = await api.post("/api/lines/repair/rules/1/replay", body)
        assert r.status_code == 422, (body, r.text)
        assert_error_shape(r.json(), 422)
        assert r.json()["extra"][0]["key"] == key
    r = await api.post("/api/lines/repair/rules/1/replay", {"nonsense": 1})
    assert r.status_code in (400, 422)
    viewer = await api.as_("vera", "viewer")
    assert (await viewer.post("/api/lines/repair/rules/1/replay", {})).status_code == 403

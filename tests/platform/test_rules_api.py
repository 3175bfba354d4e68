"""Rulesets through HTTP: upload, diagnostics, activation (audited), classification,
`on` triggers, the close lock, compare. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest

from gongdan import rules_runtime
from gongdan.demo import demo_ticket, repair_rules_source
from tests.platform.conftest import Api, make_repair_line
from tests.platform.test_lines_api import assert_error_shape

pytestmark = pytest.mark.skipif(
    not rules_runtime.available(), reason="gongdan_rules (issue 2) is not on this branch yet"
)


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

"""The three example files of the contract compile and behave as their comments say."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from gongdan_rules import CompiledRuleset, RulesError, compile_ruleset

from rules.kit import compile_example, example_source, rules

SHANGHAI = {"lat": 31.2304, "lon": 121.4737}


def near(dlat: float = 0.0, dlon: float = 0.0) -> dict[str, float]:
    return {"lat": SHANGHAI["lat"] + dlat, "lon": SHANGHAI["lon"] + dlon}


def engineer(eid: str, **kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": eid, "skills": {"PLC调试": 4}, "load": 1, "max_load": 5, "on_shift": True,
        "location": near(0.01), "team": "一组", "recent_assignments": [],
    }
    base.update(kw)
    return base


# The only warnings the examples get: `1d`/`3d` on a business calendar are working hours (W113).
EXPECTED_WARNINGS = {"repair": [15, 21], "aftersales": [7, 13, 18], "production": [18]}


@pytest.mark.parametrize("line", ["repair", "aftersales", "production"])
def test_example_compiles_with_schema_and_no_errors(line: str) -> None:
    rs = compile_example(line)
    assert [d for d in rs.diagnostics if d.is_error] == []
    assert [(d.code, d.line) for d in rs.diagnostics] == [("W113", n) for n in EXPECTED_WARNINGS[line]]
    assert rs.line == line


@pytest.mark.parametrize("line", ["repair", "aftersales", "production"])
def test_example_compiles_without_schema(line: str) -> None:
    rs = compile_ruleset(example_source(line))
    assert {d.code for d in rs.diagnostics} == {"W113"}


# ------------------------------------------------------------------------------ repair

def test_repair_header(repair: CompiledRuleset) -> None:
    assert (repair.name, repair.line) == ("设备维修", "repair")
    assert repair.examples == ["停机类故障是 P0", "PLC 设备报警是 P1", "扫码签到即到达", "没有客户签字不能结案"]


@pytest.mark.parametrize(
    ("ticket", "tier"),
    [
        ({"description": "3号线注塑机停机，无法启动", "fault_code": "E-205"}, "P0"),
        ({"description": "设备冒烟", "fault_code": ""}, "P0"),
        ({"description": "CT球管冷却异常"}, "P0"),
        ({"description": "一切正常", "fault_code": "E-102"}, "P0"),
        ({"description": "PLC 报警灯闪烁", "device_category": "PLC"}, "P1"),
        ({"description": "主轴异响"}, "P1"),
        ({"description": "液压站漏油"}, "P1"),
        ({"description": "屏幕有划痕", "device_category": "PLC"}, "P1"),
        ({"description": "屏幕有划痕"}, "P2"),
        ({}, "P2"),
    ],
)
def test_repair_classify(repair: CompiledRuleset, ticket: dict[str, Any], tier: str) -> None:
    decision = repair.classify(ticket)
    assert decision is not None
    assert decision.tier == tier


def test_repair_tier_settings(repair: CompiledRuleset) -> None:
    p0 = repair.classify({"description": "停机"})
    assert p0 is not None
    assert (p0.label, p0.respond_within, p0.resolve_within) == ("停机类", timedelta(minutes=30), timedelta(hours=4))
    assert p0.calendar is None and p0.bypass_queue and p0.pause_states == []
    p1 = repair.classify({"description": "报警"})
    assert p1 is not None
    assert (p1.resolve_within, p1.calendar, p1.pause_states, p1.bypass_queue) == (
        timedelta(days=1), "工作日", ["待备件"], False)
    p2 = repair.classify({"description": "x"})
    assert p2 is not None
    assert p2.pause_states == ["待备件", "等待客户确认"] and p2.respond_within == timedelta(hours=4)


def test_repair_matching_ignores_width_and_case() -> None:
    rs = rules('sla P0:\n    when description has any ["CT冷却", "plc"]\n    respond 1h\n    resolve 2h\n'
               "sla P1:\n    otherwise\n    respond 1h\n    resolve 2h\n")
    assert rs.classify({"description": "ＣＴ冷却故障"}).tier == "P0"  # type: ignore[union-attr]
    assert rs.classify({"description": "PLC 报警"}).tier == "P0"  # type: ignore[union-attr]
    assert rs.classify({"description": "ｐｌｃ"}).tier == "P0"  # type: ignore[union-attr]
    assert rs.classify({"description": "CT 冷却"}).tier == "P1"  # type: ignore[union-attr]


def test_repair_route_onsite_requires_and_scores(repair: CompiledRuleset) -> None:
    ticket = {"description": "主轴异响", "onsite": True, "required_skill": "PLC调试", "location": SHANGHAI,
              "category": "机械"}
    engineers = [
        engineer("wang", skills={"PLC调试": 5}, load=1, location=near(0.005)),
        engineer("li", skills={"PLC调试": 2}),  # skill too low
        engineer("zhao", location=near(0.2)),  # ~22 km away
        engineer("qian", load=5, max_load=5),  # full
        engineer("sun", on_shift=False),
        engineer("zhou", skills={"PLC调试": 4}, load=3, location=near(0.02)),
    ]
    d = repair.route(ticket, engineers)
    assert d.pool == "现场维修" and d.tier == "P1"
    assert d.offered == ["wang"]  # P1: offer top 1
    by_id = {c.engineer_id: c for c in d.candidates}
    assert by_id["li"].rejected_by == "engineer.skills[required_skill] >= 3"
    assert by_id["li"].factors == {"engineer.skills[required_skill]": 2}
    assert by_id["zhao"].rejected_by == "distance <= 5km"
    assert by_id["zhao"].factors["distance"] > 5
    assert by_id["qian"].rejected_by == "engineer.load < engineer.max_load"
    assert by_id["sun"].rejected_by == "engineer.on_shift"
    wang = by_id["wang"]
    assert wang.rejected_by is None and wang.rank == 1
    dist = wang.factors["distance"]
    expected = 0.5 * 1.0 + 0.3 * (1 - 1 / 5) + 0.2 * (1 - dist / 5)
    assert wang.score == pytest.approx(expected)
    assert wang.factors["0.5 * skill_fit"] == pytest.approx(0.5)
    assert wang.factors["0.3 * (1 - engineer.load / engineer.max_load)"] == pytest.approx(0.24)
    assert wang.factors["skill_fit"] == 1.0 and wang.factors["streak"] == 0 and wang.factors["fatigue"] is False
    assert [c.engineer_id for c in d.candidates[:2]] == ["wang", "zhou"]
    assert [c.engineer_id for c in d.candidates[2:]] == ["li", "zhao", "qian", "sun"]
    assert d.claim_within == timedelta(minutes=15) and d.escalate_after == 2
    assert d.escalate_to == {"kind": "supervisor", "name": None}


def test_repair_p0_offers_top_three(repair: CompiledRuleset) -> None:
    ticket = {"description": "停机", "onsite": True, "required_skill": "PLC调试", "location": SHANGHAI}
    engs = [engineer(f"e{i}", load=i % 4, location=near(0.001 * i)) for i in range(6)]
    d = repair.route(ticket, engs)
    assert d.tier == "P0" and len(d.offered) == 3
    scores = [c.score for c in d.candidates]
    assert scores == sorted(scores, reverse=True)  # type: ignore[type-var]


def test_repair_route_uses_ticket_sla_when_present(repair: CompiledRuleset) -> None:
    ticket = {"description": "停机", "onsite": True, "required_skill": "PLC调试", "location": SHANGHAI,
              "sla": {"tier": "P2"}}
    d = repair.route(ticket, [engineer(f"e{i}") for i in range(5)])
    assert d.tier == "P2" and len(d.offered) == 1


def test_repair_fatigue_halves_score_after_streak(repair: CompiledRuleset) -> None:
    ticket = {"description": "x", "onsite": True, "required_skill": "PLC调试", "location": SHANGHAI, "category": "电气"}
    same = [{"category": "电气"}] * 3
    tired = engineer("tired", recent_assignments=[*same, {"category": "机械"}])
    fresh = engineer("fresh", recent_assignments=[{"category": "电气"}, {"category": "机械"}, *same])
    d = repair.route(ticket, [tired, fresh])
    by_id = {c.engineer_id: c for c in d.candidates}
    assert by_id["tired"].factors["streak"] == 3 and by_id["tired"].factors["fatigue"] is True
    assert by_id["fresh"].factors["streak"] == 1 and by_id["fresh"].factors["fatigue"] is False
    assert by_id["tired"].score == pytest.approx(by_id["fresh"].score / 2)
    assert d.offered == ["fresh"]


def test_repair_ties_break_by_load_idle_then_id(repair: CompiledRuleset) -> None:
    ticket = {"description": "x", "onsite": False, "required_skill": "PLC调试"}
    # remote pool: score = skill_fit - 0.1 * load; equal scores by construction
    a = engineer("a", skills={"PLC调试": 5}, load=1)
    b = engineer("b", skills={"PLC调试": 5}, load=1, idle_since="2026-11-20T08:00:00+08:00")
    c = engineer("c", skills={"PLC调试": 5}, load=1, idle_since="2026-11-24T08:00:00+08:00")
    d_ = engineer("d", skills={"PLC调试": 5}, load=1)
    d = repair.route(ticket, [c, d_, b, a])
    assert d.pool == "远程支持"
    assert [x.engineer_id for x in d.candidates] == ["a", "d", "b", "c"]


def test_repair_on_event(repair: CompiledRuleset) -> None:
    t = repair.on_event({"state": "已派单"}, {"type": "scan_checkin"})
    assert t is not None and (t.from_state, t.to_state, t.notify) == ("已派单", "已到达", [])
    assert repair.on_event({"state": "已到达"}, {"type": "photo", "kind": "铭牌"}).to_state == "诊断中"  # type: ignore[union-attr]
    assert repair.on_event({"state": "已到达"}, {"type": "photo", "kind": "现场"}) is None
    assert repair.on_event({"state": "诊断中"}, {"type": "scan_checkin"}) is None
    assert repair.on_event({"state": "诊断中"}, {"type": "unknown_event"}) is None
    parts = repair.on_event({"state": "诊断中"}, {"type": "parts_request"})
    assert parts is not None and parts.to_state == "待备件"
    assert parts.notify[0].target == {"kind": "role", "name": "仓储管理员"} and parts.notify[0].channel == "wecom"


def test_repair_close_lock(repair: CompiledRuleset) -> None:
    lock = repair.can_close({})
    assert not lock.ok and lock.failing == ["现场证据", "客户验收", "知识沉淀"]
    assert lock.first_failing == "现场证据"
    lock = repair.can_close({"attachments": [{"kind": "photo"}], "root_cause_recorded": True})
    assert lock.failing == ["客户验收"]
    ok = repair.can_close({"attachments": [{"kind": "video"}], "customer_signature": "sig-token",
                           "root_cause_recorded": True})
    assert ok.ok and ok.failing == []
    # a document is not evidence; an empty signature is no signature
    assert repair.can_close({"attachments": [{"kind": "pdf"}], "customer_signature": "",
                             "root_cause_recorded": True}).failing == ["现场证据", "客户验收"]


def test_repair_dwell_and_archive_data(repair: CompiledRuleset) -> None:
    d1, d2 = repair.dwell_rules
    assert (d1.state, d1.after, d1.repeat_every) == ("等待客户确认", timedelta(hours=4), None)
    assert d1.escalate == [{"kind": "supervisor", "name": None}]
    assert d1.notify[0].channel == "voice"
    assert (d2.state, d2.after, d2.repeat_every) == ("维修中", timedelta(hours=72), timedelta(hours=24))
    assert d2.escalate == [{"kind": "role", "name": "服务经理"}]
    (a,) = repair.archive_rules
    assert (a.after, a.state, a.survey, a.channel) == (timedelta(hours=48), "已结案", "满意度调研", "sms")


def test_repair_failing_example_blocks_compilation() -> None:
    src = example_source("repair").replace(
        'given description = "3号线注塑机停机，无法启动", fault_code = "E-205"',
        'given description = "3号线注塑机运行正常", fault_code = "E-205"')
    with pytest.raises(RulesError) as info:
        compile_ruleset(src)
    (d,) = info.value.errors
    assert d.code == "E160"
    assert d.line == src.splitlines().index("    expect tier P0") + 1
    assert "P0" in d.message_en and "P2" in d.message_en
    assert "示例" in d.message_zh


# ------------------------------------------------------------------------------ aftersales

@pytest.mark.parametrize(
    ("description", "tier"),
    [("空调不制冷", "P1"), ("洗衣机漏水了", "P1"), ("运行有异响", "P2"), ("冰箱有异味", "P2"),
     ("噪音很大", "P2"), ("怎么清洗滤网", "P3")],
)
def test_aftersales_classify(aftersales: CompiledRuleset, description: str, tier: str) -> None:
    assert aftersales.classify({"description": description}).tier == tier  # type: ignore[union-attr]


def test_aftersales_route_vip_bonus_and_hotline(aftersales: CompiledRuleset) -> None:
    ticket = {"service_type": "上门", "product_line": "空调", "location": SHANGHAI, "required_skill": "空调",
              "customer": {"vip": True}}
    e1 = engineer("a", product_lines=["空调", "冰箱"], skills={"空调": 5}, load=2, location=near(0.05))
    e2 = engineer("b", product_lines=["洗衣机"], skills={"空调": 5}, load=0)
    e3 = engineer("c", product_lines=["空调"], skills={"空调": 3}, load=6)
    d = aftersales.route(ticket, [e1, e2, e3])
    by_id = {c.engineer_id: c for c in d.candidates}
    assert d.pool == "上门服务" and d.offered == ["a"]
    assert by_id["b"].rejected_by == "product_line in engineer.product_lines"
    assert by_id["c"].rejected_by == "engineer.load < 6"
    dist = by_id["a"].factors["distance"]
    assert by_id["a"].score == pytest.approx(1.0 + 0.5 - dist / 40)
    ticket["customer"] = {"vip": False}
    assert aftersales.route(ticket, [e1]).candidates[0].score == pytest.approx(1.0 - dist / 40)
    phone = aftersales.route({"service_type": "电话指导"}, [engineer("h", team="热线", load=2), engineer("x")])
    assert phone.pool == "电话指导" and phone.offered == ["h"]
    assert phone.candidates[0].score == pytest.approx(0.8)


def test_aftersales_any_state_trigger(aftersales: CompiledRuleset) -> None:
    for state in ("服务中", "诊断中", "等待客户确认"):
        t = aftersales.on_event({"state": state}, {"type": "customer_confirmed"})
        assert t is not None and t.to_state == "已结案"
    assert aftersales.on_event({"state": "已结案"}, {"type": "customer_confirmed"}) is None


def test_aftersales_dwell_notify_repeat(aftersales: CompiledRuleset) -> None:
    d = aftersales.dwell_rules[1]
    assert d.state == "等待客户确认" and d.notify[0].target == {"kind": "customer", "name": None}
    assert d.notify[0].channel == "sms" and d.repeat_every == timedelta(hours=24) and d.escalate == []


# ------------------------------------------------------------------------------ production

def test_production_p0_bypass_and_offer_two(production: CompiledRuleset) -> None:
    p0 = production.classify({"line_stopped": True})
    assert p0 is not None and p0.tier == "P0" and p0.bypass_queue and p0.calendar is None
    assert production.classify({"description": "焊装线停线"}).tier == "P0"  # type: ignore[union-attr]
    assert production.classify({"process_step": "焊接", "defect_rate": 0.05}).tier == "P1"  # type: ignore[union-attr]
    assert production.classify({"process_step": "焊接", "defect_rate": 0.01}).tier == "P2"  # type: ignore[union-attr]
    assert production.classify({"process_step": "总装", "defect_rate": 0.5}).tier == "P2"  # type: ignore[union-attr]
    engs = [engineer(f"e{i}", process_steps=["焊接"], skills={"焊接": 4}, load=i) for i in range(4)]
    ticket = {"line_stopped": True, "process_step": "焊接", "required_skill": "焊接"}
    d = production.route(ticket, engs)
    assert d.offered == ["e0", "e1"]
    ticket["line_stopped"] = False
    assert production.route(ticket, engs).offered == ["e0"]


def test_production_approval_trigger_notifies(production: CompiledRuleset) -> None:
    t = production.on_event({"state": "待审批"}, {"type": "approval_passed", "kind": "工艺变更"})
    assert t is not None and t.to_state == "执行中"
    assert t.notify[0].target == {"kind": "role", "name": "班组长"} and t.notify[0].channel == "dingtalk"
    assert production.on_event({"state": "待审批"}, {"type": "approval_passed", "kind": "采购"}) is None


def test_production_close_and_archive(production: CompiledRuleset) -> None:
    assert production.can_close({"verification_report": "r.pdf"}).failing == ["根因"]
    (a,) = production.archive_rules
    assert (a.after, a.state, a.survey, a.channel) == (timedelta(days=7), "已关闭", None, None)

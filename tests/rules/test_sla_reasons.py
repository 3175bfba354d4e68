"""Why a ticket got its SLA tier: `SlaDecision.reason`, `why_zh`, `why_en`."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from gongdan_rules import CompiledRuleset, compile_ruleset

from rules.kit import FORMS, example_source, rules

TITLED = {"type": "object", "properties": {
    "description": {"type": "string", "title": "描述"},
    "fault_code": {"type": "string", "title": "故障代码"},
    "device_category": {"type": "string"},
    "priority": {"type": "integer"},
}}


@pytest.fixture(scope="module")
def repair_titled() -> CompiledRuleset:
    schema = json.loads((FORMS / "repair.json").read_text(encoding="utf-8"))
    schema["properties"]["description"]["title"] = "描述"
    schema["properties"]["fault_code"]["title"] = "故障代码"
    return compile_ruleset(example_source("repair"), schema=schema)


def test_a_keyword_names_the_field_the_words_and_the_tier(repair_titled: CompiledRuleset) -> None:
    d = repair_titled.classify({"description": "控制柜冒烟，设备无法启动"}, explain=True)
    assert d is not None and d.tier == "P0"
    r = d.reason
    assert r is not None and r.detailed and not r.otherwise
    assert r.matches == [{"field": "description", "keywords": ["无法启动", "冒烟"]}]  # in the rule's order
    assert r.condition == 'description has any ["停机", "无法启动", "冒烟", "冷却异常"]'
    assert r.line == 6
    assert d.why_zh == "描述含关键词「无法启动」「冒烟」，命中 P0「停机类」"
    assert d.why_en == "description contains 无法启动, 冒烟, matches P0 (停机类)"


def test_the_part_of_an_or_that_held_is_named(repair_titled: CompiledRuleset) -> None:
    d = repair_titled.classify({"description": "例行检查", "fault_code": "E-102"}, explain=True)
    assert d is not None and d.reason is not None
    assert d.reason.condition == 'fault_code in ["E-101", "E-102"]' and d.reason.line == 7
    assert d.reason.matches == []
    assert d.why_zh == "故障代码为「E-102」，命中 P0「停机类」"
    assert d.why_en == "fault_code is E-102, matches P0 (停机类)"
    d = repair_titled.classify({"description": "例行检查", "device_category": "PLC"}, explain=True)
    assert d is not None and d.tier == "P1"
    assert d.why_zh == "字段 device_category 为「PLC」，命中 P1「影响生产」"  # no form title: the key


def test_otherwise_has_its_own_sentence(repair_titled: CompiledRuleset) -> None:
    d = repair_titled.classify({"description": "外壳掉漆"}, explain=True)
    assert d is not None and d.tier == "P2" and d.reason is not None
    assert d.reason.otherwise and d.reason.condition is None and d.reason.line == 19
    assert d.why_zh == "其他级别的条件都不满足，按 otherwise 归入 P2「一般」"
    assert d.why_en == "no other tier's condition holds, so otherwise: P2 (一般)"


def test_full_width_and_case_are_matched_but_reported_as_written() -> None:
    rs = rules('sla P0 "紧急":\n    when description has any ["PLC故障", "冒烟"]\n    respond 1h\n    resolve 2h\n',
               schema=TITLED)
    d = rs.classify({"description": "ｐｌｃ故障灯亮"}, explain=True)
    assert d is not None and d.reason is not None
    assert d.reason.matches == [{"field": "description", "keywords": ["PLC故障"]}]
    assert d.why_zh == "描述含关键词「PLC故障」，命中 P0「紧急」"


def test_a_compound_condition_quotes_its_text_and_the_keywords_inside() -> None:
    rs = rules('sla P1:\n    when description has "异响" and priority >= 2\n    respond 1h\n    resolve 2h\n'
               'sla P2:\n    when priority > 100 or (description has any ["漏油"] and not (fault_code == "E-1"))\n'
               "    respond 1h\n    resolve 2h\n", schema=TITLED)
    d = rs.classify({"description": "主轴异响", "priority": 3}, explain=True)
    assert d is not None and d.reason is not None
    assert d.why_zh == '条件「description has "异响" and priority >= 2」成立（描述含关键词「异响」），命中 P1'
    assert d.why_en == ('condition `description has "异响" and priority >= 2` holds '
                        "(description contains 异响), matches P1")
    d = rs.classify({"description": "漏油", "priority": 1}, explain=True)
    assert d is not None and d.tier == "P2" and d.reason is not None
    assert d.reason.condition == 'description has any ["漏油"] and not (fault_code == "E-1")'
    assert d.reason.line == 7 and d.reason.matches == [{"field": "description", "keywords": ["漏油"]}]


def test_without_explain_the_reason_is_the_tiers_condition_at_no_cost(repair_titled: CompiledRuleset) -> None:
    d = repair_titled.classify({"description": "冒烟"})
    assert d is not None and d.reason is not None and not d.reason.detailed
    assert d is repair_titled.tiers[0]  # the shared decision: nothing built per call
    assert d.reason.matches == [] and d.reason.line == 6
    assert d.why_zh.startswith("条件「description has any") and d.why_zh.endswith("命中 P0「停机类」")
    assert d.why_en.startswith("condition `description has any") and "matches P0" in d.why_en


def test_the_reason_does_not_change_equality_or_the_existing_fields(repair_titled: CompiledRuleset) -> None:
    a = repair_titled.classify({"description": "冒烟"}, explain=True)
    b = repair_titled.classify({"fault_code": "E-101"}, explain=True)
    assert a == b and a is not None and a.reason != (b.reason if b else None)
    assert a.to_dict() == {"tier": "P0", "label": "停机类", "respond_within": 1800.0, "resolve_within": 14400.0,
                           "calendar": None, "pause_states": [], "bypass_queue": True}
    assert a.respond_within == timedelta(minutes=30)
    assert a.reason is not None and a.reason.to_dict()["why_en"] == a.why_en


def test_no_tier_is_none_with_or_without_explain() -> None:
    rs = rules('sla P0:\n    when description has "停机"\n    respond 1h\n    resolve 2h\n')
    assert rs.classify({"description": "好"}, explain=True) is None
    assert rs.classify({}, explain=True) is None

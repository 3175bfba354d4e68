"""Dispatch decisions explained in Chinese (and English): 为什么派给小王而不是小李？"""

from __future__ import annotations

from typing import Any

from gongdan_rules import compile_ruleset, explain

from rules.kit import example_source

REPAIR = compile_ruleset(example_source("repair"))
HERE = {"lat": 31.2304, "lon": 121.4737}
NAMES = {"wang": "小王", "li": "小李", "zhao": "小赵", "zhou": "小周"}


def eng(eid: str, **kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"id": eid, "skills": {"PLC调试": 4}, "load": 1, "max_load": 5, "on_shift": True,
                            "location": {"lat": 31.2314, "lon": 121.4737}}
    return base | kw


TICKET = {"description": "主轴异响", "onsite": True, "required_skill": "PLC调试", "location": HERE}
ENGINEERS = [eng("wang", skills={"PLC调试": 5}), eng("li", skills={"PLC调试": 2}),
             eng("zhao", skills={"PLC调试": 4}, location={"lat": 31.2404, "lon": 121.4737}), eng("zhou")]


def test_summary_names_pool_tier_offer_and_rejections() -> None:
    d = REPAIR.route(TICKET, ENGINEERS)
    s = explain.summary(d, NAMES)
    assert s.zh.startswith("派单池“现场维修”（等级 P1）：评估 4 人，3 人通过全部条件；派给 小王")
    assert "1 人未通过 `engineer.skills[required_skill] >= 3`" in s.zh
    assert s.en.startswith('Pool "现场维修" (tier P1): 4 engineers considered, 3 passed every require; offered to 小王')


def test_why_not_the_rejected_one() -> None:
    d = REPAIR.route(TICKET, ENGINEERS)
    w = explain.why(d, "wang", "li", NAMES)
    assert w.zh == ("为什么派给小王而不是小李？ 小李未通过条件 `engineer.skills[required_skill] >= 3`"
                    "（engineer.skills[required_skill] = 2），不能接这张单。")
    assert "failed `engineer.skills[required_skill] >= 3`" in w.en


def test_why_not_the_lower_score_names_the_factors_that_differ() -> None:
    d = REPAIR.route(TICKET, ENGINEERS)
    w = explain.why(d, "wang", "zhao", NAMES)
    assert "小王得分" in w.zh and "高于小赵" in w.zh and "差别主要在" in w.zh
    assert "差别主要在：0.5 * skill_fit：0.5 对 0.4" in w.zh


def test_why_on_a_tie_is_the_tie_break() -> None:
    ticket = {"description": "x", "onsite": False, "required_skill": "PLC调试"}
    engineers = [eng("wang", load=1), eng("li", load=1)]
    d = REPAIR.route(ticket, engineers)
    w = explain.why(d, "li", "wang", NAMES, engineers={e["id"]: e for e in engineers})
    assert w.zh.endswith("两人得分、负载、空闲时间都相同，按工号排序。")
    assert "为什么小李排在小王前面？" in w.zh or "为什么派给小李而不是小王？" in w.zh


def test_report_lists_everyone_and_no_pool() -> None:
    d = REPAIR.route(TICKET, ENGINEERS)
    r = explain.report(d, NAMES)
    assert (len(r.zh.splitlines()) == 5 and "小周：第 2 名" in r.zh) or "小周：第" in r.zh
    empty = compile_ruleset('ruleset "x" for line x\nroute "p":\n    when onsite\n    score 1\n    offer top 1\n')
    assert "没有派单池适用" in explain.summary(empty.route({}, ENGINEERS)).zh
    assert "not considered" in explain.why(d, "wang", "nobody").en

"""Routing through an EngineerIndex ranks exactly as routing the whole list does."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gongdan_rules import EngineerIndex, compile_ruleset

from rules.kit import example_source, rules

REPAIR = compile_ruleset(example_source("repair"))
AFTERSALES = compile_ruleset(example_source("aftersales"))
SKILLS = ["PLC调试", "液压", "电气"]

# (a level of the wrong type, such as "5", is a RulesRuntimeError on the full list: not compared here)
levels = st.one_of(st.integers(0, 6), st.floats(0, 6, allow_nan=False), st.booleans(), st.none())
locations = st.one_of(
    st.none(),
    st.fixed_dictionaries({"lat": st.floats(31.0, 31.2), "lon": st.floats(121.0, 121.2)}),
    st.just({"lat": "x", "lon": 1}),
)
engineers = st.lists(
    st.fixed_dictionaries({
        "skills": st.one_of(st.none(), st.dictionaries(st.sampled_from(SKILLS), levels, max_size=3)),
        "load": st.integers(0, 6),
        "max_load": st.integers(0, 6),
        "on_shift": st.one_of(st.booleans(), st.just(1), st.none()),
        "location": locations,
        "team": st.sampled_from(["热线", "一组", None]),
        "product_lines": st.one_of(st.none(), st.lists(st.sampled_from(["空调", "冰箱", 1, True]), max_size=2),
                                   st.just("空调,冰箱")),
        "recent_assignments": st.lists(st.fixed_dictionaries({"category": st.sampled_from(["电气", "机械"])}),
                                       max_size=4),
    }),
    max_size=40,
)
tickets = st.fixed_dictionaries({
    "description": st.sampled_from(["停机", "异响", "其他"]),
    "onsite": st.booleans(),
    "required_skill": st.one_of(st.sampled_from(SKILLS), st.none()),
    "location": locations,
    "category": st.sampled_from(["电气", "机械"]),
    "service_type": st.sampled_from(["上门", "电话"]),
    "product_line": st.sampled_from(["空调", "冰箱", 1]),
})


def ranked(decision: Any) -> list[tuple[Any, Any, Any]]:
    return [(c.engineer_id, c.score, c.rank) for c in decision.candidates if c.rank is not None]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(engineers, tickets, st.sampled_from(["repair", "aftersales"]), st.floats(0.5, 8.0))
def test_index_routes_like_the_full_list(engs: list[dict[str, Any]], ticket: dict[str, Any], line: str,
                                         cell_km: float) -> None:
    for i, e in enumerate(engs):
        e["id"] = f"e{i}"
    rs = REPAIR if line == "repair" else AFTERSALES
    full = rs.route(ticket, engs)
    index = EngineerIndex(engs, cell_km=cell_km)
    fast = rs.route(ticket, index)
    assert ranked(fast) == ranked(full)
    assert fast.offered == full.offered and fast.pool == full.pool
    rejected_full = {c.engineer_id: c.rejected_by for c in full.candidates if c.rejected_by}
    for c in fast.candidates:
        if c.rejected_by:
            assert rejected_full[c.engineer_id] == c.rejected_by
    assert fast.considered + fast.excluded == len(engs)


def test_prefilters_derived_from_requires() -> None:
    assert [(p.kind, p.require) for p in REPAIR.prefilters[0]] == [
        ("skill", "engineer.skills[required_skill] >= 3"), ("near", "distance <= 5km"), ("eq", "engineer.on_shift")]
    assert [(p.kind, p.attr) for p in AFTERSALES.prefilters[0]] == [("contains", "product_lines"), ("near", "")]
    assert [(p.kind, p.attr, p.value) for p in AFTERSALES.prefilters[1]] == [("eq", "team", "热线")]
    rs = rules('route "r":\n    require engineer.skills["焊接"] > 2 when urgent\n    score 1\n    offer top 1\n')
    assert rs.prefilters == [[]]  # a conditional require is never pre-applied


def test_index_maintenance() -> None:
    rs = rules('route "r":\n    require engineer.on_shift\n    require engineer.skills["焊接"] >= 3\n'
               "    require distance <= 2km\n    score 1\n    offer top 5\n")
    here = {"lat": 31.0, "lon": 121.0}
    a = {"id": "a", "on_shift": True, "skills": {"焊接": 4}, "location": here}
    b = {"id": "b", "on_shift": False, "skills": {"焊接": 5}, "location": here}
    index = EngineerIndex([a, b])
    assert rs.route({"location": here}, index).offered == ["a"]
    b["on_shift"] = True
    index.update(b)
    assert rs.route({"location": here}, index).offered == ["a", "b"]
    a["location"] = {"lat": 31.5, "lon": 121.0}
    index.update(a)
    assert rs.route({"location": here}, index).offered == ["b"]
    index.remove("b")
    assert rs.route({"location": here}, index).offered == [] and len(index) == 1 and "a" in index

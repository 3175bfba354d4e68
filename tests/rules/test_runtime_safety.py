"""The compiled example rulesets on bad data: tickets, engineers and events with fields of
the wrong type, missing fields, or not even maps. Every public call returns a result or
raises `RulesRuntimeError` (the one runtime error the docs name), never another exception."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gongdan_rules import CompiledRuleset, EngineerIndex, RulesRuntimeError
from gongdan_rules.runtime import LockResult, RouteDecision, SlaDecision, Transition

from rules.kit import FORMS, compile_example

LINES = ("repair", "aftersales", "production")
RULESETS = {line: compile_example(line) for line in LINES}
FIELDS = sorted({k for line in LINES for k in json.loads((FORMS / f"{line}.json").read_text("utf-8"))["properties"]}
                | {"state", "location", "attachments", "customer_signature", "root_cause_recorded", "customer",
                   "sla", "priority"})
ENGINEER_KEYS = ["id", "skills", "load", "max_load", "on_shift", "location", "team", "recent_assignments",
                 "idle_since", "process_steps", "product_lines"]
EVENTS = ["scan_checkin", "photo", "parts_request", "parts_issued", "customer_confirmed", "approval_passed", "x"]
WORDS = ["停机", "冒烟", "报警", "PLC", "E-101", "焊接", "上门", "photo", "video", "已派单", "已到达", "维修中",
         "等待客户确认", "铭牌", "P0", "电气维修", "2026-05-25T09:00:00Z", "", "ｐｌｃ"]
NOW = datetime(2026, 5, 25, 9, 30, tzinfo=UTC)

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10, 10), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(WORDS), st.text(max_size=8),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(["lat", "lon", "kind", "category", "tier", "name", "电气维修", "PLC调试"])
                        | st.text(max_size=4), inner, max_size=4),
    ),
    max_leaves=12,
)
points = st.one_of(values, st.fixed_dictionaries({"lat": st.floats(-90, 90), "lon": st.floats(-180, 180)}))
tickets = st.one_of(
    st.dictionaries(st.sampled_from(FIELDS), values, max_size=12),
    st.fixed_dictionaries({"description": st.sampled_from(WORDS), "onsite": st.booleans(), "location": points,
                           "required_skill": st.sampled_from(WORDS)},
                          optional={k: values for k in FIELDS
                                    if k not in ("description", "onsite", "location", "required_skill")}),
    values,  # not a map at all
)
engineer = st.one_of(
    st.dictionaries(st.sampled_from(ENGINEER_KEYS), values, max_size=10),
    st.fixed_dictionaries({"id": st.text(max_size=3), "load": st.integers(0, 5), "max_load": st.integers(0, 5),
                           "on_shift": st.booleans(), "location": points,
                           "skills": st.dictionaries(st.sampled_from(WORDS), values, max_size=3)},
                          optional={k: values for k in ENGINEER_KEYS
                                    if k not in ("id", "load", "max_load", "on_shift", "location", "skills")}),
    values,
)
events = st.one_of(
    st.fixed_dictionaries({"type": st.sampled_from(EVENTS)}, optional={"kind": values, "by": values}),
    st.dictionaries(st.text(max_size=4), values, max_size=3),
    values,
)


def _call(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except RulesRuntimeError as exc:
        assert exc.message_zh and exc.message_en
        return exc


@pytest.mark.parametrize("line", LINES)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ticket=tickets, engineers=st.lists(engineer, max_size=6), event=events, explain=st.booleans())
def test_compiled_rules_on_bad_data_return_or_raise_rules_runtime_error(
    line: str, ticket: Any, engineers: list[Any], event: Any, explain: bool
) -> None:
    rs: CompiledRuleset = RULESETS[line]
    got = _call(lambda t: rs.classify(t, NOW, explain=explain), ticket)
    assert got is None or isinstance(got, SlaDecision | RulesRuntimeError)
    got = _call(rs.route, ticket, engineers, NOW)
    assert isinstance(got, RouteDecision | RulesRuntimeError)
    if isinstance(got, RouteDecision):
        got.to_dict()
    got = _call(rs.on_event, ticket, event)
    assert got is None or isinstance(got, Transition | RulesRuntimeError)
    got = _call(rs.can_close, ticket, NOW)
    assert isinstance(got, LockResult | RulesRuntimeError)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ticket=tickets, engineers=st.lists(engineer, max_size=6))
def test_routing_through_an_index_on_bad_data(ticket: Any, engineers: list[Any]) -> None:
    rs = RULESETS["repair"]
    try:
        index = EngineerIndex([e for e in engineers if isinstance(e, dict)])
    except (TypeError, ValueError):
        return  # the index refuses a roster it cannot index (e.g. duplicate ids): not the rules' call
    got = _call(rs.route, ticket, index, NOW)
    assert isinstance(got, RouteDecision | RulesRuntimeError)


def test_a_ticket_that_is_not_a_map_is_a_rules_runtime_error() -> None:
    rs = RULESETS["repair"]
    for bad in (None, 3, "停机", ["description"]):
        for call in (lambda t: rs.classify(t), lambda t: rs.route(t, [], NOW), lambda t: rs.can_close(t),
                     lambda t: rs.on_event(t, {"type": "scan_checkin"})):
            with pytest.raises(RulesRuntimeError):
                call(bad)
    with pytest.raises(RulesRuntimeError):
        rs.on_event({"state": "已派单"}, "scan_checkin")  # type: ignore[arg-type]

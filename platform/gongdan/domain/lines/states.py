"""A line's state machine: states with categories (open, pending, closed) and transitions."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from gongdan.errors import FieldError, invalid

Category = Literal["open", "pending", "closed"]


class StateSpec(msgspec.Struct, kw_only=True):
    """One state: `key` is what rules and moves name, `category` what reports count."""

    key: str
    label: str = ""
    category: Category = "open"


class StateMachine(msgspec.Struct, kw_only=True):
    """A line's states; `transitions` are [from, to] pairs, `*` as from means any state."""

    initial: str
    states: list[StateSpec]
    transitions: list[tuple[str, str]] = []

    def category(self, state: str) -> str | None:
        """The category of `state`, or None for an unknown state."""
        for s in self.states:
            if s.key == state:
                return s.category
        return None

    def closed_keys(self) -> list[str]:
        """The states of category `closed`, in the machine's order."""
        return [s.key for s in self.states if s.category == "closed"]

    def allows(self, from_state: str, to_state: str) -> bool:
        """True when the machine has an edge from `from_state` to `to_state`."""
        return any(a in (from_state, "*") and b == to_state for a, b in self.transitions)

    def allowed_from(self, from_state: str) -> list[str]:
        """States reachable in one move from `from_state`."""
        return sorted({b for a, b in self.transitions if a in (from_state, "*")})


def check_machine(machine: StateMachine) -> StateMachine:
    """Raise 422 naming every problem: duplicate or unknown states, a bad initial state."""
    errors: list[FieldError] = []
    keys: set[str] = set()
    for i, s in enumerate(machine.states):
        if not s.key.strip():
            errors.append(FieldError(key=f"states.{i}.key", message_zh="状态键不能为空",
                                     message_en="a state key may not be empty"))
        elif s.key in keys or s.key == "*":
            errors.append(FieldError(key=f"states.{i}.key",
                                     message_zh=f"状态 {s.key} 重复或无效",
                                     message_en=f"state {s.key} is duplicated or invalid"))
        keys.add(s.key)
    if not machine.states:
        errors.append(FieldError(key="states", message_zh="至少需要一个状态",
                                 message_en="at least one state is needed"))
    if machine.initial not in keys:
        errors.append(FieldError(key="initial",
                                 message_zh=f"初始状态 {machine.initial} 不在状态列表中",
                                 message_en=f"initial state {machine.initial} is not a state"))
    elif machine.category(machine.initial) == "closed":
        errors.append(FieldError(key="initial", message_zh="初始状态不能是关闭类",
                                 message_en="the initial state may not be a closed state"))
    for i, (a, b) in enumerate(machine.transitions):
        for end, name in ((a, "from"), (b, "to")):
            if end not in keys and not (name == "from" and end == "*"):
                errors.append(FieldError(key=f"transitions.{i}",
                                         message_zh=f"迁移中的状态 {end} 未定义",
                                         message_en=f"transition names unknown state {end}"))
    if errors:
        raise invalid("状态机有误", "The state machine is invalid", errors)
    return machine


def machine_from_json(data: Any) -> StateMachine | None:
    """The stored machine (or None when the line has none yet)."""
    if not data:
        return None
    return msgspec.convert(data, StateMachine)

"""The typed syntax tree of a `.rules` file. Every node carries its source span."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any


@dataclass(frozen=True, slots=True)
class Span:
    """A source range: 1-based line and column; `end_column` is exclusive."""

    line: int
    column: int
    end_line: int
    end_column: int
    start_pos: int = 0
    end_pos: int = 0


NO_SPAN = Span(1, 1, 1, 2)


# ---------------------------------------------------------------------------- expressions
@dataclass(slots=True, eq=False)
class Expr:
    span: Span
    depth: int = field(default=1, kw_only=True)


@dataclass(slots=True, eq=False)
class Literal(Expr):
    """A constant: number, string, bool, null, duration (timedelta) or distance (km)."""

    value: Any
    kind: str  # "number" | "string" | "bool" | "null" | "duration" | "distance"


@dataclass(slots=True, eq=False)
class Name(Expr):
    """A bare name: a ticket field, or a name in scope (`engineer`, `distance`, `sla`, …)."""

    name: str


@dataclass(slots=True, eq=False)
class GetAttr(Expr):
    obj: Expr
    attr: str


@dataclass(slots=True, eq=False)
class GetItem(Expr):
    obj: Expr
    index: Expr


@dataclass(slots=True, eq=False)
class ListExpr(Expr):
    items: list[Expr]


@dataclass(slots=True, eq=False)
class MapExpr(Expr):
    items: list[tuple[str, Expr]]


@dataclass(slots=True, eq=False)
class Compare(Expr):
    op: str  # == != < <= > >= in "not in"
    left: Expr
    right: Expr


@dataclass(slots=True, eq=False)
class TextTest(Expr):
    op: str  # has | has any | has all | matches
    left: Expr
    right: Expr | None
    pattern: str | None = None  # for `matches`


@dataclass(slots=True, eq=False)
class BoolOp(Expr):
    op: str  # and | or
    values: list[Expr]


@dataclass(slots=True, eq=False)
class Not(Expr):
    operand: Expr


@dataclass(slots=True, eq=False)
class Arith(Expr):
    op: str  # + - * /
    left: Expr
    right: Expr


@dataclass(slots=True, eq=False)
class Neg(Expr):
    operand: Expr


@dataclass(slots=True, eq=False)
class Cond(Expr):
    """`A if C else B`."""

    then: Expr
    test: Expr
    orelse: Expr


@dataclass(slots=True, eq=False)
class Call(Expr):
    func: str
    args: list[Expr]
    where: Expr | None = None  # count(xs where <cond>)
    func_span: Span | None = None


# ---------------------------------------------------------------------------- statements
@dataclass(slots=True)
class Header:
    name: str
    line_key: str
    span: Span


@dataclass(slots=True)
class SlaTier:
    name: str
    label: str | None
    span: Span
    name_span: Span
    when: Expr | None = None
    otherwise: Span | None = None
    respond: timedelta | None = None
    resolve: timedelta | None = None
    calendar: str | None = None
    pause_in: list[tuple[str, Span]] = field(default_factory=list)
    bypass_queue: bool = False
    clause_spans: dict[str, Span] = field(default_factory=dict)
    duration_text: dict[str, str] = field(default_factory=dict)  # "respond"/"resolve" -> "1d"


@dataclass(slots=True)
class Require:
    cond: Expr
    when: Expr | None
    text: str
    span: Span


@dataclass(slots=True)
class Target:
    kind: str  # assignee | supervisor | customer | role
    name: str | None
    span: Span

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name}


@dataclass(slots=True)
class Pool:
    name: str
    span: Span
    name_span: Span
    when: Expr | None = None
    requires: list[Require] = field(default_factory=list)
    score: Expr | None = None
    score_text: str = ""
    fatigue_after: int | None = None
    fatigue_field: list[str] | None = None
    fatigue_field_span: Span | None = None
    fatigue_expr: Expr | None = None
    offer_top: int = 1
    offer_if: Expr | None = None
    offer_else: int | None = None
    claim_within: timedelta | None = None
    escalate_after: int | None = None
    escalate_to: Target | None = None
    clause_spans: dict[str, Span] = field(default_factory=dict)


@dataclass(slots=True)
class NotifyAction:
    target: Target
    channel: str
    channel_span: Span
    template: str | None = None


@dataclass(slots=True)
class EventPattern:
    event: str
    fields: list[tuple[str, Any, Span]]
    span: Span


@dataclass(slots=True)
class Trigger:
    pattern: EventPattern
    from_state: str  # "*" for any
    to_state: str
    notify: NotifyAction | None
    span: Span
    from_span: Span
    to_span: Span


@dataclass(slots=True)
class Dwell:
    state: str
    after: timedelta
    span: Span
    state_span: Span
    escalate: list[Target] = field(default_factory=list)
    notify: list[NotifyAction] = field(default_factory=list)
    repeat_every: timedelta | None = None


@dataclass(slots=True)
class Stage:
    name: str
    expr: Expr
    span: Span


@dataclass(slots=True)
class CloseLock:
    stages: list[Stage]
    span: Span


@dataclass(slots=True)
class Archive:
    after: timedelta
    state: str
    survey: str | None
    channel: str | None
    span: Span
    state_span: Span
    channel_span: Span | None = None


@dataclass(slots=True)
class Example:
    title: str
    span: Span
    given: list[tuple[str, Any, Span]] = field(default_factory=list)
    event: EventPattern | None = None
    # ("tier", name) | ("state", name) | ("close_ok", None) | ("close_fails", [names])
    expect: tuple[str, Any, Span] | None = None


@dataclass(slots=True)
class RulesetAst:
    header: Header | None = None
    tiers: list[SlaTier] = field(default_factory=list)
    pools: list[Pool] = field(default_factory=list)
    triggers: list[Trigger] = field(default_factory=list)
    dwells: list[Dwell] = field(default_factory=list)
    close: CloseLock | None = None
    archives: list[Archive] = field(default_factory=list)
    examples: list[Example] = field(default_factory=list)
    extra_headers: list[Header] = field(default_factory=list)
    extra_closes: list[CloseLock] = field(default_factory=list)

"""The checker: resolves every name, checks types against the line's form schema and the
built-in scope, and runs the lints. It annotates expressions for the code generator."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import re2

from . import nodes as n
from .diagnostics import Bi, DiagnosticSink
from .runtime import compile_regex

# ------------------------------------------------------------------------------ types


@dataclass(frozen=True, slots=True)
class T:
    """A static type. `elem` for lists, `fields` for maps with known keys, `options` for enums."""

    kind: str  # string number bool duration distance timestamp list map null any symbol object
    elem: T | None = None
    fields: tuple[tuple[str, T], ...] | None = None
    options: tuple[Any, ...] | None = None
    name: str = ""  # object name (ticket/engineer/customer) or symbol family (tier/state)

    def field(self, key: str) -> T | None:
        if self.fields is None:
            return None
        for k, t in self.fields:
            if k == key:
                return t
        return None

    def __str__(self) -> str:
        return str(self.bi)

    @property
    def bi(self) -> Bi:
        """The type's name in a Chinese and an English message."""
        zh = _TYPE_ZH.get(self.kind)
        return Bi(f"{zh} {self.kind}" if zh else self.kind, _TYPE_EN.get(self.kind, self.kind))


_TYPE_ZH = {
    "string": "文本", "number": "数值", "bool": "布尔", "duration": "时长", "distance": "距离", "timestamp": "时间",
    "list": "列表", "map": "映射", "null": "空值", "any": "任意", "symbol": "名称", "object": "对象",
}
_TYPE_EN = {"symbol": "name"}


ANY = T("any")
STRING = T("string")
NUMBER = T("number")
BOOL = T("bool")
DURATION = T("duration")
DISTANCE = T("distance")
TIMESTAMP = T("timestamp")
NULL = T("null")
LOCATION = T("map", fields=(("lat", NUMBER), ("lon", NUMBER)))
ATTACHMENT = T("map", fields=(("kind", STRING), ("url", STRING), ("name", STRING)))
TIER = T("symbol", name="tier")
STATE = T("symbol", name="state")

# Fields every ticket has, whatever its form (the base fields of DESIGN.md and the
# platform's own).
TICKET_BUILTINS: dict[str, T] = {
    "id": ANY, "number": STRING, "line": STRING, "state": STATE, "assignee": ANY,
    "created_at": TIMESTAMP, "updated_at": TIMESTAMP,
    "category": STRING, "title": STRING, "description": STRING, "customer_id": STRING,
    "customer_phone": STRING, "device_sn": STRING, "fault_code": STRING, "region": STRING,
    "location": LOCATION, "reported_at": TIMESTAMP,
    "attachments": T("list", elem=ATTACHMENT), "customer_signature": ANY,
    "root_cause_recorded": BOOL, "customer": T("map"), "sla": ANY,
}
ENGINEER_ATTRS: dict[str, T] = {
    "id": ANY, "name": STRING, "skills": T("map", elem=NUMBER), "load": NUMBER, "max_load": NUMBER,
    "on_shift": BOOL, "location": LOCATION, "team": STRING, "region": STRING,
    "recent_assignments": T("list", elem=T("map")), "certifications": T("list", elem=STRING),
    "supervisor": ANY,
}
FUNCTIONS: dict[str, tuple[int, int]] = {
    "count": (1, 1), "len": (1, 1), "lower": (1, 1), "min": (1, 99), "max": (1, 99),
    "abs": (1, 1), "hours_since": (1, 1), "exists": (1, 1),
}
TARGETS = ("assignee", "supervisor", "customer")
PLATFORM_EVENTS = (
    "scan_checkin", "photo", "parts_request", "approval_passed", "voice_note", "customer_confirmed",
)


def schema_fields(schema: dict[str, Any] | None) -> dict[str, T] | None:
    """Field types from a JSON Schema (properties, including those inside conditionals)."""
    if schema is None:
        return None
    out: dict[str, T] = {}
    stack: list[Any] = [schema]
    seen = 0
    while stack and seen < 10_000:
        seen += 1
        node = stack.pop()
        if not isinstance(node, dict):
            continue
        props = node.get("properties")
        if isinstance(props, dict):
            for key, sub in props.items():
                if isinstance(key, str) and (key not in out or out[key].kind == "any"):
                    out[key] = type_from_schema(sub)
        for k in ("allOf", "anyOf", "oneOf"):
            if isinstance(node.get(k), list):
                stack.extend(node[k])
        for k in ("if", "then", "else", "not"):
            if isinstance(node.get(k), dict):
                stack.append(node[k])
        dep = node.get("dependentSchemas")
        if isinstance(dep, dict):
            stack.extend(dep.values())
    return out


def type_from_schema(sub: Any, depth: int = 0) -> T:
    if not isinstance(sub, dict) or depth > 8:
        return ANY
    typ = sub.get("type")
    if isinstance(typ, list):
        typ = next((t for t in typ if t != "null"), None)
    options = tuple(sub["enum"]) if isinstance(sub.get("enum"), list) else None
    if typ is None and options:
        typ = "string" if all(isinstance(o, str) for o in options) else None
    if typ == "string":
        if sub.get("format") in ("date-time", "date"):
            return TIMESTAMP
        return T("string", options=options)
    if typ in ("number", "integer"):
        return T("number", options=options)
    if typ == "boolean":
        return BOOL
    if typ == "array":
        return T("list", elem=type_from_schema(sub.get("items"), depth + 1))
    if typ == "object":
        props = sub.get("properties")
        if isinstance(props, dict):
            return T("map", fields=tuple((k, type_from_schema(v, depth + 1)) for k, v in props.items()))
        return T("map")
    return ANY


# ------------------------------------------------------------------------------ scope


@dataclass(slots=True)
class Scope:
    where: str  # "sla" | "route" | "engineer" | "offer" | "stage" | "example"
    engineer: bool = False
    sla: bool = False
    score: bool = False
    elem: T | None = None  # inside `where`


@dataclass(slots=True)
class Info:
    """What the checker learnt, for the code generator."""

    types: dict[int, T]
    res: dict[int, tuple[Any, ...]]  # id(expr) -> resolution
    regexes: dict[int, Any]


_DUNDER = re.compile(r"^_")


class Checker:
    def __init__(
        self,
        ast: n.RulesetAst,
        sink: DiagnosticSink,
        schema: dict[str, Any] | None,
        channels: Iterable[str] | None,
        events: Iterable[str] | None,
        states: Iterable[str] | None,
    ) -> None:
        self.ast = ast
        self.sink = sink
        self.fields = schema_fields(schema)
        self.channels = None if channels is None else sorted(set(channels))
        self.events = None if events is None else sorted(set(events) | set(PLATFORM_EVENTS))
        self.states = None if states is None else list(dict.fromkeys(states))
        self.tiers = [t.name for t in ast.tiers]
        self.info = Info({}, {}, {})
        self.uses_skill_fit: n.Expr | None = None

    # -------------------------------------------------------------------- entry point
    def run(self) -> Info:
        a = self.ast
        if a.header is None:
            first_line = 1
            self.sink.add("E100", first_line, 1)
        for h in a.extra_headers:
            self.sink.at("E101", h.span, at=a.header.span.line if a.header else 1)
        self.check_tiers()
        self.check_pools()
        self.check_triggers()
        self.check_dwells()
        self.check_close()
        self.check_archives()
        self.check_examples()
        if self.uses_skill_fit is not None and self.fields is not None and "required_skill" not in self.fields:
            self.sink.at("W200", self.uses_skill_fit.span)
        return self.info

    # -------------------------------------------------------------------- blocks
    def check_tiers(self) -> None:
        seen: dict[str, n.SlaTier] = {}
        otherwise: n.SlaTier | None = None
        for tier in self.ast.tiers:
            self.check_name(tier.name, tier.name_span)
            if tier.name in seen:
                self.sink.at("E110", tier.name_span, name=tier.name, at=seen[tier.name].span.line)
            else:
                seen[tier.name] = tier
            if otherwise is not None:
                self.sink.at("E111", tier.name_span, name=tier.name, other=otherwise.name)
            if tier.when is None and tier.otherwise is None:
                self.sink.at("E114", tier.name_span, name=tier.name)
            if tier.when is not None and tier.otherwise is not None:
                self.sink.at("E115", tier.otherwise, name=tier.name)
            if tier.otherwise is not None and otherwise is None:
                otherwise = tier
            for clause, value in (("respond", tier.respond), ("resolve", tier.resolve)):
                if value is None:
                    self.sink.at("E112", tier.name_span, name=tier.name, clause=clause)
                elif value <= timedelta(0):
                    self.sink.at("E116", tier.clause_spans[clause], clause=clause)
                elif tier.calendar is not None and any(u in tier.duration_text.get(clause, "") for u in "dw"):
                    # days and weeks on a business calendar are the surprise; hours say what they mean
                    hours = value.total_seconds() / 3600
                    self.sink.at("W113", tier.clause_spans[clause], clause=clause, text=_human(value),
                                 hours=f"{hours:g}", days=f"{hours / 8:g}")
            if tier.when is not None:
                self.cond(tier.when, Scope("sla"))
            for state, span in tier.pause_in:
                self.check_state(state, span)
        if self.ast.tiers and otherwise is None:
            last = self.ast.tiers[-1]
            self.sink.at("W111", last.name_span)
        self.keyword_lint()

    def check_pools(self) -> None:
        seen: dict[str, n.Pool] = {}
        catch_all: n.Pool | None = None
        for pool in self.ast.pools:
            if pool.name in seen:
                self.sink.at("E121", pool.name_span, name=pool.name, at=seen[pool.name].span.line)
            else:
                seen[pool.name] = pool
            if catch_all is not None:
                self.sink.at("W120", pool.name_span, name=pool.name, other=catch_all.name)
            elif pool.when is None:
                catch_all = pool
            if pool.when is not None:
                self.cond(pool.when, Scope("route", sla=True))
            eng = Scope("engineer", engineer=True, sla=True)
            for req in pool.requires:
                self.cond(req.cond, eng)
                if req.when is not None:
                    self.cond(req.when, eng)
            if pool.score is None:
                self.sink.at("E120", pool.name_span, name=pool.name, clause="score")
            else:
                self.number(pool.score, eng)
            if "offer" not in pool.clause_spans:
                self.sink.at("E120", pool.name_span, name=pool.name, clause="offer top N")
            if pool.offer_if is not None:
                self.cond(pool.offer_if, Scope("offer", sla=True))
            if pool.fatigue_expr is not None:
                assert pool.fatigue_field is not None and pool.fatigue_field_span is not None
                path = pool.fatigue_field
                if path[0] == "ticket":
                    path = path[1:]
                if not path:
                    self.sink.at("E200", pool.fatigue_field_span, name="ticket")
                else:
                    self.check_field(path[0], pool.fatigue_field_span)
                self.number(pool.fatigue_expr, Scope("engineer", engineer=True, sla=True))
                if pool.fatigue_after is not None and pool.fatigue_after < 1:
                    self.sink.at("E122", pool.clause_spans["fatigue"])
            if pool.escalate_to is not None:
                self.check_target(pool.escalate_to)
            if pool.escalate_after is not None and pool.escalate_after < 1:
                self.sink.at("E122", pool.clause_spans["claim"])
            if pool.claim_within is not None and pool.claim_within <= timedelta(0):
                self.sink.at("E116", pool.clause_spans["claim"], clause="claim within")

    def check_triggers(self) -> None:
        seen: dict[tuple[Any, ...], n.Trigger] = {}
        for trig in self.ast.triggers:
            self.check_event(trig.pattern)
            if trig.from_state != "*":
                self.check_state(trig.from_state, trig.from_span)
            self.check_state(trig.to_state, trig.to_span)
            if trig.notify is not None:
                self.check_notify(trig.notify)
            key = (trig.pattern.event, tuple(sorted((k, repr(v)) for k, v, _ in trig.pattern.fields)),
                   trig.from_state)
            if key in seen:
                self.sink.at("W131", trig.span, at=seen[key].span.line)
            else:
                seen[key] = trig

    def check_dwells(self) -> None:
        for d in self.ast.dwells:
            self.check_state(d.state, d.state_span)
            if not d.escalate and not d.notify:
                self.sink.at("E140", d.span)
            if d.after <= timedelta(0):
                self.sink.at("E116", d.span, clause="dwell")
            if d.repeat_every is not None and d.repeat_every <= timedelta(0):
                self.sink.at("E116", d.span, clause="repeat every")
            for t in d.escalate:
                self.check_target(t)
            for a in d.notify:
                self.check_notify(a)

    def check_close(self) -> None:
        for extra in self.ast.extra_closes:
            self.sink.at("E151", extra.span, at=self.ast.close.span.line if self.ast.close else 1)
        if self.ast.close is None:
            return
        seen: set[str] = set()
        for st in self.ast.close.stages:
            if st.name in seen:
                self.sink.at("E150", st.span, name=st.name)
            seen.add(st.name)
            self.cond(st.expr, Scope("stage"))

    def check_archives(self) -> None:
        for a in self.ast.archives:
            self.check_state(a.state, a.state_span)
            if a.after <= timedelta(0):
                self.sink.at("E116", a.span, clause="archive")
            if a.channel is not None and a.channel_span is not None:
                self.check_channel(a.channel, a.channel_span)

    def check_examples(self) -> None:
        stages = [s.name for s in self.ast.close.stages] if self.ast.close else []
        for ex in self.ast.examples:
            for key, _value, span in ex.given:
                if key != "state":
                    self.check_field(key, span)
            if ex.event is not None:
                self.check_event(ex.event)
            if ex.expect is None:
                self.sink.at("E161", ex.span, title=ex.title)
                continue
            kind, value, span = ex.expect
            if kind == "tier" and value not in self.tiers:
                self.sink.at("E209", span, name=value, known=", ".join(self.tiers) or "-",
                             suggestion=self.suggest(value, self.tiers))
            elif kind == "state":
                self.check_state(value, span)
            elif kind == "close_fails":
                for name in value:
                    if name not in stages:
                        self.sink.at("E164", span, name=name, suggestion=self.suggest(name, stages))

    # -------------------------------------------------------------------- names
    def suggest(self, name: str, options: Iterable[str]) -> str | None:
        close = difflib.get_close_matches(name, list(options), n=1, cutoff=0.6)
        if close:
            return f"你是想写 `{close[0]}` 吗？/ did you mean `{close[0]}`?"
        return None

    def check_name(self, name: str, span: n.Span) -> bool:
        if name.startswith("_"):
            self.sink.at("E211", span, name=name)
            return False
        return True

    def known_fields(self) -> dict[str, T] | None:
        if self.fields is None:
            return None
        return {**TICKET_BUILTINS, **self.fields}

    def field_type(self, key: str) -> T | None:
        """The type of ticket field `key`, or None when it is unknown."""
        known = self.known_fields()
        if known is None:
            return TICKET_BUILTINS.get(key, ANY)
        return known.get(key)

    def check_field(self, key: str, span: n.Span) -> T:
        if not self.check_name(key, span):
            return ANY
        t = self.field_type(key)
        if t is None:
            known = self.known_fields() or {}
            self.sink.at("E200", span, name=key, suggestion=self.suggest(key, known))
            return ANY
        return t

    def check_state(self, state: str, span: n.Span) -> None:
        if self.states is not None and state not in self.states:
            self.sink.at("E132", span, name=state, suggestion=self.suggest(state, self.states))

    def check_event(self, pat: n.EventPattern) -> None:
        if self.events is not None and pat.event not in self.events:
            self.sink.at("W130", pat.span, name=pat.event, known=", ".join(self.events),
                         suggestion=self.suggest(pat.event, self.events))

    def check_channel(self, channel: str, span: n.Span) -> None:
        if self.channels is not None and channel not in self.channels:
            self.sink.at("E130", span, name=channel, installed=", ".join(self.channels) or "-",
                         suggestion=self.suggest(channel, self.channels))

    def check_target(self, target: n.Target) -> None:
        if target.kind != "role" and target.kind not in TARGETS:
            self.sink.at("E131", target.span, name=target.kind, suggestion=self.suggest(target.kind, TARGETS))

    def check_notify(self, action: n.NotifyAction) -> None:
        self.check_target(action.target)
        self.check_channel(action.channel, action.channel_span)

    # -------------------------------------------------------------------- expressions
    def cond(self, e: n.Expr, scope: Scope) -> None:
        t = self.expr(e, scope)
        if t.kind not in ("bool", "any", "null"):
            self.sink.at("E204", e.span, found=t.bi)

    def number(self, e: n.Expr, scope: Scope) -> None:
        t = self.expr(e, scope)
        if t.kind not in ("number", "any", "null"):
            self.sink.at("E205", e.span, found=t.bi)

    def expr(self, e: n.Expr, scope: Scope) -> T:
        t = self._expr(e, scope)
        self.info.types[id(e)] = t
        return t

    def _expr(self, e: n.Expr, scope: Scope) -> T:
        if isinstance(e, n.Literal):
            return {"number": NUMBER, "string": STRING, "bool": BOOL, "null": NULL,
                    "duration": DURATION, "distance": DISTANCE}[e.kind]
        if isinstance(e, n.Name):
            return self.name(e, scope)
        if isinstance(e, n.GetAttr):
            return self.getattr(e, scope)
        if isinstance(e, n.GetItem):
            obj = self.expr(e.obj, scope)
            self.expr(e.index, scope)
            if obj.kind == "map":
                return obj.elem or ANY
            if obj.kind == "list":
                return obj.elem or ANY
            if obj.kind in ("any", "null", "object"):
                return ANY
            self.sink.at("E210", e.obj.span, found=obj.bi)
            return ANY
        if isinstance(e, n.ListExpr):
            kinds = [self.expr(x, scope) for x in e.items]
            elem = kinds[0] if kinds and all(k.kind == kinds[0].kind for k in kinds) else ANY
            return T("list", elem=elem)
        if isinstance(e, n.MapExpr):
            return T("map", fields=tuple((k, self.expr(v, scope)) for k, v in e.items))
        if isinstance(e, n.Compare):
            return self.compare(e, scope)
        if isinstance(e, n.TextTest):
            left = self.expr(e.left, scope)
            if left.kind not in ("string", "any", "null"):
                self.sink.at("E213", e.left.span, found=left.bi)
            if e.op == "matches":
                try:
                    self.info.regexes[id(e)] = compile_regex(e.pattern or "")
                except re2.error as exc:
                    msg = exc.args[0] if exc.args else exc
                    msg = msg.decode("utf-8", "replace") if isinstance(msg, bytes) else str(msg)
                    self.sink.at("E208", e.span, error=msg)
            elif e.right is not None:
                right = self.expr(e.right, scope)
                if e.op == "has" and right.kind not in ("string", "any", "null"):
                    self.sink.at("E213", e.right.span, found=right.bi)
                if e.op != "has" and right.kind not in ("list", "any", "null"):
                    self.sink.at("E214", e.right.span, op=e.op, found=right.bi)
            return BOOL
        if isinstance(e, n.BoolOp):
            for v in e.values:
                self.cond(v, scope)
            return BOOL
        if isinstance(e, n.Not):
            self.cond(e.operand, scope)
            return BOOL
        if isinstance(e, n.Arith):
            return self.arith(e, scope)
        if isinstance(e, n.Neg):
            t = self.expr(e.operand, scope)
            if t.kind not in ("number", "duration", "distance", "any", "null"):
                self.sink.at("E203", e.span, op="-", left=t.bi, right="")
            return t
        if isinstance(e, n.Cond):
            self.cond(e.test, scope)
            a = self.expr(e.then, scope)
            b = self.expr(e.orelse, scope)
            if a.kind == b.kind or b.kind in ("any", "null"):
                return a
            if a.kind in ("any", "null"):
                return b
            self.sink.at("E203", e.span, op="if/else", left=a.bi, right=b.bi)
            return ANY
        if isinstance(e, n.Call):
            return self.call(e, scope)
        raise AssertionError(type(e))  # pragma: no cover

    def name(self, e: n.Name, scope: Scope) -> T:
        name = e.name
        res = self.info.res
        if not self.check_name(name, e.span):
            res[id(e)] = ("const", None)
            return ANY
        if name in ("ticket", "customer"):
            res[id(e)] = ("object", name)
            return T("object", name=name) if name == "ticket" else T("map", name="customer")
        if name == "engineer":
            if not scope.engineer:
                self.sink.at("E201", e.span, name=name, where_zh="route 的 require、score 和 fatigue",
                             where_en="a route's require, score and fatigue")
                res[id(e)] = ("const", None)
                return ANY
            res[id(e)] = ("object", "engineer")
            return T("object", name="engineer")
        if scope.elem is not None:
            res[id(e)] = ("elem", name)
            return scope.elem.field(name) or ANY
        if name == "sla":
            if not scope.sla:
                self.sink.at("E201", e.span, name=name, where_zh="route", where_en="route blocks")
                res[id(e)] = ("const", None)
                return ANY
            res[id(e)] = ("builtin", "sla")
            return TIER
        if scope.engineer and name in ("distance", "skill_fit", "streak"):
            res[id(e)] = ("builtin", name)
            if name == "skill_fit" and self.uses_skill_fit is None:
                self.uses_skill_fit = e
            return {"distance": DISTANCE, "skill_fit": NUMBER, "streak": NUMBER}[name]
        if scope.score and name == "score":
            res[id(e)] = ("builtin", "score")
            return NUMBER
        res[id(e)] = ("field", name)
        return self.check_field(name, e.span)

    def getattr(self, e: n.GetAttr, scope: Scope) -> T:
        if not self.check_name(e.attr, e.span):
            self.info.res[id(e)] = ("const", None)
            return ANY
        obj = self.expr(e.obj, scope)
        if obj.kind == "object" and obj.name == "ticket":
            self.info.res[id(e)] = ("field", e.attr)
            return self.check_field(e.attr, e.span)
        if obj.kind == "object" and obj.name == "engineer":
            self.info.res[id(e)] = ("eattr", e.attr)
            return ENGINEER_ATTRS.get(e.attr, ANY)
        if obj.kind == "map":
            return obj.field(e.attr) or ANY
        if obj.kind in ("any", "null"):
            return ANY
        self.sink.at("E215", e.span, found=obj.bi, attr=e.attr)
        return ANY

    def compare(self, e: n.Compare, scope: Scope) -> T:
        # A bare name compared with `sla` names a tier; with `state`, a state.
        for this, other in ((e.left, e.right), (e.right, e.left)):
            family = self.symbol_family(this, scope)
            if family is not None:
                t_this = self.expr(this, scope)
                self.symbolise(other, family, scope, e.op in ("in", "not in") and other is e.right)
                self.info.types[id(this)] = t_this
                return BOOL
        left = self.expr(e.left, scope)
        right = self.expr(e.right, scope)
        op = e.op
        if op in ("in", "not in"):
            if right.kind == "list":
                elem = right.elem or ANY
                if not self.compatible(left, elem):
                    self.sink.at("E202", e.span, op=op, left=left.bi,
                                 right=Bi(f"{elem.bi.zh} 的列表", f"list of {elem.bi.en}"))
                self.enum_lint(e.left, left, e.right)
            elif right.kind not in ("string", "map", "any", "null"):
                self.sink.at("E214", e.right.span, op=op, found=right.bi)
            return BOOL
        if not self.compatible(left, right) or (op in ("<", "<=", ">", ">=") and (
            left.kind in ("bool", "list", "map", "symbol", "object")
            or right.kind in ("bool", "list", "map", "symbol", "object")
        )):
            self.sink.at("E202", e.span, op=op, left=left.bi, right=right.bi)
        if op in ("==", "!="):
            self.enum_lint(e.left, left, e.right)
            self.enum_lint(e.right, right, e.left)
        return BOOL

    def symbol_family(self, e: n.Expr, scope: Scope) -> str | None:
        if isinstance(e, n.Name) and e.name == "sla" and scope.sla and scope.elem is None:
            return "tier"
        is_state = (isinstance(e, n.Name) and e.name == "state" and scope.elem is None) or (
            isinstance(e, n.GetAttr) and e.attr == "state" and isinstance(e.obj, n.Name) and e.obj.name == "ticket"
        )
        return "state" if is_state else None

    def symbolise(self, e: n.Expr, family: str, scope: Scope, as_list: bool) -> None:
        names: list[n.Name] = []
        if as_list and isinstance(e, n.ListExpr):
            names = [x for x in e.items if isinstance(x, n.Name)]
            others = [x for x in e.items if not isinstance(x, n.Name)]
            for x in others:
                self.expr(x, scope)
            self.info.types[id(e)] = T("list", elem=STRING)
        elif isinstance(e, n.Name) and not (family == "state" and self.fields is not None and e.name in self.fields):
            names = [e]
        else:
            self.expr(e, scope)
            return
        for name in names:
            self.info.res[id(name)] = ("const", name.name)
            self.info.types[id(name)] = STRING
            if family == "tier" and name.name not in self.tiers:
                self.sink.at("E209", name.span, name=name.name, known=", ".join(self.tiers) or "-",
                             suggestion=self.suggest(name.name, self.tiers))
            elif family == "state":
                self.check_state(name.name, name.span)

    @staticmethod
    def compatible(a: T, b: T) -> bool:
        if a.kind in ("any", "null") or b.kind in ("any", "null"):
            return True
        if a.kind == b.kind:
            return True
        pair = {a.kind, b.kind}
        return pair <= {"string", "symbol"} or pair <= {"string", "timestamp"}

    def enum_lint(self, field_expr: n.Expr, t: T, value_expr: n.Expr) -> None:
        if not t.options:
            return
        values: list[n.Expr] = value_expr.items if isinstance(value_expr, n.ListExpr) else [value_expr]
        for v in values:
            if isinstance(v, n.Literal) and v.kind in ("string", "number") and v.value not in t.options:
                field = field_expr.name if isinstance(field_expr, n.Name) else getattr(field_expr, "attr", "?")
                self.sink.at("W201", v.span, value=repr(v.value), field=field,
                             options=", ".join(map(str, t.options)))

    def arith(self, e: n.Arith, scope: Scope) -> T:
        a = self.expr(e.left, scope)
        b = self.expr(e.right, scope)
        ka, kb = a.kind, b.kind
        if ka in ("any", "null") or kb in ("any", "null"):
            known = b if ka in ("any", "null") else a
            if known.kind in ("any", "null"):
                return ANY
            if e.op in ("+", "-") and known.kind in ("number", "duration", "distance"):
                return known
            if e.op in ("*", "/") and known.kind == "number":
                return ANY
            if known.kind in ("duration", "distance") and e.op == "*":
                return known
            if known.kind in ("duration", "distance") and e.op == "/":
                return ANY
            self.sink.at("E203", e.span, op=e.op, left=a.bi, right=b.bi)
            return ANY
        table: dict[tuple[str, str, str], T] = {
            ("+", "number", "number"): NUMBER, ("-", "number", "number"): NUMBER,
            ("*", "number", "number"): NUMBER, ("/", "number", "number"): NUMBER,
            ("+", "duration", "duration"): DURATION, ("-", "duration", "duration"): DURATION,
            ("+", "distance", "distance"): DISTANCE, ("-", "distance", "distance"): DISTANCE,
            ("*", "number", "duration"): DURATION, ("*", "duration", "number"): DURATION,
            ("*", "number", "distance"): DISTANCE, ("*", "distance", "number"): DISTANCE,
            ("/", "duration", "number"): DURATION, ("/", "distance", "number"): DISTANCE,
            ("/", "duration", "duration"): NUMBER, ("/", "distance", "distance"): NUMBER,
            ("+", "string", "string"): STRING,
        }
        result = table.get((e.op, ka, kb))
        if result is None:
            self.sink.at("E203", e.span, op=e.op, left=a.bi, right=b.bi)
            return ANY
        return result

    def call(self, e: n.Call, scope: Scope) -> T:
        span = e.func_span or e.span
        if e.func not in FUNCTIONS:
            self.sink.at("E206", span, name=e.func, known=", ".join(FUNCTIONS),
                         suggestion=self.suggest(e.func, FUNCTIONS))
            for a in e.args:
                self.expr(a, scope)
            return ANY
        lo, hi = FUNCTIONS[e.func]
        if not lo <= len(e.args) <= hi:
            self.sink.at("E207", span, name=e.func, expected=str(lo) if lo == hi else f"{lo}+", found=len(e.args))
            for a in e.args:
                self.expr(a, scope)
            return ANY
        if e.where is not None:
            if e.func != "count":
                self.sink.at("E001", e.where.span, found="`where`", expected="count(… where …)")
            lt = self.expr(e.args[0], scope)
            if lt.kind not in ("list", "any", "null"):
                self.sink.at("E212", e.args[0].span, found=lt.bi)
            elem = lt.elem if lt.kind == "list" and lt.elem is not None else ANY
            if elem.kind != "map":
                elem = T("map")
            inner = Scope(scope.where, scope.engineer, scope.sla, scope.score, elem=elem)
            self.cond(e.where, inner)
            return NUMBER
        types = [self.expr(a, scope) for a in e.args]
        f = e.func
        if f == "count":
            if types[0].kind not in ("list", "any", "null"):
                self.sink.at("E212", e.args[0].span, found=types[0].bi)
            return NUMBER
        if f == "len":
            return NUMBER
        if f == "lower":
            if types[0].kind not in ("string", "any", "null"):
                self.sink.at("E213", e.args[0].span, found=types[0].bi)
            return STRING
        if f in ("min", "max"):
            if len(types) == 1 and types[0].kind == "list":
                return types[0].elem or ANY
            kinds = {t.kind for t in types} - {"any", "null"}
            if len(kinds) > 1 or kinds & {"string", "bool", "list", "map", "symbol", "object"}:
                self.sink.at("E203", e.span, op=f, left=types[0].bi, right=types[-1].bi)
                return ANY
            return types[0] if kinds else ANY
        if f == "abs":
            if types[0].kind not in ("number", "duration", "distance", "any", "null"):
                self.sink.at("E205", e.args[0].span, found=types[0].bi)
            return types[0]
        if f == "hours_since":
            if types[0].kind not in ("timestamp", "string", "any", "null"):
                self.sink.at("E203", e.span, op=f, left=types[0].bi, right="")
            return NUMBER
        if f == "exists":
            return BOOL
        return ANY  # pragma: no cover

    # -------------------------------------------------------------------- lints
    def keyword_lint(self) -> None:
        """W110: a keyword in two tiers; W112: a later tier's keyword that contains an
        earlier tier's, so the earlier tier always takes it. Linear in the keywords."""
        # (field, keyword) -> the first tier that lists it; and, for containment, the
        # keywords of earlier tiers whose condition is a pure disjunction.
        first: dict[tuple[str, str], n.SlaTier] = {}
        winners: dict[tuple[str, str], n.SlaTier] = {}
        longest = 0
        for tier in self.ast.tiers:
            if tier.when is None:
                continue
            words: list[tuple[str, str, n.Span]] = []
            disjunctive = _collect_keywords(tier.when, words, top=True)
            for field, kw, span in words:
                earlier = first.get((field, kw))
                if earlier is not None and earlier is not tier:
                    self.sink.at("W110", span, keyword=kw, first=earlier.name, second=tier.name)
                    continue
                if not field.endswith("="):
                    hit = _contained(kw, field, winners, longest)
                    if hit is not None and hit[1] is not tier:
                        self.sink.at("W112", span, keyword=kw, other=hit[0], first=hit[1].name, second=tier.name)
            for field, kw, _span in words:
                first.setdefault((field, kw), tier)
                if disjunctive and not field.endswith("=") and len(kw) >= 2:
                    winners.setdefault((field, kw), tier)
                    longest = max(longest, len(kw))


def _contained(
    kw: str, field: str, winners: dict[tuple[str, str], n.SlaTier], longest: int
) -> tuple[str, n.SlaTier] | None:
    """An earlier winning keyword that is a proper substring of `kw`, if any."""
    for size in range(2, min(len(kw) - 1, longest) + 1):
        for start in range(len(kw) - size + 1):
            tier = winners.get((field, kw[start : start + size]))
            if tier is not None:
                return kw[start : start + size], tier
    return None

def _human(d: timedelta) -> str:
    secs = int(d.total_seconds())
    parts = []
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if secs >= size:
            parts.append(f"{secs // size}{unit}")
            secs %= size
    return "".join(parts) or "0s"


def _collect_keywords(e: n.Expr, out: list[tuple[str, str, n.Span]], top: bool) -> bool:
    """Collect (field, normalised keyword, span) from text tests and `in [...]` in a tier's
    condition. Returns whether every keyword found sits in a pure disjunction (so any one
    of them alone makes the tier match)."""
    from .runtime import norm

    if isinstance(e, n.BoolOp):
        ok = e.op == "or"
        for v in e.values:
            ok = _collect_keywords(v, out, top and e.op == "or") and ok
        return ok
    if isinstance(e, n.TextTest):
        field = _path_text(e.left)
        if field is None:
            return False
        if e.op == "matches" and e.pattern:
            body = e.pattern
            if body.startswith("(") and body.endswith(")"):
                body = body[1:-1]
            if re.fullmatch(r"[^\\.^$*+?()\[\]{}]+(\|[^\\.^$*+?()\[\]{}]+)*", body):
                for word in body.split("|"):
                    out.append((field, norm(word) or "", e.span))
            return top
        right = e.right
        lits = right.items if isinstance(right, n.ListExpr) else [right] if right is not None else []
        for lit in lits:
            if isinstance(lit, n.Literal) and lit.kind == "string":
                out.append((field, norm(lit.value) or "", lit.span))
        return top and e.op in ("has", "has any")
    if isinstance(e, n.Compare) and e.op in ("in", "==") :
        field = _path_text(e.left)
        if field is None:
            return False
        lits = e.right.items if isinstance(e.right, n.ListExpr) else [e.right]
        for lit in lits:
            if isinstance(lit, n.Literal) and lit.kind == "string":
                out.append((field + "=", lit.value, lit.span))
        return top
    return False


def _path_text(e: n.Expr) -> str | None:
    if isinstance(e, n.Name):
        return e.name
    if isinstance(e, n.GetAttr):
        base = _path_text(e.obj)
        return None if base is None else f"{base}.{e.attr}"
    return None

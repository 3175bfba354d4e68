"""`compile_ruleset`: source -> parse -> check -> generate -> compile -> `CompiledRuleset`."""

from __future__ import annotations

import ast
import dataclasses
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from types import TracebackType
from typing import Any

from . import nodes as n
from .checker import Checker
from .codegen import Codegen, or_parts
from .diagnostics import Bi, Diagnostic, DiagnosticSink, RulesError
from .index import EngineerIndex, Prefilter
from .parser import MAX_DEPTH, parse
from .runtime import (
    HELPERS,
    ArchiveRule,
    Candidate,
    DwellRule,
    LockResult,
    Notify,
    RouteDecision,
    RulesRuntimeError,
    SlaDecision,
    SlaReason,
    Transition,
    norm,
    parse_ts,
)

_compile_lock = threading.Lock()


def compile_ruleset(
    source: str,
    *,
    schema: dict[str, Any] | None = None,
    channels: Iterable[str] | None = None,
    filename: str = "<rules>",
    events: Iterable[str] | None = None,
    states: Iterable[str] | None = None,
    run_examples: bool = True,
) -> CompiledRuleset:
    """Compile a `.rules` source.

    `schema` is the line's form as JSON Schema (None: fields are not checked); `channels`
    the installed channel names (None: any); `events` the event types plugins add to the
    platform's own (None: any); `states` the line's state keys (None: any). Raises
    `RulesError` listing every diagnostic when there is any error, including a failing
    `example`; warnings are on the result's `.diagnostics`.
    """
    if not isinstance(source, str):
        raise TypeError("source must be str")
    text = source.replace("\r\n", "\n").replace("\r", "\n")
    if text.startswith("\ufeff"):
        text = text[1:]
    sink = DiagnosticSink(text, filename)
    tree = parse(text, sink)
    _check_depth(tree, sink)
    if sink.has_errors:
        # Still check what parsed, so one run shows syntax and name errors together.
        if not any(d.code in ("E006", "E007", "E012") for d in sink.items):
            Checker(tree, sink, schema, channels, events, states).run()
        raise RulesError(sink.sorted())
    info = Checker(tree, sink, schema, channels, events, states).run()
    if sink.has_errors:
        raise RulesError(sink.sorted())
    gen = Codegen(tree, info, text, filename)
    module = gen.module()
    namespace: dict[str, Any] = {"__builtins__": {}, **HELPERS, **gen.consts}
    code = compile(module, filename, "exec", dont_inherit=True)
    with _compile_lock:
        exec(code, namespace)  # our own generated AST, never user text
    rs = CompiledRuleset(tree, module, namespace, sink, filename)
    rs.prefilters = [_prefilters(pool, info.res) for pool in tree.pools]
    rs._explainable(text, info.res, schema)
    if run_examples:
        rs._run_examples(sink)
        if sink.has_errors:
            raise RulesError(sink.sorted())
    rs.diagnostics = sink.sorted()
    return rs


def _check_depth(tree: n.RulesetAst, sink: DiagnosticSink) -> None:
    exprs: list[n.Expr | None] = []
    for tier in tree.tiers:
        exprs.append(tier.when)
    for pool in tree.pools:
        exprs += [pool.when, pool.score, pool.offer_if, pool.fatigue_expr]
        for r in pool.requires:
            exprs += [r.cond, r.when]
    if tree.close:
        exprs += [s.expr for s in tree.close.stages]
    for e in exprs:
        if e is not None and e.depth > MAX_DEPTH:
            sink.at("E006", e.span, limit=MAX_DEPTH)


def _prefilters(pool: n.Pool, res: dict[int, tuple[Any, ...]]) -> list[Prefilter]:
    """The pool's requires an `EngineerIndex` can answer exactly (see gongdan_rules.index)."""

    def eattr(e: n.Expr) -> str | None:
        r = res.get(id(e))
        return r[1] if isinstance(e, n.GetAttr) and r is not None and r[0] == "eattr" else None

    def field(e: n.Expr) -> str | None:
        r = res.get(id(e))
        return r[1] if isinstance(e, n.Name | n.GetAttr) and r is not None and r[0] == "field" else None

    out: list[Prefilter] = []
    for req in pool.requires:
        if req.when is not None:
            continue
        c = req.cond
        attr = eattr(c)
        if attr is not None:
            out.append(Prefilter("eq", req.text, attr=attr, value=True))
            continue
        if not isinstance(c, n.Compare):
            continue
        left, right = c.left, c.right
        if (
            c.op in (">=", ">", "==") and isinstance(left, n.GetItem) and eattr(left.obj) == "skills"
            and isinstance(right, n.Literal) and right.kind == "number"
        ):
            if field(left.index) is not None:
                out.append(Prefilter("skill", req.text, ticket_key=field(left.index), op=c.op, number=right.value))
            elif isinstance(left.index, n.Literal) and left.index.kind == "string":
                out.append(Prefilter("skill", req.text, value=left.index.value, op=c.op, number=right.value))
        elif (
            c.op in ("<=", "<") and isinstance(left, n.Name) and res.get(id(left)) == ("builtin", "distance")
            and isinstance(right, n.Literal) and right.kind == "distance"
        ):
            out.append(Prefilter("near", req.text, number=float(right.value)))
        elif c.op == "==" and eattr(left) is not None and isinstance(right, n.Literal) and right.kind == "string":
            out.append(Prefilter("eq", req.text, attr=eattr(left) or "", value=right.value))
        elif c.op == "in" and field(left) is not None and eattr(right) is not None:
            out.append(Prefilter("contains", req.text, attr=eattr(right) or "", ticket_key=field(left)))
    return out


class CompiledRuleset:
    """A compiled ruleset. Evaluating it does no I/O; it is safe to share between threads."""

    diagnostics: list[Diagnostic]
    prefilters: list[list[Prefilter]]

    def __init__(
        self, tree: n.RulesetAst, module: ast.Module, namespace: dict[str, Any], sink: DiagnosticSink, filename: str
    ) -> None:
        self._tree = tree
        self._module = module
        self._ns = namespace
        self.filename = filename
        self.diagnostics = sink.sorted()
        self.name = tree.header.name if tree.header else ""
        self.line = tree.header.line_key if tree.header else ""
        self._classify: Callable[..., int | None] = namespace["classify"]
        self._pool_when: Callable[..., int | None] = namespace["pool_when"]
        self._can_close: Callable[..., list[str]] = namespace["can_close"]  # the failing stages' names
        self._routes = [namespace[f"route_{i}"] for i in range(len(tree.pools))]
        self._offers = [namespace[f"offer_{i}"] for i in range(len(tree.pools))]
        self.tiers = [
            SlaDecision(
                tier=t.name, label=t.label, respond_within=t.respond or timedelta(0),
                resolve_within=t.resolve or timedelta(0), calendar=t.calendar,
                pause_states=[s for s, _ in t.pause_in], bypass_queue=t.bypass_queue,
            )
            for t in tree.tiers
        ]
        self.pools = [p.name for p in tree.pools]
        self.stages = [s.name for s in tree.close.stages] if tree.close else []
        self._triggers: dict[str, list[n.Trigger]] = {}
        for trig in tree.triggers:
            self._triggers.setdefault(trig.pattern.event, []).append(trig)
        self.dwell_rules = [
            DwellRule(
                state=d.state, after=d.after, escalate=[t.to_dict() for t in d.escalate],
                notify=[Notify(a.target.to_dict(), a.channel, a.template) for a in d.notify],
                repeat_every=d.repeat_every, line=d.span.line,
            )
            for d in tree.dwells
        ]
        self.archive_rules = [
            ArchiveRule(after=a.after, state=a.state, survey=a.survey, channel=a.channel, line=a.span.line)
            for a in tree.archives
        ]
        self.examples = [ex.title for ex in tree.examples]

    # ------------------------------------------------------------------ reasons
    def _explainable(self, text: str, res: dict[int, tuple[Any, ...]], schema: dict[str, Any] | None) -> None:
        """Give every tier its reason (see `SlaReason`); `classify(..., explain=True)` details it."""
        self._text = text
        self._res = res
        props = schema.get("properties") if isinstance(schema, dict) else None
        self._titles = {
            k: v["title"] for k, v in props.items() if isinstance(v, dict) and isinstance(v.get("title"), str)
        } if isinstance(props, dict) else {}
        self._parts = {
            i: (self._ns[f"tier_parts_{i}"], or_parts(t.when))
            for i, t in enumerate(self._tree.tiers) if t.when is not None and f"tier_parts_{i}" in self._ns
        }
        self.tiers = [dataclasses.replace(d, reason=self._static_reason(t)) for d, t in zip(
            self.tiers, self._tree.tiers, strict=True)]

    def _src(self, span: n.Span) -> str:
        return " ".join(self._text[span.start_pos : span.end_pos].split())

    @staticmethod
    def _heads(t: n.SlaTier) -> tuple[str, str]:
        return (f"{t.name}「{t.label}」", f"{t.name} ({t.label})") if t.label else (t.name, t.name)

    def _static_reason(self, t: n.SlaTier) -> SlaReason:
        zh, en = self._heads(t)
        if t.when is None:
            line = t.otherwise.line if t.otherwise else t.span.line
            return SlaReason(t.name, True, None, line, [], f"其他级别的条件都不满足，按 otherwise 归入 {zh}",
                             f"no other tier's condition holds, so otherwise: {en}")
        cond = self._src(t.when.span)
        return SlaReason(t.name, False, cond, t.when.span.line, [], f"条件「{cond}」成立，命中 {zh}",
                         f"condition `{cond}` holds, matches {en}")

    def _reason(self, i: int, ticket: dict[str, Any], now: datetime | None) -> SlaReason:
        """Which part of tier `i`'s condition held for `ticket`, and the keywords it found."""
        t = self._tree.tiers[i]
        static = self.tiers[i].reason
        assert static is not None
        if t.when is None:
            return dataclasses.replace(static, detailed=True)
        part = t.when
        if i in self._parts:
            fn, parts = self._parts[i]
            k = fn(ticket, now)
            if k is not None:
                part = parts[k]
        matches = self._keyword_hits(part, ticket)
        cond = self._src(part.span)
        zh_h, en_h = self._heads(t)
        hits_zh = "；".join(f"{self._title(m['field'])}含关键词" + "".join(f"「{w}」" for w in m["keywords"])
                           for m in matches)
        hits_en = "; ".join(f"{m['field']} contains {', '.join(m['keywords'])}" for m in matches)
        value = self._compared_value(part, ticket)
        if isinstance(part, n.TextTest) and len(matches) == 1:
            zh, en = f"{hits_zh}，命中 {zh_h}", f"{hits_en}, matches {en_h}"
        elif value is not None:
            key, v = value
            zh, en = f"{self._title(key)}为「{v}」，命中 {zh_h}", f"{key} is {v}, matches {en_h}"
        elif matches:
            zh = f"条件「{cond}」成立（{hits_zh}），命中 {zh_h}"
            en = f"condition `{cond}` holds ({hits_en}), matches {en_h}"
        else:
            zh, en = f"条件「{cond}」成立，命中 {zh_h}", f"condition `{cond}` holds, matches {en_h}"
        return SlaReason(t.name, False, cond, part.span.line, matches, zh, en, detailed=True)

    def _title(self, key: str) -> str:
        """The field's name in a Chinese sentence: its form title, else `字段 <key> `."""
        return self._titles.get(key) or f"字段 {key} "

    def _field_of(self, e: n.Expr) -> str | None:
        r = self._res.get(id(e))
        return str(r[1]) if isinstance(e, n.Name | n.GetAttr) and r is not None and r[0] == "field" else None

    def _compared_value(self, e: n.Expr, ticket: dict[str, Any]) -> tuple[str, Any] | None:
        """(field, value) when `e` is `field == constant` or `field in [constants]`."""
        if not (isinstance(e, n.Compare) and e.op in ("==", "in")):
            return None
        key = self._field_of(e.left)
        right = e.right
        constant = isinstance(right, n.Literal) or (
            isinstance(right, n.ListExpr) and all(isinstance(x, n.Literal) for x in right.items))
        if key is None or not constant:
            return None
        v = ticket.get(key)
        return (key, v) if isinstance(v, str | int | float) and not isinstance(v, bool) else None

    def _keyword_hits(self, e: n.Expr, ticket: dict[str, Any]) -> list[dict[str, Any]]:
        """The `has` tests under `e` over a ticket field, with the words found in its text."""
        out: list[dict[str, Any]] = []
        stack: list[Any] = [e]
        while stack:
            x = stack.pop()
            if isinstance(x, list | tuple):
                stack.extend(reversed(x))
                continue
            if not isinstance(x, n.Expr):
                continue
            if isinstance(x, n.TextTest) and x.op in ("has", "has any", "has all"):
                key = self._field_of(x.left)
                words = ([x.right.value] if isinstance(x.right, n.Literal) and x.right.kind == "string" else
                         [w.value for w in x.right.items if isinstance(w, n.Literal) and w.kind == "string"]
                         if isinstance(x.right, n.ListExpr) else [])
                text = norm(ticket.get(key)) if key is not None else None
                found = [w for w in dict.fromkeys(words) if text is not None and (nw := norm(w)) and nw in text]
                if key is not None and found:
                    out.append({"field": key, "keywords": found})
                continue
            for attr in ("left", "right", "values", "operand", "items", "args", "where", "obj", "index",
                         "then", "test", "orelse"):
                child = getattr(x, attr, None)
                if child is not None:
                    stack.append(child)
        return out

    # ------------------------------------------------------------------ evaluation
    def _guard(self, exc: BaseException) -> RulesRuntimeError:
        line = _rules_line(exc.__traceback__, self.filename)
        return RulesRuntimeError(
            f"规则求值失败（数据类型不符？）：{exc}",
            f"evaluating the rules failed (a value of the wrong type?): {exc}",
            line,
        )

    def classify(
        self, ticket: dict[str, Any], now: datetime | None = None, *, explain: bool = False
    ) -> SlaDecision | None:
        """The first SLA tier whose `when` holds (or the `otherwise` tier); None if none does.

        The decision's `reason` names the tier's condition and its line; with `explain=True`
        it also says which `or`-ed part held and which keywords were found in which field
        (`reason.detailed`), at the cost of evaluating that tier again.
        """
        try:
            i = self._classify(ticket, now)
            if i is None:
                return None
            if explain and self.tiers[i].reason is not None:
                return dataclasses.replace(self.tiers[i], reason=self._reason(i, ticket, now))
        except (TypeError, AttributeError, ValueError, KeyError, OverflowError) as exc:
            raise self._guard(exc) from exc
        return self.tiers[i]

    def _tier_of(self, ticket: dict[str, Any], now: datetime | None) -> str | None:
        sla = ticket.get("sla")
        if isinstance(sla, dict) and sla.get("tier"):
            return str(sla["tier"])
        if isinstance(sla, str) and sla:
            return sla
        decision = self.classify(ticket, now)
        return decision.tier if decision else None

    def route(
        self,
        ticket: dict[str, Any],
        engineers: Sequence[dict[str, Any]] | EngineerIndex,
        now: datetime | None = None,
    ) -> RouteDecision:
        """Rank `engineers` for `ticket` by the first pool whose `when` holds.

        Engineers every `require` admits are sorted by score (higher first; a null score
        last), then lower load, longer idle time (`idle_since`, earlier first), then id. The
        top N (the pool's `offer top`) are offered the ticket. Rejected engineers follow, in
        the order given, each with the `require` that rejected them.

        Given an `EngineerIndex` instead of a list, only the engineers that pass the pool's
        indexable requires are considered (`excluded` counts the others); the ranking is
        the same.
        """
        try:
            tier = self._tier_of(ticket, now)
            p = self._pool_when(ticket, tier, now)
            if p is None:
                return RouteDecision(pool=None, offered=[], candidates=[], tier=tier)
            total = len(engineers)
            if isinstance(engineers, EngineerIndex):
                ids = engineers.select(ticket, self.prefilters[p])
                engineers = list(engineers) if ids is None else engineers.ordered(ids)
            passed, rejected = self._routes[p](ticket, engineers, tier, now)
            top = self._offers[p](ticket, tier, now)
            passed = _ranked(passed)
        except (TypeError, AttributeError, ValueError, KeyError, OverflowError) as exc:
            raise self._guard(exc) from exc
        ranked = [Candidate(r[0].get("id"), r[1], r[2], None, rank) for rank, r in enumerate(passed, 1)]
        pool = self._tree.pools[p]
        return RouteDecision(
            pool=pool.name,
            offered=[c.engineer_id for c in ranked[:top]],
            candidates=ranked + rejected,
            tier=tier,
            claim_within=pool.claim_within,
            escalate_after=pool.escalate_after,
            escalate_to=pool.escalate_to.to_dict() if pool.escalate_to else None,
            considered=len(engineers),
            excluded=total - len(engineers),
        )

    def on_event(self, ticket: dict[str, Any], event: dict[str, Any]) -> Transition | None:
        """The transition the first matching `on` trigger gives, or None.

        A trigger matches when the event type is its event, every `(field = value)` equals
        the event's field, and the ticket is in its from-state (`*`: any state, but a
        wildcard trigger into the state the ticket is already in changes nothing).
        """
        if not isinstance(ticket, dict) or not isinstance(event, dict):
            raise RulesRuntimeError("工单和事件都必须是映射（dict）",
                                    "the ticket and the event must both be maps (dicts)")
        state = ticket.get("state")
        for trig in self._triggers.get(str(event.get("type")), ()):
            if any(event.get(k) != v for k, v, _ in trig.pattern.fields):
                continue
            if trig.from_state == "*":
                if state == trig.to_state:
                    continue
            elif state != trig.from_state:
                continue
            notify = []
            if trig.notify is not None:
                a = trig.notify
                notify.append(Notify(a.target.to_dict(), a.channel, a.template))
            return Transition(state, trig.to_state, notify, trig.pattern.event, trig.span.line)
        return None

    def can_close(self, ticket: dict[str, Any], now: datetime | None = None) -> LockResult:
        """Whether every stage of the close lock holds; `failing` lists those that do not."""
        try:
            failing = self._can_close(ticket, now)
        except (TypeError, AttributeError, ValueError, KeyError, OverflowError) as exc:
            raise self._guard(exc) from exc
        return LockResult(not failing, failing)

    def python_source(self) -> str:
        """The generated Python, for debugging (`gongdan rules explain`)."""
        consts = {k: v for k, v in self._ns.items() if k[:2] == "_c" and k[2:].isdigit()}
        header = [f"# compiled from {self.filename}: ruleset {self.name!r} for line {self.line!r}"]
        for k in sorted(consts, key=lambda s: int(s[2:])):
            header.append(f"# {k} = {consts[k]!r}")
        return "\n".join(header) + "\n\n" + ast.unparse(self._module) + "\n"

    # ------------------------------------------------------------------ examples
    def _run_examples(self, sink: DiagnosticSink) -> None:
        for ex in self._tree.examples:
            if ex.expect is None:
                continue
            ticket: dict[str, Any] = {}
            for key, value, _ in ex.given:
                ticket[key] = value
            kind, expected, span = ex.expect
            try:
                actual, ok, want = self._example_outcome(ex, ticket, kind, expected)
            except RulesRuntimeError as exc:
                sink.at("E162", span, title=ex.title, error=Bi(exc.message_zh, exc.message_en))
                continue
            if not ok:
                sink.at("E160", span, title=ex.title, expected=want, actual=actual)

    def _example_outcome(
        self, ex: n.Example, ticket: dict[str, Any], kind: str, expected: Any
    ) -> tuple[str, bool, str]:
        if ex.event is not None:
            event = {"type": ex.event.event, **{k: v for k, v, _ in ex.event.fields}}
            tr = self.on_event(ticket, event)
            if tr is not None:
                ticket["state"] = tr.to_state
        if kind == "tier":
            d = self.classify(ticket)
            got = d.tier if d else "none"
            return got, got == expected, f"tier {expected}"
        if kind == "state":
            got = str(ticket.get("state"))
            return f"state {got}", got == expected, f"state {expected}"
        lock = self.can_close(ticket)
        got = "close ok" if lock.ok else "close fails " + ", ".join(lock.failing)
        if kind == "close_ok":
            return got, lock.ok, "close ok"
        want = list(expected)
        return got, all(s in lock.failing for s in want), "close fails " + ", ".join(want)


_INF = float("inf")
_NUMBER = (int, float)


def _ranked(passed: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """`passed` in rank order (`_rank_key`)."""
    if len(passed) > 1:
        passed.sort(key=_rank_key)
    return passed


_SECONDS: dict[datetime, float] = {}  # aware idle times -> POSIX seconds (equal instants hash alike)


def _rank_key(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """Score (higher first, null last), then lower load, longer idle, then id."""
    eng, score = row[0], row[1]
    load = eng.get("load")
    idle = eng.get("idle_since")
    since: float | None
    if idle is None:
        since = -_INF
    elif idle.__class__ is datetime and idle.tzinfo is not None:  # the usual case
        since = _SECONDS.get(idle)
        if since is None:  # datetime.timestamp() costs ~8 dict look-ups; a roster repeats its times
            if len(_SECONDS) >= 65536:
                _SECONDS.clear()
            since = _SECONDS[idle] = idle.timestamp()
    else:
        since = _idle_seconds(idle)
    ident = eng.get("id")
    return (
        -score if score.__class__ in _NUMBER and score == score else _INF,  # NaN ranks as null
        load if load.__class__ in _NUMBER else _INF,
        since,
        ident if ident.__class__ is str else str(ident),
    )


def _idle_seconds(value: Any) -> float:
    ts = parse_ts(value) if not isinstance(value, str) else _parse_ts_cached(value)
    return ts.timestamp() if ts is not None else -_INF


@lru_cache(maxsize=4096)
def _parse_ts_cached(value: str) -> datetime | None:
    return parse_ts(value)


def _rules_line(tb: TracebackType | None, filename: str) -> int:
    line = 0
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


__all__ = ["CompiledRuleset", "compile_ruleset"]

"""Code generation: the checked syntax tree -> a Python `ast.Module`.

Rules become plain functions over dicts. User text only ever becomes `ast.Constant` values
(strings, dict keys); every Python identifier in the output is generated here (`_s3`,
`_c12`, `t`, `e`), so a rule cannot name a Python attribute, import or builtin. The module
runs with `__builtins__` empty and only the helpers of `runtime.HELPERS` in scope.

Values a rule reads (`engineer.load`, `distance`, the normalised `description`) are
computed once into a local *slot* before the first statement that needs them; ticket
values are hoisted out of the per-engineer loop.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from . import nodes as n
from .checker import Info, T
from .runtime import KeywordSet


def _name(id_: str) -> ast.Name:
    return ast.Name(id=id_, ctx=ast.Load())


def _store(id_: str) -> ast.Name:
    return ast.Name(id=id_, ctx=ast.Store())


def _const(v: Any) -> ast.Constant:
    return ast.Constant(value=v)


def _call(func: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=_name(func), args=list(args), keywords=[])


def _method(obj: ast.expr, meth: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=ast.Attribute(value=obj, attr=meth, ctx=ast.Load()), args=list(args), keywords=[])


def _is_none(x: ast.expr) -> ast.Compare:
    return ast.Compare(left=x, ops=[ast.Is()], comparators=[_const(None)])


def _not_none(x: ast.expr) -> ast.Compare:
    return ast.Compare(left=x, ops=[ast.IsNot()], comparators=[_const(None)])


def _is_true(x: ast.expr) -> ast.Compare:
    return ast.Compare(left=x, ops=[ast.Is()], comparators=[_const(True)])


def _and(*xs: ast.expr) -> ast.expr:
    return xs[0] if len(xs) == 1 else ast.BoolOp(op=ast.And(), values=list(xs))


def _or(*xs: ast.expr) -> ast.expr:
    return xs[0] if len(xs) == 1 else ast.BoolOp(op=ast.Or(), values=list(xs))


_CMP = {"==": ast.Eq, "!=": ast.NotEq, "<": ast.Lt, "<=": ast.LtE, ">": ast.Gt, ">=": ast.GtE}
_BIN = {"+": ast.Add, "-": ast.Sub, "*": ast.Mult, "/": ast.Div}
_SIMPLE = (ast.Name, ast.Constant)


@dataclass
class Func:
    """State while generating one function."""

    route: bool = False  # a per-engineer function: slots are either hoisted or per engineer
    slots: dict[Any, str] = field(default_factory=dict)
    pending: list[ast.stmt] = field(default_factory=list)  # per-statement slot assignments
    hoisted: list[ast.stmt] = field(default_factory=list)  # ticket-level, before the loop
    paths: list[tuple[str, str]] | None = None  # (source text, slot) read by the current statement
    elem: str | None = None  # the element variable inside `where`
    score_var: str | None = None


class Codegen:
    def __init__(self, tree: n.RulesetAst, info: Info, text: str, filename: str) -> None:
        self.tree = tree
        self.info = info
        self.text = text
        self.filename = filename
        self.consts: dict[str, Any] = {}
        self._const_ids: dict[Any, str] = {}
        self._n = 0
        self.f = Func()

    # -------------------------------------------------------------------- helpers
    def tmp(self, prefix: str = "_s") -> str:
        self._n += 1
        return f"{prefix}{self._n}"

    def add_const(self, value: Any, key: Any = None) -> ast.Name:
        if key is not None and key in self._const_ids:
            return _name(self._const_ids[key])
        name = self.tmp("_c")
        self.consts[name] = value
        if key is not None:
            self._const_ids[key] = name
        return _name(name)

    def src(self, span: n.Span) -> str:
        return " ".join(self.text[span.start_pos : span.end_pos].split())

    def type_of(self, e: n.Expr) -> T:
        return self.info.types.get(id(e), T("any"))

    def once(self, x: ast.expr) -> tuple[ast.expr, ast.expr]:
        """(first use, later uses) of a value: a walrus into a temporary unless it is simple."""
        if isinstance(x, _SIMPLE):
            return x, x
        name = self.tmp("_t")
        return ast.NamedExpr(target=_store(name), value=x), _name(name)

    # -------------------------------------------------------------------- slots
    def path_key(self, e: n.Expr) -> Any:
        """A hashable key for a pure path (a field, `engineer.x`, `m[k]`…), else None."""
        res = self.info.res.get(id(e))
        if isinstance(e, n.Name):
            if res is None or res[0] in ("const", "elem") or (res[0] == "builtin" and res[1] in ("sla", "score")):
                return None
            return res
        if isinstance(e, n.GetAttr):
            if res is not None and res[0] in ("field", "eattr"):
                return res
            base = self.path_key(e.obj)
            return None if base is None else (base, ".", e.attr)
        if isinstance(e, n.GetItem):
            base = self.path_key(e.obj)
            if base is None:
                return None
            if isinstance(e.index, n.Literal):
                return (base, "[]", ("lit", e.index.value))
            ik = self.path_key(e.index)
            return None if ik is None else (base, "[]", ik)
        return None

    @staticmethod
    def engineer_level(key: Any) -> bool:
        if isinstance(key, tuple):
            if key in (("object", "engineer"),) or (key[:1] == ("builtin",)) or key[:1] == ("eattr",):
                return True
            return any(Codegen.engineer_level(k) for k in key if isinstance(k, tuple))
        return False

    def slot(self, key: Any, make: Any, text: str | None = None) -> ast.Name:
        f = self.f
        if key in f.slots:
            name = f.slots[key]
        else:
            saved, f.paths = f.paths, None  # record only the outermost path, not its parts
            try:
                value = make()
            finally:
                f.paths = saved
            name = self.tmp()
            assign: ast.stmt = ast.Assign(targets=[_store(name)], value=value)
            if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "_idx":
                # `m[k]` on a map, the usual case, as one C call (`dict.get`); anything else
                # (a list, an unhashable key, null) raises TypeError and takes the helper
                assign = ast.Try(
                    body=[ast.Assign(targets=[_store(name)], value=_call("_dget", *value.args))],
                    handlers=[ast.ExceptHandler(type=_name("_TypeError"), name=None, body=[assign])],
                    orelse=[], finalbody=[])
            if f.route and not self.engineer_level(key):
                f.hoisted.append(assign)
            else:
                f.pending.append(assign)
            f.slots[key] = name
        if text is not None and f.paths is not None and all(t != text for t, _ in f.paths):
            f.paths.append((text, name))
        return _name(name)

    # -------------------------------------------------------------------- expressions
    def expr(self, e: n.Expr) -> tuple[ast.expr, bool]:
        """(code, may be null)."""
        if isinstance(e, n.Literal):
            return self.literal(e), e.kind == "null"
        if isinstance(e, n.Name | n.GetAttr | n.GetItem):
            return self.path(e)
        if isinstance(e, n.ListExpr):
            return ast.List(elts=[self.expr(x)[0] for x in e.items], ctx=ast.Load()), False
        if isinstance(e, n.MapExpr):
            return ast.Dict(keys=[_const(k) for k, _ in e.items], values=[self.expr(v)[0] for _, v in e.items]), False
        if isinstance(e, n.Compare):
            return self.compare(e), False
        if isinstance(e, n.TextTest):
            return self.text_test(e), False
        if isinstance(e, n.BoolOp):
            values = [self.test(v) for v in e.values]
            return (_and(*values) if e.op == "and" else _or(*values)), False
        if isinstance(e, n.Not):
            return ast.UnaryOp(op=ast.Not(), operand=self.test(e.operand)), False
        if isinstance(e, n.Arith):
            return self.arith(e)
        if isinstance(e, n.Neg):
            code, nullable = self.expr(e.operand)
            if not nullable:
                return ast.UnaryOp(op=ast.USub(), operand=code), False
            first, again = self.once(code)
            return ast.IfExp(test=_is_none(first), body=_const(None),
                             orelse=ast.UnaryOp(op=ast.USub(), operand=again)), True
        if isinstance(e, n.Cond):
            a, na = self.expr(e.then)
            b, nb = self.expr(e.orelse)
            return ast.IfExp(test=self.test(e.test), body=a, orelse=b), na or nb
        if isinstance(e, n.Call):
            return self.call(e)
        raise AssertionError(type(e))  # pragma: no cover

    def test(self, e: n.Expr) -> ast.expr:
        """A condition as a Python bool: null (and anything not `true`) does not hold."""
        code, nullable = self.expr(e)
        t = self.type_of(e)
        if nullable or t.kind != "bool":
            return _is_true(code)
        return code

    def literal(self, e: n.Literal) -> ast.expr:
        if e.kind == "duration":
            return self.add_const(e.value, ("duration", e.value))
        if e.kind == "distance":
            return _const(float(e.value))
        return _const(e.value)

    def path(self, e: n.Expr) -> tuple[ast.expr, bool]:
        res = self.info.res.get(id(e))
        if isinstance(e, n.Name) and res is not None:
            kind = res[0]
            if kind == "const":
                return _const(res[1]), res[1] is None
            if kind == "elem":
                assert self.f.elem is not None
                return _call("_get", _name(self.f.elem), _const(res[1])), True
            if kind == "builtin" and res[1] == "sla":
                return _name("sla"), True
            if kind == "builtin" and res[1] == "score":
                assert self.f.score_var is not None
                return _name(self.f.score_var), True
            if kind == "object" and res[1] == "ticket":
                return _name("t"), False
            if kind == "object" and res[1] == "engineer":
                return _name("e"), False
        key = self.path_key(e)
        if key is None or (self.f.elem is not None and self._touches_elem(e)):
            return self.raw_path(e), True
        return self.slot(key, lambda: self.raw_path(e), self.src(e.span)), True

    def _touches_elem(self, e: n.Expr) -> bool:
        while isinstance(e, n.GetAttr | n.GetItem):
            if isinstance(e, n.GetItem) and self.path_key(e.index) is None and not isinstance(e.index, n.Literal):
                return True
            e = e.obj
        res = self.info.res.get(id(e))
        return res is not None and res[0] == "elem"

    def raw_path(self, e: n.Expr) -> ast.expr:
        res = self.info.res.get(id(e))
        if isinstance(e, n.Name):
            assert res is not None
            kind, name = res[0], res[1]
            if kind == "field":
                return _method(_name("t"), "get", _const(name))
            if kind == "object" and name == "customer":
                return _method(_name("t"), "get", _const("customer"))
            if kind == "builtin":
                return self.builtin(name)
            return self.path(e)[0]
        if isinstance(e, n.GetAttr):
            if res is not None and res[0] == "field":
                return _method(_name("t"), "get", _const(res[1]))
            if res is not None and res[0] == "eattr":
                return _method(_name("e"), "get", _const(res[1]))
            obj, _ = self.expr(e.obj)
            return _call("_get", obj, _const(e.attr))
        if isinstance(e, n.GetItem):
            obj, _ = self.expr(e.obj)
            index, _ = self.expr(e.index)
            return _call("_idx", obj, index)
        raise AssertionError(type(e))  # pragma: no cover

    def builtin(self, name: str) -> ast.expr:
        if name == "distance":
            tloc = self.slot(("field", "location"), lambda: _method(_name("t"), "get", _const("location")))
            # the ticket's point once (hoisted out of the engineer loop), then one distance per engineer
            geo = self.slot(("geo", ("field", "location")), lambda: _call("_geo", tloc))
            eloc = self.slot(("eattr", "location"), lambda: _method(_name("e"), "get", _const("location")))
            return _call("_distance", geo, eloc)
        if name == "skill_fit":
            skills = self.slot(("eattr", "skills"), lambda: _method(_name("e"), "get", _const("skills")))
            req = self.slot(("field", "required_skill"), lambda: _method(_name("t"), "get", _const("required_skill")))
            return _call("_skill_fit", skills, req)
        if name == "streak":
            return _name(self.f.slots.get(("streak",), "_none"))
        raise AssertionError(name)  # pragma: no cover

    def norm_of(self, e: n.Expr) -> ast.expr:
        """The normalised text of `e`, as a slot when `e` is a path."""
        key = self.path_key(e)
        code, _ = self.expr(e)
        if key is None or (self.f.elem is not None and self._touches_elem(e)):
            return _call("_norm", code)
        return self.slot(("norm", key), lambda: _call("_norm", code))

    def compare(self, e: n.Compare) -> ast.expr:
        if e.op in ("in", "not in"):
            return self.membership(e)
        a, na = self.expr(e.left)
        b, nb = self.expr(e.right)
        if "timestamp" in (self.type_of(e.left).kind, self.type_of(e.right).kind):
            a, b, na, nb = _call("_ts", a), _call("_ts", b), True, True
        checks: list[ast.expr] = []
        if na and (e.op != "==" or nb):
            a_first, a = self.once(a)
            checks.append(_not_none(a_first))
        if nb and (e.op != "==" or na):
            b_first, b = self.once(b)
            checks.append(_not_none(b_first))
        cmp = ast.Compare(left=a, ops=[_CMP[e.op]()], comparators=[b])
        return _and(*checks, cmp)

    def membership(self, e: n.Compare) -> ast.expr:
        a, _ = self.expr(e.left)
        right = e.right
        if isinstance(right, n.ListExpr) and all(self._constant(x) for x in right.items):
            values = frozenset(self._const_value(x) for x in right.items) - {None}
            c = self.add_const(values, ("set", tuple(sorted(map(repr, values)))))
            # through the helper: a value of the wrong type (a list, a map) is in no set, not an error
            return _call("_in_set" if e.op == "in" else "_not_in_set", a, c)
        b, _ = self.expr(right)
        return _call("_contains" if e.op == "in" else "_not_contains", a, b)

    def _constant(self, e: n.Expr) -> bool:
        if isinstance(e, n.Literal):
            return e.kind in ("string", "number", "bool")
        res = self.info.res.get(id(e))
        return isinstance(e, n.Name) and res is not None and res[0] == "const"

    def _const_value(self, e: n.Expr) -> Any:
        if isinstance(e, n.Literal):
            return e.value
        res = self.info.res[id(e)]
        return res[1]

    def text_test(self, e: n.TextTest) -> ast.expr:
        s = self.norm_of(e.left)
        if e.op == "matches":
            rx = self.add_const(self.info.regexes[id(e)])
            return _call("_rx", rx, s)
        right = e.right
        assert right is not None
        if e.op == "has" and isinstance(right, n.Literal) and right.kind == "string":
            from .runtime import norm

            word = norm(right.value) or ""
            first, again = self.once(s)
            return _and(_not_none(first), ast.Compare(left=_const(word), ops=[ast.In()], comparators=[again]))
        if e.op in ("has any", "has all") and isinstance(right, n.ListExpr) and all(
            isinstance(x, n.Literal) and x.kind == "string" for x in right.items
        ):
            words = [x.value for x in right.items if isinstance(x, n.Literal)]
            kset = KeywordSet(words)
            if kset.words and len(kset.words) <= KeywordSet.SMALL:
                # a few words: `w in s` tests inline (what KeywordSet.any/all do, without the calls)
                first, again = self.once(s)
                tests = [ast.Compare(left=_const(w), ops=[ast.In()], comparators=[again]) for w in kset.words]
                return _and(_not_none(first), _or(*tests) if e.op == "has any" else _and(*tests))
            ks = self.add_const(kset, ("kw", tuple(words)))
            return _method(ks, "any" if e.op == "has any" else "all", s)
        left, _ = self.expr(e.left)
        r, _ = self.expr(right)
        helper = {"has": "_has", "has any": "_has_any", "has all": "_has_all"}[e.op]
        return _call(helper, left, r)

    def arith(self, e: n.Arith) -> tuple[ast.expr, bool]:
        a, na = self.expr(e.left)
        b, nb = self.expr(e.right)
        zero_check = e.op == "/" and not (
            isinstance(e.right, n.Literal) and e.right.kind in ("number", "distance", "duration") and e.right.value
        )
        if not (na or nb or zero_check):
            return ast.BinOp(left=a, op=_BIN[e.op](), right=b), False
        conds: list[ast.expr] = []
        if na:
            a_first, a = self.once(a)
            conds.append(_is_none(a_first))
        if nb or zero_check:
            b_first, b = self.once(b)
            if nb:
                conds.append(_is_none(b_first))
                b_first = b
            if zero_check:
                conds.append(ast.Compare(left=b_first, ops=[ast.Eq()], comparators=[_const(0)]))
        return ast.IfExp(test=_or(*conds), body=_const(None), orelse=ast.BinOp(left=a, op=_BIN[e.op](), right=b)), True

    def call(self, e: n.Call) -> tuple[ast.expr, bool]:
        if e.where is not None:
            xs, _ = self.expr(e.args[0])
            outer = self.f.elem
            var = self.tmp("_e")
            self.f.elem = var
            try:
                cond = self.test(e.where)
            finally:
                self.f.elem = outer
            gen = ast.GeneratorExp(
                elt=_const(1),
                generators=[ast.comprehension(target=_store(var), iter=_call("_items", xs), ifs=[cond], is_async=0)],
            )
            return _call("_sum", gen), False
        args = [self.expr(a)[0] for a in e.args]
        f = e.func
        if f == "count":
            return _call("_count", *args), False
        if f == "exists":
            return _call("_exists", *args), False
        if f == "hours_since":
            return _call("_hours_since", args[0], _name("now")), True
        helper = {"len": "_len", "lower": "_lower", "min": "_min", "max": "_max", "abs": "_abs"}[f]
        return _call(helper, *args), True

    # -------------------------------------------------------------------- statements
    def flush(self, stmts: list[ast.stmt], line: int) -> None:
        for st in self.f.pending:
            stmts.append(self.at(st, line))
        self.f.pending = []

    def function(self, name: str, args: list[str], body: list[ast.stmt], line: int = 1) -> ast.FunctionDef:
        fn = ast.FunctionDef(
            name=name,
            args=ast.arguments(posonlyargs=[], args=[ast.arg(arg=a) for a in args], vararg=None,
                               kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[]),
            body=body or [ast.Return(value=_const(None))],
            decorator_list=[],
            returns=None,
            lineno=line,
            col_offset=0,
        )
        return fn

    def at(self, node: ast.stmt, line: int) -> ast.stmt:
        node.lineno = line
        node.col_offset = 0
        return node

    def gen_classify(self) -> ast.FunctionDef:
        self.f = Func()
        body: list[ast.stmt] = []
        for i, tier in enumerate(self.tree.tiers):
            line = tier.span.line
            if tier.when is None:
                body.append(self.at(ast.Return(value=_const(i)), line))
                break
            test = self.test(tier.when)
            self.flush(body, tier.when.span.line)
            body.append(self.at(ast.If(test=test, body=[self.at(ast.Return(value=_const(i)), line)], orelse=[]),
                                tier.when.span.line))
        body.append(ast.Return(value=_const(None)))
        return self.function("classify", ["t", "now"], body)

    def gen_tier_parts(self, i: int, parts: list[n.Expr]) -> ast.FunctionDef:
        """`tier_parts_<i>(t, now)`: which of the tier's `or`-ed conditions holds first (for the
        reason `classify(..., explain=True)` gives), or None."""
        self.f = Func()
        body: list[ast.stmt] = []
        for k, part in enumerate(parts):
            test = self.test(part)
            self.flush(body, part.span.line)
            body.append(self.at(ast.If(test=test, body=[self.at(ast.Return(value=_const(k)), part.span.line)],
                                       orelse=[]), part.span.line))
        body.append(ast.Return(value=_const(None)))
        return self.function(f"tier_parts_{i}", ["t", "now"], body)

    def gen_pool_when(self) -> ast.FunctionDef:
        self.f = Func()
        body: list[ast.stmt] = []
        for i, pool in enumerate(self.tree.pools):
            line = pool.span.line
            if pool.when is None:
                body.append(self.at(ast.Return(value=_const(i)), line))
                break
            test = self.test(pool.when)
            self.flush(body, pool.when.span.line)
            body.append(self.at(ast.If(test=test, body=[self.at(ast.Return(value=_const(i)), line)], orelse=[]),
                                pool.when.span.line))
        body.append(ast.Return(value=_const(None)))
        return self.function("pool_when", ["t", "sla", "now"], body)

    def gen_offer(self, i: int, pool: n.Pool) -> ast.FunctionDef:
        self.f = Func()
        body: list[ast.stmt] = []
        if pool.offer_if is None:
            body.append(ast.Return(value=_const(pool.offer_top)))
        else:
            test = self.test(pool.offer_if)
            self.flush(body, pool.offer_if.span.line)
            body.append(self.at(ast.Return(value=ast.IfExp(test=test, body=_const(pool.offer_top),
                                                           orelse=_const(pool.offer_else))), pool.offer_if.span.line))
        return self.function(f"offer_{i}", ["t", "sla", "now"], body)

    def gen_route(self, i: int, pool: n.Pool) -> ast.FunctionDef:
        self.f = Func(route=True)
        loop: list[ast.stmt] = []
        for req in pool.requires:
            line = req.span.line
            self.f.paths = []
            fails: ast.expr = ast.UnaryOp(op=ast.Not(), operand=self.test(req.cond))
            if req.when is not None:
                fails = _and(self.test(req.when), fails)
            paths, self.f.paths = self.f.paths, None
            self.flush(loop, line)
            factors = ast.Dict(keys=[_const(t) for t, _ in paths], values=[_name(s) for _, s in paths])
            record = ast.Expr(value=_call("_rj", _call("_Candidate", _method(_name("e"), "get", _const("id")),
                                                       _const(None), factors, _const(req.text))))
            loop.append(self.at(ast.If(test=fails, body=[self.at(record, line), self.at(ast.Continue(), line)],
                                       orelse=[]), line))
        assert pool.score is not None
        line = pool.score.span.line
        terms = _split_terms(pool.score)
        keys: list[str] = []
        values: list[ast.expr] = []
        term_vars: list[tuple[str, bool]] = []
        stmts: list[ast.stmt] = []
        for sign, term in terms:
            code, nullable = self.expr(term)
            if sign < 0:
                if nullable:
                    first, again = self.once(code)
                    code = ast.IfExp(test=_is_none(first), body=_const(None),
                                     orelse=ast.UnaryOp(op=ast.USub(), operand=again))
                else:
                    code = ast.UnaryOp(op=ast.USub(), operand=code)
            var = self.tmp("_f")
            stmts.append(self.at(ast.Assign(targets=[_store(var)], value=code), term.span.line))
            keys.append(("- " if sign < 0 else "") + self.src(term.span))
            values.append(_name(var))
            term_vars.append((var, nullable))
        self.flush(loop, line)
        loop.extend(stmts)
        score_var = self.tmp("_score")
        total: ast.expr = _name(term_vars[0][0])
        for var, _ in term_vars[1:]:
            total = ast.BinOp(left=total, op=ast.Add(), right=_name(var))
        nullable_vars = [_is_none(_name(v)) for v, nb in term_vars if nb]
        if nullable_vars:
            total = ast.IfExp(test=_or(*nullable_vars), body=_const(None), orelse=total)
        loop.append(self.at(ast.Assign(targets=[_store(score_var)], value=total), line))
        for key, label in ((("builtin", "distance"), "distance"), (("builtin", "skill_fit"), "skill_fit")):
            if key in self.f.slots and label not in keys:
                keys.append(label)
                values.append(_name(self.f.slots[key]))
        if pool.fatigue_expr is not None and pool.fatigue_field is not None and pool.fatigue_after is not None:
            fline = pool.clause_spans["fatigue"].line
            path = pool.fatigue_field[1:] if pool.fatigue_field[0] == "ticket" else pool.fatigue_field
            tval: ast.expr = self.slot(("field", path[0]), lambda: _method(_name("t"), "get", _const(path[0])))
            for p in path[1:]:
                tval = _call("_get", tval, _const(p))
            streak = self.tmp("_k")
            self.f.slots[("streak",)] = streak
            recent = self.slot(("eattr", "recent_assignments"),
                               lambda: _method(_name("e"), "get", _const("recent_assignments")))
            loop.extend(self.f.pending)
            self.f.pending = []
            loop.append(self.at(ast.Assign(targets=[_store(streak)],
                                           value=_call("_streak", recent, _const(tuple(path)), tval)), fline))
            fcode, fnull = self.expr(pool.fatigue_expr)
            product: ast.expr = ast.BinOp(left=_name(score_var), op=ast.Mult(), right=fcode)
            if fnull:
                first, again = self.once(fcode)
                product = ast.IfExp(test=_is_none(first), body=_const(None),
                                    orelse=ast.BinOp(left=_name(score_var), op=ast.Mult(), right=again))
            fcode = product
            self.flush(loop, fline)
            applied = self.tmp("_fat")
            cond = _and(_not_none(_name(score_var)),
                        ast.Compare(left=_name(streak), ops=[ast.GtE()], comparators=[_const(pool.fatigue_after)]))
            loop.append(self.at(ast.Assign(targets=[_store(applied)], value=cond), fline))
            loop.append(self.at(ast.If(test=_name(applied), body=[
                self.at(ast.Assign(targets=[_store(score_var)], value=fcode), fline)], orelse=[]), fline))
            keys += ["streak", "fatigue"]
            values += [_name(streak), _name(applied)]
        factors = ast.Dict(keys=[_const(k) for k in keys], values=values)
        loop.append(self.at(ast.Expr(value=_call("_ap", ast.Tuple(
            elts=[_name("e"), _name(score_var), factors], ctx=ast.Load()))), line))
        body: list[ast.stmt] = [
            *self.f.hoisted,
            ast.Assign(targets=[_store("_out")], value=ast.List(elts=[], ctx=ast.Load())),
            ast.Assign(targets=[_store("_ap")], value=ast.Attribute(value=_name("_out"), attr="append",
                                                                    ctx=ast.Load())),
            ast.Assign(targets=[_store("_rejected")], value=ast.List(elts=[], ctx=ast.Load())),
            ast.Assign(targets=[_store("_rj")], value=ast.Attribute(value=_name("_rejected"), attr="append",
                                                                    ctx=ast.Load())),
            self.at(ast.For(target=_store("e"), iter=_name("es"), body=loop, orelse=[]), pool.span.line),
            ast.Return(value=ast.Tuple(elts=[_name("_out"), _name("_rejected")], ctx=ast.Load())),
        ]
        return self.function(f"route_{i}", ["t", "es", "sla", "now"], body, pool.span.line)

    def gen_can_close(self) -> ast.FunctionDef:
        self.f = Func()
        body: list[ast.stmt] = [ast.Assign(targets=[_store("_failing")], value=ast.List(elts=[], ctx=ast.Load()))]
        stages = self.tree.close.stages if self.tree.close else []
        for st in stages:
            test = self.test(st.expr)
            self.flush(body, st.span.line)
            body.append(self.at(ast.If(test=ast.UnaryOp(op=ast.Not(), operand=test), body=[
                self.at(ast.Expr(value=_method(_name("_failing"), "append", _const(st.name))), st.span.line)],
                orelse=[]), st.span.line))
        body.append(ast.Return(value=_name("_failing")))
        return self.function("can_close", ["t", "now"], body)

    def module(self) -> ast.Module:
        funcs: list[ast.stmt] = [self.gen_classify(), self.gen_pool_when()]
        for i, tier in enumerate(self.tree.tiers):
            parts = or_parts(tier.when) if tier.when is not None else []
            if len(parts) > 1:
                funcs.append(self.gen_tier_parts(i, parts))
        for i, pool in enumerate(self.tree.pools):
            funcs.append(self.gen_route(i, pool))
            funcs.append(self.gen_offer(i, pool))
        funcs.append(self.gen_can_close())
        mod = ast.Module(body=funcs, type_ignores=[])
        _locate(mod)
        return mod


def _locate(root: ast.AST) -> None:
    """Give every node a location: its own line if set (a rule's line), else its parent's.

    One iterative pass; `ast.fix_missing_locations` plus a second walk cost twice as much.
    """
    stack: list[tuple[ast.AST, int]] = [(root, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        node, line = pop()
        if "lineno" in node._attributes:
            own = getattr(node, "lineno", None)
            if own is None:
                node.lineno = node.end_lineno = line  # type: ignore[attr-defined]
                node.col_offset = node.end_col_offset = 0  # type: ignore[attr-defined]
            else:
                line = own
                end = getattr(node, "end_lineno", None)
                if end is None or end < own:
                    node.end_lineno = own  # type: ignore[attr-defined]
                if getattr(node, "end_col_offset", None) is None:
                    node.end_col_offset = 0  # type: ignore[attr-defined]
        for name in node._fields:
            value = getattr(node, name, None)
            if isinstance(value, list):
                for child in value:
                    if isinstance(child, ast.AST):
                        push((child, line))
            elif isinstance(value, ast.AST):
                push((value, line))


def _split_terms(e: n.Expr) -> list[tuple[int, n.Expr]]:
    """The additive terms of a score, with their signs: `a + b - c` -> [(+,a), (+,b), (-,c)]."""
    out: list[tuple[int, n.Expr]] = []
    stack: list[tuple[int, n.Expr]] = [(1, e)]
    while stack:
        sign, x = stack.pop()
        if isinstance(x, n.Arith) and x.op in ("+", "-"):
            stack.append((sign if x.op == "+" else -sign, x.right))
            stack.append((sign, x.left))
        else:
            out.append((sign, x))
    return out


def or_parts(e: n.Expr) -> list[n.Expr]:
    """The conditions of a top-level `a or b or (c or d)`, in order: [a, b, c, d]."""
    out: list[n.Expr] = []
    stack = [e]
    while stack:
        x = stack.pop()
        if isinstance(x, n.BoolOp) and x.op == "or":
            stack.extend(reversed(x.values))
        else:
            out.append(x)
    return out

"""Parsing: source text -> typed syntax tree (`nodes.RulesetAst`), with error recovery.

The grammar (`grammar.lark`) is parsed by Lark's LALR parser with the contextual lexer.
`RulesPostLex` turns newlines into indentation tokens and drops the newlines that continue
an expression. On a syntax error the file is cut into top-level statements and each is
parsed on its own; inside a statement the offending line is blanked and the statement
parsed again, so one run reports every syntax error it can recover from.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import timedelta
from importlib import resources
from typing import Any

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError
from lark.visitors import Transformer_NonRecursive

from . import nodes as n
from .diagnostics import Bi, DiagnosticSink

LTree = Tree[Token]

# Operators and literals are reserved everywhere; other keywords (`score`, `stage`…) are
# keywords only where a keyword may stand, and ordinary names elsewhere.
RESERVED = frozenset({"and", "or", "not", "in", "has", "matches", "if", "else", "where", "true", "false", "null"})
MAX_SOURCE_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 64
MAX_ERRORS = 100
MAX_RETRIES_PER_CHUNK = 40

# Token types after which a newline does not end the logical line (a trailing operator).
_TRAILING_CONT = {
    "ADD_OP", "MUL_OP", "COMP_OP", "MINUS", "AND", "OR", "NOT", "IN", "HAS", "ANY", "ALL",
    "IF", "ELSE", "WHERE", "COMMA", "EQUAL", "MATCHES",
}
_OPEN = {"LPAR", "LSQB", "LBRACE"}
_CLOSE = {"RPAR", "RSQB", "RBRACE"}


class IndentError(Exception):
    """A dedent to a column that matches no enclosing block."""

    def __init__(self, token: Token, found: int, expected: int) -> None:
        super().__init__(f"dedent to {found}, expected {expected}")
        self.token = token
        self.found = found
        self.expected = expected


class RulesPostLex:
    """Python-like layout: _NL -> _INDENT/_DEDENT, with continuation lines.

    The state lives in the generator, not on the object, so one parser can serve several
    threads.
    """

    always_accept = ("_NL", "_CONT")
    tab_len = 8

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        paren = 0
        levels = [0]
        prev_type = ""
        last: Token | None = None
        for tok in stream:
            ttype = tok.type
            if ttype == "_CONT":
                continue  # the next line begins with an operator: same logical line
            if ttype == "_NL":
                if paren > 0 or prev_type in _TRAILING_CONT:
                    continue
                yield tok
                indent_str = tok.value.rsplit("\n", 1)[1]
                indent = indent_str.count(" ") + indent_str.count("\f") + indent_str.count("\t") * self.tab_len
                if indent > levels[-1]:
                    levels.append(indent)
                    yield Token.new_borrow_pos("_INDENT", indent_str, tok)
                else:
                    while indent < levels[-1]:
                        levels.pop()
                        yield Token.new_borrow_pos("_DEDENT", indent_str, tok)
                    if indent != levels[-1]:
                        raise IndentError(tok, indent + 1, levels[-1] + 1)
                prev_type = "_NL"
                continue
            yield tok
            last = tok
            prev_type = ttype
            if ttype in _OPEN:
                paren += 1
            elif ttype in _CLOSE and paren > 0:
                paren -= 1
        while len(levels) > 1:
            levels.pop()
            if last is not None:
                yield Token.new_borrow_pos("_DEDENT", "", last)
            else:
                yield Token("_DEDENT", "")


_lock = threading.Lock()
_parser: Lark | None = None


def get_parser() -> Lark:
    """The LALR parser, built once per process."""
    global _parser
    if _parser is None:
        with _lock:
            if _parser is None:
                grammar = resources.files("gongdan_rules").joinpath("grammar.lark").read_text("utf-8")
                _parser = Lark(
                    grammar,
                    parser="lalr",
                    lexer="contextual",
                    postlex=RulesPostLex(),
                    propagate_positions=True,
                    maybe_placeholders=True,
                    start="start",
                )
    return _parser


# ------------------------------------------------------------------------------ errors

_TERMINAL_NAMES: dict[str, Bi] = {
    "NAME": Bi("名称", "name"),
    "STRING": Bi("字符串", "string"),
    "NUMBER": Bi("数字", "number"),
    "INT": Bi("整数", "integer"),
    "DURATION": Bi("时长（如 30m）", "duration (e.g. 30m)"),
    "DISTANCE": Bi("距离（如 5km）", "distance (e.g. 5km)"),
    "REGEX": Bi("正则 /regex/", "/regex/"),
    "_NL": Bi("换行", "end of line"),
    "_INDENT": Bi("缩进", "indentation"),
    "_DEDENT": Bi("缩进结束", "dedent"),
    "$END": Bi("文件结束", "end of file"),
    "COMP_OP": Bi("比较符", "comparison"),
    "ADD_OP": Bi("`+` `-`", "`+` `-`"),
    "MUL_OP": Bi("`*` `/`", "`*` `/`"),
    "ANY_STATE": Bi("`*`", "`*`"),
}


def _describe_terminal(name: str) -> Bi:
    if name in _TERMINAL_NAMES:
        return _TERMINAL_NAMES[name]
    parser = get_parser()
    for term in parser.terminals:
        if term.name == name:
            value = getattr(term.pattern, "value", None)
            if isinstance(value, str) and term.pattern.type == "str":
                return Bi(f"`{value}`", f"`{value}`")
    return Bi(name, name)


def _describe_expected(expected: set[str]) -> Bi:
    names = sorted({_describe_terminal(e) for e in expected if e not in ("_CONT",)}, key=lambda b: b.en)
    if len(names) > 10:
        names = [*names[:10], Bi("…", "…")]
    return Bi.join(names, "、", ", ") if names else Bi("?", "?")


class _SyntaxProblem(Exception):
    """A syntax error with its position relative to the chunk being parsed."""

    def __init__(self, code: str, line: int, column: int, end_column: int, fields: dict[str, Any]) -> None:
        super().__init__(code)
        self.code = code
        self.line = line
        self.column = column
        self.end_column = end_column
        self.fields = fields


def _problem_from(exc: Exception, text: str, at_eof: bool = True) -> _SyntaxProblem:
    if isinstance(exc, IndentError):
        tok = exc.token
        line = (tok.end_line or tok.line or 1)
        return _SyntaxProblem("E004", line, 1, exc.found, {"found": exc.found, "expected": exc.expected})
    if isinstance(exc, UnexpectedCharacters):
        line, col = exc.line, exc.column
        pos = exc.pos_in_stream or 0
        char = text[pos] if 0 <= pos < len(text) else "?"
        if char == '"':
            return _SyntaxProblem("E005", line, col, col + 1, {})
        if char == "/" and re.search(r"matches\s*$", text[max(0, pos - 40) : pos]):
            return _SyntaxProblem("E011", line, col, col + 1, {})
        return _SyntaxProblem("E002", line, col, col + 1, {"char": f"`{char}`"})
    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        expected = set(exc.expected or ())
        if tok.type == "$END":
            lines = text.splitlines() or [""]
            line = len(lines)
            return _SyntaxProblem("E003", line, 1, 2, {"expected": _describe_expected(expected)})
        line, col = tok.line or 1, tok.column or 1
        end_col = tok.end_column if tok.end_line == tok.line and tok.end_column else col + 1
        if tok.value == "/" and "REGEX" in expected:
            return _SyntaxProblem("E011", line, col, col + 1, {})
        end_of_stream = tok.type == "_DEDENT" and tok.value == ""  # the dedents after the last line
        if at_eof and (end_of_stream or (tok.type in ("_NL", "_DEDENT") and not text[tok.start_pos or 0 :].strip())):
            body = text.rstrip("\n").split("\n")
            col = len(body[-1]) + 1
            return _SyntaxProblem("E003", len(body), col, col + 1, {"expected": _describe_expected(expected)})
        if tok.type == "_INDENT":
            return _SyntaxProblem("E010", tok.end_line or line, 1, max(2, len(tok.value) + 1), {})
        if tok.type in ("_NL", "_DEDENT") and "COLON" in expected:
            return _SyntaxProblem("E008", line, col, col + 1, {})
        if tok.type == "_NL":
            found = _TERMINAL_NAMES["_NL"]
            end_col = col + 1
        elif tok.type == "_DEDENT":
            found = _TERMINAL_NAMES["_DEDENT"]
        else:
            found = Bi(f"`{tok.value}`", f"`{tok.value}`")
        return _SyntaxProblem("E001", line, col, end_col, {"found": found, "expected": _describe_expected(expected)})
    if isinstance(exc, UnexpectedEOF):
        lines = text.splitlines() or [""]
        return _SyntaxProblem("E003", len(lines), 1, 2, {"expected": _describe_expected(set(exc.expected or ()))})
    raise exc


# ------------------------------------------------------------------------------ chunks

_WORD_OPS = {"and", "or", "not", "in", "has", "matches", "if", "else", "where", "any", "all"}
_SYM_OPS = ("+", "-", "*", "/", "<", ">", "=", "!", ",")


def _scan_line(line: str, depth: int) -> tuple[int, str]:
    """Bracket depth after `line` and its last code character or word (strings, regexes and
    comments skipped). Only used to find where top-level statements begin."""
    i, length = 0, len(line)
    last = ""
    while i < length:
        ch = line[i]
        if ch == "#":
            break
        if ch == '"':
            j = i + 1
            while j < length and line[j] != '"':
                j += 2 if line[j] == "\\" else 1
            i = j + 1
            last = '"'
            continue
        if ch == "/" and re.search(r"matches\s*$", line[:i]):
            j = i + 1
            while j < length and line[j] != "/":
                j += 2 if line[j] == "\\" else 1
            i = j + 1
            last = "/re/"
            continue
        if ch == "-" and line[i + 1 : i + 2] == ">":
            last = "->"
            i += 2
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(0, depth - 1)
        if not ch.isspace():
            if ch.isalnum() or ch == "_":
                j = i
                while j < length and (line[j].isalnum() or line[j] == "_"):
                    j += 1
                last = line[i:j]
                i = j
                continue
            last = ch
        i += 1
    return depth, last


# Words that begin a top-level statement, and the clauses of a block. A line that begins with
# one (at the statement's or the block's indentation) is not the continuation of an open
# bracket: the bracket was left unclosed, and recovery starts again there.
_TOP_WORDS = {"ruleset", "sla", "route", "on", "dwell", "close", "archive", "example"}
_CLAUSE_WORDS = {"when", "otherwise", "respond", "resolve", "pause", "bypass", "require", "score", "fatigue",
                 "offer", "claim", "stage", "given", "expect", "on"}
_PAIRS = {"(": ")", "[": "]", "{": "}"}


def _starts_with_word(stripped: str, words: set[str]) -> bool:
    m = re.match(r"[A-Za-z_]\w*", stripped)
    if m is None or m.group(0) not in words:
        return False
    rest = stripped[m.end():]
    return not rest or rest[0] in " \t\"" or (rest[0] == ":" and m.group(0) in ("otherwise",))


def _open_brackets(line: str, stack: list[tuple[int, int, str]], idx: int) -> int:
    """Push/pop the brackets of `line` (line index `idx`) on `stack` of (line, column, char);
    strings, regexes and comments are skipped. Returns where the code ends (a `#` or the end)."""
    i, length = 0, len(line)
    while i < length:
        ch = line[i]
        if ch == "#":
            return i
        if ch == '"':
            j = i + 1
            while j < length and line[j] != '"':
                j += 2 if line[j] == "\\" else 1
            i = j + 1
            continue
        if ch == "/" and re.search(r"matches\s*$", line[:i]):
            j = i + 1
            while j < length and line[j] != "/":
                j += 2 if line[j] == "\\" else 1
            i = j + 1
            continue
        if ch in _PAIRS:
            stack.append((idx, i, ch))
        elif ch in ")]}" and stack and _PAIRS[stack[-1][2]] == ch:
            stack.pop()
        i += 1
    return length


def unclosed_bracket(lines: list[str]) -> tuple[int, int, str, int, list[str]] | None:
    """The first bracket of a statement's `lines` left open where a new clause begins (or at
    the statement's end): (its line, its column, itself, the line to close it on, the closers)."""
    stack: list[tuple[int, int, str]] = []
    last_code = -1
    for idx, line in enumerate(lines):
        stripped = line.lstrip(" \t\f")
        if not stripped or stripped.startswith("#"):
            continue
        if stack:
            indent = len(line) - len(stripped)
            opener = lines[stack[0][0]]
            opener_indent = len(opener) - len(opener.lstrip(" \t\f"))
            if indent <= opener_indent and _starts_with_word(stripped, _CLAUSE_WORDS | _TOP_WORDS):
                return (*stack[0], last_code, [_PAIRS[c] for _, _, c in reversed(stack)])
        _open_brackets(line, stack, idx)
        last_code = idx
    if stack and last_code >= 0:
        return (*stack[0], last_code, [_PAIRS[c] for _, _, c in reversed(stack)])
    return None


def _close_on(line: str, closers: list[str]) -> str:
    """`line` with `closers` added at the end of its code (before a comment)."""
    end = _open_brackets(line, [], 0)
    return line[:end].rstrip() + "".join(closers) + (" " + line[end:] if end < len(line) else "")


def split_statements(source: str) -> list[tuple[int, int, int]]:
    """Cut the source into top-level statements: (first line index, end line index, char offset).

    A line at column 0 that begins a top-level statement (`sla`, `route`, `on`…) starts one
    even inside an open bracket: an unclosed `(` swallows only its own statement.
    """
    lines = source.split("\n")
    starts: list[int] = []
    depth = 0
    last = ""
    for idx, line in enumerate(lines):
        stripped = line.lstrip(" \t\f")
        code = stripped and not stripped.startswith("#")
        if code and stripped is line and depth > 0 and _starts_with_word(stripped, _TOP_WORDS):
            depth, last = 0, ""  # resynchronise: the bracket before was never closed
        if code and stripped is line and depth == 0:
            first_word = re.match(r"\w+", stripped)
            starts_with_op = stripped.startswith(_SYM_OPS) or (
                first_word is not None and first_word.group(0) in _WORD_OPS
            )
            continues = last in _WORD_OPS or last in _SYM_OPS or (last and last in "+-*/<>=!,")
            if not starts_with_op and not continues:
                starts.append(idx)
        if code:
            depth, tail = _scan_line(line, depth)
            last = tail or last
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    chunks = []
    for i, s in enumerate(starts):
        e = starts[i + 1] if i + 1 < len(starts) else len(lines)
        chunks.append((s, e, offsets[s]))
    return chunks


# ------------------------------------------------------------------------------ public

def parse(source: str, sink: DiagnosticSink) -> n.RulesetAst:
    """Parse `source`; syntax errors go to `sink`. Returns whatever could be parsed."""
    size = len(source.encode("utf-8", "surrogatepass"))
    if size > MAX_SOURCE_BYTES:
        sink.add("E007", 1, 1, size=size, limit=MAX_SOURCE_BYTES)
        return n.RulesetAst()
    text = source.replace("\r\n", "\n").replace("\r", "\n")
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.endswith("\n"):
        text += "\n"
    parser = get_parser()
    statements: list[Any] = []
    try:
        tree = parser.parse(text)
    except (UnexpectedInput, IndentError):
        statements = _parse_with_recovery(text, sink)
    else:
        statements = _transform(tree, text, 0, 0, sink)
    return _assemble(statements, sink)


def _continuation_hint(lines: list[str], idx: int, offset: int) -> str | None:
    """When the line before an error ends with an operator, the error line was read as its
    continuation: say so, since that is the usual cause."""
    j = idx - 1
    while j >= 0 and (not lines[j].strip() or lines[j].lstrip().startswith("#")):
        j -= 1
    if j < 0:
        return None
    _depth, last = _scan_line(lines[j], 0)
    if last in _WORD_OPS or (len(last) == 1 and last in "+-*/<>=!,"):
        return (f"第 {j + 1 + offset} 行以 `{last}` 结尾，所以下一行被当作它的延续；删掉它或补全表达式 / "
                f"line {j + 1 + offset} ends with `{last}`, so the next line is read as its continuation; "
                "remove it or finish the expression")
    return None


def _parse_with_recovery(text: str, sink: DiagnosticSink) -> list[Any]:
    parser = get_parser()
    lines = text.split("\n")
    out: list[Any] = []
    reported = 0
    for start, end, offset in split_statements(text):
        chunk_lines = lines[start:end]
        if not any(ln.strip() and not ln.lstrip().startswith("#") for ln in chunk_lines):
            continue
        last_line = 0  # report only errors past the last one: earlier ones come from blanking
        clean = True
        # An unclosed bracket: one error at the bracket, then the statement closed there and
        # parsed on, so only the errors that are really there follow.
        for _bracket in range(MAX_RETRIES_PER_CHUNK):
            found = unclosed_bracket(chunk_lines) if not _parses(parser, chunk_lines) else None
            if found is None:
                break
            b_line, b_col, b_char, close_at, closers = found
            reported += 1
            if reported > MAX_ERRORS:
                sink.add("E012", start + b_line + 1, 1, count=MAX_ERRORS)
                return out
            closing = "".join(closers)
            sink.add("E014", start + b_line + 1, b_col + 1, start + b_line + 1, b_col + 2, bracket=f"`{b_char}`",
                     suggestion=f"在第 {start + close_at + 1} 行末尾补上 `{closing}` / "
                                f"close it with `{closing}` at the end of line {start + close_at + 1}")
            last_line = max(last_line, start + b_line + 1)
            chunk_lines = [*chunk_lines[:close_at], _close_on(chunk_lines[close_at], closers),
                           *chunk_lines[close_at + 1:]]
        for _attempt in range(MAX_RETRIES_PER_CHUNK):
            chunk = "\n".join(chunk_lines)
            if not chunk.endswith("\n"):
                chunk += "\n"
            try:
                tree = parser.parse(chunk)
            except (UnexpectedInput, IndentError) as exc:
                problem = _problem_from(exc, chunk, at_eof=end >= len(lines) - 1)
                abs_line = problem.line + start
                clean = False
                if abs_line > last_line:
                    last_line = abs_line
                    reported += 1
                    if reported > MAX_ERRORS:
                        sink.add("E012", abs_line, 1, count=MAX_ERRORS)
                        return out
                    sink.add(problem.code, abs_line, problem.column, abs_line, problem.end_column,
                             suggestion=_continuation_hint(chunk_lines, problem.line - 1, start), **problem.fields)
                rel = problem.line - 1
                if rel <= 0 or rel >= len(chunk_lines) or not chunk_lines[rel].strip():
                    break  # the statement's header itself is broken: skip the statement
                chunk_lines = [*chunk_lines[:rel], "", *chunk_lines[rel + 1 :]]
                continue
            if clean:  # a statement that needed repair is not checked further: its errors would be noise
                out.extend(_transform(tree, chunk, start, offset, sink))
            break
    return out


def _parses(parser: Lark, chunk_lines: list[str]) -> bool:
    try:
        parser.parse("\n".join(chunk_lines) + "\n")
    except (UnexpectedInput, IndentError):
        return False
    return True


def _transform(tree: LTree, text: str, line_offset: int, pos_offset: int, sink: DiagnosticSink) -> list[Any]:
    builder = _Builder(text, line_offset, pos_offset, sink)
    try:
        result = builder.transform(tree)
    except VisitError as exc:  # pragma: no cover - a bug in the builder, reported as one
        raise exc.orig_exc from exc
    assert isinstance(result, list)
    return result


# ------------------------------------------------------------------------------ builder

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([wdhms])")
_UNIT = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t"}


def parse_duration(text: str) -> timedelta:
    total = timedelta()
    for num, unit in _DURATION_PART.findall(text):
        total += timedelta(**{_UNIT[unit]: float(num)})
    return total


class _Builder(Transformer_NonRecursive):  # type: ignore[type-arg]
    """Lark tree -> nodes. Method names follow the grammar's aliases."""

    def __init__(self, text: str, line_offset: int, pos_offset: int, sink: DiagnosticSink) -> None:
        super().__init__(visit_tokens=False)
        self.text = text
        self.lo = line_offset
        self.po = pos_offset
        self.sink = sink

    # -- positions
    def _span(self, tree: LTree) -> n.Span:
        m = tree.meta
        if getattr(m, "empty", True):
            return n.NO_SPAN
        return n.Span(m.line + self.lo, m.column, m.end_line + self.lo, m.end_column,
                      m.start_pos + self.po, m.end_pos + self.po)

    def _tspan(self, tok: Token) -> n.Span:
        return n.Span(
            (tok.line or 1) + self.lo, tok.column or 1, (tok.end_line or tok.line or 1) + self.lo,
            tok.end_column or (tok.column or 1) + 1, (tok.start_pos or 0) + self.po, (tok.end_pos or 0) + self.po,
        )

    def _src(self, span: n.Span) -> str:
        return self.text[span.start_pos - self.po : span.end_pos - self.po]

    def _unquote(self, tok: Token) -> str:
        raw = str(tok.value)[1:-1]
        if "\\" not in raw:
            return raw
        out = []
        i = 0
        while i < len(raw):
            ch = raw[i]
            if ch == "\\" and i + 1 < len(raw):
                nxt = raw[i + 1]
                if nxt in _ESCAPES:
                    out.append(_ESCAPES[nxt])
                else:
                    sp = self._tspan(tok)
                    self.sink.add("E009", sp.line, sp.column + 1 + i, sp.line, sp.column + 3 + i, escape=f"\\{nxt}")
                    out.append(nxt)
                i += 2
                continue
            out.append(ch)
            i += 1
        return "".join(out)

    def _name_tok(self, tok: Token) -> str:
        return self._unquote(tok) if tok.type == "STRING" else str(tok.value)

    def __default__(self, data: str, children: list[Any], meta: Any) -> Any:  # pragma: no cover
        raise NotImplementedError(data)

    # generic helper: every rule method receives the Tree so we can read its meta
    def _call_userfunc(self, tree: LTree, new_children: Any = None) -> Any:
        children = new_children if new_children is not None else tree.children
        func = getattr(self, "r_" + tree.data, None)
        if func is None:
            raise NotImplementedError(str(tree.data))
        return func(tree, children)

    # -- names
    def r_name(self, tree: LTree, c: list[Any]) -> tuple[str, n.Span]:
        self._reserved(c[0])
        return self._name_tok(c[0]), self._tspan(c[0])

    def r_attr(self, tree: LTree, c: list[Any]) -> tuple[str, n.Span]:
        return self.r_name(tree, c)

    def r_path(self, tree: LTree, c: list[Any]) -> tuple[list[str], n.Span]:
        return [str(t.value) for t in c], self._span(tree)

    # -- expressions
    def _mk(self, cls: Any, tree: LTree, *args: Any, children: list[n.Expr] = (), **kw: Any) -> n.Expr:  # type: ignore[assignment]
        depth = 1 + max((ch.depth for ch in children), default=0)
        return cls(self._span(tree), *args, depth=depth, **kw)  # type: ignore[no-any-return]

    def r_number(self, tree: LTree, c: list[Any]) -> n.Expr:
        v = c[0].value
        return self._mk(n.Literal, tree, float(v) if "." in v else int(v), "number")

    def r_duration(self, tree: LTree, c: list[Any]) -> n.Expr:
        return self._mk(n.Literal, tree, parse_duration(c[0].value), "duration")

    def r_distance(self, tree: LTree, c: list[Any]) -> n.Expr:
        return self._mk(n.Literal, tree, float(c[0].value[:-2]), "distance")

    def r_string(self, tree: LTree, c: list[Any]) -> n.Expr:
        return self._mk(n.Literal, tree, self._unquote(c[0]), "string")

    def r_true(self, tree: LTree, c: list[Any]) -> n.Expr:
        return self._mk(n.Literal, tree, True, "bool")

    def r_false(self, tree: LTree, c: list[Any]) -> n.Expr:
        return self._mk(n.Literal, tree, False, "bool")

    def r_null(self, tree: LTree, c: list[Any]) -> n.Expr:
        return self._mk(n.Literal, tree, None, "null")

    def r_list(self, tree: LTree, c: list[Any]) -> n.Expr:
        items = [x for x in c if x is not None]
        return self._mk(n.ListExpr, tree, items, children=items)

    def r_pair(self, tree: LTree, c: list[Any]) -> tuple[str, n.Expr]:
        return self._name_tok(c[0]), c[1]

    def r_map(self, tree: LTree, c: list[Any]) -> n.Expr:
        items = [x for x in c if x is not None]
        return self._mk(n.MapExpr, tree, items, children=[v for _, v in items])

    def _reserved(self, tok: Token) -> None:
        if tok.type == "NAME" and tok.value in RESERVED:
            sp = self._tspan(tok)
            self.sink.at("E013", sp, word=str(tok.value))

    def r_name_ref(self, tree: LTree, c: list[Any]) -> n.Expr:
        self._reserved(c[0])
        return self._mk(n.Name, tree, str(c[0].value))

    def r_sla_ref(self, tree: LTree, c: list[Any]) -> n.Expr:
        return self._mk(n.Name, tree, "sla")

    def r_getattr(self, tree: LTree, c: list[Any]) -> n.Expr:
        return self._mk(n.GetAttr, tree, c[0], c[1][0], children=[c[0]])

    def r_getitem(self, tree: LTree, c: list[Any]) -> n.Expr:
        return self._mk(n.GetItem, tree, c[0], c[1], children=[c[0], c[1]])

    def r_call(self, tree: LTree, c: list[Any]) -> n.Expr:
        args = [x for x in c[1:] if x is not None]
        return self._mk(n.Call, tree, str(c[0].value), args, children=args, func_span=self._tspan(c[0]))

    def r_call_where(self, tree: LTree, c: list[Any]) -> n.Expr:
        return self._mk(n.Call, tree, str(c[0].value), [c[1]], where=c[2], children=[c[1], c[2]],
                        func_span=self._tspan(c[0]))

    def r_compare(self, tree: LTree, c: list[Any]) -> n.Expr:
        return self._mk(n.Compare, tree, str(c[1].value), c[0], c[2], children=[c[0], c[2]])

    def r_in_(self, tree: LTree, c: list[Any]) -> n.Expr:
        return self._mk(n.Compare, tree, "in", c[0], c[1], children=[c[0], c[1]])

    def r_not_in(self, tree: LTree, c: list[Any]) -> n.Expr:
        return self._mk(n.Compare, tree, "not in", c[0], c[1], children=[c[0], c[1]])

    def r_has(self, tree: LTree, c: list[Any]) -> n.Expr:
        return self._mk(n.TextTest, tree, "has", c[0], c[1], children=[c[0], c[1]])

    def r_has_any(self, tree: LTree, c: list[Any]) -> n.Expr:
        return self._mk(n.TextTest, tree, "has any", c[0], c[1], children=[c[0], c[1]])

    def r_has_all(self, tree: LTree, c: list[Any]) -> n.Expr:
        return self._mk(n.TextTest, tree, "has all", c[0], c[1], children=[c[0], c[1]])

    def r_matches(self, tree: LTree, c: list[Any]) -> n.Expr:
        raw = c[1].value[1:-1].replace("\\/", "/")
        return self._mk(n.TextTest, tree, "matches", c[0], None, pattern=raw, children=[c[0]])

    def r_or_(self, tree: LTree, c: list[Any]) -> n.Expr:
        return self._mk(n.BoolOp, tree, "or", list(c), children=list(c))

    def r_and_(self, tree: LTree, c: list[Any]) -> n.Expr:
        return self._mk(n.BoolOp, tree, "and", list(c), children=list(c))

    def r_not_(self, tree: LTree, c: list[Any]) -> n.Expr:
        return self._mk(n.Not, tree, c[0], children=[c[0]])

    def r_neg(self, tree: LTree, c: list[Any]) -> n.Expr:
        return self._mk(n.Neg, tree, c[0], children=[c[0]])

    def r_arith(self, tree: LTree, c: list[Any]) -> n.Expr:
        return self._mk(n.Arith, tree, str(c[1].value), c[0], c[2], children=[c[0], c[2]])

    def r_cond(self, tree: LTree, c: list[Any]) -> n.Expr:
        return self._mk(n.Cond, tree, c[0], c[1], c[2], children=[c[0], c[1], c[2]])

    # -- statements
    def r_start(self, tree: LTree, c: list[Any]) -> list[Any]:
        return [x for x in c if x is not None]

    def r_header(self, tree: LTree, c: list[Any]) -> n.Header:
        return n.Header(c[0][0], c[1][0], self._span(tree))

    def _clause(self, tree: LTree, kind: str, *values: Any) -> tuple[Any, ...]:
        return (kind, self._span(tree), *values)

    def r_sla_when(self, tree: LTree, c: list[Any]) -> tuple[Any, ...]:
        return self._clause(tree, "when", c[0])

    def r_sla_otherwise(self, tree: LTree, c: list[Any]) -> tuple[Any, ...]:
        return self._clause(tree, "otherwise")

    def r_sla_respond(self, tree: LTree, c: list[Any]) -> tuple[Any, ...]:
        return self._clause(tree, "respond", parse_duration(c[0].value), None, str(c[0].value))

    def r_sla_resolve(self, tree: LTree, c: list[Any]) -> tuple[Any, ...]:
        return self._clause(tree, "resolve", parse_duration(c[0].value), c[1][0] if c[1] else None, str(c[0].value))

    def r_sla_pause(self, tree: LTree, c: list[Any]) -> tuple[Any, ...]:
        return self._clause(tree, "pause", [x for x in c if x is not None])

    def r_sla_bypass(self, tree: LTree, c: list[Any]) -> tuple[Any, ...]:
        return self._clause(tree, "bypass")

    def r_sla_block(self, tree: LTree, c: list[Any]) -> n.SlaTier:
        (name, name_span), label = c[0], c[1]
        tier = n.SlaTier(name, self._unquote(label) if label is not None else None, self._span(tree), name_span)
        for clause in c[2:]:
            kind, span = clause[0], clause[1]
            if kind in tier.clause_spans:
                self.sink.at("E113", span, clause=kind)
                continue
            tier.clause_spans[kind] = span
            if kind == "when":
                tier.when = clause[2]
            elif kind == "otherwise":
                tier.otherwise = span
            elif kind == "respond":
                tier.respond = clause[2]
                tier.duration_text["respond"] = clause[4]
            elif kind == "resolve":
                tier.resolve, tier.calendar = clause[2], clause[3]
                tier.duration_text["resolve"] = clause[4]
            elif kind == "pause":
                tier.pause_in = list(clause[2])
            elif kind == "bypass":
                tier.bypass_queue = True
        return tier

    def r_route_when(self, tree: LTree, c: list[Any]) -> tuple[Any, ...]:
        return self._clause(tree, "when", c[0])

    def r_route_require(self, tree: LTree, c: list[Any]) -> tuple[Any, ...]:
        span = self._span(tree)
        last = c[1] if c[1] is not None else c[0]
        text = self.text[c[0].span.start_pos - self.po : last.span.end_pos - self.po]
        if c[1] is not None:
            text = self.text[span.start_pos - self.po : last.span.end_pos - self.po]
            text = text.strip()[len("require") :]
        return ("require", span, n.Require(c[0], c[1], re.sub(r"\s+", " ", text.strip()), span))

    def r_route_score(self, tree: LTree, c: list[Any]) -> tuple[Any, ...]:
        return self._clause(tree, "score", c[0], re.sub(r"\s+", " ", self._src(c[0].span).strip()))

    def r_route_fatigue(self, tree: LTree, c: list[Any]) -> tuple[Any, ...]:
        return self._clause(tree, "fatigue", int(c[0].value), c[1], c[2])

    def r_route_offer(self, tree: LTree, c: list[Any]) -> tuple[Any, ...]:
        return self._clause(tree, "offer", int(c[0].value), c[1], int(c[2].value) if c[2] is not None else None,
                            self._tspan(c[0]))

    def r_route_claim(self, tree: LTree, c: list[Any]) -> tuple[Any, ...]:
        return self._clause(tree, "claim", parse_duration(c[0].value), int(c[1].value) if c[1] is not None else None,
                            c[2])

    def r_target_role(self, tree: LTree, c: list[Any]) -> n.Target:
        return n.Target("role", c[0][0], self._span(tree))

    def r_target_name(self, tree: LTree, c: list[Any]) -> n.Target:
        return n.Target(str(c[0].value), None, self._span(tree))

    def r_route_block(self, tree: LTree, c: list[Any]) -> n.Pool:
        name, name_span = c[0]
        pool = n.Pool(name, self._span(tree), name_span)
        for clause in c[1:]:
            kind, span = clause[0], clause[1]
            if kind == "require":
                pool.requires.append(clause[2])
                continue
            if kind in pool.clause_spans:
                self.sink.at("E113", span, clause=kind)
                continue
            pool.clause_spans[kind] = span
            if kind == "when":
                pool.when = clause[2]
            elif kind == "score":
                pool.score, pool.score_text = clause[2], clause[3]
            elif kind == "fatigue":
                pool.fatigue_after = clause[2]
                pool.fatigue_field, pool.fatigue_field_span = clause[3]
                pool.fatigue_expr = clause[4]
            elif kind == "offer":
                pool.offer_top, pool.offer_if, pool.offer_else = clause[2], clause[3], clause[4]
                if pool.offer_top < 1 or (pool.offer_else is not None and pool.offer_else < 1):
                    self.sink.at("E122", clause[5])
            elif kind == "claim":
                pool.claim_within, pool.escalate_after, pool.escalate_to = clause[2], clause[3], clause[4]
        return pool

    def _value(self, expr: n.Expr) -> Any:
        """A constant in `given` or an event pattern; a bare name is a symbol (its own text)."""
        if isinstance(expr, n.Name):
            return expr.name
        if isinstance(expr, n.Literal):
            return expr.value
        if isinstance(expr, n.Neg) and isinstance(expr.operand, n.Literal) and expr.operand.kind == "number":
            return -expr.operand.value
        if isinstance(expr, n.ListExpr):
            return [self._value(x) for x in expr.items]
        if isinstance(expr, n.MapExpr):
            return {k: self._value(v) for k, v in expr.items}
        self.sink.at("E001", expr.span, found=Bi("表达式", "an expression"), expected=Bi("常量", "a constant"))
        return None

    def r_field_value(self, tree: LTree, c: list[Any]) -> tuple[str, Any, n.Span]:
        return c[0][0], self._value(c[1]), self._span(tree)

    def r_event_pattern(self, tree: LTree, c: list[Any]) -> n.EventPattern:
        fields = [x for x in c[1:] if x is not None]
        return n.EventPattern(c[0][0], fields, self._span(tree))

    def r_from_state(self, tree: LTree, c: list[Any]) -> tuple[str, n.Span]:
        if isinstance(c[0], Token):
            return "*", self._tspan(c[0])
        return c[0]  # type: ignore[no-any-return]

    def r_notify(self, tree: LTree, c: list[Any]) -> n.NotifyAction:
        return n.NotifyAction(c[0], c[1][0], c[1][1], self._unquote(c[2]) if c[2] is not None else None)

    def r_on_stmt(self, tree: LTree, c: list[Any]) -> n.Trigger:
        (frm, frm_span), (to, to_span) = c[1], c[2]
        return n.Trigger(c[0], frm, to, c[3], self._span(tree), frm_span, to_span)

    def r_dwell_escalate(self, tree: LTree, c: list[Any]) -> tuple[str, Any, n.Span]:
        return ("escalate", c[0], self._span(tree))

    def r_dwell_notify(self, tree: LTree, c: list[Any]) -> tuple[str, Any, n.Span]:
        return ("notify", n.NotifyAction(c[0], c[1][0], c[1][1], self._unquote(c[2]) if c[2] is not None else None),
                self._span(tree))

    def r_dwell_repeat(self, tree: LTree, c: list[Any]) -> tuple[str, Any, n.Span]:
        return ("repeat", parse_duration(c[0].value), self._span(tree))

    def r_dwell_stmt(self, tree: LTree, c: list[Any]) -> n.Dwell:
        state, state_span = c[0]
        dwell = n.Dwell(state, parse_duration(c[1].value), self._span(tree), state_span)
        for kind, value, span in c[2:]:
            if kind == "escalate":
                dwell.escalate.append(value)
            elif kind == "notify":
                dwell.notify.append(value)
            elif dwell.repeat_every is not None:
                self.sink.at("E141", span)
            else:
                dwell.repeat_every = value
        return dwell

    def r_stage(self, tree: LTree, c: list[Any]) -> n.Stage:
        return n.Stage(c[0][0], c[1], self._span(tree))

    def r_close_block(self, tree: LTree, c: list[Any]) -> n.CloseLock:
        return n.CloseLock(list(c), self._span(tree))

    def r_archive_stmt(self, tree: LTree, c: list[Any]) -> n.Archive:
        state, state_span = c[1]
        survey = c[2][0] if c[2] is not None else None
        channel = c[3][0] if c[3] is not None else None
        return n.Archive(parse_duration(c[0].value), state, survey, channel, self._span(tree), state_span,
                         c[3][1] if c[3] is not None else None)

    def r_ex_given(self, tree: LTree, c: list[Any]) -> tuple[Any, ...]:
        return self._clause(tree, "given", [x for x in c if x is not None])

    def r_ex_on(self, tree: LTree, c: list[Any]) -> tuple[Any, ...]:
        return self._clause(tree, "on", c[0])

    def r_ex_expect_tier(self, tree: LTree, c: list[Any]) -> tuple[Any, ...]:
        return self._clause(tree, "expect", ("tier", c[0][0]))

    def r_ex_expect_state(self, tree: LTree, c: list[Any]) -> tuple[Any, ...]:
        return self._clause(tree, "expect", ("state", c[0][0]))

    def r_ex_expect_close_ok(self, tree: LTree, c: list[Any]) -> tuple[Any, ...]:
        return self._clause(tree, "expect", ("close_ok", None))

    def r_ex_expect_close_fails(self, tree: LTree, c: list[Any]) -> tuple[Any, ...]:
        return self._clause(tree, "expect", ("close_fails", [x[0] for x in c if x is not None]))

    def r_example_block(self, tree: LTree, c: list[Any]) -> n.Example:
        ex = n.Example(c[0][0], self._span(tree))
        for clause in c[1:]:
            kind, span = clause[0], clause[1]
            if kind == "given":
                ex.given.extend(clause[2])
            elif kind == "on":
                if ex.event is not None:
                    self.sink.at("E163", span, clause="on")
                ex.event = clause[2]
            elif kind == "expect":
                if ex.expect is not None:
                    self.sink.at("E163", span, clause="expect")
                    continue
                ex.expect = (clause[2][0], clause[2][1], span)
        return ex


def _assemble(statements: list[Any], sink: DiagnosticSink) -> n.RulesetAst:
    ast = n.RulesetAst()
    for st in statements:
        if isinstance(st, n.Header):
            if ast.header is None:
                ast.header = st
            else:
                ast.extra_headers.append(st)
        elif isinstance(st, n.SlaTier):
            ast.tiers.append(st)
        elif isinstance(st, n.Pool):
            ast.pools.append(st)
        elif isinstance(st, n.Trigger):
            ast.triggers.append(st)
        elif isinstance(st, n.Dwell):
            ast.dwells.append(st)
        elif isinstance(st, n.CloseLock):
            if ast.close is None:
                ast.close = st
            else:
                ast.extra_closes.append(st)
        elif isinstance(st, n.Archive):
            ast.archives.append(st)
        elif isinstance(st, n.Example):
            ast.examples.append(st)
    # The header must be the first statement.
    if statements and ast.header is not None and statements[0] is not ast.header:
        first = statements[0]
        span = getattr(first, "span", n.NO_SPAN)
        sink.at("E100", span)
    return ast

"""Diagnostics: every error and warning the rules compiler can give, in Chinese and English.

`CODES` is the catalogue: each code with its severity and message templates. The docs list
every code (a test checks it), so adding a code here means documenting it in docs/rules.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

ERROR = "error"
WARNING = "warning"


class Bi(NamedTuple):
    """A message field in both languages: the Chinese message gets `zh`, the English `en`."""

    zh: str
    en: str

    def __str__(self) -> str:
        return f"{self.zh} {self.en}"

    @staticmethod
    def join(parts: list[Bi], sep_zh: str = "、", sep_en: str = ", ") -> Bi:
        return Bi(sep_zh.join(p.zh for p in parts), sep_en.join(p.en for p in parts))

# code -> (severity, zh template, en template). Templates use str.format fields.
CODES: dict[str, tuple[str, str, str]] = {
    # ---- syntax (E0xx)
    "E001": (ERROR, "语法错误：此处不应出现 {found}；应为 {expected}",
             "syntax error: unexpected {found}; expected {expected}"),
    "E002": (ERROR, "无法识别的字符 {char}", "unrecognised character {char}"),
    "E003": (ERROR, "文件意外结束；应为 {expected}", "unexpected end of file; expected {expected}"),
    "E004": (ERROR, "缩进不一致：缩进到第 {found} 列，但外层块在第 {expected} 列",
             "inconsistent indentation: dedent to column {found}, but the enclosing block is at column {expected}"),
    "E005": (ERROR, "字符串没有结束引号", "unterminated string: missing closing quote"),
    "E006": (ERROR, "表达式嵌套过深（最多 {limit} 层）",
             "expression nested too deeply (at most {limit} levels)"),
    "E007": (ERROR, "文件过大（{size} 字节，最多 {limit} 字节）",
             "file too large ({size} bytes; at most {limit})"),
    "E008": (ERROR, "块头后缺少冒号 `:`", "missing `:` at the end of the block header"),
    "E009": (ERROR, "字符串中有无效的转义 {escape}（只允许 \\\" \\\\ \\n \\t）",
             "invalid escape {escape} in string (only \\\" \\\\ \\n \\t are allowed)"),
    "E010": (ERROR, "此处不应缩进", "unexpected indentation"),
    "E011": (ERROR, "正则表达式没有结束的 `/`", "unterminated regular expression: missing closing `/`"),
    "E013": (ERROR, "{word} 是保留字，不能用作名称；如确需此名称，请写成字符串 \"{word}\"",
             "{word} is a reserved word and cannot be used as a name; write it as a string \"{word}\" if you must"),
    "E014": (ERROR, "括号 {bracket} 在子句结束前没有闭合", "bracket {bracket} is not closed before its clause ends"),
    "E012": (ERROR, "错误过多，已停止报告（共 {count} 个以上）",
             "too many errors; stopped reporting (more than {count})"),
    # ---- structure (E1xx / W1xx)
    "E100": (ERROR, "文件必须以 `ruleset \"名称\" for line 业务线` 开头",
             "the file must begin with `ruleset \"<name>\" for line <line-key>`"),
    "E101": (ERROR, "重复的 ruleset 声明（第一次在第 {at} 行）",
             "duplicate ruleset header (first at line {at})"),
    "E110": (ERROR, "SLA 等级 {name} 重复定义（第一次在第 {at} 行）",
             "SLA tier {name} is defined twice (first at line {at})"),
    "E111": (ERROR, "SLA 等级 {name} 位于 otherwise 等级 {other} 之后，永远不会生效",
             "SLA tier {name} comes after the `otherwise` tier {other} and can never match"),
    "E112": (ERROR, "SLA 等级 {name} 缺少 `{clause}`", "SLA tier {name} has no `{clause}`"),
    "E113": (ERROR, "`{clause}` 在此块中出现了两次", "`{clause}` appears twice in this block"),
    "E114": (ERROR, "SLA 等级 {name} 需要 `when <条件>` 或 `otherwise`",
             "SLA tier {name} needs `when <condition>` or `otherwise`"),
    "E115": (ERROR, "SLA 等级 {name} 不能同时有 `when` 和 `otherwise`",
             "SLA tier {name} cannot have both `when` and `otherwise`"),
    "E116": (ERROR, "`{clause}` 不能为 0 或负数", "`{clause}` must be longer than zero"),
    "W110": (WARNING, "关键词 “{keyword}” 同时出现在 {first} 和 {second}；{first} 在前，先匹配生效",
             "keyword \"{keyword}\" appears in both {first} and {second}; {first} comes first and wins"),
    "W112": (WARNING, "关键词 “{keyword}” 包含 {first} 的关键词 “{other}”：含有它的描述总是先匹配 {first}，不会进入 {second}",
             "keyword \"{keyword}\" contains \"{other}\" of {first}: text that has it always matches {first} first and never reaches {second}"),
    "W113": (WARNING, "工作日历上的时长按工作时间计算：{clause} {text} 是 {hours} 个工作小时（按每天 8 小时约 {days} 个工作日）；若指一个工作日请写 8h",
             "durations on a business calendar are working time: {clause} {text} is {hours} working hours (about {days} working days of 8 hours); write 8h for one working day"),
    "W111": (WARNING, "没有 `otherwise` 等级：不匹配任何条件的工单将没有 SLA",
             "no `otherwise` tier: tickets that match no condition get no SLA"),
    "E120": (ERROR, "派单池 {name} 缺少 `{clause}`", "route pool {name} has no `{clause}`"),
    "E121": (ERROR, "派单池 {name} 重复定义（第一次在第 {at} 行）",
             "route pool {name} is defined twice (first at line {at})"),
    "W120": (WARNING, "派单池 {name} 永远不会被使用：之前的派单池 {other} 没有 `when`，会匹配所有工单",
             "route pool {name} is never used: the earlier pool {other} has no `when` and takes every ticket"),
    "E122": (ERROR, "数量必须至少为 1", "the number must be at least 1"),
    "E130": (ERROR, "未知的通知渠道 {name}；已安装：{installed}",
             "unknown channel {name}; installed: {installed}"),
    "E131": (ERROR, "未知的通知对象 {name}；可用：assignee、supervisor、customer、role \"角色名\"",
             "unknown target {name}; use assignee, supervisor, customer or role \"<name>\""),
    "W130": (WARNING, "未知的事件类型 {name}；平台和插件提供：{known}",
             "unknown event type {name}; the platform and plugins provide: {known}"),
    "E132": (ERROR, "未知的状态 {name}", "unknown state {name}"),
    "W131": (WARNING, "此触发器永远不会生效：第 {at} 行的触发器已匹配相同的事件和状态",
             "this trigger never fires: the trigger at line {at} already matches the same event and state"),
    "E140": (ERROR, "滞留规则至少需要一个 `escalate` 或 `notify`",
             "a dwell rule needs at least one `escalate` or `notify`"),
    "E141": (ERROR, "`repeat every` 出现了两次", "`repeat every` appears twice"),
    "E150": (ERROR, "结案阶段 {name} 重复定义", "close stage {name} is defined twice"),
    "E151": (ERROR, "`close requires` 只能有一个（第一个在第 {at} 行）",
             "only one `close requires` block is allowed (the first is at line {at})"),
    "E160": (ERROR, "示例“{title}”未通过：期望 {expected}，规则给出 {actual}",
             "example \"{title}\" failed: expected {expected}, the rules gave {actual}"),
    "E161": (ERROR, "示例“{title}”没有 `expect`", "example \"{title}\" has no `expect`"),
    "E162": (ERROR, "示例“{title}”出错：{error}", "example \"{title}\" raised an error: {error}"),
    "E164": (ERROR, "示例引用了未知的结案阶段 {name}", "the example names an unknown close stage {name}"),
    "E163": (ERROR, "示例只能有一个 `{clause}`", "an example can have only one `{clause}`"),
    # ---- names and types (E2xx / W2xx)
    "E200": (ERROR, "未知字段 {name}", "unknown field {name}"),
    "E201": (ERROR, "{name} 只能在 {where_zh} 中使用", "{name} can only be used in {where_en}"),
    "E202": (ERROR, "类型不匹配：不能用 {op} 比较 {left} 和 {right}",
             "type mismatch: cannot compare {left} with {right} using {op}"),
    "E203": (ERROR, "类型错误：{op} 不能用于 {left} 和 {right}",
             "type error: {op} cannot be applied to {left} and {right}"),
    "E204": (ERROR, "此处需要条件（布尔值），但表达式的类型是 {found}",
             "a condition (bool) is needed here, but the expression is {found}"),
    "E205": (ERROR, "此处需要数值，但表达式的类型是 {found}",
             "a number is needed here, but the expression is {found}"),
    "E206": (ERROR, "未知函数 {name}；可用：{known}", "unknown function {name}; available: {known}"),
    "E207": (ERROR, "函数 {name} 需要 {expected} 个参数，给了 {found} 个",
             "function {name} takes {expected} argument(s), {found} given"),
    "E208": (ERROR, "无效的正则表达式：{error}", "invalid regular expression: {error}"),
    "E209": (ERROR, "未知的 SLA 等级 {name}；已定义：{known}", "unknown SLA tier {name}; defined: {known}"),
    "E210": (ERROR, "{found} 不能用 [] 取值", "{found} cannot be indexed with []"),
    "E211": (ERROR, "名称 {name} 不可用（以下划线开头的名称保留给系统）",
             "the name {name} is not allowed (names starting with an underscore are reserved)"),
    "E212": (ERROR, "`where` 只能用于列表，但这里是 {found}", "`where` needs a list, but this is {found}"),
    "E213": (ERROR, "此处需要文本，但表达式的类型是 {found}", "text is needed here, but the expression is {found}"),
    "E214": (ERROR, "`{op}` 右侧需要列表，但这里是 {found}", "`{op}` needs a list on its right, but this is {found}"),
    "E215": (ERROR, "不能对 {found} 取属性 {attr}", "{found} has no attribute {attr}"),
    "W200": (WARNING, "使用了 skill_fit，但表单没有 required_skill 字段：skill_fit 将为空",
             "skill_fit is used but the form has no required_skill field: skill_fit will be null"),
    "W201": (WARNING, "{value} 不是字段 {field} 的选项之一：{options}",
             "{value} is not one of the options of {field}: {options}"),
}


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One error or warning, with its position and both languages.

    `line`/`column` are 1-based; `end_column` is exclusive. `str()` shows the source line
    with a caret under the span.
    """

    code: str
    severity: str
    message_zh: str
    message_en: str
    line: int
    column: int
    end_line: int
    end_column: int
    suggestion: str | None = None
    filename: str = "<rules>"
    source_line: str = ""

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the HTTP API and `gongdan rules check --format json` use it)."""
        return {
            "code": self.code,
            "severity": self.severity,
            "message_zh": self.message_zh,
            "message_en": self.message_en,
            "filename": self.filename,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
            "suggestion": self.suggestion,
        }

    def __str__(self) -> str:
        head = (
            f"{self.filename}:{self.line}:{self.column}: {self.severity} {self.code}: "
            f"{self.message_zh} / {self.message_en}"
        )
        lines = [head]
        if self.source_line:
            src = self.source_line.rstrip("\n")
            lines.append(f"    {src}")
            width = self.end_column - self.column if self.end_line == self.line else len(src) - self.column + 1
            # East Asian wide characters take two cells in a terminal.
            pad = _cells(src[: self.column - 1])
            carets = max(1, _cells(src[self.column - 1 : self.column - 1 + max(width, 1)]))
            lines.append("    " + " " * pad + "^" * carets)
        if self.suggestion:
            lines.append(f"  建议 / suggestion: {self.suggestion}")
        return "\n".join(lines)


def _cells(text: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


class RulesError(Exception):
    """Raised by `compile_ruleset` when the source has errors; `.diagnostics` lists them all
    (errors and warnings, in source order)."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        errors = [d for d in diagnostics if d.is_error]
        first = errors[0] if errors else (diagnostics[0] if diagnostics else None)
        summary = f"{len(errors)} error(s)"
        if first is not None:
            summary += f"; first: {first.filename}:{first.line}:{first.column}: {first.code} {first.message_en}"
        super().__init__(summary)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    def __str__(self) -> str:
        return "\n".join(str(d) for d in self.diagnostics)


class DiagnosticSink:
    """Collects diagnostics for one source file."""

    def __init__(self, source: str, filename: str) -> None:
        self.lines = source.splitlines()
        self.filename = filename
        self.items: list[Diagnostic] = []

    def add(
        self,
        code: str,
        line: int,
        column: int,
        end_line: int | None = None,
        end_column: int | None = None,
        *,
        suggestion: str | None = None,
        **fields: Any,
    ) -> Diagnostic:
        severity, zh, en = CODES[code]
        end_line = line if end_line is None else end_line
        end_column = column + 1 if end_column is None else end_column
        if end_line == line and end_column <= column:
            end_column = column + 1
        src = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        d = Diagnostic(
            code=code,
            severity=severity,
            message_zh=zh.format(**{k: v.zh if isinstance(v, Bi) else v for k, v in fields.items()}),
            message_en=en.format(**{k: v.en if isinstance(v, Bi) else v for k, v in fields.items()}),
            line=line,
            column=column,
            end_line=end_line,
            end_column=end_column,
            suggestion=suggestion,
            filename=self.filename,
            source_line=src,
        )
        self.items.append(d)
        return d

    def at(self, code: str, span: Any, *, suggestion: str | None = None, **fields: Any) -> Diagnostic:
        """Add a diagnostic at a node's span."""
        return self.add(
            code, span.line, span.column, span.end_line, span.end_column, suggestion=suggestion, **fields
        )

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.items)

    def sorted(self) -> list[Diagnostic]:
        return sorted(self.items, key=lambda d: (d.line, d.column, d.code))

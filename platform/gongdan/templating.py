"""Message templates: what notifications say, written by admins, rendered in Jinja2's sandbox.

消息模板：通知的内容，由管理员编写，在 Jinja2 沙箱中渲染。

Look-up order (Datasette's model): the deployment's override folder
(`GONGDAN_TEMPLATES_DIR`, files named `<name>.j2`), then templates given at run time
(`runtime=`, for programs embedding the platform), then those of the template packs
installed for the ticket's line (`gongdan.packs_install.line_templates`), then the
built-ins. Inside a template, `{% extends "default:派单通知" %}` reaches the next layer's
template of the same name, so an override can change one block and keep the rest.
The outbox (`gongdan.outbox.service.enqueue`) builds the one context every template sees;
see docs/templates.md.

A template's output is the message text. It may set its subject with
`{% set subject = "…" %}` and declare itself Markdown with `{% set markdown = true %}`.
Admin-written templates can only read the context they are given: the sandbox refuses
attribute access to Python internals, `range` is capped, output is capped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import BaseLoader, StrictUndefined, TemplateNotFound, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_SOURCE = 64 * 1024
MAX_OUTPUT = 64 * 1024
DEFAULT_PREFIX = "default:"


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    """A rendered template: the fields of `gongdan.connectors.OutgoingMessage` it fills."""

    text: str
    subject: str = ""
    markdown: bool = False


class TemplateProblem(ValueError):
    """A template that cannot be used: unknown, a syntax error, or failing on its context."""

    def __init__(self, name: str, zh: str, en: str, line: int | None = None) -> None:
        where = f"{name}:{line}" if line else name
        super().__init__(f"{where}: {zh} / {en}")
        self.name = name
        self.line = line
        self.message_zh = zh
        self.message_en = en


def builtin_templates() -> dict[str, str]:
    """The platform's own templates, shipped as package data (`gongdan/message_templates`)."""
    root = resources.files("gongdan").joinpath("message_templates")
    out: dict[str, str] = {}
    for entry in root.iterdir():
        if entry.name.endswith(".j2"):
            out[entry.name[:-3]] = entry.read_text(encoding="utf-8")
    return out


class _LayeredLoader(BaseLoader):
    """Layers of name -> source; `default:<name>` skips the layer that asked for it."""

    def __init__(self, layers: Sequence[Callable[[str], str | None]],
                 stamp: Callable[[str], Any] | None = None) -> None:
        self.layers = list(layers)
        self.stamp = stamp or (lambda name: None)

    def get_source(self, environment: Any, template: str) -> tuple[str, str, Callable[[], bool]]:
        depth = 0
        name = template
        while name.startswith(DEFAULT_PREFIX):
            depth += 1
            name = name[len(DEFAULT_PREFIX):]
        # the compiled template stays valid while the override file (if any) is unchanged:
        # adding, editing or removing `<name>.j2` takes effect at the next render
        stamp = self.stamp(name)
        found = 0
        for layer in self.layers:
            source = layer(name)
            if source is None:
                continue
            if found == depth:
                if len(source) > MAX_SOURCE:
                    raise TemplateNotFound(template)
                return source, template, lambda: self.stamp(name) == stamp
            found += 1
        raise TemplateNotFound(template)


MAX_RESULT = 100_000  # the largest number or repeated string a template may compute


class _Sandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, with `*` and `**` capped: `{{ 9**9**9 }}` or
    `{{ "x" * 10**9 }}` in an admin's template would otherwise stall the worker that
    renders it inside a ticket's transaction."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(left, int) and isinstance(right, int) \
                and abs(left) > 1 and abs(left).bit_length() * right > 4096:
            raise SecurityError("a power too large / 乘方太大")  # (floats overflow on their own)
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(n, int) \
                        and len(seq) * n > MAX_RESULT:
                    raise SecurityError("too long a repeated text / 重复的文本太长")
        return super().call_binop(context, operator, left, right)


class MessageTemplates:
    """Find, check and render message templates."""

    def __init__(
        self,
        *,
        override_dir: str | Path | None = None,
        runtime: Mapping[str, str] | None = None,
        packs: Sequence[Mapping[str, str]] = (),
        builtins: Mapping[str, str] | None = None,
    ) -> None:
        self.override_dir = Path(override_dir) if override_dir else None
        self.runtime = dict(runtime or {})
        self.packs = [dict(p) for p in packs]
        self.builtins = dict(builtin_templates() if builtins is None else builtins)
        layers: list[Callable[[str], str | None]] = [self._from_dir, self.runtime.get]
        layers += [p.get for p in self.packs]
        layers.append(self.builtins.get)
        self.env = _Sandbox(
            loader=_LayeredLoader(layers, self._stamp), undefined=StrictUndefined, autoescape=False,
            keep_trailing_newline=False, trim_blocks=True, lstrip_blocks=True,
        )

    def _path(self, name: str) -> Path | None:
        if self.override_dir is None or "/" in name or "\\" in name or name.startswith("."):
            return None
        return self.override_dir / f"{name}.j2"

    def _stamp(self, name: str) -> tuple[int, int] | None:
        path = self._path(name)
        if path is None:
            return None
        try:
            st = path.stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def _from_dir(self, name: str) -> str | None:
        path = self._path(name)
        if path is None:
            return None
        try:
            return path.read_text(encoding="utf-8")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def names(self) -> list[str]:
        """Every template name any layer has."""
        found = set(self.runtime) | set(self.builtins)
        for p in self.packs:
            found |= set(p)
        if self.override_dir is not None and self.override_dir.is_dir():
            found |= {p.stem for p in self.override_dir.glob("*.j2")}
        return sorted(found)

    def check(self, source: str, name: str = "<template>") -> list[TemplateProblem]:
        """Problems of an admin's template before it is saved (empty when it is fine)."""
        if len(source) > MAX_SOURCE:
            return [TemplateProblem(name, f"模板过大（最多 {MAX_SOURCE} 字符）",
                                    f"template too large (max {MAX_SOURCE})")]
        try:
            self.env.parse(source)
        except TemplateSyntaxError as exc:
            return [TemplateProblem(name, f"模板语法错误：{exc.message}", f"template syntax error: {exc.message}",
                                    exc.lineno)]
        return []

    def render(self, name: str, context: Mapping[str, Any]) -> RenderedMessage:
        """Render the template `name` with `context`."""
        try:
            template = self.env.get_template(name)
            ctx = template.new_context(dict(context))
            chunks: list[str] = []
            size = 0
            for chunk in template.root_render_func(ctx):
                size += len(chunk)
                if size > MAX_OUTPUT * 2:  # stop a runaway loop early (stripped below)
                    break
                chunks.append(chunk)
        except TemplateNotFound as exc:
            missing = exc.name or name
            if missing != name:
                raise TemplateProblem(name, f"模板引用的“{missing}”不存在",
                                      f"the template refers to {missing!r}, which does not exist") from None
            raise TemplateProblem(name, f"找不到消息模板“{name}”", f"no message template named {name!r}") from None
        except TemplateSyntaxError as exc:
            raise TemplateProblem(name, f"模板语法错误：{exc.message}", f"template syntax error: {exc.message}",
                                  exc.lineno) from None
        except UndefinedError as exc:
            raise TemplateProblem(name, f"模板使用了未提供的变量：{exc.message}",
                                  f"the template uses a value it was not given: {exc.message}") from None
        except SecurityError as exc:
            raise TemplateProblem(name, f"模板试图访问不允许的内容：{exc}",
                                  f"the template tried something unsafe: {exc}") from None
        except RecursionError:
            raise TemplateProblem(name, "模板无限递归（extends/include 引用了自己）",
                                  "the template recurses without end (extends/include of itself)") from None
        except Exception as exc:  # an admin's template must never crash the caller
            raise TemplateProblem(name, f"模板渲染失败：{type(exc).__name__}: {exc}",
                                  f"rendering failed: {type(exc).__name__}: {exc}") from None
        text = "".join(chunks).strip()
        if len(text) > MAX_OUTPUT:
            raise TemplateProblem(name, f"渲染结果过长（最多 {MAX_OUTPUT} 字符）",
                                  f"output too long (max {MAX_OUTPUT})")
        exported = ctx.get_exported()
        subject = str(exported.get("subject", "") or "").strip()
        markdown = exported.get("markdown", False) is True
        return RenderedMessage(text=text, subject=subject, markdown=markdown)

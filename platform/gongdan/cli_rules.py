"""`gongdan rules …`: check and explain `.rules` files."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from gongdan_rules import CompiledRuleset, Diagnostic, RulesError, compile_ruleset


def _load_schema(path: str | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise click.BadParameter(f"无法读取表单 JSON Schema / cannot read the form's JSON Schema: {exc}") from exc
    if not isinstance(data, dict):
        raise click.BadParameter("表单必须是 JSON 对象 / the form must be a JSON object")
    return data


def _split(values: tuple[str, ...]) -> set[str] | None:
    if not values:
        return None
    return {v.strip() for item in values for v in item.split(",") if v.strip()}


def _compile(path: str, schema: dict[str, Any] | None, channels: set[str] | None,
             states: set[str] | None) -> tuple[CompiledRuleset | None, list[Diagnostic]]:
    source = Path(path).read_text(encoding="utf-8")
    try:
        rs = compile_ruleset(source, schema=schema, channels=channels, states=states, filename=path)
    except RulesError as exc:
        return None, exc.diagnostics
    return rs, rs.diagnostics


@click.group()
def rules() -> None:
    """检查与解释规则文件 / check and explain `.rules` files."""


@rules.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--schema", "schema_path", type=click.Path(exists=True, dir_okay=False),
              help="业务线表单的 JSON Schema，用于检查字段名与类型 / "
                   "the line's form (JSON Schema) to check fields against.")
@click.option("--channels", multiple=True, metavar="NAMES",
              help="已安装的通知渠道，逗号分隔 / installed channels, comma-separated (default: any).")
@click.option("--states", multiple=True, metavar="NAMES",
              help="业务线的状态，逗号分隔 / the line's states, comma-separated (default: any).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="输出格式 / output format.")
def check(files: tuple[str, ...], schema_path: str | None, channels: tuple[str, ...], states: tuple[str, ...],
          fmt: str) -> None:
    """检查规则文件并列出全部诊断；有错误时退出码为 1。

    Check rules files and print every diagnostic (errors and warnings); exit 1 on any error.
    """
    schema = _load_schema(schema_path)
    failed = False
    report: list[dict[str, Any]] = []
    for path in files:
        rs, diags = _compile(path, schema, _split(channels), _split(states))
        errors = [d for d in diags if d.is_error]
        failed = failed or bool(errors)
        if fmt == "json":
            report.append({
                "file": path, "ok": not errors, "ruleset": rs.name if rs else None, "line": rs.line if rs else None,
                "diagnostics": [d.to_dict() for d in diags],
            })
            continue
        for d in diags:
            click.echo(str(d), err=False)
            click.echo("")
        warnings = len(diags) - len(errors)
        status = "失败 FAILED" if errors else "通过 OK"
        click.echo(f"{path}: {status} — {len(errors)} 个错误 error(s), {warnings} 个警告 warning(s)")
    if fmt == "json":
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
    sys.exit(1 if failed else 0)


@rules.command("explain")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--schema", "schema_path", type=click.Path(exists=True, dir_okay=False),
              help="业务线表单的 JSON Schema / the line's form (JSON Schema).")
def explain(file: str, schema_path: str | None) -> None:
    """打印规则编译后的 Python 代码（用于调试）/ print the Python the rules compile to (for debugging)."""
    rs, diags = _compile(file, _load_schema(schema_path), None, None)
    if rs is None:
        for d in diags:
            click.echo(str(d), err=True)
        sys.exit(1)
    click.echo(rs.python_source(), nl=False)

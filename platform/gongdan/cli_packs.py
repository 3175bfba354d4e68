"""`gongdan packs …`: the template packs the plugins bring, whether their rules compile,
and installing one into the database.

``list`` and ``show`` need no database: packs are read from the plugins (entry points).
``install`` writes to the database of ``GONGDAN_DATABASE_URL`` (migrations run first)
through :mod:`gongdan.packs_install`.
"""

from __future__ import annotations

import json
from typing import Any

import click
import pluggy

from gongdan.hookspecs import TemplatePack as PackProtocol
from gongdan.packs import PackNotFound, TemplatePack, installed_packs, load_pack
from gongdan.plugins import PluginLoadError, connectors, event_types, make_plugin_manager


def _plugin_manager() -> pluggy.PluginManager:
    try:
        return make_plugin_manager()
    except PluginLoadError as exc:
        raise click.ClickException(str(exc)) from exc


def rules_status(pack: PackProtocol, pm: pluggy.PluginManager) -> dict[str, Any]:
    """Compile the pack's rules against its form, states, installed channels and event types.

    ``{"ok", "errors", "warnings", "examples", "diagnostics": [text…]}``.
    """
    from gongdan_rules import RulesError

    if not isinstance(pack, TemplatePack):  # a plugin may register any object with name/version/title
        return {"ok": False, "errors": 1, "warnings": 0, "examples": 0,
                "diagnostics": [f"{type(pack).__qualname__} is not a gongdan.packs.TemplatePack: nothing to check"]}
    try:
        rs = pack.compile(channels=list(connectors(pm)), events=list(event_types(pm)))
    except RulesError as exc:
        errors = exc.errors
        return {"ok": False, "errors": len(errors), "warnings": len(exc.diagnostics) - len(errors),
                "examples": 0, "diagnostics": [str(d) for d in exc.diagnostics]}
    return {"ok": True, "errors": 0, "warnings": len(rs.diagnostics), "examples": len(rs.examples),
            "diagnostics": [str(d) for d in rs.diagnostics]}


@click.group()
def packs() -> None:
    """行业模板包 / industry template packs."""


@packs.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON output / 以 JSON 输出")
def list_packs(as_json: bool) -> None:
    """列出已安装的模板包及其规则能否编译 / list installed packs and whether their rules compile.

    Exits 1 when any pack's rules fail to compile.
    """
    pm = _plugin_manager()
    found = installed_packs(pm)
    rows = []
    for pack in found.values():
        status = rules_status(pack, pm)
        rows.append({"name": pack.name, "version": pack.version, "title": pack.title,
                     "line": getattr(pack, "line_key", None), "line_name": getattr(pack, "line_name", None),
                     "rules_ok": status["ok"], "errors": status["errors"],
                     "warnings": status["warnings"], "examples": status["examples"]})
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
    elif not rows:
        click.echo("no template packs installed / 未安装模板包")
    else:
        for r in rows:
            rules = (f"rules ok ({r['examples']} examples, {r['warnings']} warnings)" if r["rules_ok"]
                     else f"rules FAIL ({r['errors']} errors)")
            click.echo(f"{r['name']}  {r['version']}  {r['title']}  line={r['line']}  {rules}")
    if any(not r["rules_ok"] for r in rows):
        raise SystemExit(1)


@packs.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="the whole pack as JSON / 以 JSON 输出整个模板包")
def show_pack(name: str, as_json: bool) -> None:
    """显示一个模板包的内容摘要 / summarise one pack's contents."""
    pm = _plugin_manager()
    try:
        pack = load_pack(name, pm)
    except (PackNotFound, TypeError) as exc:
        raise click.ClickException(str(exc)) from exc
    status = rules_status(pack, pm)
    if as_json:
        click.echo(json.dumps({**pack.to_dict(), "rules_status": status}, ensure_ascii=False, indent=2))
        return
    echo = click.echo
    echo(f"{pack.title}  ({pack.name} {pack.version})")
    if pack.description:
        echo(pack.description)
    echo(f"业务线 line: {pack.line_key} ({pack.line_name})")
    echo(f"表单字段 fields ({len(pack.fields)}, plus the base fields):")
    for f in pack.fields:
        opts = f" [{' / '.join(f['options'])}]" if f.get("options") else ""
        echo(f"  {f['key']}  {f['type']}{' *' if f.get('required') else ''}  {f['label']}{opts}")
    states = pack.states
    echo(f"状态 states (initial {states['initial']}, {len(states['transitions'])} transitions):")
    echo("  " + ", ".join(f"{s['key']}({s['category']})" for s in states["states"]))
    if pack.events:
        echo("事件类型 event types: " + ", ".join(e.name for e in pack.events))
    if status["ok"]:
        echo(f"规则 rules: ok, {status['examples']} examples, {status['warnings']} warnings")
    else:
        echo(f"规则 rules: FAIL, {status['errors']} errors")
    for d in status["diagnostics"]:
        echo("  " + d.replace("\n", "\n  "))
    echo("消息模板 message templates: " + ", ".join(pack.message_templates))
    echo("报表预设 report presets: " + ", ".join(p["title"] for p in pack.report_presets))
    echo(f"字段词典 field dictionary: {len(pack.field_dictionary)} synonyms")
    demo = pack.demo(0, "small")
    echo("演示数据 demo (small): " + ", ".join(f"{len(v)} {k}" for k, v in demo.to_dict().items()))


@packs.command("install")
@click.argument("name")
@click.option("--demo", "with_demo", is_flag=True,
              help="也写入演示数据（工程师、工单）/ also write the pack's demo data (engineers, tickets)")
@click.option("--force", is_flag=True,
              help="允许降级或以同一版本号重装改动过的模板包 / "
                   "allow a downgrade, or a changed pack under the same version")
@click.option("--json", "as_json", is_flag=True, help="JSON output / 以 JSON 输出")
def install_pack_command(name: str, with_demo: bool, force: bool, as_json: bool) -> None:
    """安装或升级模板包到数据库 / install or upgrade a template pack into the database.

    Idempotent: the same version again changes nothing. A newer version adds new form and
    rules versions; existing tickets are not touched. A downgrade needs --force.
    """
    from gongdan.cli_server import _run
    from gongdan.errors import ApiError
    from gongdan.packs_install import install_pack
    from gongdan.settings import Settings

    pm = _plugin_manager()
    try:
        pack = load_pack(name, pm)
    except (PackNotFound, TypeError) as exc:
        raise click.ClickException(str(exc)) from exc
    settings = Settings.from_env()
    say = (lambda _line: None) if as_json else click.echo
    try:
        report = _run(settings, lambda db: install_pack(db, settings, pack, demo=with_demo, force=force,
                                                        by="cli", pm=pm, progress=say))
    except ApiError as exc:
        lines = [f"{exc.message_zh} / {exc.message_en}"]
        lines += [f"  {e.key}: {e.message_zh} / {e.message_en}" for e in exc.extra]
        raise click.ClickException("\n".join(lines)) from exc
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))

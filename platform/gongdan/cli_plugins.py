"""`gongdan plugins …`: what is loaded and which hooks each plugin implements."""

from __future__ import annotations

import json
from typing import Any

import click

from gongdan.plugins import PluginLoadError, describe_plugins, make_plugin_manager


@click.group()
def plugins() -> None:
    """已加载的插件 / the loaded plugins."""


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON output / 以 JSON 输出")
def list_plugins(as_json: bool) -> None:
    """列出已加载的插件及其实现的钩子 / list loaded plugins and the hooks each implements.

    GONGDAN_LOAD_PLUGINS (comma-separated entry-point names) limits which load.
    """
    try:
        pm = make_plugin_manager()
    except PluginLoadError as exc:
        raise click.ClickException(str(exc)) from exc
    infos = describe_plugins(pm)
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "name": p.name,
                        "module": p.module,
                        "distribution": p.distribution,
                        "version": p.version,
                        "hooks": list(p.hooks),
                    }
                    for p in infos
                ],
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    if not infos:
        click.echo("no plugins loaded / 未加载插件")
        return
    for p in infos:
        origin = f"{p.distribution} {p.version}" if p.distribution else "(registered in code)"
        click.echo(f"{p.name}  {p.module}  {origin}")
        for hook in p.hooks:
            click.echo(f"    {hook}")


@plugins.command("settings")
@click.option(
    "--missing", is_flag=True, help="only required settings that are unset / 只看缺少的必填项"
)
def plugin_settings(missing: bool) -> None:
    """列出插件的设置项及其环境变量，密钥只显示是否已设置 / list plugin settings.

    Each connector, org source and callback verifier with its environment variables;
    non-secret values are shown, secrets only as set or not. Exits 1 with --missing when a
    required setting is unset.
    """
    import os

    from gongdan.connectors import REDACTED, env_var_name
    from gongdan.plugins import callback_verifiers, connectors, org_sources

    try:
        pm = make_plugin_manager()
    except PluginLoadError as exc:
        raise click.ClickException(str(exc)) from exc
    owners: list[tuple[str, str, tuple[Any, ...]]] = [
        (f"connector {name}", cls.prefix(), cls.settings)
        for name, cls in sorted(connectors(pm).items())
    ]
    for kind, objs in (("org source", list(org_sources(pm).values())),
                       ("callbacks", callback_verifiers(pm))):
        owners += [(f"{kind} {o.name}", getattr(o, "settings_prefix", o.name),
                    tuple(getattr(o, "settings", ()))) for o in objs]
    absent = 0
    for owner, prefix, declared in owners:
        lines = []
        for s in declared:
            var = env_var_name(prefix, s.name)
            raw = os.environ.get(var)
            if not raw:
                shown = f"(default {s.default})" if s.default is not None else "(not set)"
            else:
                shown = REDACTED if s.secret else raw
            unset = s.required and not raw
            absent += unset
            if missing and not unset:
                continue
            flag = " REQUIRED" if unset else ""
            lines.append(f"    {var} = {shown}{flag}")
        if lines:
            click.echo(owner)
            for line in lines:
                click.echo(line)
    if missing and absent:
        raise SystemExit(1)

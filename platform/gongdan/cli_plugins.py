"""`gongdan plugins …`: what is loaded and which hooks each plugin implements."""

from __future__ import annotations

import json

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

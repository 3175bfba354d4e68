"""The `gongdan` command line: one click group; each domain adds its own sub-group."""

from __future__ import annotations

import click

from gongdan import __version__
from gongdan.cli_calendars import calendars
from gongdan.cli_org import org
from gongdan.cli_packs import packs
from gongdan.cli_plugins import plugins
from gongdan.cli_rules import rules
from gongdan.cli_server import db, demo, serve, token
from gongdan.cli_simulate import simulate
from gongdan.domain.reports.cli import report
from gongdan.domain.users.cli import user


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gongdan")
def main() -> None:
    """gongdan (工单) 工单平台命令行 / the work-order platform's command line."""


main.add_command(rules)
main.add_command(simulate)
main.add_command(plugins)
main.add_command(calendars)
for _command in (serve, db, token, demo):
    main.add_command(_command)
main.add_command(packs)
main.add_command(org)
main.add_command(user)
main.add_command(report)


def iter_commands(
    group: click.Group = main, prefix: str = "gongdan"
) -> list[tuple[str, click.Command]]:
    """Every command and sub-command, as ("gongdan rules check", command).

    docs/cli.md is checked against it.
    """
    out: list[tuple[str, click.Command]] = []
    for name in sorted(group.commands):
        cmd = group.commands[name]
        path = f"{prefix} {name}"
        out.append((path, cmd))
        if isinstance(cmd, click.Group):
            out.extend(iter_commands(cmd, path))
    return out

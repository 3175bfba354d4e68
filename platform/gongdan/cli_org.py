"""`gongdan org sync SOURCE [--dry-run]`: teams and people from an org-chart source."""

from __future__ import annotations

import json
from typing import Any

import click

from gongdan.settings import Settings


@click.group()
def org() -> None:
    """组织架构 / the org chart (teams, engineers, supervisors)."""


@org.command("sync")
@click.argument("source")
@click.option("--dry-run", is_flag=True, help="只报告将做的变更，不写入 / report, write nothing.")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出摘要 / print the summary as JSON.")
def org_sync(source: str, dry_run: bool, as_json: bool) -> None:
    """从组织架构来源同步团队和人员 / sync teams and people from SOURCE (wecom, dingtalk...)."""
    from gongdan.cli_server import _run
    from gongdan.domain.org.services import sync
    from gongdan.errors import ApiError

    def progress(line: str) -> None:
        if not as_json:
            click.echo(line)

    async def work(db: Any) -> dict[str, Any]:
        return await sync(db, source, dry_run=dry_run, progress=progress)

    try:
        summary = _run(Settings.from_env(), work)
    except ApiError as exc:
        raise click.ClickException(f"{exc.message_zh} / {exc.message_en}") from exc
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
        return
    c = summary
    click.echo(
        f"{'试运行 / dry run' if dry_run else '完成 / done'}: "
        f"团队 teams +{c['teams_created']} ~{c['teams_updated']} -{c['teams_deactivated']}; "
        f"人员 people +{c['people_created']} ~{c['people_updated']} "
        f"reactivated {c['people_reactivated']} flagged {c['people_flagged']} "
        f"deactivated {c['people_deactivated']} unchanged {c['people_unchanged']}")
    for item in c["flagged"]:
        click.echo(f"  已离职但有未结工单 / left with open tickets: {item['person']} "
                   f"({item['open_tickets']})")

"""`gongdan report dispatch`: the daily dispatch health report in the terminal."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from gongdan.settings import Settings


@click.group()
def report() -> None:
    """报表 / reports built from the tickets' event record."""


@report.command("dispatch")
@click.option("--date", default=None, help="YYYY-MM-DD, GONGDAN_TIMEZONE 的当天 / local day (default today)")
@click.option("--line", default=None, help="只看一条产品线 / one line only")
@click.option("--tz", default=None, help="时区 / time zone (default GONGDAN_TIMEZONE)")
@click.option("--format", "format_", type=click.Choice(["text", "json", "csv"]), default="text",
              show_default=True)
def dispatch_(date: str | None, line: str | None, tz: str | None, format_: str) -> None:
    """派单日报 / daily dispatch health: claims, time to claim, time-outs, transfers, skill match."""
    from gongdan.cli_server import _run
    from gongdan.domain.reports import dispatch
    from gongdan.errors import ApiError

    settings = Settings.from_env()

    async def work(db: Any) -> dict[str, Any]:
        return await dispatch.dispatch_report(settings, date, line, tz)

    try:
        out = _run(settings, work)
    except ApiError as exc:
        raise click.ClickException(f"{exc.message_zh} / {exc.message_en}") from None
    if format_ == "json":
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
    elif format_ == "csv":
        sys.stdout.buffer.write(dispatch.to_csv(out).removeprefix(b"\xef\xbb\xbf"))
        sys.stdout.flush()
    else:
        click.echo(dispatch.to_text(out))

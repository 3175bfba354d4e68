"""`gongdan calendars list|show|set|delete`: business calendars by name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from gongdan.settings import Settings


@click.group()
def calendars() -> None:
    """营业日历 / business calendars by name (`on calendar "工作日"` in the rules)."""


def _run(work: Any) -> Any:
    from gongdan.cli_server import _run as run

    return run(Settings.from_env(), work)


@calendars.command("list")
def list_() -> None:
    """列出日历 / list calendars: name, time zone, last change."""
    from gongdan.domain.calendars import services

    async def work(db: Any) -> list[dict[str, Any]]:
        return await services.list_calendars()

    for c in _run(work):
        click.echo(f"{c['name']}\t{c['calendar'].get('timezone')}\t{c['updated_at']}\t"
                   f"{c['updated_by']}")


@calendars.command()
@click.argument("name")
def show(name: str) -> None:
    """打印日历 JSON / print a calendar as JSON."""
    from gongdan.domain.calendars import services
    from gongdan.errors import ApiError

    async def work(db: Any) -> dict[str, Any]:
        return await services.get_calendar(name)

    try:
        click.echo(json.dumps(_run(work)["calendar"], ensure_ascii=False, indent=2))
    except ApiError as exc:
        raise click.ClickException(f"{exc.message_zh} / {exc.message_en}") from None


@calendars.command("set")
@click.argument("name")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def set_(name: str, file: Path) -> None:
    """由 JSON 文件保存日历 / create or replace calendar NAME from FILE.json."""
    from gongdan.domain.calendars import services
    from gongdan.errors import ApiError

    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"{file}: JSON 无效 / invalid JSON: {exc}") from None

    async def work(db: Any) -> tuple[dict[str, Any], bool]:
        return await services.put_calendar(db, name, data, "cli")

    try:
        out, created = _run(work)
    except ApiError as exc:
        detail = "; ".join(f"{e.key}: {e.message_zh} / {e.message_en}" for e in exc.extra)
        raise click.ClickException(f"{exc.message_en}" + (f" ({detail})" if detail else "")) \
            from None
    click.echo(f"{'created' if created else 'updated'} calendar {name} "
               f"(re-armed {out.get('rearmed_tickets', 0)} open ticket(s))")


@calendars.command()
@click.argument("name")
def delete(name: str) -> None:
    """删除日历 / delete calendar NAME."""
    from gongdan.domain.calendars import services
    from gongdan.errors import ApiError

    async def work(db: Any) -> int:
        return await services.delete_calendar(db, name, "cli")

    try:
        rearmed = _run(work)
    except ApiError as exc:
        raise click.ClickException(f"{exc.message_zh} / {exc.message_en}") from None
    click.echo(f"deleted calendar {name} (re-armed {rearmed} open ticket(s))")

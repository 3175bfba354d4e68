"""`gongdan serve`, `gongdan db upgrade`, `gongdan token create`, `gongdan demo load`."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import Any

import click

from gongdan.settings import Settings


def _run(settings: Settings, work: Callable[[Any], Awaitable[Any]]) -> Any:
    from gongdan.store.engine import Database

    async def main() -> Any:
        from gongdan.domain.tickets.services import clear_caches

        clear_caches()
        db = Database(settings)
        await db.open(migrate=True)
        try:
            return await work(db)
        finally:
            await db.close()

    return asyncio.run(main())


@click.command()
@click.option("--host", default=None, help="监听地址 / bind address (GONGDAN_HOST).")
@click.option("--port", default=None, type=int, help="端口 / port (GONGDAN_PORT).")
@click.option("--workers", default=None, type=int, help="进程数 / processes (GONGDAN_WORKERS).")
@click.option("--reload", is_flag=True, help="代码变化时重启（开发用）/ restart on code change.")
def serve(host: str | None, port: int | None, workers: int | None, reload: bool) -> None:
    """启动服务 / run the HTTP server (uvicorn); migrations run first."""
    import uvicorn

    from gongdan.store.engine import Database

    overrides = {k: v for k, v in {"host": host, "port": port, "workers": workers}.items()
                 if v is not None}
    settings = Settings.from_env(**overrides)
    from gongdan.plugins import PluginLoadError, check_plugins

    try:  # a misspelt hook or a plugin that fails to import stops here, before any worker
        check_plugins()
    except PluginLoadError as exc:
        raise click.ClickException(f"插件加载失败 / plugins failed to load: {exc}") from exc

    async def migrate() -> None:
        db = Database(settings)
        try:
            await db.migrate()
        finally:
            await db.close()

    asyncio.run(migrate())
    # the workers read the same settings from the environment; migrations are done
    os.environ.update(settings.as_env())
    os.environ["GONGDAN_AUTO_MIGRATE"] = "false"
    click.echo(f"gongdan serving on http://{settings.host}:{settings.port} "
               f"({settings.workers} worker(s), {settings.database_url})")
    uvicorn.run(
        "gongdan.app:create_app", factory=True, host=settings.host, port=settings.port,
        workers=settings.workers, reload=reload, log_level=settings.log_level,
        access_log=False,
    )


@click.group()
def db() -> None:
    """数据库 / the database."""


@db.command("upgrade")
def db_upgrade() -> None:
    """执行所有未运行的迁移 / run every pending migration."""
    from gongdan.store.engine import Database

    settings = Settings.from_env()

    async def main() -> str:
        db = Database(settings)
        try:
            return await db.migrate()
        finally:
            await db.close()

    out = asyncio.run(main())
    click.echo(out.strip() or "ok")


@click.group()
def token() -> None:
    """API 令牌 / API tokens."""


@token.command("create")
@click.option("--user", "user_name", required=True, help="用户名（不存在则创建）/ user name.")
@click.option("--role", required=True, help="角色 / role: admin, dispatcher, supervisor, "
              "engineer, agent, viewer.")
@click.option("--label", default="cli", help="备注 / a label for the token.")
def token_create(user_name: str, role: str, label: str) -> None:
    """创建令牌并打印（只显示一次）/ create a token and print it (shown once)."""
    from gongdan.domain.users.services import create_token, ensure_user
    from gongdan.errors import ApiError

    async def work(_: Any) -> str:
        await ensure_user(user_name, role)
        return await create_token(user_name, label)

    try:
        click.echo(_run(Settings.from_env(), work))
    except ApiError as exc:
        raise click.ClickException(f"{exc.message_zh} / {exc.message_en}") from exc


@token.command("revoke")
@click.option("--user", "user_name", required=True, help="用户名 / user name.")
def token_revoke(user_name: str) -> None:
    """吊销该用户的全部令牌 / revoke every token of a user."""
    from gongdan.domain.users.services import revoke_tokens
    from gongdan.errors import ApiError

    try:
        count = _run(Settings.from_env(), lambda _: revoke_tokens(user_name))
    except ApiError as exc:
        raise click.ClickException(f"{exc.message_zh} / {exc.message_en}") from exc
    click.echo(f"revoked {count} token(s) of {user_name}")


@click.group()
def demo() -> None:
    """演示数据 / demo data."""


@demo.command("load")
@click.option("--tickets/--no-tickets", default=True, help="也创建几张工单 / also create tickets.")
@click.option("--pack", "packs", multiple=True,
              help="也安装这个模板包及其演示数据（可重复）/ also install this template pack with its demo data "
                   "(repeatable).")
def demo_load(tickets: bool, packs: tuple[str, ...]) -> None:
    """载入维修演示业务线，打印管理员密码和令牌 / load the repair demo line, print the admin
    password (when new) and an admin token."""
    from gongdan.demo import load_demo
    from gongdan.domain.users.services import ensure_password
    from gongdan.errors import ApiError
    from gongdan.packs import PackNotFound

    settings = Settings.from_env()

    async def work(db: Any) -> tuple[str, str | None]:
        token = await load_demo(db, settings, with_tickets=tickets, packs=packs,
                                progress=lambda s: click.echo(s, err=True))
        return token, await ensure_password("admin")

    try:
        token_value, password = _run(settings, work)
    except PackNotFound as exc:
        raise click.ClickException(str(exc)) from exc
    except ApiError as exc:
        raise click.ClickException(f"{exc.message_zh} / {exc.message_en}") from exc
    if password:
        click.echo(f"admin 登录密码 / sign-in password: {password}")
    else:
        click.echo("admin 密码已设置，重设 / password already set; to reset it: "
                   "gongdan user passwd admin")
    click.echo(f"admin token: {token_value}")

"""`gongdan user passwd NAME`: set a user's password from a prompt or standard input."""

from __future__ import annotations

import sys
from typing import Any

import click

from gongdan.settings import Settings


@click.group()
def user() -> None:
    """用户 / users."""


@user.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True,
              help="从标准输入读取密码（第一行，供脚本用）/ read the password from stdin "
              "(its first line; for scripts).")
def user_passwd(name: str, password_stdin: bool) -> None:
    """设置用户密码（用于以用户名和密码登录）/ set a user's password (for sign-in)."""
    from gongdan.cli_server import _run
    from gongdan.domain.users.services import set_password
    from gongdan.errors import ApiError

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("新密码 / new password", hide_input=True,
                                confirmation_prompt="再输一次 / repeat")

    async def work(_: Any) -> None:
        await set_password(name, password)

    try:
        _run(Settings.from_env(), work)
    except ApiError as exc:
        raise click.ClickException(f"{exc.message_zh} / {exc.message_en}") from exc
    click.echo(f"密码已设置 / password set for {name}")

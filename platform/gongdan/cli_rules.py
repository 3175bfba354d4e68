"""`gongdan rules …`: check and explain `.rules` files."""

from __future__ import annotations

import click


@click.group()
def rules() -> None:
    """检查与解释规则文件 / check and explain `.rules` files."""

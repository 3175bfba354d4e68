"""`gongdan simulate`: replay a month of generated demand through the line's routing rules
and through the round-robin and least-loaded baselines."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click

from gongdan_rules import RulesError, compile_ruleset


def load_pack(name: str) -> Any:
    """The installed template pack `name`, found through the plugin registry, or a clear error."""
    from gongdan.packs import PackNotFound
    from gongdan.packs import load_pack as find_pack

    try:
        return find_pack(name)
    except PackNotFound as exc:
        raise click.BadParameter(str(exc), param_hint="--pack") from exc


@click.command("simulate")
@click.option("--pack", default="repair", show_default=True,
              help="模板包（其规则被模拟）/ the template pack whose rules run.")
@click.option("--rules", "rules_path", type=click.Path(exists=True, dir_okay=False),
              help="改用此规则文件 / use this rules file instead of the pack's.")
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, 366), help="模拟天数 / simulated days.")
@click.option("--engineers", default=50, show_default=True, type=click.IntRange(2, 5000),
              help="工程师人数 / number of engineers.")
@click.option("--seed", default=1, show_default=True, type=int, help="随机种子 / random seed (same seed, same result).")
def simulate(pack: str, rules_path: str | None, days: int, engineers: int, seed: int) -> None:
    """模拟一个月的派单：规则 vs 轮询 vs 最少负载。

    Replay generated demand with simulated time through the line's `route` pools and through
    the round-robin and least-loaded baselines, and print the figures side by side.
    """
    from gongdan.simulation import render_table
    from gongdan.simulation import simulate as run

    source = Path(rules_path).read_text(encoding="utf-8") if rules_path else load_pack(pack).rules_source
    try:
        rs = compile_ruleset(source, filename=rules_path or f"{pack}.rules")
    except RulesError as exc:
        raise click.ClickException(str(exc)) from exc
    started = time.perf_counter()
    with click.progressbar(length=3, label="模拟中 simulating", file=sys.stderr) as bar:
        results = run(rs, days=days, engineers=engineers, seed=seed, progress=lambda: bar.update(1))
    click.echo(f"{rs.name}: {days} 天 days, {engineers} 名工程师 engineers, {results[0].tickets} 张工单 tickets, "
               f"seed {seed}, {time.perf_counter() - started:.1f}s")
    click.echo(render_table(results))

"""`gongdan simulate`: the rules beat round robin and least-loaded on the published run."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import gongdan_pack_repair
from gongdan.cli import main
from gongdan.simulation import render_table, simulate
from gongdan_rules import compile_ruleset

RULES = compile_ruleset(gongdan_pack_repair.rules_source())
DOC = Path(__file__).resolve().parents[2] / "docs" / "dispatch.md"


@pytest.fixture(scope="module")
def published() -> list:  # type: ignore[type-arg]
    return simulate(RULES, days=30, engineers=50, seed=1)


def test_rules_beat_both_baselines_on_timeouts_and_skill_match(published: list) -> None:  # type: ignore[type-arg]
    rules, rr, ll = published
    assert rules.tickets == rr.tickets == ll.tickets > 3000
    for baseline in (rr, ll):
        assert rules.timeout_rate < baseline.timeout_rate
        assert rules.match_rate > baseline.match_rate
        assert rules.transfers_per_100 < baseline.transfers_per_100
        assert rules.p0_mean_claim_min < baseline.p0_mean_claim_min


def test_published_table_is_the_one_in_the_docs(published: list) -> None:  # type: ignore[type-arg]
    assert render_table(published) in DOC.read_text(encoding="utf-8")


def test_same_seed_same_result() -> None:
    a = simulate(RULES, days=3, engineers=12, seed=7)
    b = simulate(RULES, days=3, engineers=12, seed=7)
    assert a == b
    assert simulate(RULES, days=3, engineers=12, seed=8) != a


def test_cli_prints_the_table() -> None:
    result = CliRunner().invoke(main, ["simulate", "--pack", "repair", "--days", "2", "--engineers", "10", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "轮询 round robin" in result.output and "最少负载 least loaded" in result.output
    assert "首响超时率 first-response time-outs" in result.output


def test_cli_unknown_pack_and_bad_numbers() -> None:
    result = CliRunner().invoke(main, ["simulate", "--pack", "nosuch"])
    assert result.exit_code == 2 and "nosuch" in result.output
    assert CliRunner().invoke(main, ["simulate", "--days", "0"]).exit_code == 2


def test_cli_with_a_rules_file_and_a_broken_one(tmp_path: Path) -> None:
    good = tmp_path / "r.rules"
    good.write_text(gongdan_pack_repair.rules_source(), encoding="utf-8")
    assert CliRunner().invoke(main, ["simulate", "--rules", str(good), "--days", "1", "--engineers", "5"]).exit_code == 0
    bad = tmp_path / "b.rules"
    bad.write_text("sla", encoding="utf-8")
    result = CliRunner().invoke(main, ["simulate", "--rules", str(bad), "--days", "1"])
    assert result.exit_code == 1 and "E100" in result.output

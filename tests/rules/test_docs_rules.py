"""The rules shown in docs/rules.md compile (docs that lie are worse than none)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gongdan_rules import compile_ruleset

DOC = Path(__file__).resolve().parents[2] / "docs" / "rules.md"
BLOCKS = re.findall(r"```rules\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_docs_have_rules_blocks() -> None:
    assert BLOCKS


@pytest.mark.parametrize("block", BLOCKS)
def test_rules_block_compiles(block: str) -> None:
    rs = compile_ruleset(block)
    assert rs.name


def test_every_cli_option_of_rules_check_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for option in ("--schema", "--channels", "--states", "--format"):
        assert option in text

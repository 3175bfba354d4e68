"""Helpers shared by the rules-language tests (import as `rules.kit`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gongdan_rules import CompiledRuleset, compile_ruleset

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
# The three example rulesets of the contract (../shared/dsl-examples), vendored so a clone
# runs on its own; test_vendored_examples.py keeps them byte-identical to the originals.
EXAMPLES = HERE / "dsl_examples"
SHARED_EXAMPLES = ROOT.parent / "shared" / "dsl-examples"
FORMS = HERE / "forms"
CHANNELS = {"webhook", "wecom", "dingtalk", "sms", "email", "voice"}
EVENTS = {"parts_issued"}


def example_source(line: str) -> str:
    return (EXAMPLES / f"{line}.rules").read_text(encoding="utf-8")


def form(line: str) -> dict[str, Any]:
    return json.loads((FORMS / f"{line}.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def states(line: str) -> list[str]:
    return json.loads((FORMS / "states.json").read_text(encoding="utf-8"))[line]  # type: ignore[no-any-return]


def compile_example(line: str) -> CompiledRuleset:
    return compile_ruleset(
        example_source(line), schema=form(line), channels=CHANNELS, events=EVENTS, states=states(line),
        filename=f"{line}.rules",
    )

HEADER = 'ruleset "测试" for line test\n'


def rules(body: str, **kw: Any) -> CompiledRuleset:
    """Compile a snippet under a standard header."""
    return compile_ruleset(HEADER + body, **kw)

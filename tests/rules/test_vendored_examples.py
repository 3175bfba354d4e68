"""The vendored example rulesets are the contract's own, byte for byte."""

from __future__ import annotations

import pytest

from rules.kit import EXAMPLES, ROOT, SHARED_EXAMPLES

NAMES = ["repair", "aftersales", "production"]


@pytest.mark.parametrize("name", NAMES)
def test_vendored_copy_is_byte_identical_to_the_shared_one(name: str) -> None:
    shared = SHARED_EXAMPLES / f"{name}.rules"
    if not SHARED_EXAMPLES.is_dir():
        pytest.skip(f"{SHARED_EXAMPLES} does not exist (a clone without the shared contract folder beside it)")
    assert shared.exists(), f"{shared} is missing from the shared folder"
    assert (EXAMPLES / f"{name}.rules").read_bytes() == shared.read_bytes(), (
        f"tests/rules/dsl_examples/{name}.rules differs from {shared}: copy it again")


def test_the_demo_repair_rules_is_the_vendored_one() -> None:
    demo = ROOT / "platform" / "gongdan" / "demo_data" / "repair.rules"
    assert demo.read_bytes() == (EXAMPLES / "repair.rules").read_bytes()


def test_every_vendored_file_is_tested() -> None:
    assert sorted(p.stem for p in EXAMPLES.glob("*.rules")) == sorted(NAMES)

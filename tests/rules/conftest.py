"""Fixtures for the rules-language tests."""

from __future__ import annotations

import pytest

from gongdan_rules import CompiledRuleset

from rules.kit import compile_example


@pytest.fixture(scope="session")
def repair() -> CompiledRuleset:
    return compile_example("repair")


@pytest.fixture(scope="session")
def aftersales() -> CompiledRuleset:
    return compile_example("aftersales")


@pytest.fixture(scope="session")
def production() -> CompiledRuleset:
    return compile_example("production")

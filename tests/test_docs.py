"""Every CLI command is documented in docs/cli.md (Datasette's test_docs.py model)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gongdan.cli import iter_commands

DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.mark.parametrize("path", [p for p, _ in iter_commands()])
def test_cli_command_is_documented(path: str) -> None:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert f"`{path}" in text, f"{path} is not documented in docs/cli.md"

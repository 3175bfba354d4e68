"""Plugins use only the public plugin API; the core names no plugin (style.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PUBLIC_API = {"gongdan.connectors", "gongdan.hookspecs", "gongdan.plugins"}
PLUGIN_FILES = sorted((ROOT / "plugins").rglob("*.py"))


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


@pytest.mark.parametrize("path", PLUGIN_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_plugins_import_only_the_public_api(path: Path) -> None:
    internal = {m for m in imported_modules(path)
                if (m == "gongdan" or m.startswith("gongdan.")) and m not in PUBLIC_API}
    assert not internal, f"{path.name} imports gongdan internals: {sorted(internal)}"


def test_the_core_names_no_plugin() -> None:
    plugin_packages = {p.name for p in (ROOT / "plugins").iterdir() if p.is_dir()}
    for path in sorted((ROOT / "platform" / "gongdan").rglob("*.py")):
        named = {m.split(".")[0] for m in imported_modules(path)} & plugin_packages
        assert not named, f"{path.relative_to(ROOT)} imports plugins {sorted(named)}"

"""Every hook spec and every built-in connector setting is documented in docs/plugins.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from gongdan import hookspecs
from gongdan.connectors import env_var_name
from gongdan.plugins import callback_verifiers, connectors, make_plugin_manager, org_sources

DOC = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"


def hook_names() -> list[str]:
    return sorted(
        name for name in dir(hookspecs)
        if hasattr(getattr(hookspecs, name), "gongdan_spec")
    )


def test_there_are_hooks() -> None:
    assert {"register_connectors", "ticket_created"} <= set(hook_names())


@pytest.mark.parametrize("hook", hook_names())
def test_hook_is_documented(hook: str) -> None:
    text = DOC.read_text(encoding="utf-8")
    assert f"### `{hook}`" in text, f"hook {hook} is not documented in docs/plugins.md"


def builtin_settings() -> list[str]:
    pm = make_plugin_manager(environ={})
    names = {
        env_var_name(cls.prefix(), s.name)
        for cls in connectors(pm).values() for s in cls.settings
    }
    for source in [*org_sources(pm).values(), *callback_verifiers(pm)]:
        prefix = getattr(source, "settings_prefix", source.name)
        names.update(env_var_name(prefix, s.name) for s in getattr(source, "settings", ()))
    return sorted(names)


@pytest.mark.parametrize("var", builtin_settings())
def test_builtin_setting_is_documented(var: str) -> None:
    assert f"`{var}`" in DOC.read_text(encoding="utf-8"), f"{var} is not in docs/plugins.md"

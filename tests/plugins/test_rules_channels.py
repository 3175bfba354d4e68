"""The channels and events the rules use exist among the loaded plugins.

The platform compiles rulesets with ``channels=connectors(pm)`` and
``events=event_types(pm)``; the shared example rulesets (``via wecom``, ``via voice``,
``on approval_passed(kind = …)``) must compile against what the built-in plugins provide.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gongdan.plugins import connectors, event_types, make_plugin_manager
from gongdan_rules import compile_ruleset

EXAMPLES = Path(__file__).resolve().parents[1] / "rules" / "dsl_examples"  # vendored copies


@pytest.mark.parametrize("name", ["repair", "aftersales", "production"])
def test_shared_examples_compile_against_the_builtin_plugins(name: str) -> None:
    path = EXAMPLES / f"{name}.rules"
    pm = make_plugin_manager(environ={})
    compile_ruleset(path.read_text(encoding="utf-8"), channels=connectors(pm),
                    events=event_types(pm), filename=path.name)


def test_an_unloaded_channel_is_refused() -> None:
    from gongdan_rules import RulesError

    pm = make_plugin_manager(environ={"GONGDAN_LOAD_PLUGINS": "webhook"})
    source = EXAMPLES / "repair.rules"
    with pytest.raises(RulesError, match=r"voice|wecom"):
        compile_ruleset(source.read_text(encoding="utf-8"), channels=connectors(pm),
                        events=event_types(pm))

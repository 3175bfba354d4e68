"""Every hook spec and every built-in connector setting is documented in docs/plugins.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from gongdan import hookspecs
from gongdan.connectors import env_var_name
from gongdan.plugins import (
    callback_verifiers,
    connectors,
    describe_plugins,
    make_plugin_manager,
    org_sources,
)

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


def doc_block(marker: str) -> str:
    """The fenced python block of docs/plugins.md that contains ``marker``."""
    text = DOC.read_text(encoding="utf-8")
    for block in text.split("```python\n")[1:]:
        code = block.split("```", 1)[0]
        if marker in code:
            return code
    raise AssertionError(f"no python block with {marker!r} in docs/plugins.md")


def test_the_one_page_connector_example_works(local_server) -> None:
    import types

    from gongdan.connectors import OutgoingMessage, PermanentDeliveryError, RetryableDeliveryError

    module = types.ModuleType("my_gongdan_feishu")
    exec(compile(doc_block("class FeishuConnector"), "docs/plugins.md", "exec"), module.__dict__)
    pm = make_plugin_manager(load_entrypoints=False, plugins=[("feishu", module)])
    cls = connectors(pm)["feishu"]
    answers = [{"code": 0}, {"code": 9499, "msg": "too many requests"},
               {"code": 19001, "msg": "param invalid"}]

    def feishu(req):
        assert req.json() == {"msg_type": "text", "content": {"text": "工单 GD-1 已超时"}}
        return 200, {}, answers.pop(0)

    srv = local_server(feishu)
    conn = cls.from_env(environ={"GONGDAN_FEISHU_HOOK_URL": srv.url + "/hook"})
    message = OutgoingMessage(channel="feishu", text="工单 GD-1 已超时", idempotency_key="1")
    with conn:
        assert conn.send(message).channel == "feishu"
        with pytest.raises(RetryableDeliveryError):
            conn.send(message)
        with pytest.raises(PermanentDeliveryError):
            conn.send(message)


def test_a_third_party_distribution_is_found_by_its_entry_point(tmp_path, monkeypatch) -> None:
    """What `pip install acme-gongdan-feishu` leaves on sys.path: a package and its
    dist-info with an entry point in the `gongdan` group. Nothing in gongdan names it."""
    import sys

    site = tmp_path / "site-packages"
    package = site / "acme_gongdan_feishu"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(doc_block("class FeishuConnector"), encoding="utf-8")
    dist_info = site / "acme_gongdan_feishu-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: acme-gongdan-feishu\nVersion: 1.0\n", encoding="utf-8")
    (dist_info / "entry_points.txt").write_text(
        "[gongdan]\nfeishu = acme_gongdan_feishu\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(site))
    try:
        pm = make_plugin_manager(environ={})
        info = {p.name: p for p in describe_plugins(pm)}["feishu"]
        assert (info.distribution, info.version, info.hooks) == (
            "acme-gongdan-feishu", "1.0", ("register_connectors",))
        assert connectors(pm)["feishu"].__module__ == "acme_gongdan_feishu"
        only_builtin = make_plugin_manager(environ={"GONGDAN_LOAD_PLUGINS": "webhook"})
        assert "feishu" not in connectors(only_builtin)
    finally:
        sys.modules.pop("acme_gongdan_feishu", None)

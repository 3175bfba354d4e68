"""The plugin manager, the hook specs, settings and secrets."""

from __future__ import annotations

import json
import logging
import types

import httpx
import pluggy
import pytest
from click.testing import CliRunner

from gongdan.cli import main
from gongdan.connectors import (
    Connector,
    OutgoingMessage,
    Secret,
    Setting,
    SettingsError,
    load_settings,
    redact,
)
from gongdan.plugins import (
    PluginLoadError,
    connectors,
    describe_plugins,
    event_types,
    hookimpl,
    make_plugin_manager,
)


def plugin(**hooks: object) -> types.SimpleNamespace:
    return types.SimpleNamespace(**hooks)


def test_builtin_connectors_load_through_entry_points() -> None:
    pm = make_plugin_manager(environ={})
    infos = {p.name: p for p in describe_plugins(pm)}
    assert "webhook" in infos
    assert infos["webhook"].distribution == "gongdan"
    assert "register_connectors" in infos["webhook"].hooks
    assert connectors(pm)["webhook"].name == "webhook"
    assert {"approval_passed", "approval_rejected"} <= set(event_types(pm))


def test_load_plugins_allow_list() -> None:
    assert describe_plugins(make_plugin_manager(environ={"GONGDAN_LOAD_PLUGINS": ""})) == []
    only = make_plugin_manager(environ={"GONGDAN_LOAD_PLUGINS": " webhook "})
    assert [p.name for p in describe_plugins(only)] == ["webhook"]
    with pytest.raises(PluginLoadError, match="webhok"):
        make_plugin_manager(environ={"GONGDAN_LOAD_PLUGINS": "webhook,webhok"})


def test_misspelt_hook_fails_at_start_up() -> None:
    @hookimpl
    def register_conectors() -> list[type[Connector]]:
        return []

    with pytest.raises(pluggy.PluginValidationError, match="register_conectors"):
        make_plugin_manager(load_entrypoints=False, plugins=[("typo", plugin(
            register_conectors=register_conectors))])


def test_hook_argument_not_in_spec_fails() -> None:
    @hookimpl
    def ticket_created(ticket, evnt):  # type: ignore[no-untyped-def]
        return None

    with pytest.raises(pluggy.PluginValidationError):
        make_plugin_manager(load_entrypoints=False, plugins=[("bad", plugin(
            ticket_created=ticket_created))])


def test_event_hooks_take_keywords_and_reach_every_plugin() -> None:
    seen: list[tuple[str, str]] = []

    @hookimpl
    def ticket_transitioned(ticket, to_state):  # type: ignore[no-untyped-def]
        seen.append((ticket["number"], to_state))

    pm = make_plugin_manager(load_entrypoints=False, plugins=[
        ("a", plugin(ticket_transitioned=ticket_transitioned)),
        ("b", plugin(ticket_transitioned=ticket_transitioned, other=1)),
    ])
    pm.hook.ticket_transitioned(
        ticket={"number": "GD-1"}, event={}, from_state="new", to_state="claimed"
    )
    assert seen == [("GD-1", "claimed"), ("GD-1", "claimed")]


def test_duplicate_connector_names_are_refused() -> None:
    class A(Connector):
        name = "dup"

    class B(Connector):
        name = "dup"

    @hookimpl
    def register_connectors() -> list[type[Connector]]:
        return [A, B]

    pm = make_plugin_manager(load_entrypoints=False, plugins=[
        ("dups", plugin(register_connectors=register_connectors))])
    with pytest.raises(PluginLoadError, match="dup"):
        connectors(pm)


def test_cli_plugins_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GONGDAN_LOAD_PLUGINS", raising=False)
    result = CliRunner().invoke(main, ["plugins", "list"])
    assert result.exit_code == 0, result.output
    assert "webhook" in result.output and "register_connectors" in result.output
    result = CliRunner().invoke(main, ["plugins", "list", "--json"])
    data = {p["name"]: p for p in json.loads(result.output)}
    assert "register_callback_verifiers" in data["webhook"]["hooks"]
    monkeypatch.setenv("GONGDAN_LOAD_PLUGINS", "nosuch")
    result = CliRunner().invoke(main, ["plugins", "list"])
    assert result.exit_code != 0 and "nosuch" in result.output


# --- settings and secrets ---------------------------------------------------------

DECLARED = (
    Setting("corp_id", "corp id", required=True),
    Setting("secret", "app secret", secret=True, required=True),
    Setting("base_url", "API base", default="https://qyapi.weixin.qq.com"),
)


def test_settings_read_the_environment_and_redact_secrets() -> None:
    env = {"GONGDAN_WECOM_CORP_ID": "ww123", "GONGDAN_WECOM_SECRET": "s3cr3t-value-xyz"}
    s = load_settings("wecom", DECLARED, environ=env)
    assert s.get_str("corp_id") == "ww123"
    assert s.get_str("base_url") == "https://qyapi.weixin.qq.com"
    assert s.get_secret("secret") == "s3cr3t-value-xyz"
    assert isinstance(s["secret"], Secret)
    for shown in (repr(s), str(s), repr(s["secret"]), str(s["secret"]), f"{s}"):
        assert "s3cr3t-value-xyz" not in shown
    with pytest.raises(SettingsError):
        s.get_str("secret")


def test_secrets_cannot_come_from_stored_configuration() -> None:
    env = {"GONGDAN_WECOM_CORP_ID": "ww123", "GONGDAN_WECOM_SECRET": "x" * 10}
    with pytest.raises(SettingsError, match="GONGDAN_WECOM_SECRET"):
        load_settings("wecom", DECLARED, environ=env, overrides={"secret": "in-the-db"})
    with pytest.raises(SettingsError, match="unknown"):
        load_settings("wecom", DECLARED, environ=env, overrides={"corpid": "typo"})


def test_missing_required_settings_name_the_variables() -> None:
    with pytest.raises(SettingsError) as info:
        load_settings("wecom", DECLARED, environ={})
    assert "GONGDAN_WECOM_CORP_ID" in str(info.value)
    assert "GONGDAN_WECOM_SECRET" in str(info.value)


def test_logs_never_show_secrets(caplog: pytest.LogCaptureFixture) -> None:
    make_plugin_manager(load_entrypoints=False)  # installs the redaction filter
    Secret("robot-key-0123456789")
    # `gongdan` at INFO too: a child logger's record must be scrubbed, whatever the order of tests
    with caplog.at_level(logging.INFO, logger="httpx"), caplog.at_level(logging.INFO, logger="gongdan"):
        logging.getLogger("httpx").info(
            "HTTP Request: POST %s", "http://x/cgi-bin/webhook/send?key=robot-key-0123456789"
        )
        logging.getLogger("gongdan.test").info("token %s", "robot-key-0123456789")
    assert "robot-key-0123456789" not in caplog.text
    assert redact("?access_token=abc&x=1") == "?access_token=**********&x=1"


def test_outgoing_message_round_trips_as_json() -> None:
    import msgspec

    msg = OutgoingMessage(channel="sms", to="13800000000", text="您的工单已受理",
                          idempotency_key="ob-1", extra={"template_param": {"no": "GD-1"}})
    raw = msgspec.json.encode(msg)
    assert msgspec.json.decode(raw, type=OutgoingMessage) == msg


def test_connector_repr_hides_secrets() -> None:
    class Demo(Connector):
        name = "demo"
        settings = (Setting("token", "t", secret=True),)

    conn = Demo.from_env(environ={"GONGDAN_DEMO_TOKEN": "tok-123456789"},
                         client=httpx.Client())
    assert "tok-123456789" not in repr(conn)
    conn.client.close()


async def test_connector_pool_routes_by_channel_and_reports_configuration(local_server) -> None:
    import threading

    from gongdan.connectors import PermanentDeliveryError
    from gongdan.plugins import ConnectorPool

    srv = local_server(lambda req: (200, {}, {"errcode": 0, "errmsg": "ok"}))
    env = {"GONGDAN_DINGTALK_ACCESS_TOKEN": "tok-123456", "GONGDAN_DINGTALK_BASE_URL": srv.url}
    pool = ConnectorPool(connectors(make_plugin_manager(environ={})), environ=env)
    try:
        message = OutgoingMessage(channel="dingtalk", text="x", idempotency_key="1")
        assert pool.send(message).channel == "dingtalk"
        assert (await pool.asend(message)).channel == "dingtalk"
        assert pool.get("dingtalk") is pool.get("dingtalk")
        other: list[object] = []
        t = threading.Thread(target=lambda: other.append(pool.get("dingtalk")))
        t.start()
        t.join()
        assert other[0] is not pool.get("dingtalk")  # one instance per thread
        with pytest.raises(PermanentDeliveryError, match="not configured"):
            pool.send(OutgoingMessage(channel="sms", to="139", text="x", idempotency_key="2"))
        with pytest.raises(PermanentDeliveryError, match="no connector"):
            pool.send(OutgoingMessage(channel="fax", text="x", idempotency_key="3"))
    finally:
        pool.close()
    assert len(srv.requests) == 2


def test_settings_mapping_interface() -> None:
    s = load_settings("demo", (Setting("a", "a", default="1"), Setting("b", "b", secret=True)),
                      environ={"GONGDAN_DEMO_B": "secret-b-123456"})
    assert dict(s)["a"] == "1" and isinstance(s["b"], Secret)
    assert "secret-b-123456" not in str(list(s.values()))


def test_cli_plugins_settings_never_print_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GONGDAN_LOAD_PLUGINS", raising=False)
    monkeypatch.setenv("GONGDAN_WECOM_ROBOT_KEY", "robot-key-visible-nowhere")
    monkeypatch.setenv("GONGDAN_WECOM_BASE_URL", "http://127.0.0.1:9")
    result = CliRunner().invoke(main, ["plugins", "settings"])
    assert result.exit_code == 0, result.output
    assert "GONGDAN_WECOM_ROBOT_KEY = **********" in result.output
    assert "GONGDAN_WECOM_BASE_URL = http://127.0.0.1:9" in result.output
    assert "robot-key-visible-nowhere" not in result.output
    missing = CliRunner().invoke(main, ["plugins", "settings", "--missing"])
    assert missing.exit_code == 1 and "GONGDAN_SMS_SIGN_NAME" in missing.output
    assert "GONGDAN_WECOM_ROBOT_KEY" not in missing.output


def test_fire_event_isolates_a_broken_plugin(caplog: pytest.LogCaptureFixture) -> None:
    from gongdan.plugins import fire_event

    heard: list[str] = []

    @hookimpl
    def ticket_closed(ticket):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    ok = plugin(ticket_closed=hookimpl(specname="ticket_closed")(
        lambda ticket, event: heard.append(ticket["number"] + event["kind"])))
    pm = make_plugin_manager(load_entrypoints=False, plugins=[
        ("ok-first", ok), ("broken", plugin(ticket_closed=ticket_closed)),
    ])
    with caplog.at_level(logging.ERROR, logger="gongdan.plugins"):
        failures = fire_event("ticket_closed", pm, ticket={"number": "GD-5"},
                              event={"kind": "closed"})
    assert failures == 1 and heard == ["GD-5closed"]
    assert "plugin broken failed in ticket_closed" in caplog.text
    with pytest.raises(ValueError):
        fire_event("register_connectors", pm)


def test_connector_pool_takes_non_secret_overrides_and_refuses_secret_ones() -> None:
    from gongdan.connectors import PermanentDeliveryError
    from gongdan.plugins import ConnectorPool

    env = {"GONGDAN_DINGTALK_ACCESS_TOKEN": "tok-123456"}
    found = connectors(make_plugin_manager(environ={}))
    pool = ConnectorPool(found, environ=env,
                         overrides={"dingtalk": {"base_url": "http://127.0.0.1:9"}})
    try:
        assert pool.get("dingtalk").config.get_str("base_url") == "http://127.0.0.1:9"
    finally:
        pool.close()
    bad = ConnectorPool(found, environ=env, overrides={"dingtalk": {"access_token": "x"}})
    with pytest.raises(PermanentDeliveryError, match="GONGDAN_DINGTALK_ACCESS_TOKEN"):
        bad.get("dingtalk")

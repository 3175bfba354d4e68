"""The built-in template packs: rules compile against their own form, demo data is real."""

from __future__ import annotations

import dataclasses
import json
import re
from collections import Counter

import pytest
from click.testing import CliRunner
from jinja2.sandbox import SandboxedEnvironment
from jsonschema import Draft202012Validator

from gongdan.cli import main
from gongdan.packs import BASE_KEYS, PackNotFound, TemplatePack, installed_packs, load_pack
from gongdan.plugins import connectors, describe_plugins, event_types, make_plugin_manager
from gongdan_rules import RulesError, compile_ruleset

BUILTIN = ["aftersales", "production", "repair"]
PM = make_plugin_manager(environ={})
PACKS = installed_packs(PM)
CHANNELS = list(connectors(PM))
EVENTS = list(event_types(PM))

# Real 6-digit administrative codes of the districts the demos use (民政部 区划代码).
REGIONS = {
    "310101": "黄浦区", "310104": "徐汇区", "310105": "长宁区", "310106": "静安区", "310107": "普陀区",
    "310109": "虹口区", "310110": "杨浦区", "310112": "闵行区", "310113": "宝山区", "310114": "嘉定区",
    "310115": "浦东新区", "310116": "金山区", "310117": "松江区", "310118": "青浦区", "310120": "奉贤区",
    "310151": "崇明区",
    "320505": "虎丘区", "320506": "吴中区", "320507": "相城区", "320508": "姑苏区", "320509": "吴江区",
    "440604": "禅城区", "440605": "南海区", "440606": "顺德区", "440607": "三水区", "440608": "高明区",
}
# W113 notes that a duration on a business calendar counts working hours; the packs mean
# exactly that ("resolve 24h on calendar 工作日" is three working days).
INTENDED = {"W113"}


def unexpected(diagnostics: list) -> list:
    """The diagnostics a pack should not have."""
    return [d for d in diagnostics if d.code not in INTENDED]


MOBILE = re.compile(r"^1[3-9]\d{9}$")
SN = re.compile(r"^[A-Z]{2}-\d{4}-\d{6}$")


@pytest.fixture(params=BUILTIN)
def pack(request: pytest.FixtureRequest) -> TemplatePack:
    return PACKS[request.param]


def test_the_builtin_packs_register_by_entry_point() -> None:
    assert set(BUILTIN) <= set(PACKS)
    plugins = {p.name: p for p in describe_plugins(PM)}
    for name in BUILTIN:
        info = plugins[f"pack_{name}"]
        assert info.distribution == "gongdan"
        assert "register_template_packs" in info.hooks
        assert info.module == f"gongdan_pack_{name}"


def test_pack_is_well_formed(pack: TemplatePack) -> None:
    assert pack.problems() == []
    assert re.fullmatch(r"\d+\.\d+\.\d+", pack.version)
    assert " / " in pack.title  # zh / en
    assert not {f["key"] for f in pack.fields} & BASE_KEYS
    assert pack.states["initial"] in pack.state_keys
    assert any(s["category"] == "closed" for s in pack.states["states"])
    assert {"派单通知", "超时升级"} <= set(pack.message_templates)
    assert any("派单健康日报" in p["title"] for p in pack.report_presets)
    for preset in pack.report_presets:
        assert {"name", "title", "metric", "group_by", "period"} <= set(preset)
    json.dumps(pack.to_dict(), ensure_ascii=False)  # the installer stores it as JSON


def test_rules_compile_with_no_diagnostics_and_examples_pass(pack: TemplatePack) -> None:
    rs = compile_ruleset(pack.rules_source, schema=pack.form_schema(), channels=CHANNELS, events=EVENTS,
                         states=pack.state_keys, filename=f"{pack.name}.rules")
    assert unexpected(rs.diagnostics) == []
    assert len(rs.examples) >= 4
    assert rs.line == pack.line_key


def test_rules_fail_when_a_field_they_use_is_missing_from_the_form(pack: TemplatePack) -> None:
    used = [f["key"] for f in pack.fields if re.search(rf"\b{f['key']}\b", pack.rules_source)]
    assert used, "the rules use at least one line-specific field"
    for key in used:
        fields = [{k: v for k, v in f.items() if not (k == "when" and v["field"] == key)}
                  for f in pack.fields if f["key"] != key]
        broken = dataclasses.replace(pack, fields=fields, field_dictionary={})
        with pytest.raises(RulesError) as info:
            broken.compile(channels=CHANNELS, events=EVENTS, run_examples=False)
        assert any(d.code == "E200" and key in d.message_en for d in info.value.errors), key


def test_rules_fail_for_an_unknown_state_or_channel(pack: TemplatePack) -> None:
    states = dict(pack.states, states=pack.states["states"][:1], transitions=[])
    with pytest.raises(RulesError) as info:
        dataclasses.replace(pack, states=states).compile(channels=CHANNELS, run_examples=False)
    assert any(d.code == "E132" for d in info.value.errors)
    with pytest.raises(RulesError) as info:
        pack.compile(channels=["email"], events=EVENTS, run_examples=False)
    assert any(d.code == "E130" for d in info.value.errors)


def test_every_template_the_rules_name_exists_and_renders(pack: TemplatePack) -> None:
    named = set(re.findall(r'(?:template|survey) "([^"]+)"', pack.rules_source))
    assert named and named <= set(pack.message_templates)
    env = SandboxedEnvironment(autoescape=False)
    ticket = {**pack.demo(0, "small").tickets[0], "number": "GD-20261102-0001", "state": pack.states["initial"]}
    for name, text in pack.message_templates.items():
        out = env.from_string(text).render(ticket=ticket, engineer={"name": "王伟"}, link="https://x.example/t/1")
        assert "GD-20261102-0001" in out or "https://x.example/t/1" in out, name


def test_field_dictionary_points_to_real_fields(pack: TemplatePack) -> None:
    keys = BASE_KEYS | {f["key"] for f in pack.fields}
    assert set(pack.field_dictionary.values()) <= keys
    assert len(pack.field_dictionary) >= 5


def test_demo_is_deterministic_per_seed(pack: TemplatePack) -> None:
    assert pack.demo(7, "small").to_dict() == pack.demo(7, "small").to_dict()
    assert pack.demo(7, "small").to_dict() != pack.demo(8, "small").to_dict()
    with pytest.raises(ValueError, match="size"):
        pack.demo(1, "huge")


def test_demo_data_is_valid(pack: TemplatePack) -> None:
    data = pack.demo(3, "medium")
    schema = pack.form_schema()
    validator = Draft202012Validator(schema)
    customers = {c["id"]: c for c in data.customers}
    devices = {d["sn"]: d for d in data.devices}
    supervisors = {s["id"] for s in data.supervisors}
    for c in data.customers:
        assert MOBILE.match(c["phone"]) and c["region"] in REGIONS and c["name"]
    for d in data.devices:
        assert SN.match(d["sn"]) and d["customer_id"] in customers
    for e in data.engineers:
        assert MOBILE.match(e["phone"]) and e["region"] in REGIONS and e["supervisor"] in supervisors
        assert e["skills"] and all(1 <= v <= 5 for v in e["skills"].values())
        assert 0 <= e["load"] < e["max_load"] and e["shift"]
    # one city: every engineer within 80 km of every other
    lats = [e["location"]["lat"] for e in data.engineers]
    lons = [e["location"]["lon"] for e in data.engineers]
    assert max(lats) - min(lats) < 0.7 and max(lons) - min(lons) < 0.8
    assert len({e["id"] for e in data.engineers}) == len(data.engineers)
    for t in data.tickets:
        errors = [f"{list(err.path)}: {err.message}" for err in validator.iter_errors(t)]
        assert errors == [], t["id"]
        assert set(t) - {"id"} <= set(schema["properties"]), set(t) - set(schema["properties"])
        assert t["customer_id"] in customers and t["device_sn"] in devices
        assert devices[t["device_sn"]]["customer_id"] == t["customer_id"]
        assert MOBILE.match(t["customer_phone"]) and t["region"] in REGIONS
        assert re.search(r"[\u4e00-\u9fff]", t["description"])
    assert any(t.get("attachments") for t in data.tickets)
    assert len({t["fault_code"] for t in data.tickets}) >= 5


def test_demo_tickets_spread_over_tiers_and_route(pack: TemplatePack) -> None:
    rs = pack.compile(channels=CHANNELS, events=EVENTS)
    data = pack.demo(11, "small")
    customers = {c["id"]: c for c in data.customers}
    tiers: Counter[str] = Counter()
    offered = 0
    for t in data.tickets:
        ticket = {**t, "customer": customers[t["customer_id"]]}
        decision = rs.classify(ticket)
        assert decision is not None
        tiers[decision.tier] += 1
        offered += bool(rs.route(ticket, data.engineers).offered)
    assert len(tiers) >= 3, tiers
    assert offered >= 0.6 * len(data.tickets), f"{offered}/{len(data.tickets)} routed"


def test_load_pack_goes_through_the_registry() -> None:
    assert load_pack("repair", PM) is PACKS["repair"]
    with pytest.raises(PackNotFound) as info:
        load_pack("elevatr", PM)
    message = str(info.value)
    assert "没有插件提供模板包" in message and "no plugin provides" in message and "aftersales, production, repair" in message


def test_a_malformed_pack_is_refused() -> None:
    repair = PACKS["repair"]
    with pytest.raises(ValueError, match="semver"):
        dataclasses.replace(repair, version="1.0")
    with pytest.raises(ValueError, match="base field"):
        dataclasses.replace(repair, fields=[*repair.fields, {"key": "region", "type": "region", "label": "x"}])
    with pytest.raises(ValueError, match="unknown type"):
        dataclasses.replace(repair, fields=[{"key": "x", "type": "colour", "label": "x"}])
    with pytest.raises(ValueError, match="unknown state"):
        dataclasses.replace(repair, states=dict(repair.states, transitions=[["新建", "不存在"]]))


def test_cli_packs_list_and_show() -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["packs", "list"])
    assert result.exit_code == 0, result.output
    assert re.search(r"^repair  \S+  设备维修 / Equipment repair  line=repair  rules ok", result.output, re.M)
    rows = {r["name"]: r for r in json.loads(runner.invoke(main, ["packs", "list", "--json"]).output)}
    assert set(BUILTIN) <= set(rows) and all(rows[n]["rules_ok"] for n in BUILTIN)
    shown = runner.invoke(main, ["packs", "show", "production"])
    assert shown.exit_code == 0, shown.output
    assert "process_step" in shown.output and "待审批" in shown.output and "规则 rules: ok" in shown.output
    whole = json.loads(runner.invoke(main, ["packs", "show", "aftersales", "--json"]).output)
    assert whole["rules_status"]["ok"] and "service_type" in whole["form_schema"]["properties"]
    missing = runner.invoke(main, ["packs", "show", "nosuch"])
    assert missing.exit_code == 1 and "available: aftersales" in missing.output


def test_gongdan_simulate_still_runs_the_repair_pack() -> None:
    import gongdan_pack_repair

    assert gongdan_pack_repair.rules_source() == PACKS["repair"].rules_source
    assert "15km" in gongdan_pack_repair.rules_source()


def test_the_pack_in_the_docs_works() -> None:
    """docs/plugins.md's one-page pack is registered, compiles, and its demo routes."""
    from pathlib import Path
    from types import ModuleType

    doc = (Path(__file__).resolve().parents[2] / "docs" / "plugins.md").read_text(encoding="utf-8")
    code = next(b.split("```", 1)[0] for b in doc.split("```python\n")[1:] if "TemplatePack(" in b)
    module = ModuleType("my_gongdan_pack_boiler")
    exec(compile(code, "docs/plugins.md", "exec"), module.__dict__)
    pm = make_plugin_manager(environ={}, plugins=[("pack_boiler", module)])
    pack = installed_packs(pm)["boiler"]
    rs = pack.compile(channels=list(connectors(pm)), events=list(event_types(pm)))
    assert unexpected(rs.diagnostics) == [] and rs.examples == ["超压是 P0"]
    data = pack.demo(1, "small")
    assert rs.classify(data.tickets[0]).tier == "P0"
    assert rs.route(data.tickets[0], data.engineers).offered
    assert "boiler" not in installed_packs(make_plugin_manager(environ={}))  # registered in code only


def test_dependent_fields_are_enforced_by_the_schema() -> None:
    pack = PACKS["aftersales"]
    validator = Draft202012Validator(pack.form_schema())
    ticket = next(t for t in pack.demo(2, "small").tickets if t["service_type"] == "上门")
    assert list(validator.iter_errors(ticket)) == []
    without = {k: v for k, v in ticket.items() if k != "visit_address"}
    assert [e.message for e in validator.iter_errors(without)] == ["'visit_address' is a required property"]
    by_phone = {**without, "service_type": "电话指导"}
    assert list(validator.iter_errors(by_phone)) == []
    with pytest.raises(ValueError, match="'when' must be"):
        dataclasses.replace(pack, fields=[*pack.fields, {"key": "floor", "label": "楼层", "type": "number",
                                                          "when": {"field": "nosuch", "equals": 1}}])
    with pytest.raises(ValueError, match="reserved"):
        dataclasses.replace(pack, fields=[*pack.fields, {"key": "attachments", "label": "x", "type": "attachment"}])


def test_a_pack_that_is_only_the_protocol_is_listed_not_checked() -> None:
    class Bare:
        name, version, title = "bare", "1.0.0", "裸包 / bare"

    from types import ModuleType

    from gongdan.hookspecs import hookimpl

    plugin = ModuleType("bare_pack")
    plugin.register_template_packs = hookimpl(lambda: [Bare()])  # type: ignore[attr-defined]
    pm = make_plugin_manager(environ={"GONGDAN_LOAD_PLUGINS": "pack_repair,wecom,voice,sms"},
                            plugins=[("bare", plugin)])
    from gongdan.cli_packs import rules_status

    packs = installed_packs(pm)
    assert list(packs) == ["bare", "repair"]
    assert rules_status(packs["bare"], pm)["ok"] is False
    assert rules_status(packs["repair"], pm)["ok"] is True
    with pytest.raises(TypeError, match=r"not a gongdan\.packs\.TemplatePack"):
        load_pack("bare", pm)


def test_a_pack_whose_channels_are_not_installed_fails_the_check() -> None:
    from gongdan.cli_packs import rules_status

    pm = make_plugin_manager(environ={"GONGDAN_LOAD_PLUGINS": "pack_repair,sms"})
    status = rules_status(installed_packs(pm)["repair"], pm)
    assert not status["ok"] and any("E130" in d and "wecom" in d for d in status["diagnostics"])


def test_every_rule_transition_is_in_the_state_machine(pack: TemplatePack) -> None:
    allowed = {tuple(t) for t in pack.states["transitions"]}
    moves = re.findall(r"^on [^:]+(?:\([^)]*\))?: (\S+) -> (\S+)", pack.rules_source, re.M)
    assert moves
    for source, target in moves:
        sources = [s for s in pack.state_keys if s != target] if source == "*" else [source]
        for s in sources:
            assert (s, target) in allowed, f"{s} -> {target} is not a transition of {pack.name}"

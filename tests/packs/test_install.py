"""`gongdan packs install`: packs written into a real database (SQLite and PostgreSQL),
idempotent, upgraded as new versions without touching tickets, demo data through the
ticket service; the HTTP API with its role checks."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import pytest
from click.testing import CliRunner

from gongdan.cli import main
from gongdan.domain.lines import services as lines
from gongdan.domain.tickets import services as tickets
from gongdan.domain.users.services import CurrentUser, ensure_user
from gongdan.errors import ApiError
from gongdan.hookspecs import EventType, hookimpl
from gongdan.packs import DemoData, TemplatePack, load_pack
from gongdan.packs_install import install_pack, line_synonyms, parse_version
from gongdan.plugins import make_plugin_manager
from gongdan.store.tables import (
    GdAudit,
    GdEngineer,
    GdEvent,
    GdForm,
    GdLine,
    GdPackInstall,
    GdRuleset,
    GdTicket,
)
from tests.packs.conftest import AppApi, Store

NUMBER = re.compile(r"^WX-\d{8}-\d{4}$")


async def counts() -> dict[str, int]:
    """Rows per table: an install that changes nothing leaves every count alone."""
    return {t._meta.tablename: await t.count() for t in
            (GdLine, GdForm, GdRuleset, GdTicket, GdEvent, GdEngineer, GdAudit, GdPackInstall)}


async def agent() -> CurrentUser:
    row = await ensure_user("agent1", "agent")
    return CurrentUser(id=row["id"], name=row["name"], role="agent")


# ----------------------------------------------------------------------------- built-in


async def test_install_repair_with_demo_then_again(store: Store) -> None:
    pack = load_pack("repair")
    said: list[str] = []
    report = await install_pack(store.db, store.settings, pack, demo=True, progress=said.append)
    assert (report.action, report.line_created, report.form_version, report.rules_version) == \
        ("installed", True, 1, 1)
    assert report.demo is not None and report.demo["tickets"] == 40 and report.demo["engineers"] == 12
    assert any("已创建" in s and "created" in s for s in said) and said[-1].startswith("完成 / done")

    line = await lines.get_line("repair")
    assert (line["name"], line["prefix"], line["states"]["initial"]) == ("设备维修", "WX", "新建")
    rules = await lines.list_rules("repair")
    assert [(r["version"], r["active"], r["created_by"]) for r in rules] == [(1, True, "pack:repair@0.2.0")]
    activated = await GdAudit.select().where(GdAudit.action == "rules.activated").output(load_json=True)
    assert activated[0]["actor"] == "pack:repair@0.2.0" and "repair 0.2.0" in activated[0]["detail"]["reason"]

    # demo tickets went through the ticket service: validated, classified, numbered, routed
    rows = await GdTicket.select().where(GdTicket.line_key == "repair").output(load_json=True)
    assert len(rows) == 40
    assert all(NUMBER.match(r["number"]) for r in rows)
    assert len({r["number"] for r in rows}) == 40
    assert all(r["tier"] for r in rows) and len({r["tier"] for r in rows}) >= 2
    assert all(r["form_version"] == 1 and r["rules_version"] == 1 for r in rows)
    decisions = await GdTicket.raw("SELECT COUNT(*) AS n FROM gd_dispatch_decision")
    assert decisions[0]["n"] >= 40  # every new ticket was routed
    photos = await GdEvent.count().where(GdEvent.type == "attachment")
    assert photos > 0  # the demo's site photos, recorded as events on their tickets
    engineers = await GdEngineer.select().output(load_json=True)
    assert len(engineers) == 12
    assert all(e["skills"] and e["location"] and re.fullmatch(r"3101\d\d", e["region"]) for e in engineers)
    assert all(e["key"].startswith("repair-e") for e in engineers)

    before = await counts()
    said.clear()
    again = await install_pack(store.db, store.settings, pack, demo=True, progress=said.append)
    assert again.action == "unchanged" and again.demo is None and not again.form_changed
    assert not again.rules_changed and again.previous == "0.2.0"
    assert await counts() == before
    assert any("无变化" in s and "nothing to change" in s for s in said)
    assert any("skipped" in s for s in said)


async def test_every_builtin_pack_installs_side_by_side(store: Store) -> None:
    for name in ("repair", "aftersales", "production"):
        report = await install_pack(store.db, store.settings, load_pack(name))
        assert report.action == "installed" and report.rules_version == 1
    rows = await GdPackInstall.select().order_by(GdPackInstall.pack).output(load_json=True)
    assert [(r["pack"], r["line_keys"]) for r in rows] == [
        ("aftersales", ["aftersales"]), ("production", ["production"]), ("repair", ["repair"])]
    repair = next(r for r in rows if r["pack"] == "repair")
    assert repair["field_dictionary"]["机身号"] == "device_sn"
    assert "派单通知" in repair["message_templates"] and repair["report_presets"][0]["name"]
    assert repair["event_types"][0]["name"] == "parts_issued"
    assert [h["action"] for h in repair["history"]] == ["installed"]
    from gongdan.packs_install import line_templates
    from gongdan.templating import MessageTemplates

    found = await line_templates("repair")
    assert set(found) == set(load_pack("repair").message_templates) and await line_templates("nope") == {}
    rendered = MessageTemplates(packs=[found]).render("备件申请", {"ticket": {"number": "WX-1", "parts_used": ["轴承"]}})
    assert rendered.text == "工单 WX-1 申请备件：轴承，请仓储尽快出库。"


# ----------------------------------------------------------------------- field dictionary


async def test_installed_synonyms_map_forms_and_tickets(store: Store) -> None:
    await install_pack(store.db, store.settings, load_pack("repair"))
    assert (await line_synonyms("repair"))["故障部位"] == "module"
    assert await line_synonyms("other") == {}
    form = await lines.get_form("repair")
    assert form["schema"]["x-gongdan-form"]["synonyms"]["故障部位"] == "module"

    me = await agent()
    body = {"category": "设备故障", "title": "主轴异响", "description": "数控机床主轴异响",
            "customer_id": "C00001", "联系电话": "13800138000", "机身号": "ZJ-2024-000001",
            "fault_code": "E-311", "region": "310115", "location": {"lat": 31.22, "lon": 121.54},
            "reported_at": "2026-11-25T09:30:00+08:00", "设备类型": "数控机床", "故障部位": "主轴"}
    t, _ = await tickets.create_ticket(store.db, store.settings, "repair", body, me)
    assert t["fields"]["module"] == "主轴" and t["fields"]["device_sn"] == "ZJ-2024-000001"
    assert t["fields"]["device_category"] == "数控机床" and t["fields"]["customer_phone"] == "13800138000"

    with pytest.raises(ApiError) as info:
        await tickets.create_ticket(store.db, store.settings, "repair",
                                    {**body, "customer_phone": "13900139000"}, me)
    assert info.value.status == 422
    assert [e.key for e in info.value.extra] == ["customer_phone"]
    assert "联系电话" in info.value.extra[0].message_zh and "only one" in info.value.extra[0].message_en

    # a form naming one field twice, once by a synonym: a clear 422 naming both
    from gongdan.domain.lines.forms import FieldSpec

    with pytest.raises(ApiError) as info:
        await lines.put_form(store.db, "repair", [
            FieldSpec(key="module", label="模块", type="text"), FieldSpec(key="故障部位", label="部位", type="text")],
            "admin")
    assert info.value.status == 422 and info.value.extra[0].key == "fields.1"
    assert "故障部位" in info.value.extra[0].message_en and "module" in info.value.extra[0].message_en


async def test_a_line_without_packs_keeps_the_shipped_dictionary(store: Store) -> None:
    from gongdan.domain.lines.forms import FieldSpec

    await lines.create_line(store.db, "plain", "普通", "PT", "admin")
    form = await lines.put_form(store.db, "plain", [FieldSpec(key="地址", label="地址", type="text")], "admin")
    assert form["fields"][-1]["key"] == "address"  # the shipped dictionary, not repair's 地址 -> site_address
    assert "synonyms" not in form["schema"]["x-gongdan-form"]


# -------------------------------------------------------------------------------- upgrade

RULES_V1 = """ruleset "网点" for line shop

sla P2 "一般":
    otherwise
    respond 4h
    resolve 24h
"""
RULES_V2 = """ruleset "网点" for line shop

sla P1 "保内":
    when under_warranty == true
    respond 1h
    resolve 8h

sla P2 "一般":
    otherwise
    respond 4h
    resolve 24h
"""
STATES = {"initial": "新建", "states": [{"key": "新建", "label": "新建", "category": "open"},
                                        {"key": "完成", "label": "完成", "category": "closed"}],
          "transitions": [["新建", "完成"]]}


def _no_demo(seed: int, size: str) -> DemoData:
    return DemoData(customers=[], devices=[], supervisors=[], engineers=[], tickets=[])


def shop_pack(version: str, *, warranty: bool, rules: str) -> TemplatePack:
    fields: list[dict[str, Any]] = [
        {"key": "store_name", "label": "门店 Store", "type": "text", "required": True}]
    if warranty:
        fields.append({"key": "under_warranty", "label": "保内 Under warranty", "type": "bool"})
    return TemplatePack(
        name="shop", version=version, title="门店维修 / Shop repair", line_key="shop", line_name="门店维修",
        prefix="MD", fields=fields, states=STATES, rules_source=rules, demo=_no_demo,
        events=(EventType(name="shop_called", title="门店来电", schema={"type": "object"}),),
        field_dictionary={"门店": "store_name"},
    )


class PackPlugin:
    """A test-only plugin registering one pack, as a third party's would."""

    def __init__(self, pack: TemplatePack) -> None:
        self.pack = pack

    @hookimpl
    def register_template_packs(self) -> list[TemplatePack]:
        return [self.pack]

    @hookimpl
    def register_event_types(self) -> list[EventType]:
        return list(self.pack.events)


def with_pack(pack: TemplatePack) -> Any:
    return make_plugin_manager(environ={}, plugins=[("test_pack_shop", PackPlugin(pack))])


TICKET = {"category": "维修", "title": "收银机无法开机", "description": "收银机无法开机", "customer_id": "C1",
          "customer_phone": "13800138000", "device_sn": "POS-0001", "fault_code": "P-1", "region": "310115",
          "location": {"lat": 31.2, "lon": 121.5}, "reported_at": "2026-11-25T09:30:00+08:00"}


async def test_upgrade_writes_new_versions_and_leaves_tickets_alone(store: Store) -> None:
    v1 = shop_pack("1.0.0", warranty=False, rules=RULES_V1)
    pm1 = with_pack(v1)
    first = await install_pack(store.db, store.settings, load_pack("shop", pm1), pm=pm1)
    assert (first.action, first.form_version, first.rules_version) == ("installed", 1, 1)
    me = await agent()
    old, _ = await tickets.create_ticket(store.db, store.settings, "shop", {**TICKET, "门店": "徐汇店"}, me)
    assert old["fields"]["store_name"] == "徐汇店" and old["number"].startswith("MD-")
    with pytest.raises(ApiError):  # v1's form has no such field
        await tickets.create_ticket(store.db, store.settings, "shop", {**TICKET, "store_name": "x",
                                                                        "under_warranty": True}, me)
    old_row = (await GdTicket.select().where(GdTicket.id == old["id"]).output(load_json=True))[0]

    v2 = shop_pack("1.1.0", warranty=True, rules=RULES_V2)
    pm2 = with_pack(v2)
    said: list[str] = []
    up = await install_pack(store.db, store.settings, load_pack("shop", pm2), pm=pm2, progress=said.append)
    assert (up.action, up.previous, up.form_version, up.rules_version) == ("upgraded", "1.0.0", 2, 2)
    assert up.form_changed and up.rules_changed and not up.states_changed
    assert any("upgrading from 1.0.0" in s for s in said)
    assert [f["version"] for f in [await lines.get_form("shop", 1), await lines.get_form("shop", 2)]] == [1, 2]
    assert [r["version"] for r in await lines.list_rules("shop")] == [2, 1]

    # the old ticket: same row, same form version, same data, still readable
    assert (await GdTicket.select().where(GdTicket.id == old["id"]).output(load_json=True))[0] == old_row
    admin = CurrentUser(id=0, name="admin", role="admin")
    read = await tickets.get_ticket(store.settings, old["id"], admin)
    assert read["fields"] == old["fields"] and read["form_version"] == 1
    new, _ = await tickets.create_ticket(store.db, store.settings, "shop",
                                         {**TICKET, "store_name": "静安店", "under_warranty": True}, me)
    assert (new["form_version"], new["sla"]["tier"]) == (2, "P1")

    row = (await GdPackInstall.select().where(GdPackInstall.pack == "shop").output(load_json=True))[0]
    assert row["version"] == "1.1.0" and [h["version"] for h in row["history"]] == ["1.0.0", "1.1.0"]

    # the same version again: nothing
    before = await counts()
    assert (await install_pack(store.db, store.settings, v2, pm=pm2)).action == "unchanged"
    assert await counts() == before

    # a downgrade is refused, and writes nothing
    with pytest.raises(ApiError) as info:
        await install_pack(store.db, store.settings, v1, pm=pm1)
    assert info.value.status == 409 and "--force" in info.value.message_en and "降级" in info.value.message_zh
    assert await counts() == before
    # a changed pack under the installed version is refused too
    changed = dataclasses.replace(v2, description="changed")
    changed2 = shop_pack("1.1.0", warranty=True, rules=RULES_V2 + "\n# a comment\n")
    assert changed.checksum == v2.checksum  # the description is not content the installer writes
    with pytest.raises(ApiError) as info:
        await install_pack(store.db, store.settings, changed2, pm=pm2)
    assert info.value.status == 409 and "bump" in info.value.message_en
    assert await counts() == before

    forced = await install_pack(store.db, store.settings, v1, pm=pm1, force=True)
    assert (forced.action, forced.form_version, forced.rules_version) == ("downgraded", 3, 3)
    read = await tickets.get_ticket(store.settings, new["id"], admin)
    assert read["form_version"] == 2 and read["fields"]["under_warranty"] is True


async def test_rules_that_do_not_fit_the_form_write_nothing(store: Store) -> None:
    bad = shop_pack("1.0.0", warranty=False, rules=RULES_V2)  # names under_warranty, not in this form
    pm = with_pack(bad)
    with pytest.raises(ApiError) as info:
        await install_pack(store.db, store.settings, bad, pm=pm)
    assert info.value.status == 422 and info.value.data and info.value.data["diagnostics"]
    assert info.value.extra[0].key.startswith("shop.rules:")
    assert set((await counts()).values()) == {0}


def test_versions_order_as_semver() -> None:
    assert parse_version("1.10.0") > parse_version("1.9.9") > parse_version("1.9.9-rc.1")
    with pytest.raises(ValueError):
        parse_version("1.0")


# ------------------------------------------------------------------------------------ CLI


def test_cli_install_is_idempotent_and_prints_progress(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GONGDAN_DATABASE_URL", db_url)
    runner = CliRunner()
    first = runner.invoke(main, ["packs", "install", "aftersales", "--demo"])
    assert first.exit_code == 0, first.output
    assert "安装 installing aftersales 0.1.1" in first.output and "40/40 tickets" in first.output
    second = runner.invoke(main, ["packs", "install", "aftersales", "--demo", "--json"])
    assert second.exit_code == 0, second.output
    report = json.loads(second.output)
    assert report["action"] == "unchanged" and report["demo"] is None and report["form_version"] == 1
    missing = runner.invoke(main, ["packs", "install", "nope"])
    assert missing.exit_code == 1 and "没有插件提供模板包 nope" in missing.output and "no plugin" in missing.output


# ------------------------------------------------------------------------------------ API


async def test_api_lists_and_installs_with_role_checks(papi: AppApi) -> None:
    viewer = await papi.as_("v1", "viewer")
    supervisor = await papi.as_("s1", "supervisor")
    r = await viewer.get("/api/packs")
    assert r.status_code == 403 and "viewer" in r.json()["message_en"]
    r = await supervisor.get("/api/packs")
    assert r.status_code == 200
    listed = {p["name"]: p for p in r.json()}
    assert listed["repair"]["state"] == "not_installed" and listed["repair"]["installable"]
    r = await supervisor.post("/api/packs/repair/install", {"demo": False})
    assert r.status_code == 403

    r = await papi.post("/api/packs/repair/install", {"demo": True})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["action"] == "installed" and body["demo"]["tickets"] == 40 and body["progress"]
    r = await papi.get("/api/tickets", params={"line": "repair", "limit": 5})
    assert r.status_code == 200, r.text
    r = await papi.post("/api/packs/repair/install", {"demo": True})
    assert r.status_code == 200 and r.json()["action"] == "unchanged"
    r = await papi.get("/api/packs/repair")
    assert r.status_code == 200
    shown = r.json()
    assert shown["state"] == "installed" and shown["installed"]["version"] == "0.2.0"
    assert shown["installed"]["installed_by"] == "admin" and shown["installed"]["demo_at"]
    audit = await papi.get("/api/lines/repair/audit")
    assert any(a["action"] == "pack.installed" and a["actor"] == "pack:repair@0.2.0" for a in audit.json())

    r = await papi.post("/api/packs/nope/install", {})
    assert r.status_code == 404 and r.json()["message_zh"] and r.json()["message_en"]
    r = await papi.post("/api/packs/repair/install", {"demo": "yes"})
    assert r.status_code == 400
    r = await papi.post("/api/packs/repair/install", {"demmo": True})
    assert r.status_code == 400
    r = await papi.get("/api/packs/nope")
    assert r.status_code == 404
    r = await papi.post("/api/packs/production/install")  # no body: no demo, no force
    assert r.status_code == 200 and r.json()["action"] == "installed" and r.json()["demo"] is None
    listed = {p["name"]: p["state"] for p in (await papi.get("/api/packs")).json()}
    assert listed == {"aftersales": "not_installed", "production": "installed", "repair": "installed"}


async def test_a_line_the_pack_did_not_make_is_taken_over_only_with_force(store: Store) -> None:
    from gongdan.demo import load_demo

    await load_demo(store.db, store.settings, with_tickets=True)  # the built-in demo's own repair line
    before = await counts()
    with pytest.raises(ApiError) as info:
        await install_pack(store.db, store.settings, load_pack("repair"))
    assert info.value.status == 409 and "--force" in info.value.message_en and "接管" in info.value.message_zh
    assert await counts() == before
    demo_tickets = await GdTicket.select().output(load_json=True)
    report = await install_pack(store.db, store.settings, load_pack("repair"), force=True)
    assert (report.action, report.line_created, report.form_version, report.rules_version) == \
        ("installed", False, 2, 2)
    assert await GdTicket.select().output(load_json=True) == demo_tickets  # untouched


def test_demo_load_installs_extra_packs_through_the_installer(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GONGDAN_DATABASE_URL", db_url)
    done = CliRunner().invoke(main, ["demo", "load", "--pack", "production"])
    assert done.exit_code == 0, done.output
    assert done.output.strip().splitlines()[-1].startswith("admin token: ")
    assert "安装 installing production 0.1.0" in done.output
    again = CliRunner().invoke(main, ["demo", "load", "--pack", "production"])
    assert again.exit_code == 0 and "nothing to change" in again.output
    taken = CliRunner().invoke(main, ["demo", "load", "--pack", "repair"])  # the demo's own repair line
    assert taken.exit_code == 1 and "--force" in taken.output


async def test_two_installs_at_once_take_turns(store: Store) -> None:
    import asyncio

    pack = load_pack("production")
    reports = await asyncio.gather(*(install_pack(store.db, store.settings, pack) for _ in range(2)))
    assert sorted(r.action for r in reports) == ["installed", "unchanged"]
    assert await GdForm.count() == 1 and await GdRuleset.count() == 1 and await GdPackInstall.count() == 1


async def test_changed_states_recheck_the_same_rules(store: Store) -> None:
    v1 = shop_pack("1.0.0", warranty=False, rules=RULES_V1)
    await install_pack(store.db, store.settings, v1, pm=with_pack(v1))
    states = {**STATES, "states": [*STATES["states"], {"key": "挂起", "label": "挂起", "category": "pending"}],
              "transitions": [*STATES["transitions"], ["新建", "挂起"]]}
    v2 = dataclasses.replace(v1, version="1.0.1", states=states)
    report = await install_pack(store.db, store.settings, v2, pm=with_pack(v2))
    assert (report.form_changed, report.states_changed, report.rules_changed) == (False, True, True)
    assert (report.form_version, report.rules_version) == (1, 2)
    assert [s["key"] for s in (await lines.get_line("shop"))["states"]["states"]] == ["新建", "完成", "挂起"]

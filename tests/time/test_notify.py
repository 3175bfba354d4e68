"""Notifications end to end, on SQLite and PostgreSQL, through the real API, the real
scheduler (injectable clock) and the outbox: every shipped template renders with the one
documented context and a realistic ticket; a line's installed pack templates come between
the override folder and the built-ins; a template that fails is a visible dead row and the
change still commits; dispatch escalations and SLA breaches notify the supervisor; the
survey after archive carries a tokenised link and goes to the customer's phone."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from gongdan import rules_runtime
from gongdan.app import create_app
from gongdan.demo import demo_ticket
from gongdan.outbox import service
from gongdan.outbox.worker import OutboxWorker
from gongdan.packs import load_pack
from gongdan.settings import Settings
from gongdan.store.engine import Database
from gongdan.store.tables import GdEngineer, GdTicket
from gongdan.templating import TemplateProblem, builtin_templates
from gongdan.timers import clock
from gongdan.timers.scheduler import Scheduler
from tests.dispatch.conftest import dispatch_line
from tests.platform.conftest import Api, prepare_database
from tests.time.conftest import FakeSender, _forget_compiled_rules, repair_line_with_rules

pytestmark = pytest.mark.skipif(not rules_runtime.available(), reason="needs gongdan_rules")

PUBLIC = "https://gd.example.com"
MIN = dt.timedelta(minutes=1)
H = dt.timedelta(hours=1)
PACKS = ("repair", "aftersales", "production")
#: the names particular to each kind of message (what `gongdan.timers.scheduler` and
#: `transition_notices` add to the shared context)
EXTRAS: dict[str, dict[str, Any]] = {
    "sla": {"clock": "respond", "deadline": "2026-11-25T10:00:00+08:00"},
    "escalation": {"reason_zh": "响应时限已过", "reason_en": "the respond deadline passed",
                   "assignee": ""},
    "dwell": {"dwell_text": "4 小时 / 4 h"},
    "transition": {"from_state": "诊断中", "to_state": "待备件", "actor": "admin"},
    "survey": {"survey_url": f"{PUBLIC}/survey/X?token=abc"},
    "plain": {},
}
BUILTIN_USE = {"SLA预警": "sla", "超时升级": "escalation", "滞留告警": "dwell",
               "状态变化": "transition", "满意度调研": "survey", "派单通知": "plain"}


class NotifyApi(Api):
    db: Database
    settings: Settings
    templates_dir: Path

    async def run(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        portal = self.client.blocking_portal
        return await asyncio.to_thread(portal.call, fn, *args)


@pytest.fixture
async def napi(db_url: str, tmp_path: Path) -> AsyncIterator[NotifyApi]:
    """The app with an override folder, a public URL and SMS as the timers' channel."""
    _forget_compiled_rules()
    folder = tmp_path / "message-templates"
    folder.mkdir()
    settings = Settings(database_url=db_url, token_cache_seconds=0, background=False,
                        templates_dir=str(folder), public_url=PUBLIC + "/", timer_channel="sms")
    token = await prepare_database(settings)
    app = create_app(settings)
    async with AsyncTestClient(app=app) as client:
        api = NotifyApi(client, token)
        api.db = app.state["db"]
        api.settings = settings
        api.templates_dir = folder
        yield api


async def outbox(api: Api, ticket_id: int) -> list[dict[str, Any]]:
    r = await api.get("/api/outbox", params={"ticket": ticket_id, "limit": 500})
    assert r.status_code == 200, r.text
    return list(reversed(r.json()["items"]))  # oldest first


async def tick(api: NotifyApi) -> int:
    return int(await api.run(Scheduler(api.db, api.settings).tick))


async def install(api: Api, name: str, demo: bool = False) -> None:
    r = await api.post(f"/api/packs/{name}/install", {"demo": demo})
    assert r.status_code == 200, r.text


def uses(rules: str) -> dict[str, str]:
    """How a pack's rules use each template name: a transition's notice, a dwell's, the
    survey; `超时升级` is the escalation template."""
    out = {"超时升级": "escalation"}
    for line in rules.splitlines():
        for name in re.findall(r'template "([^"]+)"', line):
            if name != "超时升级":
                out[name] = "dwell" if line.lstrip().startswith("dwell") else "transition"
        for name in re.findall(r'survey "([^"]+)"', line):
            out[name] = "survey"
    return out


# --------------------------------------------------------------------------- templates


async def test_every_shipped_template_renders_with_a_realistic_ticket(napi: NotifyApi) -> None:
    """Each pack's templates and every built-in, with the pack's own demo tickets (real
    Chinese data written through the ticket service), with and without an assignee: an
    undefined name (StrictUndefined) or a sandbox refusal fails this test."""
    for name in PACKS:
        await install(napi, name, demo=True)

    async def render_all() -> list[str]:
        rendered: list[str] = []
        for name in PACKS:
            pack = load_pack(name)
            rows = await GdTicket.select().where(GdTicket.line_key == pack.line_key).order_by(
                GdTicket.id).limit(3).output(load_json=True)
            engineer = (await GdEngineer.select(GdEngineer.key).limit(1))[0]["key"]
            assert rows, name
            pack_uses = uses(pack.rules_source)
            names = {**BUILTIN_USE, **{n: pack_uses.get(n, "plain") for n in pack.message_templates}}
            found = service.templates("", await _line_templates(pack.line_key))
            for row in rows:
                for who in (None, engineer):
                    ticket = {**row, "assignee": who}
                    for template, use in sorted(names.items()):
                        ctx = await service.message_context(
                            ticket, settings=napi.settings, now=clock.now(),
                            event={"type": "test"}, extra=EXTRAS[use])
                        try:
                            msg = found.render(template, {**ctx, "recipient": {
                                "to": "customer", "address": "13800138000"}})
                        except TemplateProblem as exc:
                            pytest.fail(f"{name}/{template} ({use}, assignee {who}): {exc}")
                        assert row["number"] in msg.text, (name, template, msg.text)
                        assert "None" not in msg.text, (name, template, msg.text)
                        rendered.append(f"{name}/{template}")
        return rendered

    rendered = await napi.run(render_all)
    for name in PACKS:
        for template in [*load_pack(name).message_templates, *builtin_templates()]:
            assert f"{name}/{template}" in rendered


async def _line_templates(line: str) -> dict[str, str]:
    from gongdan.packs_install import line_templates

    return await line_templates(line)


async def test_the_context_a_template_sees(napi: NotifyApi) -> None:
    await repair_line_with_rules(napi)
    r = await napi.post("/api/engineers", {"id": "xiaowang", "name": "小王", "skills": {"液压": 5},
                                           "supervisor": "laozhang", "phone": "13700137000"})
    assert r.status_code == 201, r.text
    t = (await napi.post("/api/lines/repair/tickets", demo_ticket(3))).json()
    (napi.templates_dir / "ctx.j2").write_text(
        "{{ ticket.id }}|{{ ticket.number }}|{{ ticket.line }}|{{ ticket.state }}|{{ ticket.tier }}|"
        "{{ ticket.title }}|{{ ticket.customer_phone }}|{{ ticket.device_sn }}|{{ ticket.sla.tier }}|"
        "{{ ticket.respond_by }}|{{ ticket.fields.fault_code }}|{{ line.name }}|{{ customer.phone }}|"
        "{{ engineer.name if engineer else '-' }}|{{ engineer.phone if engineer else '-' }}|"
        "{{ event.type }}|{{ transition.to if transition else '-' }}|{{ recipient.to }}|"
        "{{ recipient.address }}|{{ link }}|{{ now.year }}|{{ ticket.vibration_mm_s is none }}",
        encoding="utf-8")

    async def write(assignee: str | None) -> None:
        async with napi.db.transaction():
            if assignee:
                await GdTicket.update({GdTicket.assignee: assignee}).where(GdTicket.id == t["id"])
            await service.enqueue(key=f"ctx:{assignee}", channel="log", template="ctx", to="ops",
                                  ticket_id=t["id"], settings=napi.settings,
                                  event={"type": "state_changed"},
                                  context={"from_state": "新建", "to_state": "已派单"})

    await napi.run(write, None)
    await napi.run(write, "xiaowang")
    first, second = [m for m in await outbox(napi, t["id"]) if m["template"] == "ctx"]
    respond_by = dt.datetime.fromisoformat(t["sla"]["respond_by"]).strftime("%Y-%m-%d %H:%M")
    link = f"{PUBLIC}/admin/board?q={t['number']}"
    assert first["state"] == "pending", first["last_error"]
    assert first["text"].split("|") == [
        str(t["id"]), t["number"], "repair", t["state"], t["sla"]["tier"], t["fields"]["title"],
        t["fields"]["customer_phone"], t["fields"]["device_sn"], t["sla"]["tier"], respond_by,
        "E-205", "设备维修", t["fields"]["customer_phone"], "-", "-", "state_changed", "已派单",
        "ops", "ops", link, str(clock.now().year), "True"]
    assert second["text"].split("|")[13:15] == ["小王", "13700137000"]


async def test_a_lines_pack_templates_then_an_override_that_includes_the_original(
        napi: NotifyApi) -> None:
    await install(napi, "repair")
    r = await napi.post("/api/users", {"name": "cangku", "role": "viewer", "profile": {
        "roles": ["仓储管理员"], "wecom_userid": "wh-01"}})
    assert r.status_code == 201, r.text
    body = {k: v for k, v in load_pack("repair").demo(0, "small").tickets[0].items()
            if k not in ("id", "attachments")}

    async def parts_request() -> dict[str, Any]:
        t = (await napi.post("/api/lines/repair/tickets", body)).json()
        assert "id" in t, t
        for to in ("已派单", "已到达", "诊断中"):
            r = await napi.post(f"/api/tickets/{t['id']}/move", {"to": to, "version": t["version"]})
            assert r.status_code == 200, r.text
            t = r.json()
        r = await napi.post(f"/api/tickets/{t['id']}/events", {"type": "parts_request"})
        assert r.status_code == 200, r.text
        assert r.json()["ticket"]["state"] == "待备件"
        return t

    t = await parts_request()
    (m,) = [m for m in await outbox(napi, t["id"]) if m["kind"] == "notify"]
    # `备件申请` exists only in the repair pack: before, it was a dead row
    assert (m["template"], m["state"], m["channel"], m["to"]) == ("备件申请", "pending", "wecom", "wh-01")
    assert m["text"].startswith(f"工单 {t['number']} 申请备件：") and "请仓储尽快出库" in m["text"]

    (napi.templates_dir / "备件申请.j2").write_text(
        '【加急】{% include "default:备件申请" %}\n{{ link }}', encoding="utf-8")
    t2 = await parts_request()
    (m2,) = [m for m in await outbox(napi, t2["id"]) if m["kind"] == "notify"]
    assert m2["state"] == "pending", m2["last_error"]
    assert m2["text"].startswith(f"【加急】工单 {t2['number']} 申请备件：")
    assert m2["text"].endswith(f"{PUBLIC}/admin/board?q={t2['number']}")


@pytest.mark.parametrize(("source", "zh", "en"), [
    ("{{ ticket.no_such_field }}", "未提供的变量", "no_such_field"),
    ("{{ ticket.__class__.__mro__ }}", "不允许", "unsafe"),
    ("{% if %}", "语法错误", "syntax error"),
])
async def test_a_failing_template_is_a_dead_row_and_the_change_commits(
        napi: NotifyApi, source: str, zh: str, en: str) -> None:
    await repair_line_with_rules(napi)
    (napi.templates_dir / "状态变化.j2").write_text(source, encoding="utf-8")
    (napi.templates_dir / "超时升级.j2").write_text("{{ 1 / 0 }}", encoding="utf-8")
    t = (await napi.post("/api/lines/repair/tickets", demo_ticket(1))).json()
    for to in ("已派单", "已到达", "诊断中"):
        r = await napi.post(f"/api/tickets/{t['id']}/move", {"to": to, "version": t["version"]})
        assert r.status_code == 200, r.text
        t = r.json()
    r = await napi.post(f"/api/tickets/{t['id']}/events", {"type": "parts_request"})
    assert r.status_code == 200, r.text  # the transition commits
    assert (await napi.get(f"/api/tickets/{t['id']}")).json()["state"] == "待备件"
    (m,) = [m for m in await outbox(napi, t["id"]) if m["kind"] == "notify"]
    assert m["state"] == "dead" and m["text"] == ""
    assert "消息模板“状态变化”无法渲染" in m["last_error"] and zh in m["last_error"]
    assert "message template '状态变化' failed" in m["last_error"] and en in m["last_error"]
    r = await napi.post(f"/api/outbox/{m['id']}/retry")
    assert r.status_code == 409 and "模板" in r.json()["message_zh"], r.text
    # a timer's message that fails: the timer fires, once, and its event is on the record
    await tick(napi)  # nothing due yet
    move = await napi.post(f"/api/tickets/{t['id']}/move", {"to": "维修中", "version": t["version"] + 1})
    assert move.status_code == 200, move.text
    clock.advance(73 * H)
    assert await tick(napi) >= 1
    tl = (await napi.get(f"/api/tickets/{t['id']}/timeline")).json()["events"]
    assert [e["type"] for e in tl].count("dwell_alert") == 1
    esc = [m for m in await outbox(napi, t["id"]) if m["kind"] == "escalation"]
    assert esc and all(m["state"] == "dead" and "ZeroDivisionError" in m["last_error"] for m in esc)
    assert await tick(napi) == 0  # fired once, not retried as a broken timer


# --------------------------------------------------------------------------- escalation


async def supervisor_with_phone(api: Api, name: str, phone: str) -> None:
    r = await api.post("/api/users", {"name": name, "role": "supervisor",
                                      "profile": {"phone": phone}})
    assert r.status_code == 201, r.text


async def test_dispatch_escalation_notifies_the_supervisor(napi: NotifyApi) -> None:
    await dispatch_line(napi)
    await supervisor_with_phone(napi, "laoqian", "13900139000")
    t = (await napi.post("/api/lines/dispatch/tickets", demo_ticket(1))).json()
    for _ in range(3):  # two reoffers, then the pool's limit
        clock.advance(16 * MIN)
        await tick(napi)
    tl = (await napi.get(f"/api/tickets/{t['id']}/timeline")).json()["events"]
    (esc,) = [e for e in tl if e["type"] == "escalated"]
    assert esc["after"]["person"] == "laoqian" and esc["data"]["notified"] == "laoqian"
    (m,) = [m for m in await outbox(napi, t["id"]) if m["kind"] == "escalation"]
    assert (m["template"], m["channel"], m["to"], m["state"]) == ("超时升级", "sms", "13900139000",
                                                                  "pending")
    assert m["idempotency_key"] == f"ticket:{t['id']}:event:{esc['seq']}:escalated"
    assert f"工单 {t['number']}" in m["text"] and "派单 2 轮后仍无人接单" in m["text"]
    assert "nobody claimed it after 2 reoffers" in m["text"] and m["text"].endswith(
        f"{PUBLIC}/admin/board?q={t['number']}")
    clock.advance(60 * MIN)
    await tick(napi)
    assert len([m for m in await outbox(napi, t["id"]) if m["kind"] == "escalation"
                and m["template"] == "超时升级" and "派单" in m["text"]]) == 1
    sender = FakeSender()
    await napi.run(OutboxWorker(napi.db, napi.settings, sender).run_once)
    assert [(s.to, s.subject) for s in sender.sent if s.channel == "sms"][:1] == [
        ("13900139000", f"升级：工单 {t['number']} 需要处理")]


async def test_an_escalation_nobody_can_receive_is_a_visible_dead_row(napi: NotifyApi) -> None:
    # the pool escalates to a role nobody has: the escalation happens, its notice is dead
    rules = (await _dispatch_rules()).replace("escalate supervisor", 'escalate role "服务经理"')
    await dispatch_line(napi, rules)
    t = (await napi.post("/api/lines/dispatch/tickets", demo_ticket(1))).json()
    for _ in range(3):
        clock.advance(16 * MIN)
        await tick(napi)
    (m,) = [m for m in await outbox(napi, t["id"]) if m["idempotency_key"].endswith(":escalated")]
    assert m["to"] == "role:服务经理" and m["state"] == "dead"
    assert "no active user has role 服务经理" in m["last_error"] and "收件人无法解析" in m["last_error"]
    assert "派单 2 轮后仍无人接单" in m["text"]  # rendered: a retry can send it
    # once someone has the role, the admin's retry resolves and queues it
    r = await napi.post("/api/users", {"name": "jingli", "role": "viewer",
                                       "profile": {"roles": ["服务经理"], "phone": "13600136000"}})
    assert r.status_code == 201, r.text
    r = await napi.post(f"/api/outbox/{m['id']}/retry")
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["to"]) == ("pending", "13600136000")


async def _dispatch_rules() -> str:
    from tests.dispatch.conftest import DISPATCH_RULES

    return DISPATCH_RULES


async def test_an_sla_breach_notifies_the_supervisor_through_the_same_path(napi: NotifyApi) -> None:
    await dispatch_line(napi)
    await supervisor_with_phone(napi, "laozhang", "13900139001")
    t = (await napi.post("/api/lines/dispatch/tickets", demo_ticket(1, description="注塑机停机"))).json()
    assert t["sla"]["tier"] == "P0"
    clock.advance(31 * MIN)  # P0 respond 30m: warning and breach
    await tick(napi)
    tl = (await napi.get(f"/api/tickets/{t['id']}/timeline")).json()["events"]
    (breach,) = [e for e in tl if e["type"] == "sla_breached"]
    assert breach["data"]["notified_as"] == "supervisor"
    msgs = [m for m in await outbox(napi, t["id"]) if m["template"] == "超时升级"]
    assert msgs and all(m["channel"] == "sms" and m["state"] == "pending" for m in msgs)
    assert "13900139001" in {m["to"] for m in msgs}
    assert all("响应时限" in m["text"] and m["text"].endswith(f"{PUBLIC}/admin/board?q={t['number']}")
               for m in msgs)


# --------------------------------------------------------------------------- survey


async def test_the_survey_after_archive(napi: NotifyApi) -> None:
    rules = (await _repair_rules()).replace('survey "满意度调研" via log', 'survey "满意度调研" via sms')
    await repair_line_with_rules(napi, rules)
    t = (await napi.post("/api/lines/repair/tickets", demo_ticket(7))).json()
    for body in ({"type": "photo", "kind": "photo", "url": "x.jpg"},
                 {"type": "customer_signature", "signature": "sig"},
                 {"type": "root_cause", "text": "轴承磨损"}):
        assert (await napi.post(f"/api/tickets/{t['id']}/events", body)).status_code == 200
    t = (await napi.get(f"/api/tickets/{t['id']}")).json()
    for to in ("已派单", "已到达", "诊断中", "维修中", "等待客户确认", "已结案"):
        r = await napi.post(f"/api/tickets/{t['id']}/move", {"to": to, "version": t["version"]})
        assert r.status_code == 200, r.text
        t = r.json()
    clock.advance(49 * H)
    await tick(napi)
    (m,) = [m for m in await outbox(napi, t["id"]) if m["kind"] == "survey"]
    assert (m["template"], m["channel"], m["state"]) == ("满意度调研", "sms", "pending")
    assert m["to"] == t["fields"]["customer_phone"]  # resolved as the customer's phone
    found = re.search(rf"{re.escape(PUBLIC)}/survey/{re.escape(t['number'])}\?token=([\w-]+)", m["text"])
    assert found and m["subject"] == "服务满意度调研", m["text"]
    assert m["text"].startswith(f"您好，您的工单 {t['number']} 已处理完毕")
    token = found.group(1)
    assert len(token) >= 20
    assert await napi.run(service.survey_token_ok, t["number"], token)
    assert not await napi.run(service.survey_token_ok, t["number"], token[:-1] + "x")
    assert not await napi.run(service.survey_token_ok, "WX-00000000-0000", token)
    sender = FakeSender()
    await napi.run(OutboxWorker(napi.db, napi.settings, sender).run_once)
    assert [(s.channel, s.to) for s in sender.sent if "survey" in s.text] == [
        ("sms", t["fields"]["customer_phone"])]


async def test_a_survey_without_a_customer_phone_is_a_dead_row(napi: NotifyApi) -> None:
    await repair_line_with_rules(napi, (await _repair_rules()).replace(
        'survey "满意度调研" via log', 'survey "满意度调研" via sms'))
    t = (await napi.post("/api/lines/repair/tickets", demo_ticket(8))).json()

    async def forget_phone() -> None:  # a ticket whose customer left no phone
        async with napi.db.transaction():
            row = (await GdTicket.select(GdTicket.fields).where(GdTicket.id == t["id"])
                   .output(load_json=True))[0]
            fields = {k: v for k, v in row["fields"].items() if k != "customer_phone"}
            await GdTicket.update({GdTicket.fields: fields, GdTicket.customer_phone: ""}).where(
                GdTicket.id == t["id"])

    for body in ({"type": "photo", "kind": "photo", "url": "x.jpg"},
                 {"type": "customer_signature", "signature": "sig"},
                 {"type": "root_cause", "text": "轴承磨损"}):
        assert (await napi.post(f"/api/tickets/{t['id']}/events", body)).status_code == 200
    t = (await napi.get(f"/api/tickets/{t['id']}")).json()
    for to in ("已派单", "已到达", "诊断中", "维修中", "等待客户确认", "已结案"):
        r = await napi.post(f"/api/tickets/{t['id']}/move", {"to": to, "version": t["version"]})
        assert r.status_code == 200, r.text
        t = r.json()
    await napi.run(forget_phone)
    clock.advance(49 * H)
    await tick(napi)
    (m,) = [m for m in await outbox(napi, t["id"]) if m["kind"] == "survey"]
    assert m["state"] == "dead" and "the customer has no phone" in m["last_error"]
    assert len((await napi.get(f"/api/tickets/{t['id']}/timeline")).json()["events"]) > 0


async def _repair_rules() -> str:
    from tests.time.conftest import LOG_RULES

    return LOG_RULES

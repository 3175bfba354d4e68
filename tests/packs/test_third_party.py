"""The examples/ plugins, pip-installed as a third party would and exercised end to end.

`pip install --target` puts each package and its dist-info (with the `gongdan` entry
point) in a fresh directory; putting it on sys.path is what a site-packages install looks
like to importlib.metadata. Nothing in gongdan names these plugins.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from gongdan.cli import main
from gongdan.connectors import OutgoingMessage, PermanentDeliveryError, RetryableDeliveryError
from gongdan.packs import installed_packs
from gongdan.plugins import ConnectorPool, connectors, describe_plugins, event_types, make_plugin_manager
from gongdan_rules import RulesError, compile_ruleset

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = [ROOT / "examples" / "gongdan-feishu", ROOT / "examples" / "gongdan-pack-elevator"]
MODULES = ("gongdan_feishu", "gongdan_pack_elevator")


def _can_build_offline() -> bool:
    """setuptools builds wheels without the `wheel` package from 70.1 on."""
    try:
        import setuptools
    except ImportError:
        return False
    try:
        import wheel  # noqa: F401
    except ImportError:
        major, minor = (int(x) for x in setuptools.__version__.split(".")[:2])
        return (major, minor) >= (70, 1)
    return True


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    target = tmp_path_factory.mktemp("site-packages")
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target)]
    if _can_build_offline():
        cmd.append("--no-build-isolation")
    done = subprocess.run([*cmd, *map(str, EXAMPLES)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    sys.path.insert(0, str(target))
    importlib.invalidate_caches()
    try:
        yield target
    finally:
        sys.path.remove(str(target))
        for name in list(sys.modules):
            if name.split(".")[0] in MODULES:
                del sys.modules[name]
        importlib.invalidate_caches()


def test_pip_install_registers_both_by_entry_point(site: Path) -> None:
    assert (site / "gongdan_pack_elevator" / "rules.rules").is_file()  # package data shipped
    pm = make_plugin_manager(environ={})
    plugins = {p.name: p for p in describe_plugins(pm)}
    assert (plugins["feishu"].distribution, plugins["feishu"].hooks) == ("gongdan-feishu", ("register_connectors",))
    assert plugins["pack_elevator"].distribution == "gongdan-pack-elevator"
    assert "feishu" in connectors(pm) and "elevator" in installed_packs(pm)


# --------------------------------------------------------------------- the connector

SECRET = "tEsT-SeCrEt"


class Feishu:
    """A local stand-in for Feishu's robot endpoint that checks the signature as documented."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.answers: list[dict[str, Any]] = []
        feishu = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                feishu.bodies.append(body)
                answer = feishu.check(self.path, self.headers.get("content-type", ""), body)
                data = json.dumps(answer, ensure_ascii=False).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/open-apis/bot/v2/hook/abc-123"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def check(self, path: str, content_type: str, body: dict[str, Any]) -> dict[str, Any]:
        if path != "/open-apis/bot/v2/hook/abc-123" or not content_type.startswith("application/json"):
            self.errors.append(f"bad request {path} {content_type}")
            return {"code": 19001, "msg": "param invalid"}
        timestamp = body.get("timestamp", "")
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 3600:
            return {"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time"}
        key = f"{timestamp}\n{SECRET}".encode()
        if body.get("sign") != base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode():
            return {"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time"}
        if body.get("msg_type") not in ("text", "post"):
            self.errors.append(f"bad msg_type {body.get('msg_type')}")
        return self.answers.pop(0) if self.answers else {"code": 0, "msg": "success", "data": {}}

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def feishu() -> Iterator[Feishu]:
    server = Feishu()
    yield server
    server.close()
    assert server.errors == []


def test_feishu_connector_signs_as_feishu_documents(site: Path, feishu: Feishu) -> None:
    pm = make_plugin_manager(environ={})
    env = {"GONGDAN_FEISHU_HOOK_URL": feishu.url, "GONGDAN_FEISHU_SECRET": SECRET}
    pool = ConnectorPool(connectors(pm), environ=env)
    try:
        receipt = pool.send(OutgoingMessage(channel="feishu", text="工单 GD-1 超时未接单", idempotency_key="k1"))
        assert receipt.channel == "feishu"
        assert feishu.bodies[-1]["content"] == {"text": "工单 GD-1 超时未接单"}
        pool.send(OutgoingMessage(channel="feishu", subject="超时升级", text="请处理", idempotency_key="k2"))
        assert feishu.bodies[-1]["content"]["post"]["zh_cn"]["title"] == "超时升级"
        feishu.answers.append({"code": 9499, "msg": "Too Many Request"})
        with pytest.raises(RetryableDeliveryError):
            pool.send(OutgoingMessage(channel="feishu", text="x", idempotency_key="k3"))
    finally:
        pool.close()
    wrong = ConnectorPool(connectors(pm), environ={**env, "GONGDAN_FEISHU_SECRET": "not-the-secret"})
    try:
        with pytest.raises(PermanentDeliveryError) as info:
            wrong.send(OutgoingMessage(channel="feishu", text="x", idempotency_key="k4"))
        assert info.value.provider_code == 19021
    finally:
        wrong.close()
    assert SECRET not in repr(connectors(pm)["feishu"].from_env(environ=env).config)


def test_rules_may_name_the_new_channel_once_installed(site: Path) -> None:
    source = 'ruleset "x" for line x\ndwell 新建 > 1h: notify supervisor via feishu\n'
    compile_ruleset(source, channels=list(connectors(make_plugin_manager(environ={}))))
    with pytest.raises(RulesError) as info:
        compile_ruleset(source, channels=list(connectors(make_plugin_manager(environ={"GONGDAN_LOAD_PLUGINS": "sms"}))))
    assert info.value.errors[0].code == "E130"


# -------------------------------------------------------------------------- the pack


def test_elevator_pack_through_the_cli_and_its_rules(site: Path) -> None:
    runner = CliRunner()
    listed = runner.invoke(main, ["packs", "list"])
    assert listed.exit_code == 0, listed.output
    assert "elevator  0.1.0  电梯维保 / Elevator maintenance  line=elevator  rules ok (4 examples" in listed.output
    rows = {r["name"]: r for r in json.loads(runner.invoke(main, ["packs", "list", "--json"]).output)}
    assert rows["elevator"]["rules_ok"] and rows["elevator"]["examples"] == 4
    shown = runner.invoke(main, ["packs", "show", "elevator"])
    assert shown.exit_code == 0 and "trapped" in shown.output

    pm = make_plugin_manager(environ={})
    pack = installed_packs(pm)["elevator"]
    rs = pack.compile(channels=list(connectors(pm)), events=list(event_types(pm)))
    assert [d for d in rs.diagnostics if d.code != "W113"] == []  # W113: working-time durations, intended
    data = pack.demo(5, "small")
    assert data.to_dict() == pack.demo(5, "small").to_dict()
    trapped = next(t for t in data.tickets if t["trapped"])
    decision = rs.route(trapped, data.engineers)
    assert decision.tier == "P0" and decision.pool == "就近救援" and len(decision.offered) >= 1


# --------------------------------------------------------- end to end, in a real database


def test_elevator_pack_installs_into_a_database_with_its_demo(site: Path, db_url: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """`pip install` + `gongdan packs install elevator --demo`, then tickets on the new line."""
    import asyncio

    from gongdan.domain.tickets import services as tickets
    from gongdan.domain.tickets.services import clear_caches
    from gongdan.domain.users.services import CurrentUser, ensure_user
    from gongdan.settings import Settings
    from gongdan.store.engine import Database
    from gongdan.store.tables import GdEngineer, GdPackInstall, GdTicket

    monkeypatch.setenv("GONGDAN_DATABASE_URL", db_url)
    clear_caches()
    done = CliRunner().invoke(main, ["packs", "install", "elevator", "--demo"])
    assert done.exit_code == 0, done.output
    assert "安装 installing elevator 0.1.0" in done.output and "40/40 tickets" in done.output
    again = CliRunner().invoke(main, ["packs", "install", "elevator", "--demo"])
    assert again.exit_code == 0 and "nothing to change" in again.output

    async def check() -> None:
        settings = Settings(database_url=db_url, background=False)
        db = Database(settings)
        await db.open(migrate=False)
        try:
            row = (await GdPackInstall.select().output(load_json=True))[0]
            assert (row["pack"], row["version"], row["line_keys"]) == ("elevator", "0.1.0", ["elevator"])
            rows = await GdTicket.select().where(GdTicket.line_key == "elevator").output(load_json=True)
            assert len(rows) == 40 and all(r["number"].startswith("DT-") and r["tier"] for r in rows)
            assert await GdEngineer.count() == 12
            user = await ensure_user("agent1", "agent")
            me = CurrentUser(id=user["id"], name="agent1", role="agent")
            demo = installed_packs(make_plugin_manager(environ={}))["elevator"].demo(0, "small")  # type: ignore[attr-defined]
            body = {k: v for k, v in demo.tickets[0].items() if k not in ("id", "attachments")}
            body.update(description="3号楼电梯困人，2人被困", trapped=True)
            t, created = await tickets.create_ticket(db, settings, "elevator", body, me)
            assert created and t["sla"]["tier"] == "P0" and t["number"].startswith("DT-")
        finally:
            await db.close()

    asyncio.run(check())


async def test_feishu_delivers_a_rules_notification_through_the_outbox(site: Path, papi: Any,
                                                                        feishu: Feishu) -> None:
    """A ruleset's `notify … via feishu` -> an outbox row -> the outbox worker -> Feishu's
    robot endpoint (a local server checking the signature as Feishu documents it)."""
    from gongdan.outbox.worker import OutboxWorker
    from gongdan.plugins import set_plugin_manager

    set_plugin_manager(None)  # the process's plugins now include the pip-installed ones
    try:
        assert "feishu" in connectors()
        assert (await papi.post("/api/lines", {"key": "fs", "name": "飞书测试", "prefix": "FS"})).status_code == 201
        assert (await papi.put("/api/lines/fs/form", {"fields": []})).status_code == 200
        states = {"initial": "新建", "states": [{"key": "新建", "category": "open"},
                                                {"key": "处理中", "category": "open"},
                                                {"key": "完成", "category": "closed"}],
                  "transitions": [["新建", "处理中"], ["处理中", "完成"]]}
        assert (await papi.put("/api/lines/fs/states", states)).status_code == 200
        source = ('ruleset "飞书通知" for line fs\n\nsla P2 "一般":\n    otherwise\n    respond 4h\n'
                  '    resolve 24h\n\non scan_checkin: 新建 -> 处理中 then notify supervisor via feishu '
                  'template "状态变化"\n')
        r = await papi.put("/api/lines/fs/rules", {"source": source})
        assert r.status_code == 201, r.text
        assert (await papi.post(f"/api/lines/fs/rules/{r.json()['version']}/activate")).status_code == 200
        body = {"category": "维修", "title": "空调不制冷", "description": "空调不制冷", "customer_id": "C1",
                "customer_phone": "13800138000", "device_sn": "AC-0001", "fault_code": "A-1",
                "region": "310115", "location": {"lat": 31.2, "lon": 121.5},
                "reported_at": "2026-11-25T09:30:00+08:00"}
        r = await papi.post("/api/lines/fs/tickets", body)
        assert r.status_code == 201, r.text
        ticket = r.json()
        r = await papi.post(f"/api/tickets/{ticket['id']}/events", {"type": "scan_checkin"})
        assert r.status_code == 200 and r.json()["transition"]["to"] == "处理中", r.text
        queued = (await papi.get("/api/outbox/", params={"state": "pending"})).json()["items"]
        assert [(m["channel"], m["to"]) for m in queued] == [("feishu", "supervisor")]

        env = {"GONGDAN_FEISHU_HOOK_URL": feishu.url, "GONGDAN_FEISHU_SECRET": SECRET}
        pool = ConnectorPool(connectors(), environ=env)
        try:
            worker = OutboxWorker(papi.db, papi.settings, sender=pool)
            assert await papi.run(worker.run_once) == 1
        finally:
            pool.close()
        assert len(feishu.bodies) == 1
        sent = feishu.bodies[0]
        assert sent["msg_type"] == "text" and sent["sign"] and sent["timestamp"].isdigit()
        assert f"工单 {ticket['number']}：新建 → 处理中" in sent["content"]["text"]
        message = (await papi.get("/api/outbox/", params={"ticket_id": ticket["id"]})).json()["items"][0]
        assert (message["state"], message["attempts"], message["last_error"]) == ("sent", 1, "")
    finally:
        set_plugin_manager(None)

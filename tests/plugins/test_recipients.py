"""Recipients are resolved when the outbox row is written: `notify supervisor via voice`
calls the assignee's supervisor's phone (through the local Aliyun voice API), `notify
customer via sms` texts the ticket's customer phone, and a recipient with no address of
the channel's kind is a dead row with the reason, never a message to a literal name."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from gongdan import plugins
from gongdan.app import create_app
from gongdan.demo import REPAIR_FIELDS, demo_ticket
from gongdan.domain.users.services import create_token, ensure_user
from gongdan.outbox.worker import OutboxWorker
from gongdan.settings import Settings
from gongdan.store.engine import Database
from tests.platform.conftest import Api, db_url
from tests.plugins.test_aliyun import AK_ID, AK_SECRET, SIGN_NAME, FakeAliyun

__all__ = ["db_url"]

RULES = """ruleset "通知" for line appr
on parts_request: 待审批 -> 执行中 then notify supervisor via voice
on parts_issued: 执行中 -> 复核 then notify customer via sms
on customer_confirmed: 复核 -> 已完成 then notify role "仓储管理员" via wecom
"""
STATES = {"initial": "待审批", "states": [
    {"key": "待审批"}, {"key": "执行中"}, {"key": "复核"}, {"key": "已完成", "category": "closed"}],
    "transitions": [["待审批", "执行中"], ["执行中", "复核"], ["复核", "已完成"]]}


class Harness(Api):
    app: Any

    async def deliver(self) -> int:
        state = self.app.state
        worker = OutboxWorker(state.db, state.settings)
        try:
            return int(await asyncio.to_thread(self.client.blocking_portal.call, worker.run_once))
        finally:
            worker.sender.close()

    async def outbox(self, ticket_id: int) -> list[dict[str, Any]]:
        r = await self.get("/api/outbox", params={"ticket": ticket_id})
        return sorted(r.json()["items"], key=lambda m: m["id"])


@pytest.fixture
async def hapi(db_url: str, local_server: Any, monkeypatch: pytest.MonkeyPatch
               ) -> AsyncIterator[tuple[Harness, FakeAliyun, FakeAliyun]]:
    voice, sms = FakeAliyun("SingleCallByTts"), FakeAliyun("SendSms")
    env = {"GONGDAN_VOICE_ACCESS_KEY_ID": AK_ID, "GONGDAN_VOICE_ACCESS_KEY_SECRET": AK_SECRET,
           "GONGDAN_VOICE_TTS_CODE": "TTS_278920000",
           "GONGDAN_VOICE_BASE_URL": local_server(voice).url,
           "GONGDAN_SMS_ACCESS_KEY_ID": AK_ID, "GONGDAN_SMS_ACCESS_KEY_SECRET": AK_SECRET,
           "GONGDAN_SMS_SIGN_NAME": SIGN_NAME, "GONGDAN_SMS_TEMPLATE_CODE": "SMS_465320000",
           "GONGDAN_SMS_BASE_URL": local_server(sms).url,
           "GONGDAN_LOAD_PLUGINS": "voice,sms,wecom"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    plugins.set_plugin_manager(None)
    settings = Settings(database_url=db_url, token_cache_seconds=0, background=False)
    db = Database(settings)
    await db.open(migrate=True, pool=False)
    await ensure_user("admin", "admin")
    await ensure_user("lead", "supervisor", "组长", {"phone": "13900139002"})
    token = await create_token("admin")
    await db.close()
    app = create_app(settings)
    try:
        async with AsyncTestClient(app=app) as client:
            api = Harness(client, token)
            api.app = app
            assert (await api.post("/api/lines", {"key": "appr", "name": "通知", "prefix": "TZ"})
                    ).status_code == 201
            assert (await api.put("/api/lines/appr/form", {"fields": [
                msgspec.to_builtins(f) for f in REPAIR_FIELDS]})).status_code == 200
            assert (await api.put("/api/lines/appr/states", STATES)).status_code == 200
            r = await api.put("/api/lines/appr/rules", {"source": RULES})
            assert r.status_code == 201, r.text
            r = await api.post(f"/api/lines/appr/rules/{r.json()['version']}/activate")
            assert r.status_code in (200, 201), r.text
            r = await api.post("/api/engineers", {"id": "wang", "name": "王工",
                                                  "phone": "13800138001", "supervisor": "lead"})
            assert r.status_code in (200, 201), r.text
            yield api, voice, sms
    finally:
        plugins.set_plugin_manager(None)


async def test_recipients_resolve_to_the_channels_addresses(
    hapi: tuple[Harness, FakeAliyun, FakeAliyun],
) -> None:
    api, voice, sms = hapi
    body = demo_ticket(1)
    r = await api.post("/api/lines/appr/tickets", body)
    assert r.status_code == 201, r.text
    t = r.json()
    r = await api.patch(f"/api/tickets/{t['id']}", {"version": t["version"], "assignee": "wang"})
    assert r.status_code == 200, r.text

    assert (await api.post(f"/api/tickets/{t['id']}/events", {"type": "parts_request"})
            ).status_code == 200
    [call] = await api.outbox(t["id"])
    assert (call["channel"], call["to"], call["state"]) == ("voice", "13900139002", "pending")
    assert await api.deliver() == 1
    assert [p["CalledNumber"] for p in voice.accepted] == ["13900139002"]  # lead's phone

    assert (await api.post(f"/api/tickets/{t['id']}/events", {"type": "parts_issued"})
            ).status_code == 200
    assert await api.deliver() == 1
    assert [p["PhoneNumbers"] for p in sms.accepted] == [body["customer_phone"]]

    # nobody has role 仓储管理员: a dead row that says why, nothing sent
    assert (await api.post(f"/api/tickets/{t['id']}/events", {"type": "customer_confirmed"})
            ).status_code == 200
    dead = (await api.outbox(t["id"]))[-1]
    assert dead["channel"] == "wecom" and dead["state"] == "dead"
    assert dead["to"] == "role:仓储管理员" and "recipient" in dead["last_error"]
    assert "仓储管理员" in dead["last_error"]
    assert await api.deliver() == 0
    r = await api.get("/api/outbox", params={"state": "dead"})
    assert [m["id"] for m in r.json()["items"]] == [dead["id"]]
    # retrying resolves it again: still nobody, so 409; once the people exist, their ids
    r = await api.post(f"/api/outbox/{dead['id']}/retry")
    assert r.status_code == 409 and "仓储管理员" in r.json()["message_zh"], r.text
    for name, userid in (("keeper1", "ww-keeper1"), ("keeper2", "ww-keeper2")):
        r = await api.post("/api/users", {"name": name, "role": "viewer", "profile": {
            "roles": ["仓储管理员"], "wecom_userid": userid}})
        assert r.status_code == 201, r.text
    r = await api.post(f"/api/outbox/{dead['id']}/retry")
    assert r.status_code == 200, r.text
    assert (r.json()["to"], r.json()["state"], r.json()["last_error"]) == \
        ("ww-keeper1", "pending", "")
    rows = [m for m in await api.outbox(t["id"]) if m["channel"] == "wecom"]
    assert [(m["to"], m["state"]) for m in rows] == [("ww-keeper1", "pending"),
                                                     ("ww-keeper2", "pending")]


async def test_supervisor_without_a_phone_is_a_permanent_failure(
    hapi: tuple[Harness, FakeAliyun, FakeAliyun],
) -> None:
    api, voice, _ = hapi
    r = await api.post("/api/engineers", {"id": "li", "name": "李工", "supervisor": "nobody"})
    assert r.status_code in (200, 201), r.text
    t = (await api.post("/api/lines/appr/tickets", demo_ticket(2))).json()
    r = await api.patch(f"/api/tickets/{t['id']}", {"version": t["version"], "assignee": "li"})
    assert r.status_code == 200, r.text
    assert (await api.post(f"/api/tickets/{t['id']}/events", {"type": "parts_request"})
            ).status_code == 200
    [row] = await api.outbox(t["id"])
    assert row["state"] == "dead" and row["to"] == "supervisor"
    assert "nobody" in row["last_error"] and row["last_error"].startswith("permanent")
    assert await api.deliver() == 0 and voice.accepted == []

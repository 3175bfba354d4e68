"""Approval callbacks end to end: POST /api/callbacks/{source} against the app on SQLite
and PostgreSQL. A correctly signed and encrypted WeCom or DingTalk approval moves the
ticket per the rules' `on approval_passed` / `on approval_rejected`; a forged one is 401
and logged; a replay is refused (also after a restart) and changes nothing."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from gongdan import plugins
from gongdan.app import create_app
from gongdan.demo import REPAIR_FIELDS, demo_ticket
from gongdan.settings import Settings
from tests.platform.conftest import Api, db_url, prepare_database
from tests.plugins.test_callbacks_crypt import (
    AES_KEY,
    DD_AES,
    DD_ENV,
    DD_TOKEN,
    ECHOSTR,
    TOKEN,
    WECOM_ENV,
    approval_detail_api,
    approval_xml,
    dingtalk_post,
    finished,
    wecom_post,
)

__all__ = ["db_url"]

RULES = """ruleset "审批" for line appr
on approval_passed(kind = "备件领用"): 待审批 -> 执行中
on approval_rejected: 待审批 -> 已驳回
"""
STATES = {"initial": "待审批", "states": [
    {"key": "待审批", "category": "open"}, {"key": "执行中", "category": "open"},
    {"key": "已驳回", "category": "closed"}],
    "transitions": [["待审批", "执行中"], ["待审批", "已驳回"]]}


@pytest.fixture
async def capi(db_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Api]:
    for key, value in {**WECOM_ENV, **DD_ENV}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("GONGDAN_LOAD_PLUGINS", "wecom,dingtalk")
    plugins.set_plugin_manager(None)
    settings = Settings(database_url=db_url, token_cache_seconds=0, background=False)
    token = await prepare_database(settings)
    try:
        async with AsyncTestClient(app=create_app(settings)) as client:
            api = Api(client, token)
            r = await api.post("/api/lines", {"key": "appr", "name": "审批", "prefix": "SP"})
            assert r.status_code == 201, r.text
            r = await api.put("/api/lines/appr/form",
                              {"fields": [msgspec.to_builtins(f) for f in REPAIR_FIELDS]})
            assert r.status_code == 200, r.text
            r = await api.put("/api/lines/appr/states", STATES)
            assert r.status_code == 200, r.text
            r = await api.put("/api/lines/appr/rules", {"source": RULES})
            assert r.status_code == 201, r.text
            r = await api.post(f"/api/lines/appr/rules/{r.json()['version']}/activate")
            assert r.status_code in (200, 201), r.text
            yield api
    finally:
        plugins.set_plugin_manager(None)


async def new_ticket(api: Api) -> dict[str, Any]:
    r = await api.post("/api/lines/appr/tickets", demo_ticket(1))
    assert r.status_code == 201, r.text
    return r.json()


async def send(api: Api, source: str, cb: Any) -> Any:
    return await api.client.request(cb.method, f"/api/callbacks/{source}", content=cb.body,
                                    params=cb.query)


async def state(api: Api, ticket_id: int) -> str:
    r = await api.get(f"/api/tickets/{ticket_id}")
    return str(r.json()["state"])


async def timeline(api: Api, ticket_id: int) -> list[dict[str, Any]]:
    r = await api.get(f"/api/tickets/{ticket_id}/timeline")
    return list(r.json()["events"])


async def test_wecom_approval_moves_the_ticket_by_the_number_in_its_form(
    capi: Api, local_server: Any, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ticket = await new_ticket(capi)
    srv = local_server(approval_detail_api("202612010001", ticket["number"]))
    monkeypatch.setenv("GONGDAN_WECOM_APPROVAL_SECRET", "approval-secret-123")
    monkeypatch.setenv("GONGDAN_WECOM_BASE_URL", srv.url)
    caplog.set_level(logging.WARNING, logger="gongdan.callbacks")

    forged = wecom_post(approval_xml("202612010001", 2), token="guessed-token")
    r = await send(capi, "wecom", forged)
    assert r.status_code == 401, r.text
    assert r.json()["message_zh"] and r.json()["message_en"]
    refused = [rec for rec in caplog.records if "callback wecom refused" in rec.getMessage()]
    assert refused and refused[0].levelno == logging.WARNING
    assert all(secret not in caplog.text for secret in (TOKEN, AES_KEY, "approval-secret-123"))
    assert await state(capi, ticket["id"]) == "待审批"

    good = wecom_post(approval_xml("202612010001", 2))
    r = await send(capi, "wecom", good)
    assert r.status_code == 200 and r.content == b"success", r.text
    assert await state(capi, ticket["id"]) == "执行中"
    events = await timeline(capi, ticket["id"])
    approval = next(e for e in events if e["type"] == "approval_passed")
    assert approval["channel"] == "callback" and approval["actor"] == "wecom:wang"
    assert approval["data"]["approval_id"] == "202612010001"
    assert events[-1]["type"] == "state_changed" and events[-1]["after"] == {"state": "执行中"}

    # the same delivery again, and a fresh delivery of the same result: both refused
    r = await send(capi, "wecom", good)
    assert r.status_code == 409 and "replayed" in r.json()["message_en"], r.text
    again = wecom_post(approval_xml("202612010001", 2), nonce="99887766")
    r = await send(capi, "wecom", again)
    assert r.status_code == 409, r.text
    assert await timeline(capi, ticket["id"]) == events
    assert sum("replay" in rec.getMessage() for rec in caplog.records) >= 2


async def test_a_form_naming_another_ticket_than_the_recorded_one_is_refused(
    capi: Api, local_server: Any, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The applicant types the ticket number into the approval's form; the approval id
    recorded when it was started is the platform's own: when they disagree, nothing moves."""
    started_for, named = await new_ticket(capi), await new_ticket(capi)
    r = await capi.post(f"/api/tickets/{started_for['id']}/approvals",
                        {"source": "wecom", "approval_id": "202612010009"})
    assert r.status_code == 201, r.text
    srv = local_server(approval_detail_api("202612010009", named["number"]))
    monkeypatch.setenv("GONGDAN_WECOM_APPROVAL_SECRET", "approval-secret-123")
    monkeypatch.setenv("GONGDAN_WECOM_BASE_URL", srv.url)
    caplog.set_level(logging.WARNING, logger="gongdan.callbacks")
    r = await send(capi, "wecom", wecom_post(approval_xml("202612010009", 2)))
    assert r.status_code == 409 and r.json()["message_zh"] and r.json()["message_en"], r.text
    assert "names" in caplog.text
    assert await state(capi, started_for["id"]) == "待审批"
    assert await state(capi, named["id"]) == "待审批"


async def test_dingtalk_approval_moves_the_ticket_by_the_recorded_approval_id(
    capi: Api, caplog: pytest.LogCaptureFixture,
) -> None:
    ticket = await new_ticket(capi)
    other = await new_ticket(capi)
    r = await capi.post(f"/api/tickets/{ticket['id']}/approvals",
                        {"source": "dingtalk", "approval_id": "proc-dd-42"})
    assert r.status_code == 201, r.text
    r = await capi.post(f"/api/tickets/{other['id']}/approvals",
                        {"source": "dingtalk", "approval_id": "proc-dd-42"})
    assert r.status_code == 409, r.text

    # the URL check: answered with the encrypted success, nothing else happens
    r = await send(capi, "dingtalk", dingtalk_post({"EventType": "check_url"}))
    assert r.status_code == 200, r.text
    from gongdan_msgcrypt import MsgCrypt

    reply = r.json()
    assert set(reply) == {"msg_signature", "timeStamp", "nonce", "encrypt"}
    assert MsgCrypt(DD_TOKEN, DD_AES, DD_ENV["GONGDAN_DINGTALK_APP_KEY"]).decrypt(
        reply["encrypt"]) == "success"

    forged = dingtalk_post(finished("refuse", "proc-dd-42"), token="guess")
    assert (await send(capi, "dingtalk", forged)).status_code == 401
    assert "callback dingtalk refused" in caplog.text

    good = dingtalk_post(finished("refuse", "proc-dd-42"))
    r = await send(capi, "dingtalk", good)
    assert r.status_code == 200, r.text
    assert "encrypt" in r.json()
    assert await state(capi, ticket["id"]) == "已驳回"
    assert await state(capi, other["id"]) == "待审批"
    events = await timeline(capi, ticket["id"])

    # a restart forgets the verifiers' memory: the durable guard still refuses the replay
    plugins.set_plugin_manager(None)
    r = await send(capi, "dingtalk", good)
    assert r.status_code == 409, r.text
    assert r.json()["data"]["dedup_key"] == "dingtalk:proc-dd-42:refuse"
    assert await timeline(capi, ticket["id"]) == events


async def test_callbacks_need_a_known_source_and_no_token(capi: Api) -> None:
    r = await capi.client.post("/api/callbacks/nosuch", content=b"{}")
    assert r.status_code == 404 and r.json()["message_zh"], r.text
    # an approval no ticket opened (a leave request): acknowledged, nothing recorded
    r = await send(capi, "dingtalk", dingtalk_post(finished("agree", "proc-unrelated")))
    assert r.status_code == 200 and "encrypt" in json.loads(r.content)


async def test_wecom_url_verification_answers_the_decrypted_echo(capi: Api) -> None:
    query = {"msg_signature": "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
             "timestamp": "1409659589", "nonce": "263014780", "echostr": ECHOSTR}
    r = await capi.client.get("/api/callbacks/wecom", params=query)
    assert r.status_code == 200 and r.content == b"1616140317555161061", r.text
    r = await capi.client.get("/api/callbacks/wecom", params={**query, "nonce": "1"})
    assert r.status_code == 401 and r.json()["message_en"], r.text

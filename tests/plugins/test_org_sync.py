"""Org sync end to end: WeCom and DingTalk org charts from the local fake provider servers
(real HTTP) into teams, users and engineers, through POST /api/org/{source}/sync and
`gongdan org sync`, on SQLite and PostgreSQL. The first sync creates, the second changes
nothing, a moved person changes team and supervisor, a leaver who owns an open ticket is
flagged (kept, never routed to), one who owns none is deactivated (kept, inactive)."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
from click.testing import CliRunner
from litestar.testing import AsyncTestClient

from gongdan import plugins
from gongdan.app import create_app
from gongdan.cli import main
from gongdan.demo import REPAIR_FIELDS, REPAIR_STATES, demo_ticket
from gongdan.domain.engineers.services import routing_engineers, routing_index
from gongdan.settings import Settings
from tests.platform.conftest import Api, db_url, prepare_database
from tests.plugins import test_dingtalk, test_wecom

__all__ = ["db_url"]

WECOM_DEPTS = [
    {"id": 1, "name": "华东服务中心", "parentid": 0, "order": 1, "department_leader": ["wang"]},
    {"id": 2, "name": "杭州维修一组", "parentid": 1, "order": 2, "department_leader": ["li"]},
    {"id": 3, "name": "宁波维修组", "parentid": 1, "order": 3, "department_leader": ["qian"]},
]
WECOM_USERS = [
    {"userid": "wang", "name": "王主管", "department": [1], "position": "服务经理",
     "direct_leader": [], "status": 1, "mobile": "13900000000"},
    {"userid": "li", "name": "李组长", "department": [2, 1], "position": "组长",
     "direct_leader": ["wang"], "status": 1, "mobile": "13900000001"},
    {"userid": "qian", "name": "钱组长", "department": [3], "position": "组长",
     "direct_leader": ["wang"], "status": 1},
    {"userid": "zhao", "name": "赵工", "department": [2], "position": "维修工程师",
     "direct_leader": ["li"], "status": 1, "mobile": "13700000001", "email": "zhao@example.cn"},
    {"userid": "sun", "name": "孙工", "department": [2], "position": "维修工程师",
     "direct_leader": [], "status": 1, "mobile": "13700000002"},
]


async def routable(*keys: str) -> set[str]:
    """Which of `keys` routing can pick: the fresh roster and the process's routing index."""
    fresh = {e["id"] for e in await routing_engineers()}
    index, _ = await routing_index()
    indexed = {k for k in keys if index.get(k) is not None}
    assert fresh & set(keys) == indexed
    return indexed


class OrgApi(Api):
    app: Any

    async def in_app(self, fn: Any, *args: Any) -> Any:
        return await asyncio.to_thread(self.client.blocking_portal.call, fn, *args)

    async def sync(self, source: str, **body: Any) -> dict[str, Any]:
        r = await self.post(f"/api/org/{source}/sync", body or None)
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def engineers(self) -> dict[str, dict[str, Any]]:
        r = await self.get("/api/engineers")
        assert r.status_code == 200, r.text
        return {e["id"]: e for e in r.json()["items"]}

    async def ticket_for(self, person: str) -> dict[str, Any]:
        t = (await self.post("/api/lines/repair/tickets", demo_ticket(1))).json()
        r = await self.patch(f"/api/tickets/{t['id']}", {"version": t["version"],
                                                          "assignee": person})
        assert r.status_code == 200, r.text
        return dict(r.json())


@pytest.fixture
async def oapi(db_url: str, local_server: Any, monkeypatch: pytest.MonkeyPatch
               ) -> AsyncIterator[OrgApi]:
    monkeypatch.setattr(test_wecom, "DEPARTMENTS", copy.deepcopy(WECOM_DEPTS))
    monkeypatch.setattr(test_wecom, "USERS", copy.deepcopy(WECOM_USERS))
    monkeypatch.setattr(test_dingtalk, "MEMBERS", copy.deepcopy(test_dingtalk.MEMBERS))
    wecom = local_server(test_wecom.FakeWeCom())
    dingtalk = local_server(test_dingtalk.dingtalk_org_api())
    for key, value in {
        "GONGDAN_LOAD_PLUGINS": "wecom,dingtalk",
        "GONGDAN_WECOM_CORP_ID": test_wecom.CORP_ID,
        "GONGDAN_WECOM_CONTACTS_SECRET": test_wecom.CORP_SECRET,
        "GONGDAN_WECOM_BASE_URL": wecom.url,
        "GONGDAN_DINGTALK_APP_KEY": test_dingtalk.APP_KEY,
        "GONGDAN_DINGTALK_APP_SECRET": test_dingtalk.APP_SECRET,
        "GONGDAN_DINGTALK_BASE_URL": dingtalk.url,
    }.items():
        monkeypatch.setenv(key, value)
    plugins.set_plugin_manager(None)
    settings = Settings(database_url=db_url, token_cache_seconds=0, background=False)
    token = await prepare_database(settings)
    app = create_app(settings)
    try:
        async with AsyncTestClient(app=app) as client:
            api = OrgApi(client, token)
            api.app = app
            assert (await api.post("/api/lines", {"key": "repair", "name": "维修", "prefix": "WX"})
                    ).status_code == 201
            assert (await api.put("/api/lines/repair/form", {"fields": [
                msgspec.to_builtins(f) for f in REPAIR_FIELDS]})).status_code == 200
            assert (await api.put("/api/lines/repair/states", msgspec.to_builtins(REPAIR_STATES))
                    ).status_code == 200
            yield api
    finally:
        plugins.set_plugin_manager(None)


async def test_wecom_org_sync(oapi: OrgApi) -> None:
    first = await oapi.sync("wecom")
    assert (first["teams_created"], first["people_created"]) == (3, 5)
    teams = {t["key"]: t for t in (await oapi.get("/api/teams")).json()["items"]}
    assert teams["wecom:2"] == {"key": "wecom:2", "name": "杭州维修一组", "parent": "wecom:1",
                                "manager": "li", "source": "wecom", "active": True}
    engineers = await oapi.engineers()
    assert set(engineers) == {"zhao", "sun"}  # the leaders are supervisors, not engineers
    assert (engineers["zhao"]["team"], engineers["zhao"]["supervisor"]) == ("wecom:2", "li")
    assert engineers["zhao"]["phone"] == "13700000001"
    assert engineers["sun"]["supervisor"] == "li"  # no leader of their own: the department's
    users = {u["name"]: u for u in (await oapi.get("/api/users")).json()}
    assert users["li"]["role"] == "supervisor" and users["zhao"]["role"] == "engineer"
    assert users["zhao"]["profile"]["wecom_userid"] == "zhao"
    assert users["zhao"]["profile"]["email"] == "zhao@example.cn"

    second = await oapi.sync("wecom")
    assert second["changed"] == 0 and second["people_unchanged"] == 5
    assert await oapi.engineers() == engineers

    # sun moves to 宁波维修组: team and supervisor follow; nobody else is touched
    test_wecom.USERS[4]["department"] = [3]
    moved = await oapi.sync("wecom")
    assert (moved["people_updated"], moved["people_unchanged"], moved["changed"]) == (1, 4, 1)
    now = await oapi.engineers()
    assert (now["sun"]["team"], now["sun"]["supervisor"]) == ("wecom:3", "qian")
    assert now["zhao"] == engineers["zhao"]

    # zhao leaves owning an open ticket: flagged; sun leaves owning none: deactivated
    ticket = await oapi.ticket_for("zhao")
    assert await oapi.in_app(routable, "zhao", "sun") == {"zhao", "sun"}
    test_wecom.USERS[3]["status"] = 5
    del test_wecom.USERS[4]
    left = await oapi.sync("wecom")
    assert (left["people_flagged"], left["people_deactivated"]) == (1, 1)
    assert left["flagged"] == [{"person": "zhao", "open_tickets": 1}]
    now = await oapi.engineers()
    assert (now["zhao"]["active"], now["zhao"]["org_status"]) == (True, "left")
    assert (now["sun"]["active"], now["sun"]["org_status"]) == (False, "left")
    assert await oapi.in_app(routable, "zhao", "sun") == set()  # neither is routed to any more
    r = await oapi.get(f"/api/tickets/{ticket['id']}")
    assert r.json()["assignee"] == "zhao"  # the ticket and its history stay
    users = {u["name"]: u for u in (await oapi.get("/api/users")).json()}
    assert users["sun"]["active"] is False and users["zhao"]["active"] is True

    again = await oapi.sync("wecom")
    assert again["changed"] == 0 and again["flagged"] == [{"person": "zhao", "open_tickets": 1}]

    # sun comes back: active and routable again
    test_wecom.USERS.append(copy.deepcopy(WECOM_USERS[4]))
    back = await oapi.sync("wecom")
    assert back["people_reactivated"] == 1
    now = await oapi.engineers()
    assert (now["sun"]["active"], now["sun"]["org_status"]) == (True, "")
    assert await oapi.in_app(routable, "zhao", "sun") == {"sun"}
    r = await oapi.get("/api/org/wecom")
    assert r.status_code == 200 and r.json()["people_reactivated"] == 1


async def test_dingtalk_org_sync(oapi: OrgApi) -> None:
    dry = await oapi.sync("dingtalk", dry_run=True)
    assert dry["people_created"] == 6 and dry["dry_run"] is True
    assert await oapi.engineers() == {}  # the dry run wrote nothing
    first = await oapi.sync("dingtalk")
    assert {k: first[k] for k in ("teams_created", "people_created")} == \
        {"teams_created": 3, "people_created": 6}  # eng04 is inactive: never created
    engineers = await oapi.engineers()
    assert set(engineers) == {"eng01", "eng02", "eng03"}
    assert {e["supervisor"] for e in engineers.values()} == {"eng00"}
    assert {e["team"] for e in engineers.values()} == {"dingtalk:11"}
    assert (await oapi.sync("dingtalk"))["changed"] == 0

    members = test_dingtalk.MEMBERS
    eng03 = next(u for u in members[11] if u["userid"] == "eng03")
    members[11].remove(eng03)
    members[10].append({**eng03, "dept_id_list": [10]})
    moved = await oapi.sync("dingtalk")
    assert moved["people_updated"] == 1 and moved["changed"] == 1
    now = await oapi.engineers()
    assert (now["eng03"]["team"], now["eng03"]["supervisor"]) == ("dingtalk:10", "chen")

    await oapi.ticket_for("eng01")
    next(u for u in members[11] if u["userid"] == "eng01")["active"] = False
    members[11][:] = [u for u in members[11] if u["userid"] != "eng02"]  # gone from the chart
    left = await oapi.sync("dingtalk")
    assert (left["people_flagged"], left["people_deactivated"]) == (1, 1)
    now = await oapi.engineers()
    assert (now["eng01"]["active"], now["eng01"]["org_status"]) == (True, "left")
    assert now["eng02"]["active"] is False
    assert await oapi.in_app(routable, "eng01", "eng02", "eng03") == {"eng03"}


async def test_org_sync_errors(oapi: OrgApi, monkeypatch: pytest.MonkeyPatch) -> None:
    r = await oapi.post("/api/org/ldap/sync")
    assert r.status_code == 404 and "wecom" in r.json()["message_en"]
    viewer = await oapi.as_("v", "viewer")
    assert (await viewer.post("/api/org/wecom/sync")).status_code == 403
    monkeypatch.setenv("GONGDAN_DINGTALK_APP_SECRET", "wrong")
    r = await oapi.post("/api/org/dingtalk/sync")
    assert r.status_code == 502 and r.json()["message_zh"], r.text
    assert (await oapi.get("/api/org/dingtalk")).status_code == 404


def test_cli_org_sync(db_url: str, local_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(test_dingtalk, "MEMBERS", copy.deepcopy(test_dingtalk.MEMBERS))
    srv = local_server(test_dingtalk.dingtalk_org_api())
    for key, value in {"GONGDAN_LOAD_PLUGINS": "dingtalk", "GONGDAN_DATABASE_URL": db_url,
                       "GONGDAN_DINGTALK_APP_KEY": test_dingtalk.APP_KEY,
                       "GONGDAN_DINGTALK_APP_SECRET": test_dingtalk.APP_SECRET,
                       "GONGDAN_DINGTALK_BASE_URL": srv.url}.items():
        monkeypatch.setenv(key, value)
    plugins.set_plugin_manager(None)
    try:
        runner = CliRunner()
        dry = runner.invoke(main, ["org", "sync", "dingtalk", "--dry-run"])
        assert dry.exit_code == 0, dry.output
        assert "fetched 3 department(s), 7 user(s)" in dry.output
        assert "+ eng01 工程师1 (engineer, team dingtalk:11, supervisor eng00)" in dry.output
        assert "dry run" in dry.output
        real = runner.invoke(main, ["org", "sync", "dingtalk", "--json"])
        assert real.exit_code == 0, real.output
        summary = json.loads(real.output)
        assert summary["people_created"] == 6 and summary["dry_run"] is False
        again = runner.invoke(main, ["org", "sync", "dingtalk"])
        assert again.exit_code == 0 and "unchanged 6" in again.output, again.output
        missing = runner.invoke(main, ["org", "sync", "ldap"])
        assert missing.exit_code == 1 and "org source not found" in missing.output
    finally:
        plugins.set_plugin_manager(None)


async def test_a_local_account_of_the_same_name_is_never_taken_over(oapi: OrgApi) -> None:
    """A provider user whose id is the name of a local account not linked to that provider
    (say a local `zhao`, or `admin`) is skipped: the local account keeps its profile,
    its state and its notifications."""
    r = await oapi.post("/api/users", {"name": "zhao", "role": "dispatcher",
                                       "profile": {"phone": "13911112222"}})
    assert r.status_code == 201, r.text
    first = await oapi.sync("wecom")
    assert first["people_skipped"] == 1 and first["people_created"] == 4
    users = {u["name"]: u for u in (await oapi.get("/api/users")).json()}
    assert users["zhao"]["role"] == "dispatcher"
    assert users["zhao"]["profile"] == {"phone": "13911112222"}
    assert "zhao" not in await oapi.engineers()

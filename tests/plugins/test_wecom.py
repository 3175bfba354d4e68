"""gongdan_wecom against a local server that speaks WeCom's documented API."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field

import pytest

from gongdan.connectors import (
    OutgoingMessage,
    PermanentDeliveryError,
    RetryableDeliveryError,
    load_settings,
)
from gongdan_wecom import WeComAppConnector, WeComRobotConnector

ROBOT_KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
CORP_ID = "ww5e2f1b0c9d8a7b6c"
CORP_SECRET = "app-secret-7d9f0a1b2c3d4e5f"


def msg(**kw: object) -> OutgoingMessage:
    base: dict[str, object] = {
        "channel": "wecom", "text": "工单 GD-7 待接单", "idempotency_key": "k1"
    }
    base.update(kw)
    return OutgoingMessage(**base)  # type: ignore[arg-type]


@dataclass
class FakeWeCom:
    """Robot webhook + gettoken + message/send, checking requests like WeCom does."""

    robot_errcode: int = 0
    send_errcodes: list[int] = field(default_factory=list)  # consumed one per send
    expires_in: int = 7200
    tokens: set[str] = field(default_factory=set)
    gettoken_calls: int = 0
    sent: list[dict] = field(default_factory=list)

    def __call__(self, req):
        if req.path == "/cgi-bin/webhook/send":
            assert req.method == "POST"
            assert req.headers["content-type"].startswith("application/json")
            if req.query.get("key") != ROBOT_KEY:
                return 200, {}, {"errcode": 93000, "errmsg": "invalid webhook url"}
            body = req.json()
            assert body["msgtype"] in ("text", "markdown")
            assert isinstance(body[body["msgtype"]]["content"], str)
            if body["msgtype"] == "markdown":
                assert set(body["markdown"]) == {"content"}
            self.sent.append(body)
            code = self.robot_errcode
            return 200, {}, {"errcode": code, "errmsg": "ok" if code == 0 else "limit"}
        if req.path == "/cgi-bin/gettoken":
            assert req.method == "GET"
            self.gettoken_calls += 1
            if req.query != {"corpid": CORP_ID, "corpsecret": CORP_SECRET}:
                return 200, {}, {"errcode": 40001, "errmsg": "invalid credential"}
            token = secrets.token_hex(16)
            self.tokens.add(token)
            return 200, {}, {"errcode": 0, "errmsg": "ok", "access_token": token,
                             "expires_in": self.expires_in}
        if req.path == "/cgi-bin/message/send":
            assert req.method == "POST"
            if req.query.get("access_token") not in self.tokens:
                return 200, {}, {"errcode": 40014, "errmsg": "invalid access_token"}
            body = req.json()
            assert body["agentid"] == 1000002
            assert body["msgtype"] in ("text", "markdown")
            assert body["touser"] or body.get("toparty") or body.get("totag")
            self.sent.append(body)
            code = self.send_errcodes.pop(0) if self.send_errcodes else 0
            if code in (40014, 42001):
                self.tokens.clear()  # the token really is dead now
            if code:
                return 200, {}, {"errcode": code, "errmsg": "error"}
            return 200, {}, {"errcode": 0, "errmsg": "ok", "invaliduser": "ghost",
                             "msgid": "msgid-" + secrets.token_hex(4)}
        if req.path in ("/cgi-bin/department/list", "/cgi-bin/user/list"):
            assert req.method == "GET"
            if req.query.get("access_token") not in self.tokens:
                return 200, {}, {"errcode": 42001, "errmsg": "access_token expired"}
            if req.path == "/cgi-bin/department/list":
                return 200, {}, {"errcode": 0, "errmsg": "ok", "department": DEPARTMENTS}
            dept = int(req.query["department_id"])
            members = [u for u in USERS if dept in u["department"]]
            return 200, {}, {"errcode": 0, "errmsg": "ok", "userlist": members}
        raise AssertionError(f"unexpected path {req.path}")


DEPARTMENTS = [
    {"id": 1, "name": "华东服务中心", "parentid": 0, "order": 1, "department_leader": ["wang"]},
    {"id": 2, "name": "杭州维修一组", "parentid": 1, "order": 2, "department_leader": ["li"]},
]
USERS = [
    {"userid": "wang", "name": "王主管", "department": [1], "position": "服务经理",
     "direct_leader": [], "status": 1},
    {"userid": "li", "name": "李组长", "department": [1, 2], "position": "组长",
     "direct_leader": ["wang"], "status": 1, "mobile": "13900000001"},
    {"userid": "zhao", "name": "赵工", "department": [2], "position": "维修工程师",
     "direct_leader": ["li"], "status": 5},
]


def robot(url: str, key: str = ROBOT_KEY) -> WeComRobotConnector:
    env = {"GONGDAN_WECOM_ROBOT_KEY": key, "GONGDAN_WECOM_BASE_URL": url}
    return WeComRobotConnector.from_env(environ=env)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def app(url: str, secret: str = CORP_SECRET, clock: Clock | None = None) -> WeComAppConnector:
    env = {"GONGDAN_WECOM_CORP_ID": CORP_ID, "GONGDAN_WECOM_SECRET": secret,
           "GONGDAN_WECOM_AGENT_ID": "1000002", "GONGDAN_WECOM_BASE_URL": url}
    settings = load_settings("wecom", WeComAppConnector.settings, environ=env)
    return WeComAppConnector(settings, clock=clock or Clock())


def test_robot_text_with_mentions_and_markdown(local_server) -> None:
    fake = FakeWeCom()
    srv = local_server(fake)
    with robot(srv.url) as conn:
        conn.send(msg(to="zhangsan|@all", extra={"mentioned_mobile_list": ["13800001111"]}))
        conn.send(msg(text="## 超时\n> 工单 <font color=\"warning\">GD-7</font>", markdown=True))
    text, md = fake.sent
    assert text == {"msgtype": "text", "text": {
        "content": "工单 GD-7 待接单", "mentioned_list": ["zhangsan", "@all"],
        "mentioned_mobile_list": ["13800001111"]}}
    assert md["msgtype"] == "markdown" and md["markdown"]["content"].startswith("## 超时")


def test_robot_bad_key_is_permanent(local_server) -> None:
    srv = local_server(FakeWeCom())
    with robot(srv.url, key="wrong-key-123456") as conn, \
            pytest.raises(PermanentDeliveryError) as info:
        conn.send(msg())
    assert info.value.provider_code == 93000


def test_robot_rate_limit_is_retryable(local_server) -> None:
    srv = local_server(FakeWeCom(robot_errcode=45009))
    with robot(srv.url) as conn, pytest.raises(RetryableDeliveryError) as info:
        conn.send(msg())
    assert info.value.provider_code == 45009


def test_robot_key_never_reaches_the_logs(local_server, caplog) -> None:
    from gongdan.plugins import make_plugin_manager

    make_plugin_manager(load_entrypoints=False)
    srv = local_server(FakeWeCom())
    with caplog.at_level(logging.DEBUG), robot(srv.url) as conn:
        conn.send(msg())
        assert ROBOT_KEY not in repr(conn)
    assert "webhook/send" in caplog.text  # httpx did log the request...
    assert ROBOT_KEY not in caplog.text  # ...without the key


def test_app_message_caches_the_token_until_it_expires(local_server) -> None:
    fake = FakeWeCom(expires_in=7200)
    srv = local_server(fake)
    clock = Clock()
    with app(srv.url, clock=clock) as conn:
        r1 = conn.send(msg(to="zhangsan|lisi"))
        conn.send(msg(to="zhangsan", markdown=True, text="**GD-7** 已超时"))
        assert fake.gettoken_calls == 1
        clock.now += 7200  # past expires_in
        conn.send(msg(to="zhangsan"))
        assert fake.gettoken_calls == 2
    assert r1.provider_message_id and r1.provider_message_id.startswith("msgid-")
    assert r1.detail == {"invaliduser": "ghost"}
    first, second, _ = fake.sent
    assert first == {"touser": "zhangsan|lisi", "agentid": 1000002, "msgtype": "text",
                     "text": {"content": "工单 GD-7 待接单"}}
    assert second["markdown"] == {"content": "**GD-7** 已超时"}


@pytest.mark.parametrize("code", [40014, 42001])
def test_app_message_refetches_a_dead_token_once(local_server, code: int) -> None:
    fake = FakeWeCom(send_errcodes=[code])
    srv = local_server(fake)
    with app(srv.url) as conn:
        conn.send(msg(to="zhangsan"))
    assert fake.gettoken_calls == 2
    assert len(fake.sent) == 2


def test_app_message_token_dead_twice_is_retryable(local_server) -> None:
    srv = local_server(FakeWeCom(send_errcodes=[42001, 42001]))
    with app(srv.url) as conn, pytest.raises(RetryableDeliveryError):
        conn.send(msg(to="zhangsan"))


def test_app_message_bad_secret_is_permanent(local_server) -> None:
    srv = local_server(FakeWeCom())
    with app(srv.url, secret="wrong-secret-abcdef") as conn, \
            pytest.raises(PermanentDeliveryError) as info:
        conn.send(msg(to="zhangsan"))
    assert info.value.provider_code == 40001


@pytest.mark.parametrize(("code", "error"), [
    (45009, RetryableDeliveryError), (-1, RetryableDeliveryError),
    (81013, PermanentDeliveryError), (60020, PermanentDeliveryError),
])
def test_app_message_errcodes(local_server, code: int, error: type[Exception]) -> None:
    srv = local_server(FakeWeCom(send_errcodes=[code]))
    with app(srv.url) as conn, pytest.raises(error):
        conn.send(msg(to="zhangsan"))


def test_app_message_needs_a_recipient(local_server) -> None:
    srv = local_server(FakeWeCom())
    with app(srv.url) as conn, pytest.raises(PermanentDeliveryError):
        conn.send(msg(to=""))


def test_org_source_reads_departments_users_and_leaders(local_server) -> None:
    from gongdan_wecom import WeComOrgSource

    fake = FakeWeCom()
    srv = local_server(fake)
    env = {"GONGDAN_WECOM_CORP_ID": CORP_ID, "GONGDAN_WECOM_CONTACTS_SECRET": CORP_SECRET,
           "GONGDAN_WECOM_BASE_URL": srv.url}
    snap = WeComOrgSource(environ=env).fetch()
    assert snap.complete and snap.source == "wecom"
    assert [(d.id, d.parent_id, d.leader_ids) for d in snap.departments] == [
        ("1", None, ("wang",)), ("2", "1", ("li",))]
    users = {u.id: u for u in snap.users}
    assert set(users) == {"wang", "li", "zhao"}  # li listed twice, kept once
    assert users["li"].department_ids == ("1", "2") and users["li"].manager_ids == ("wang",)
    assert users["li"].mobile == "13900000001" and users["li"].title == "组长"
    assert users["zhao"].active is False  # status 5: left the company
    assert fake.gettoken_calls == 1


def test_long_text_is_cut_to_wecom_byte_limits(local_server) -> None:
    from gongdan.connectors import truncate_utf8

    assert truncate_utf8("工单" * 10, 10) == "工单…"  # 7 bytes of room: two characters
    assert truncate_utf8("short", 10) == "short"
    fake = FakeWeCom()
    srv = local_server(fake)
    with robot(srv.url) as conn:
        conn.send(msg(text="超时" * 2000))
    content = fake.sent[0]["text"]["content"]
    assert len(content.encode()) <= 2048 and content.endswith("…")

"""gongdan_dingtalk against a local robot endpoint that checks DingTalk's 加签 itself."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from urllib.parse import quote_plus

import pytest

from gongdan.connectors import OutgoingMessage, PermanentDeliveryError, RetryableDeliveryError
from gongdan_dingtalk import DingTalkRobotConnector
from gongdan_dingtalk.connector import sign

TOKEN = "b2c4e6a8d0f1e3c5a7b9d1f3e5c7a9b1d3f5e7c9a1b3d5f7e9c1a3b5d7f9e1c3"
SECRET = "SEC7d1c0e6f2b8a4c9d3e5f7a1b2c4d6e8f0a9b7c5d3e1f2a4b6c8d0e9f7a5b3c1d"


def expected_sign(timestamp: str, secret: str) -> str:
    """DingTalk's documented Python sample, independent of the plugin."""
    secret_enc = secret.encode("utf-8")
    string_to_sign_enc = f"{timestamp}\n{secret}".encode()
    hmac_code = hmac.new(secret_enc, string_to_sign_enc, digestmod=hashlib.sha256).digest()
    return quote_plus(base64.b64encode(hmac_code))


def robot_endpoint(errcode: int = 0, keyword: str = ""):
    sent: list[dict] = []

    def app(req):
        assert req.method == "POST" and req.path == "/robot/send"
        assert req.headers["content-type"].startswith("application/json")
        if req.query.get("access_token") != TOKEN:
            return 200, {}, {"errcode": 300001, "errmsg": "token is not exist"}
        ts = req.query["timestamp"]
        assert abs(int(ts) - time.time() * 1000) < 3600_000
        raw_sign = dict(p.split("=", 1) for p in req.raw_query.split("&"))["sign"]
        if raw_sign != expected_sign(ts, SECRET):
            return 200, {}, {"errcode": 310000, "errmsg": "sign not match"}
        body = req.json()
        if body["msgtype"] == "text":
            content = body["text"]["content"]
        else:
            content = body["markdown"]["title"] + body["markdown"]["text"]
        if keyword and keyword not in content:
            return 200, {}, {"errcode": 310000, "errmsg": "keywords not in content"}
        sent.append(body)
        return 200, {}, {"errcode": errcode, "errmsg": "ok" if not errcode else "error"}

    app.sent = sent  # type: ignore[attr-defined]
    return app


def connector(url: str, secret: str = SECRET) -> DingTalkRobotConnector:
    env = {"GONGDAN_DINGTALK_ACCESS_TOKEN": TOKEN, "GONGDAN_DINGTALK_SECRET": secret,
           "GONGDAN_DINGTALK_BASE_URL": url}
    return DingTalkRobotConnector.from_env(environ=env)


def msg(**kw: object) -> OutgoingMessage:
    base: dict[str, object] = {"channel": "dingtalk", "text": "【工单】GD-9 已派给你",
                               "idempotency_key": "k"}
    base.update(kw)
    return OutgoingMessage(**base)  # type: ignore[arg-type]


def test_sign_matches_the_documented_algorithm() -> None:
    assert quote_plus(sign("this is secret", 1577262236757)) == expected_sign(
        "1577262236757", "this is secret")


def test_text_and_markdown_are_signed_and_accepted(local_server) -> None:
    app = robot_endpoint(keyword="工单")
    srv = local_server(app)
    with connector(srv.url) as conn:
        conn.send(msg(to="13800000000|manager01"))
        conn.send(msg(markdown=True, subject="工单超时", text="### GD-9\n> 已超时 30 分钟",
                      to="@all"))
    text, md = app.sent
    assert text == {"msgtype": "text", "text": {"content": "【工单】GD-9 已派给你"},
                    "at": {"atMobiles": ["13800000000"], "atUserIds": ["manager01"],
                           "isAtAll": False}}
    assert md["markdown"] == {"title": "工单超时", "text": "### GD-9\n> 已超时 30 分钟"}
    assert md["at"]["isAtAll"] is True


def test_wrong_secret_is_permanent(local_server) -> None:
    srv = local_server(robot_endpoint())
    with connector(srv.url, secret="SECwrong0123456789") as conn, \
            pytest.raises(PermanentDeliveryError) as info:
        conn.send(msg())
    assert info.value.provider_code == 310000


def test_missing_keyword_is_permanent(local_server) -> None:
    srv = local_server(robot_endpoint(keyword="报警"))
    with connector(srv.url) as conn, pytest.raises(PermanentDeliveryError):
        conn.send(msg())


@pytest.mark.parametrize("code", [130101, 410100, 90030])
def test_rate_limits_are_retryable(local_server, code: int) -> None:
    srv = local_server(robot_endpoint(errcode=code))
    with connector(srv.url) as conn, pytest.raises(RetryableDeliveryError) as info:
        conn.send(msg())
    assert info.value.provider_code == code and info.value.retry_after


def test_server_error_is_retryable(local_server) -> None:
    srv = local_server(lambda req: (502, {}, "bad gateway"))
    with connector(srv.url) as conn, pytest.raises(RetryableDeliveryError):
        conn.send(msg())


# --- org sync source --------------------------------------------------------------

APP_KEY, APP_SECRET = "dingq8x7w6v5u4t3s2r1", "app-secret-Zp9Yx8Wv7Ut6"
SUBS = {1: [{"dept_id": 10, "name": "售后服务部", "parent_id": 1}],
        10: [{"dept_id": 11, "name": "西湖区维修组", "parent_id": 10}], 11: []}
MEMBERS = {
    1: [{"userid": "boss", "name": "周总", "dept_id_list": [1], "leader": True, "active": True}],
    10: [{"userid": "chen", "name": "陈经理", "dept_id_list": [10], "leader": True,
          "active": True, "title": "服务经理"}],
    11: [{"userid": f"eng{i:02d}", "name": f"工程师{i}", "dept_id_list": [11], "leader": i == 0,
          "active": i != 4, "mobile": f"1370000{i:04d}"} for i in range(5)],
}


def dingtalk_org_api():
    calls = {"gettoken": 0}

    def app(req):
        if req.path == "/gettoken":
            assert req.method == "GET"
            calls["gettoken"] += 1
            if req.query != {"appkey": APP_KEY, "appsecret": APP_SECRET}:
                return 200, {}, {"errcode": 40089, "errmsg": "不合法的corpid或corpsecret"}
            return 200, {}, {"errcode": 0, "access_token": "tok-dd-1", "expires_in": 7200}
        assert req.method == "POST" and req.query == {"access_token": "tok-dd-1"}
        body = req.json()
        if req.path == "/topapi/v2/department/get":
            assert body == {"dept_id": 1}
            return 200, {}, {"errcode": 0, "result": {"dept_id": 1, "name": "杭州某电器"}}
        if req.path == "/topapi/v2/department/listsub":
            return 200, {}, {"errcode": 0, "result": SUBS[body["dept_id"]]}
        if req.path == "/topapi/v2/user/list":
            members = MEMBERS[body["dept_id"]]
            start, size = body["cursor"], body["size"]
            page = members[start:start + size]
            more = start + size < len(members)
            return 200, {}, {"errcode": 0, "result": {
                "has_more": more, "next_cursor": start + size if more else None, "list": page}}
        raise AssertionError(req.path)

    app.calls = calls  # type: ignore[attr-defined]
    return app


def test_org_source_walks_the_tree_and_pages(local_server) -> None:
    from gongdan_dingtalk import DingTalkOrgSource

    api = dingtalk_org_api()
    srv = local_server(api)
    source = DingTalkOrgSource(environ={
        "GONGDAN_DINGTALK_APP_KEY": APP_KEY, "GONGDAN_DINGTALK_APP_SECRET": APP_SECRET,
        "GONGDAN_DINGTALK_BASE_URL": srv.url})
    source.page_size = 2  # force cursor paging
    snap = source.fetch()
    source.fetch()
    assert api.calls["gettoken"] == 1  # token cached across fetches
    assert [(d.id, d.parent_id, d.leader_ids) for d in snap.departments] == [
        ("1", None, ("boss",)), ("10", "1", ("chen",)), ("11", "10", ("eng00",))]
    users = {u.id: u for u in snap.users}
    assert len(users) == 7
    assert users["eng03"].manager_ids == ("eng00",) and users["eng00"].manager_ids == ()
    assert users["eng04"].active is False and users["eng02"].mobile == "13700000002"


def test_org_source_bad_credentials_are_permanent(local_server) -> None:
    from gongdan_dingtalk import DingTalkOrgSource

    srv = local_server(dingtalk_org_api())
    source = DingTalkOrgSource(environ={
        "GONGDAN_DINGTALK_APP_KEY": APP_KEY, "GONGDAN_DINGTALK_APP_SECRET": "wrong",
        "GONGDAN_DINGTALK_BASE_URL": srv.url})
    with pytest.raises(PermanentDeliveryError):
        source.fetch()


# --- work notifications ----------------------------------------------------------

def work_api(errcodes: list[int] | None = None):
    state = {"gettoken": 0, "tokens": set(), "sent": []}
    errcodes = list(errcodes or [])

    def app(req):
        if req.path == "/gettoken":
            state["gettoken"] += 1
            if req.query != {"appkey": APP_KEY, "appsecret": APP_SECRET}:
                return 200, {}, {"errcode": 40089, "errmsg": "invalid appkey or appsecret"}
            token = f"tok-{state['gettoken']}"
            state["tokens"].add(token)
            return 200, {}, {"errcode": 0, "access_token": token, "expires_in": 7200}
        assert req.path == "/topapi/message/corpconversation/asyncsend_v2"
        assert req.method == "POST" and req.headers["content-type"].startswith("application/json")
        if req.query.get("access_token") not in state["tokens"]:
            return 200, {}, {"errcode": 40014, "errmsg": "不合法的access_token"}
        body = req.json()
        assert body["agent_id"] == 2890123 and body["msg"]["msgtype"] in ("text", "markdown")
        code = errcodes.pop(0) if errcodes else 0
        if code in (40014, 42001):
            state["tokens"].clear()
        if code:
            return 200, {}, {"errcode": code, "errmsg": "error"}
        state["sent"].append(body)
        return 200, {}, {"errcode": 0, "task_id": 256271667526, "request_id": "4jzllmte0wau"}

    app.state = state  # type: ignore[attr-defined]
    return app


def work(url: str, secret: str = APP_SECRET):
    from gongdan_dingtalk import DingTalkWorkConnector

    env = {"GONGDAN_DINGTALK_APP_KEY": APP_KEY, "GONGDAN_DINGTALK_APP_SECRET": secret,
           "GONGDAN_DINGTALK_AGENT_ID": "2890123", "GONGDAN_DINGTALK_BASE_URL": url}
    return DingTalkWorkConnector.from_env(environ=env)


def test_work_notification_text_and_markdown(local_server) -> None:
    api = work_api()
    srv = local_server(api)
    with work(srv.url) as conn:
        receipt = conn.send(msg(channel="dingtalk_work", to="manager01|eng02"))
        conn.send(msg(channel="dingtalk_work", to="eng02", markdown=True, subject="工单超时",
                      text="### GD-9\n已超时"))
    assert receipt.provider_message_id == "256271667526"
    text, md = api.state["sent"]
    assert text["userid_list"] == "manager01,eng02"
    assert text["msg"] == {"msgtype": "text", "text": {"content": "【工单】GD-9 已派给你"}}
    assert md["msg"]["markdown"] == {"title": "工单超时", "text": "### GD-9\n已超时"}
    assert api.state["gettoken"] == 1


def test_work_notification_refetches_a_dead_token_and_classifies(local_server) -> None:
    api = work_api([42001, 90018])
    srv = local_server(api)
    with work(srv.url) as conn:
        with pytest.raises(RetryableDeliveryError):  # 42001 -> new token -> 90018 rate limit
            conn.send(msg(channel="dingtalk_work", to="eng02"))
        assert api.state["gettoken"] == 2
        with pytest.raises(PermanentDeliveryError):
            conn.send(msg(channel="dingtalk_work", to=""))
    with work(srv.url, secret="wrong") as conn, pytest.raises(PermanentDeliveryError):
        conn.send(msg(channel="dingtalk_work", to="eng02"))


def test_local_rate_limit_spares_the_robot(local_server) -> None:
    app = robot_endpoint()
    srv = local_server(app)
    env = {"GONGDAN_DINGTALK_ACCESS_TOKEN": TOKEN, "GONGDAN_DINGTALK_SECRET": SECRET,
           "GONGDAN_DINGTALK_BASE_URL": srv.url, "GONGDAN_DINGTALK_ROBOT_RATE_LIMIT": "2"}
    first, second = (DingTalkRobotConnector.from_env(environ=env) for _ in range(2))
    with first, second:  # two instances (two outbox threads) share one window
        first.send(msg())
        second.send(msg())
        with pytest.raises(RetryableDeliveryError) as info:
            first.send(msg())
    assert info.value.provider_code == "local-rate-limit"
    assert 0 < (info.value.retry_after or 0) <= 60
    assert len(app.sent) == 2


def test_rate_limiter_window_slides() -> None:
    from gongdan.connectors import RateLimiter

    now = [0.0]
    limiter = RateLimiter(2, 60.0, clock=lambda: now[0])
    limiter.acquire("x")
    now[0] = 30.0
    limiter.acquire("x")
    with pytest.raises(RetryableDeliveryError) as info:
        limiter.acquire("x")
    assert info.value.retry_after == pytest.approx(30.0)
    now[0] = 60.5  # the first send left the window
    limiter.acquire("x")

"""WeCom and DingTalk callbacks: the official WeCom vector, then approvals end to end.

Test callbacks are encrypted here with ``cryptography`` directly, following the
providers' documented layout, not with the plugins' own code.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
import time
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from gongdan.hookspecs import CallbackRejected, InboundCallback
from gongdan_msgcrypt import CryptError, MsgCrypt
from gongdan_wecom import WeComApprovalVerifier

# WeCom's published sample (developer.work.weixin.qq.com, 加解密方案说明)
TOKEN, AES_KEY, CORP_ID = "QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", \
    "wx5823bf96d3bd56c7"
ECHOSTR = ("P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+"
           "FZXvnaqQ==")


def provider_encrypt(message: str, aes_key: str, receive_id: str) -> str:
    key = base64.b64decode(aes_key + "=")
    plain = os.urandom(16) + struct.pack(">I", len(message.encode())) + message.encode() \
        + receive_id.encode()
    pad = 32 - len(plain) % 32
    plain += bytes([pad]) * pad
    enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(enc.update(plain) + enc.finalize()).decode()


def provider_sign(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypted])).encode()).hexdigest()


def test_wecom_official_vector() -> None:
    crypt = MsgCrypt(TOKEN, AES_KEY, CORP_ID)
    assert crypt.signature("1409659589", "263014780", ECHOSTR) == \
        "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"
    assert crypt.decrypt(ECHOSTR) == "1616140317555161061"
    with pytest.raises(CryptError):
        MsgCrypt(TOKEN, AES_KEY, "another-corp").decrypt(ECHOSTR)


WECOM_ENV = {"GONGDAN_WECOM_CORP_ID": CORP_ID, "GONGDAN_WECOM_CALLBACK_TOKEN": TOKEN,
             "GONGDAN_WECOM_CALLBACK_AES_KEY": AES_KEY}


def test_wecom_url_check_echoes() -> None:
    cb = InboundCallback(path="wecom", method="GET", query={
        "msg_signature": "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", "timestamp": "1409659589",
        "nonce": "263014780", "echostr": ECHOSTR})
    result = WeComApprovalVerifier(environ=WECOM_ENV).verify(cb)
    assert result.event is None and result.reply.body == b"1616140317555161061"


def approval_xml(sp_no: str, status: int) -> str:
    return f"""<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>
<FromUserName><![CDATA[sys]]></FromUserName><CreateTime>{int(time.time())}</CreateTime>
<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[sys_approval_change]]></Event>
<AgentID>1000002</AgentID><ApprovalInfo><SpNo>{sp_no}</SpNo>
<SpName><![CDATA[备件领用]]></SpName><SpStatus>{status}</SpStatus>
<SpRecord><SpStatus>{status}</SpStatus><ApproverAttr>1</ApproverAttr><Details>
<Approver><UserId><![CDATA[wang]]></UserId></Approver><Speech><![CDATA[同意领用]]></Speech>
<SpStatus>{status}</SpStatus><SpTime>{int(time.time())}</SpTime></Details></SpRecord>
</ApprovalInfo></xml>"""


def wecom_post(inner: str, *, stamp: int | None = None, token: str = TOKEN,
               nonce: str = "1372623149") -> InboundCallback:
    encrypted = provider_encrypt(inner, AES_KEY, CORP_ID)
    ts = str(stamp if stamp is not None else int(time.time()))
    body = (f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
            f"<Encrypt><![CDATA[{encrypted}]]></Encrypt><AgentID>1000002</AgentID></xml>")
    return InboundCallback(path="wecom", method="POST", body=body.encode(),
                           received_at=datetime.now(UTC), query={
                               "msg_signature": provider_sign(token, ts, nonce, encrypted),
                               "timestamp": ts, "nonce": nonce})


@pytest.mark.parametrize(("status", "event_type"), [(2, "approval_passed"),
                                                     (3, "approval_rejected")])
def test_wecom_approval_becomes_an_event(status: int, event_type: str) -> None:
    result = WeComApprovalVerifier(environ=WECOM_ENV).verify(
        wecom_post(approval_xml("202611250001", status)))
    event = result.event
    assert event is not None and event.event_type == event_type
    assert event.approval_id == "202611250001" and event.ticket_ref == ""
    assert event.actor == "wang" and event.fields["comment"] == "同意领用"
    assert event.fields["kind"] == "备件领用"  # rules filter on it: approval_passed(kind = …)
    assert event.dedup_key == f"wecom:202611250001:{status}"


def test_wecom_pending_approval_is_acknowledged_without_event() -> None:
    result = WeComApprovalVerifier(environ=WECOM_ENV).verify(
        wecom_post(approval_xml("202611250002", 1)))
    assert result.event is None and result.reply.status == 200


@pytest.mark.parametrize("case", ["forged", "stale", "replayed", "tampered"])
def test_wecom_bad_callbacks_are_refused(case: str) -> None:
    verifier = WeComApprovalVerifier(environ=WECOM_ENV)
    inner = approval_xml("202611250003", 2)
    if case == "forged":
        cb = wecom_post(inner, token="not-the-token")
    elif case == "stale":
        cb = wecom_post(inner, stamp=int(time.time()) - 3600)
    elif case == "replayed":
        cb = wecom_post(inner)
        verifier.verify(cb)
    else:
        good = wecom_post(inner)
        cb = InboundCallback(path="wecom", query=good.query, received_at=good.received_at,
                             body=good.body.replace(b"<Encrypt><![CDATA[", b"<Encrypt><![CDATA[A"))
    with pytest.raises(CallbackRejected):
        verifier.verify(cb)


# --- DingTalk ------------------------------------------------------------------------

DD_TOKEN, DD_AES, DD_APP_KEY = "dd-token-0f9e8d", "a" * 21 + "B" * 22, "dingq8x7w6v5u4t3s2r1"
DD_ENV = {"GONGDAN_DINGTALK_APP_KEY": DD_APP_KEY, "GONGDAN_DINGTALK_CALLBACK_TOKEN": DD_TOKEN,
          "GONGDAN_DINGTALK_CALLBACK_AES_KEY": DD_AES}


def dingtalk_post(payload: dict, *, stamp_ms: int | None = None, token: str = DD_TOKEN,
                  nonce: str = "nx8Yq2") -> InboundCallback:
    encrypted = provider_encrypt(json.dumps(payload), DD_AES, DD_APP_KEY)
    ts = str(stamp_ms if stamp_ms is not None else int(time.time() * 1000))
    return InboundCallback(path="dingtalk", body=json.dumps({"encrypt": encrypted}).encode(),
                           received_at=datetime.now(UTC), query={
                               "signature": provider_sign(token, ts, nonce, encrypted),
                               "timestamp": ts, "nonce": nonce})


def finished(result: str, instance: str = "a1b2c3-proc-0001") -> dict:
    return {"EventType": "bpms_instance_change", "processInstanceId": instance,
            "corpId": "ding0001", "type": "finish", "result": result, "title": "备件领用",
            "staffId": "manager01", "finishTime": int(time.time() * 1000)}


def test_dingtalk_reply_is_an_encrypted_success() -> None:
    from gongdan_dingtalk import DingTalkApprovalVerifier

    result = DingTalkApprovalVerifier(environ=DD_ENV).verify(
        dingtalk_post({"EventType": "check_url"}))
    assert result.event is None
    reply = json.loads(result.reply.body)
    assert provider_sign(DD_TOKEN, reply["timeStamp"], reply["nonce"], reply["encrypt"]) \
        == reply["msg_signature"]
    assert MsgCrypt(DD_TOKEN, DD_AES, DD_APP_KEY).decrypt(reply["encrypt"]) == "success"


@pytest.mark.parametrize(("result", "event_type"), [("agree", "approval_passed"),
                                                    ("refuse", "approval_rejected")])
def test_dingtalk_approval_becomes_an_event(result: str, event_type: str) -> None:
    from gongdan_dingtalk import DingTalkApprovalVerifier

    out = DingTalkApprovalVerifier(environ=DD_ENV).verify(dingtalk_post(finished(result)))
    assert out.event is not None and out.event.event_type == event_type
    assert out.event.approval_id == "a1b2c3-proc-0001" and out.event.actor == "manager01"
    assert out.event.dedup_key == f"dingtalk:a1b2c3-proc-0001:{result}"


@pytest.mark.parametrize("case", ["forged", "stale", "replayed", "other app"])
def test_dingtalk_bad_callbacks_are_refused(case: str) -> None:
    from gongdan_dingtalk import DingTalkApprovalVerifier

    verifier = DingTalkApprovalVerifier(environ=DD_ENV)
    if case == "forged":
        cb = dingtalk_post(finished("agree"), token="guess")
    elif case == "stale":
        cb = dingtalk_post(finished("agree"), stamp_ms=int(time.time() * 1000) - 3_600_000)
    elif case == "replayed":
        cb = dingtalk_post(finished("agree"))
        verifier.verify(cb)
    else:
        verifier = DingTalkApprovalVerifier(environ={**DD_ENV,
                                                     "GONGDAN_DINGTALK_APP_KEY": "dingother"})
        cb = dingtalk_post(finished("agree"))
    with pytest.raises(CallbackRejected):
        verifier.verify(cb)


def approval_detail_api(sp_no: str, ticket: str):
    def app(req):
        if req.path == "/cgi-bin/gettoken":
            assert req.query == {"corpid": CORP_ID, "corpsecret": "approval-secret-123"}
            return 200, {}, {"errcode": 0, "access_token": "tok-approval", "expires_in": 7200}
        assert req.path == "/cgi-bin/oa/getapprovaldetail" and req.method == "POST"
        assert req.query == {"access_token": "tok-approval"}
        if req.json() != {"sp_no": sp_no}:
            return 200, {}, {"errcode": 301025, "errmsg": "sp_no not exist"}
        return 200, {}, {"errcode": 0, "errmsg": "ok", "info": {
            "sp_no": sp_no, "sp_name": "备件领用", "sp_status": 2,
            "apply_data": {"contents": [
                {"control": "Text", "id": "Text-1", "title": [{"text": "备件", "lang": "zh_CN"}],
                 "value": {"text": "主轴轴承"}},
                {"control": "Text", "id": "Text-2", "title": [{"text": "工单号", "lang": "zh_CN"}],
                 "value": {"text": ticket}},
            ]}}}
    return app


def test_wecom_approval_ticket_is_read_from_the_approval_form(local_server) -> None:
    srv = local_server(approval_detail_api("202611250009", "GD-20261125-0042"))
    env = {**WECOM_ENV, "GONGDAN_WECOM_APPROVAL_SECRET": "approval-secret-123",
           "GONGDAN_WECOM_BASE_URL": srv.url}
    verifier = WeComApprovalVerifier(environ=env)
    try:
        event = verifier.verify(wecom_post(approval_xml("202611250009", 2))).event
        assert event is not None and event.ticket_ref == "GD-20261125-0042"
        # an approval WeCom does not know: the event still comes, without a ticket number
        other = verifier.verify(wecom_post(approval_xml("202611250010", 3), nonce="2")).event
        assert other is not None and other.ticket_ref == "" and other.approval_id
    finally:
        verifier.close()


def test_dingtalk_approval_ticket_is_read_from_the_instance_form(local_server) -> None:
    from gongdan_dingtalk import DingTalkApprovalVerifier

    def api(req):
        if req.path == "/gettoken":
            assert req.query == {"appkey": DD_APP_KEY, "appsecret": "dd-app-secret-99"}
            return 200, {}, {"errcode": 0, "access_token": "tok-dd", "expires_in": 7200}
        assert req.path == "/topapi/processinstance/get" and req.query == {"access_token": "tok-dd"}
        if req.json() != {"process_instance_id": "proc-7"}:
            return 200, {}, {"errcode": 90003, "errmsg": "instance not found"}
        return 200, {}, {"errcode": 0, "process_instance": {
            "title": "工艺变更", "status": "COMPLETED", "result": "agree",
            "form_component_values": [{"name": "变更内容", "value": "焊接电流 180A→170A"},
                                      {"name": "工单号", "value": "GD-20261125-0100"}]}}

    srv = local_server(api)
    env = {**DD_ENV, "GONGDAN_DINGTALK_APP_SECRET": "dd-app-secret-99",
           "GONGDAN_DINGTALK_BASE_URL": srv.url}
    verifier = DingTalkApprovalVerifier(environ=env)
    try:
        event = verifier.verify(dingtalk_post(finished("agree", "proc-7"))).event
        assert event is not None and event.ticket_ref == "GD-20261125-0100"
        assert event.fields["kind"] == "备件领用"
        other = verifier.verify(dingtalk_post(finished("refuse", "proc-8"), nonce="n2")).event
        assert other is not None and other.ticket_ref == "" and other.approval_id == "proc-8"
    finally:
        verifier.close()

"""gongdan_sms and gongdan_voice against a local Aliyun RPC endpoint.

The endpoint re-derives the signature v1 itself from the received form body and answers
with Aliyun's own error shapes (InvalidAccessKeyId.NotFound as HTTP 404,
SignatureDoesNotMatch as 400, isv.* business errors as 200 with a Code).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import uuid
from collections import Counter
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote

import pytest

from gongdan.connectors import OutgoingMessage, PermanentDeliveryError, RetryableDeliveryError
from gongdan_aliyun import sign
from gongdan_sms import AliyunSmsConnector
from gongdan_voice import AliyunVoiceConnector

AK_ID = "LTAI5tQmX8fKb2zN3pR7wYvH"
AK_SECRET = "q9Zr2Lw8Xv4Nt6Bp1Ks3Hd5Fj7Gm0C"
SIGN_NAME = "工单云售后"


def independent_signature(secret: str, method: str, params: dict[str, str]) -> str:
    """Signature v1 re-derived from Aliyun's documented steps, without the plugin."""
    def enc(s: str) -> str:
        return quote(s.encode("utf-8"), safe="").replace("+", "%20").replace("*", "%2A") \
            .replace("%7E", "~")

    pairs = sorted((k, v) for k, v in params.items() if k != "Signature")
    canonical = "&".join(enc(k) + "=" + enc(v) for k, v in pairs)
    to_sign = method + "&" + enc("/") + "&" + enc(canonical)
    return base64.b64encode(
        hmac.new((secret + "&").encode(), to_sign.encode(), hashlib.sha1).digest()
    ).decode()


def test_signature_matches_aliyun_documented_example() -> None:
    # the SendSms example of Aliyun's signature documentation (GET, Format=XML)
    params = {
        "AccessKeyId": "testId", "Action": "SendSms", "Format": "XML", "OutId": "123",
        "PhoneNumbers": "15300000001", "RegionId": "cn-hangzhou",
        "SignName": "阿里云短信测试专用", "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466", "SignatureVersion": "1.0",
        "TemplateCode": "SMS_71390007", "TemplateParam": '{"customer":"test"}',
        "Timestamp": "2017-07-12T02:42:19Z", "Version": "2017-05-25",
    }
    assert sign("testSecret", "GET", params) == "zJDF+Lrzhj/ThnlvIToysFRq6t4="
    assert independent_signature("testSecret", "GET", params) == "zJDF+Lrzhj/ThnlvIToysFRq6t4="


class FakeAliyun:
    """dysmsapi / dyvmsapi as far as SendSms and SingleCallByTts go."""

    def __init__(self, action: str, *, flow_limit: int = 100, answer: tuple | None = None):
        self.action = action
        self.flow_limit = flow_limit
        self.answer = answer
        self.nonces: set[str] = set()
        self.per_number: Counter[str] = Counter()
        self.accepted: list[dict[str, str]] = []

    def __call__(self, req):
        request_id = str(uuid.uuid4()).upper()
        if self.answer:
            return self.answer
        assert req.method == "POST" and req.path == "/"
        assert req.headers["content-type"] == "application/x-www-form-urlencoded"
        p = dict(parse_qsl(req.body.decode(), keep_blank_values=True))
        for name in ("AccessKeyId", "Action", "Format", "RegionId", "SignatureMethod",
                     "SignatureNonce", "SignatureVersion", "Timestamp", "Version", "Signature"):
            assert name in p, name
        assert (p["Format"], p["SignatureMethod"], p["SignatureVersion"]) == \
            ("JSON", "HMAC-SHA1", "1.0")
        assert (p["Action"], p["Version"], p["RegionId"]) == \
            (self.action, "2017-05-25", "cn-hangzhou")
        ts = datetime.strptime(p["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert abs((datetime.now(UTC) - ts).total_seconds()) < 900
        if p["AccessKeyId"] != AK_ID:
            return 404, {}, {"RequestId": request_id, "HostId": "dysmsapi.aliyuncs.com",
                             "Code": "InvalidAccessKeyId.NotFound",
                             "Message": "Specified access key is not found."}
        if p["Signature"] != independent_signature(AK_SECRET, "POST", p):
            return 400, {}, {"RequestId": request_id, "Code": "SignatureDoesNotMatch",
                             "Message": "Specified signature is not matched with our calculation."}
        if p["SignatureNonce"] in self.nonces:
            return 400, {}, {"RequestId": request_id, "Code": "SignatureNonceUsed",
                             "Message": "Specified signature nonce was used already."}
        self.nonces.add(p["SignatureNonce"])
        if self.action == "SendSms":
            numbers = p["PhoneNumbers"].split(",")
            json.loads(p["TemplateParam"])
            assert p["SignName"] == SIGN_NAME and p["TemplateCode"].startswith("SMS_")
        else:
            numbers = [p["CalledNumber"]]
            json.loads(p["TtsParam"])
            assert p["TtsCode"].startswith("TTS_") and 1 <= int(p["PlayTimes"]) <= 3
        if not all(re.fullmatch(r"1[3-9]\d{9}", n) for n in numbers):
            return 200, {}, {"RequestId": request_id, "Code": "isv.MOBILE_NUMBER_ILLEGAL",
                             "Message": "非法手机号"}
        for n in numbers:
            self.per_number[n] += 1
            if self.per_number[n] > self.flow_limit:
                return 200, {}, {"RequestId": request_id, "Code": "isv.BUSINESS_LIMIT_CONTROL",
                                 "Message": "触发号码天级流控Permits:10"}
        self.accepted.append(p)
        if self.action == "SendSms":
            return 200, {}, {"RequestId": request_id, "Code": "OK", "Message": "OK",
                             "BizId": "900619746936498440^0"}
        return 200, {}, {"RequestId": request_id, "Code": "OK", "Message": "OK",
                         "CallId": "116012354148^10281378****"}


def sms(url: str, key_id: str = AK_ID) -> AliyunSmsConnector:
    env = {"GONGDAN_SMS_ACCESS_KEY_ID": key_id, "GONGDAN_SMS_ACCESS_KEY_SECRET": AK_SECRET,
           "GONGDAN_SMS_SIGN_NAME": SIGN_NAME, "GONGDAN_SMS_TEMPLATE_CODE": "SMS_465320000",
           "GONGDAN_SMS_BASE_URL": url}
    return AliyunSmsConnector.from_env(environ=env)


def voice(url: str) -> AliyunVoiceConnector:
    env = {"GONGDAN_VOICE_ACCESS_KEY_ID": AK_ID, "GONGDAN_VOICE_ACCESS_KEY_SECRET": AK_SECRET,
           "GONGDAN_VOICE_TTS_CODE": "TTS_278920000", "GONGDAN_VOICE_BASE_URL": url,
           "GONGDAN_VOICE_CALLED_SHOW_NUMBER": "057112345678"}
    return AliyunVoiceConnector.from_env(environ=env)


def msg(**kw: object) -> OutgoingMessage:
    base: dict[str, object] = {"channel": "sms", "to": "13912345678",
                               "text": "您的报修单GD-20261125-0003已派工，工程师张工 15:00 前上门",
                               "idempotency_key": "outbox-77"}
    base.update(kw)
    return OutgoingMessage(**base)  # type: ignore[arg-type]


def test_sms_is_signed_and_accepted(local_server) -> None:
    fake = FakeAliyun("SendSms")
    srv = local_server(fake)
    with sms(srv.url) as conn:
        receipt = conn.send(msg())
        conn.send(msg(to="13912345678,13800138000",
                      extra={"template_param": {"no": "GD-1", "eta": "15:00"}}))
    assert receipt.provider_message_id == "900619746936498440^0"
    first, second = fake.accepted
    assert first["PhoneNumbers"] == "13912345678" and first["OutId"] == "outbox-77"
    assert json.loads(first["TemplateParam"]) == {"content": msg().text}
    assert json.loads(second["TemplateParam"]) == {"no": "GD-1", "eta": "15:00"}
    assert second["PhoneNumbers"] == "13912345678,13800138000"


def test_sms_flow_control_is_retryable(local_server) -> None:
    srv = local_server(FakeAliyun("SendSms", flow_limit=1))
    with sms(srv.url) as conn:
        conn.send(msg())
        with pytest.raises(RetryableDeliveryError) as info:
            conn.send(msg())
    assert info.value.provider_code == "isv.BUSINESS_LIMIT_CONTROL"
    assert info.value.retry_after == 60.0


def test_sms_bad_number_is_permanent(local_server) -> None:
    srv = local_server(FakeAliyun("SendSms"))
    with sms(srv.url) as conn, pytest.raises(PermanentDeliveryError) as info:
        conn.send(msg(to="12345"))
    assert info.value.provider_code == "isv.MOBILE_NUMBER_ILLEGAL"


def test_sms_unknown_access_key_is_permanent(local_server) -> None:
    srv = local_server(FakeAliyun("SendSms"))
    with sms(srv.url, key_id="LTAI-nobody-000000") as conn, \
            pytest.raises(PermanentDeliveryError) as info:
        conn.send(msg())
    assert info.value.provider_code == "InvalidAccessKeyId.NotFound"


def test_sms_wrong_secret_is_permanent(local_server) -> None:
    srv = local_server(FakeAliyun("SendSms"))
    env = {"GONGDAN_SMS_ACCESS_KEY_ID": AK_ID, "GONGDAN_SMS_ACCESS_KEY_SECRET": "not-the-secret",
           "GONGDAN_SMS_SIGN_NAME": SIGN_NAME, "GONGDAN_SMS_TEMPLATE_CODE": "SMS_1",
           "GONGDAN_SMS_BASE_URL": srv.url}
    with AliyunSmsConnector.from_env(environ=env) as conn, \
            pytest.raises(PermanentDeliveryError) as info:
        conn.send(msg())
    assert info.value.provider_code == "SignatureDoesNotMatch"


@pytest.mark.parametrize(("status", "body", "error"), [
    (503, {"Code": "ServiceUnavailable", "Message": "busy"}, RetryableDeliveryError),
    (400, {"Code": "Throttling.User", "Message": "Request was denied due to user flow control."},
     RetryableDeliveryError),
    (502, "<html>bad gateway</html>", RetryableDeliveryError),
    (200, {"Code": "isv.AMOUNT_NOT_ENOUGH", "Message": "账户余额不足"}, PermanentDeliveryError),
])
def test_sms_provider_errors(local_server, status, body, error) -> None:
    srv = local_server(FakeAliyun("SendSms", answer=(status, {}, body)))
    with sms(srv.url) as conn, pytest.raises(error):
        conn.send(msg())


def test_voice_call_is_signed_and_accepted(local_server) -> None:
    fake = FakeAliyun("SingleCallByTts")
    srv = local_server(fake)
    with voice(srv.url) as conn:
        receipt = conn.send(msg(channel="voice", text="工单GD-3已超时两小时，请立即处理"))
    assert receipt.provider_message_id == "116012354148^10281378****"
    (p,) = fake.accepted
    assert p["CalledNumber"] == "13912345678" and p["CalledShowNumber"] == "057112345678"
    assert json.loads(p["TtsParam"]) == {"content": "工单GD-3已超时两小时，请立即处理"}
    assert p["TtsCode"] == "TTS_278920000" and p["PlayTimes"] == "2"


def test_voice_flow_control_and_bad_number(local_server) -> None:
    srv = local_server(FakeAliyun("SingleCallByTts", flow_limit=0))
    with voice(srv.url) as conn:
        with pytest.raises(RetryableDeliveryError):
            conn.send(msg(channel="voice"))
        with pytest.raises(PermanentDeliveryError):
            conn.send(msg(channel="voice", to="110"))
        with pytest.raises(PermanentDeliveryError):  # one number per call, refused locally
            conn.send(msg(channel="voice", to="13912345678,13800138000"))

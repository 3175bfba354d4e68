"""How much a delivery costs gongdan itself, apart from the provider's network time.

Two measures, each against a local HTTP server on 127.0.0.1 that answers at once:

- build + sign: the per-message CPU work of each signing scheme (Standard Webhooks
  HMAC-SHA256, DingTalk's signed URL, Aliyun RPC v1, WeCom/DingTalk callback AES);
- send: whole ``ConnectorPool.send`` round trips (JSON, signature, HTTP on a kept-alive
  connection, answer parsing) per second for webhook, WeCom robot, DingTalk and SMS.

Run: ``.venv/bin/python benchmarks/bench_connectors.py`` (prints one line per case).
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from gongdan.connectors import OutgoingMessage
from gongdan.plugins import ConnectorPool, connectors, make_plugin_manager

ANSWERS = {
    "/hook": b"{}",
    "/cgi-bin/webhook/send": b'{"errcode": 0, "errmsg": "ok"}',
    "/robot/send": b'{"errcode": 0, "errmsg": "ok"}',
    "/": b'{"Code": "OK", "Message": "OK", "BizId": "1^0", "RequestId": "r"}',
}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        body = ANSWERS.get(self.path.split("?")[0], b"{}")
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def rate(fn: Callable[[], object], seconds: float = 1.0) -> float:
    """Calls per second of ``fn`` over about ``seconds``."""
    fn()
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        fn()
        n += 1
    return n / elapsed


def main() -> None:
    from gongdan_aliyun import signed_parameters
    from gongdan_dingtalk.connector import sign as dingtalk_sign
    from gongdan_msgcrypt import MsgCrypt
    from gongdan_webhook.signing import decode_secret, new_secret
    from gongdan_webhook.signing import sign as webhook_sign

    body = json.dumps({"type": "ticket.overdue", "data": {"text": "工单 GD-1 已超时" * 4}}).encode()
    key = decode_secret(new_secret())
    crypt = MsgCrypt("token", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "corp")
    params = {"PhoneNumbers": "13912345678", "SignName": "工单云", "TemplateCode": "SMS_1",
              "TemplateParam": '{"content": "您的工单已派工"}', "OutId": "outbox-1"}
    cases: dict[str, Callable[[], object]] = {
        "sign webhook (HMAC-SHA256)": lambda: webhook_sign(key, "msg_1", 1_700_000_000, body),
        "sign dingtalk URL": lambda: dingtalk_sign("SEC" + "x" * 64, 1_700_000_000_000),
        "sign aliyun RPC v1": lambda: signed_parameters(
            params, action="SendSms", version="2017-05-25", access_key_id="id",
            access_key_secret="secret"),
        "encrypt+decrypt callback (AES)": lambda: crypt.decrypt(crypt.encrypt("success")),
    }
    for name, fn in cases.items():
        print(f"{name:40s} {rate(fn):>12,.0f} /s")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    env = {
        "GONGDAN_WEBHOOK_URL": url + "/hook", "GONGDAN_WEBHOOK_SECRET": new_secret(),
        "GONGDAN_WECOM_ROBOT_KEY": "k" * 36, "GONGDAN_WECOM_BASE_URL": url,
        # measure our cost, not the robots' 20-a-minute limit
        "GONGDAN_WECOM_ROBOT_RATE_LIMIT": "0", "GONGDAN_DINGTALK_ROBOT_RATE_LIMIT": "0",
        "GONGDAN_DINGTALK_ACCESS_TOKEN": "t" * 64, "GONGDAN_DINGTALK_SECRET": "SEC" + "s" * 64,
        "GONGDAN_DINGTALK_BASE_URL": url,
        "GONGDAN_SMS_ACCESS_KEY_ID": "id", "GONGDAN_SMS_ACCESS_KEY_SECRET": "secret",
        "GONGDAN_SMS_SIGN_NAME": "工单云", "GONGDAN_SMS_TEMPLATE_CODE": "SMS_1",
        "GONGDAN_SMS_BASE_URL": url,
    }
    pool = ConnectorPool(connectors(make_plugin_manager(environ={})), environ=env)
    try:
        for channel, to in (("webhook", ""), ("wecom_robot", ""), ("dingtalk", ""),
                            ("sms", "13912345678")):
            message = OutgoingMessage(channel=channel, to=to, text="工单 GD-1 已超时",
                                      idempotency_key="outbox-1")
            print(f"{'send ' + channel + ' (local server)':40s} "
                  f"{rate(functools.partial(pool.send, message)):>12,.0f} /s")
    finally:
        pool.close()
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    main()

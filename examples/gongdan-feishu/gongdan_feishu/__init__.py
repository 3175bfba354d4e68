"""飞书 (Feishu / Lark) custom group robot (自定义机器人), a third-party gongdan connector.

``POST {hook_url}`` with a JSON body. When the robot has signature verification (签名校验)
on, the body also carries ``timestamp`` (seconds, as a string) and
``sign = base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b""))``; Feishu refuses a
timestamp more than an hour off. Answers are HTTP 200 with ``code``: 0 success, 9499 and
11232 (sending too fast) retryable, 19021 (bad signature), 19024 (keyword check) and the
rest permanent.

It imports only gongdan's public plugin API, as any third-party plugin should.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

from gongdan.connectors import (
    Connector,
    DeliveryReceipt,
    OutgoingMessage,
    PermanentDeliveryError,
    RetryableDeliveryError,
    Setting,
    raise_for_http_status,
    translate_transport_errors,
)
from gongdan.plugins import hookimpl

__all__ = ["FeishuConnector", "sign"]

RETRYABLE = {9499: 60.0, 11232: 60.0}


def sign(secret: str, timestamp: int) -> str:
    """Feishu's signature: the key is ``timestamp + "\\n" + secret``, the message is empty."""
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


class FeishuConnector(Connector):
    """Messages to a Feishu group through its custom robot.

    A message with a ``subject`` goes as a rich-text ``post`` titled with it; otherwise as
    ``text``. ``to`` is ignored: the robot posts to its own group.
    """

    name = "feishu"
    settings = (
        Setting("hook_url", "the robot's webhook URL (it carries the token)", secret=True, required=True),
        Setting("secret", "the robot's signing secret (签名校验)", secret=True),
        Setting("timeout", "seconds per request", default="10"),
    )

    @staticmethod
    def body(message: OutgoingMessage) -> dict[str, Any]:
        """The JSON body for ``message`` (without the signature)."""
        if message.subject:
            return {"msg_type": "post", "content": {"post": {"zh_cn": {
                "title": message.subject, "content": [[{"tag": "text", "text": message.text}]]}}}}
        return {"msg_type": "text", "content": {"text": message.text}}

    def send(self, message: OutgoingMessage) -> DeliveryReceipt:
        """Post to the robot, signed when a secret is set; ``code`` decides the outcome."""
        payload = self.body(message)
        if secret := self.config.get_secret("secret"):
            timestamp = int(time.time())
            payload = {"timestamp": str(timestamp), "sign": sign(secret, timestamp), **payload}
        with translate_transport_errors(self.name):
            answer = self.client.post(self.config.get_secret("hook_url"), json=payload)
        raise_for_http_status(answer, channel=self.name)
        try:
            result: dict[str, Any] = answer.json()
        except ValueError:
            raise RetryableDeliveryError(f"{self.name}: answer is not JSON") from None
        code = result.get("code", result.get("StatusCode", 0))
        if code == 0:
            return DeliveryReceipt(channel=self.name)
        what = f"{self.name}: code {code} {result.get('msg', '')}".strip()
        if code in RETRYABLE:
            raise RetryableDeliveryError(what, provider_code=code, retry_after=RETRYABLE[code])
        raise PermanentDeliveryError(what, provider_code=code)


@hookimpl
def register_connectors() -> list[type[Connector]]:
    return [FeishuConnector]

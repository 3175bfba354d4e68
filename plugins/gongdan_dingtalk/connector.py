"""钉钉 (DingTalk) custom group robot (自定义机器人) with the signed-URL scheme (加签).

``POST {base}/robot/send?access_token=TOKEN&timestamp=MS&sign=SIGN`` where ``MS`` is the
current time in milliseconds and ``SIGN`` is
``urlencode(base64(HMAC-SHA256(key=secret, msg=f"{MS}\\n{secret}")))`` (DingTalk refuses a
timestamp more than an hour off). Bodies: ``{"msgtype": "text", "text": {"content"},
"at": {...}}`` or ``{"msgtype": "markdown", "markdown": {"title", "text"}, "at": {...}}``.

Answers are HTTP 200 with ``errcode``: 0 success; 130101 and 410100 (sending too fast),
90030 (quota reached) and -1 (busy) are retryable; 310000 (bad signature, missing keyword,
IP not allowed), 300001/400101 (bad token) and the rest are permanent.
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
    RateLimiter,
    RetryableDeliveryError,
    Setting,
    raise_for_http_status,
    translate_transport_errors,
)

DEFAULT_BASE_URL = "https://oapi.dingtalk.com"
RETRY_AFTER = {130101: 60.0, 410100: 60.0, 90030: 3600.0, -1: 30.0}


def sign(secret: str, timestamp_ms: int) -> str:
    """The ``sign`` query value before URL-encoding (httpx encodes it)."""
    string_to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), string_to_sign, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class DingTalkRobotConnector(Connector):
    """Messages to a DingTalk group through its custom robot.

    ``to`` lists who to @: mobile numbers, user ids or ``@all``, separated by ``|``.
    ``markdown=True`` sends a markdown message titled with ``subject`` (or the first
    line of the text).
    """

    name = "dingtalk"
    settings = (
        Setting("access_token", "the robot's access_token (from its webhook URL)", secret=True,
                required=True),
        Setting("secret", "the robot's signing secret (SEC...), 加签", secret=True),
        Setting("robot_rate_limit",
                "messages per minute the robot may send (0: no limit); DingTalk silences a "
                "robot for 10 minutes past 20", default="20"),
        Setting("base_url", "API base URL", default=DEFAULT_BASE_URL),
        Setting("timeout", "seconds per request", default="10"),
    )

    @staticmethod
    def body(message: OutgoingMessage) -> dict[str, Any]:
        """The JSON body for ``message``."""
        targets = [t for t in message.to.split("|") if t]
        at: dict[str, Any] = {
            "atMobiles": [t for t in targets if t.lstrip("+").isdigit()],
            "atUserIds": [t for t in targets if not t.lstrip("+").isdigit() and t != "@all"],
            "isAtAll": "@all" in targets,
        }
        if message.markdown:
            title = message.subject or message.text.strip().splitlines()[0].lstrip("# ")[:64]
            return {"msgtype": "markdown", "markdown": {"title": title, "text": message.text},
                    "at": at}
        text = f"{message.subject}\n{message.text}" if message.subject else message.text
        return {"msgtype": "text", "text": {"content": text}, "at": at}

    def send(self, message: OutgoingMessage) -> DeliveryReceipt:
        """Post to the robot with a fresh signature; errcode decides the outcome."""
        token = self.config.get_secret("access_token")
        RateLimiter.shared(
            f"{self.name}:{hashlib.sha256(token.encode()).hexdigest()[:16]}",
            int(self.config.get_float("robot_rate_limit", 20)), 60.0,
        ).acquire(self.name)
        params = {"access_token": token}
        if secret := self.config.get_secret("secret"):
            timestamp = int(time.time() * 1000)
            params.update(timestamp=str(timestamp), sign=sign(secret, timestamp))
        url = self.config.get_str("base_url").rstrip("/") + "/robot/send"
        with translate_transport_errors(self.name):
            answer = self.client.post(url, params=params, json=self.body(message))
        raise_for_http_status(answer, channel=self.name)
        try:
            result: dict[str, Any] = answer.json()
        except ValueError:
            raise RetryableDeliveryError(f"{self.name}: answer is not JSON") from None
        code = result.get("errcode", 0)
        if code == 0:
            return DeliveryReceipt(channel=self.name)
        what = f"{self.name}: errcode {code} {result.get('errmsg', '')}".strip()
        if code in RETRY_AFTER:
            raise RetryableDeliveryError(what, provider_code=code, retry_after=RETRY_AFTER[code])
        raise PermanentDeliveryError(what, provider_code=code)

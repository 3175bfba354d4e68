"""企业微信 (WeCom): group robot messages and application messages.

Wire format (developer.work.weixin.qq.com):

- group robot: ``POST {base}/cgi-bin/webhook/send?key=KEY`` with
  ``{"msgtype": "text", "text": {"content", "mentioned_list", "mentioned_mobile_list"}}``
  or ``{"msgtype": "markdown", "markdown": {"content"}}``;
- application message: ``GET {base}/cgi-bin/gettoken?corpid=ID&corpsecret=SECRET`` ->
  ``{"errcode": 0, "access_token", "expires_in"}``, cached until it expires, then
  ``POST {base}/cgi-bin/message/send?access_token=TOKEN`` with
  ``{"touser": "a|b", "msgtype", "agentid", "text"|"markdown": {"content"}}``.

Every answer is HTTP 200 with ``errcode``: 0 is success; -1 (busy), 45009 and 45033
(rate limits) are retryable; 40014/42001 (token invalid/expired) refetch the token once;
anything else (40001 bad secret, 93000 bad robot key, 81013 bad users...) is permanent.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from gongdan.connectors import (
    Connector,
    DeliveryReceipt,
    OutgoingMessage,
    PermanentDeliveryError,
    RetryableDeliveryError,
    Setting,
    Settings,
    raise_for_http_status,
    translate_transport_errors,
)

DEFAULT_BASE_URL = "https://qyapi.weixin.qq.com"

RETRYABLE = frozenset({-1, 45009, 45011, 45033})
TOKEN_INVALID = frozenset({40014, 42001})

BASE_URL = Setting("base_url", "API base URL", default=DEFAULT_BASE_URL)
TIMEOUT = Setting("timeout", "seconds per request", default="10")


def _check(channel: str, answer: httpx.Response) -> dict[str, Any]:
    raise_for_http_status(answer, channel=channel)
    try:
        body: dict[str, Any] = answer.json()
    except ValueError:
        raise RetryableDeliveryError(f"{channel}: answer is not JSON") from None
    code = body.get("errcode", 0)
    if code == 0:
        return body
    what = f"{channel}: errcode {code} {body.get('errmsg', '')}".strip()
    if code in RETRYABLE:
        raise RetryableDeliveryError(what, provider_code=code, retry_after=60.0)
    raise PermanentDeliveryError(what, provider_code=code)


class WeComRobotConnector(Connector):
    """Messages to a WeCom group through its robot (群机器人).

    ``to`` lists user ids to @mention (``zhangsan|lisi`` or ``@all``, text messages
    only); ``extra["mentioned_mobile_list"]`` mentions by mobile number.
    """

    name = "wecom_robot"
    settings_prefix = "wecom"
    settings = (
        Setting("robot_key", "group robot key (the key= of its webhook URL)", secret=True,
                required=True),
        BASE_URL,
        TIMEOUT,
    )

    def body(self, message: OutgoingMessage) -> dict[str, Any]:
        """The JSON body for ``message``."""
        if message.markdown:
            return {"msgtype": "markdown", "markdown": {"content": message.text}}
        text: dict[str, Any] = {"content": message.text}
        if message.to:
            text["mentioned_list"] = [u for u in message.to.split("|") if u]
        if mobiles := message.extra.get("mentioned_mobile_list"):
            text["mentioned_mobile_list"] = list(mobiles)
        return {"msgtype": "text", "text": text}

    def send(self, message: OutgoingMessage) -> DeliveryReceipt:
        """Post to the robot; errcode decides success, retry or failure."""
        url = self.config.get_str("base_url").rstrip("/") + "/cgi-bin/webhook/send"
        with translate_transport_errors(self.name):
            answer = self.client.post(
                url, params={"key": self.config.get_secret("robot_key")}, json=self.body(message)
            )
        _check(self.name, answer)
        return DeliveryReceipt(channel=self.name)


class WeComAppConnector(Connector):
    """Application messages (应用消息) to users: ``to`` is ``userid1|userid2``.

    ``extra["toparty"]``/``extra["totag"]`` address departments or tags.
    """

    name = "wecom"
    settings = (
        Setting("corp_id", "企业 ID (corpid)", required=True),
        Setting("secret", "the application's secret (corpsecret)", secret=True, required=True),
        Setting("agent_id", "the application's AgentId", required=True),
        Setting("duplicate_check_interval",
                "seconds within which WeCom drops an identical message (empty: off)"),
        BASE_URL,
        TIMEOUT,
    )
    #: refetch the token this many seconds before WeCom says it expires
    token_margin = 60.0

    def __init__(
        self,
        settings: Settings,
        *,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(settings, client=client)
        self._clock = clock
        self._token: str | None = None
        self._token_expires = 0.0
        self._lock = threading.Lock()
        self.token_fetches = 0

    def _base(self) -> str:
        return self.config.get_str("base_url").rstrip("/")

    def access_token(self, *, refresh: bool = False) -> str:
        """The cached access token, fetched again when expired or ``refresh``."""
        with self._lock:
            if not refresh and self._token and self._clock() < self._token_expires:
                return self._token
            with translate_transport_errors(self.name):
                answer = self.client.get(
                    self._base() + "/cgi-bin/gettoken",
                    params={
                        "corpid": self.config.get_str("corp_id"),
                        "corpsecret": self.config.get_secret("secret"),
                    },
                )
            body = _check(self.name, answer)
            self.token_fetches += 1
            token = body.get("access_token")
            if not token:
                raise RetryableDeliveryError(f"{self.name}: gettoken returned no token")
            expires_in = float(body.get("expires_in", 7200))
            self._token = str(token)
            self._token_expires = self._clock() + max(0.0, expires_in - self.token_margin)
            return self._token

    def body(self, message: OutgoingMessage) -> dict[str, Any]:
        """The JSON body for ``message``."""
        try:
            agent_id: int | str = int(self.config.get_str("agent_id"))
        except ValueError:
            agent_id = self.config.get_str("agent_id")
        body: dict[str, Any] = {"touser": message.to, "agentid": agent_id}
        for key in ("toparty", "totag"):
            if message.extra.get(key):
                body[key] = message.extra[key]
        if message.markdown:
            body.update(msgtype="markdown", markdown={"content": message.text})
        else:
            text = f"{message.subject}\n{message.text}" if message.subject else message.text
            body.update(msgtype="text", text={"content": text})
        if interval := self.config.get_str("duplicate_check_interval"):
            body.update(enable_duplicate_check=1, duplicate_check_interval=int(interval))
        return body

    def send(self, message: OutgoingMessage) -> DeliveryReceipt:
        """Send with the cached token; refetch it once if WeCom says it is invalid."""
        if not (message.to or message.extra.get("toparty") or message.extra.get("totag")):
            raise PermanentDeliveryError(f"{self.name}: no recipient")
        payload = self.body(message)
        token = self.access_token()
        for attempt in (1, 2):
            with translate_transport_errors(self.name):
                answer = self.client.post(
                    self._base() + "/cgi-bin/message/send",
                    params={"access_token": token},
                    json=payload,
                )
            try:
                body = _check(self.name, answer)
            except PermanentDeliveryError as exc:
                if exc.provider_code in TOKEN_INVALID:
                    if attempt == 1:
                        token = self.access_token(refresh=True)
                        continue
                    raise RetryableDeliveryError(str(exc), provider_code=exc.provider_code) \
                        from None
                raise
            detail = {k: body[k] for k in ("invaliduser", "invalidparty", "invalidtag")
                      if body.get(k)}
            return DeliveryReceipt(
                channel=self.name, provider_message_id=body.get("msgid"), detail=detail
            )
        raise AssertionError("unreachable")  # pragma: no cover

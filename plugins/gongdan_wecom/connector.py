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

import hashlib
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
    RateLimiter,
    RetryableDeliveryError,
    Setting,
    Settings,
    raise_for_http_status,
    translate_transport_errors,
    truncate_utf8,
)

DEFAULT_BASE_URL = "https://qyapi.weixin.qq.com"

RETRYABLE = frozenset({-1, 45009, 45011, 45033})
# content limits in UTF-8 bytes, as documented
ROBOT_TEXT_LIMIT, ROBOT_MARKDOWN_LIMIT, APP_CONTENT_LIMIT = 2048, 4096, 2048
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
        Setting("robot_rate_limit", "messages per minute the robot may send (0: no limit)",
                default="20"),
        BASE_URL,
        TIMEOUT,
    )

    def body(self, message: OutgoingMessage) -> dict[str, Any]:
        """The JSON body for ``message``."""
        if message.markdown:
            content = truncate_utf8(message.text, ROBOT_MARKDOWN_LIMIT)
            return {"msgtype": "markdown", "markdown": {"content": content}}
        text: dict[str, Any] = {"content": truncate_utf8(message.text, ROBOT_TEXT_LIMIT)}
        if message.to:
            text["mentioned_list"] = [u for u in message.to.split("|") if u]
        if mobiles := message.extra.get("mentioned_mobile_list"):
            text["mentioned_mobile_list"] = list(mobiles)
        return {"msgtype": "text", "text": text}

    def send(self, message: OutgoingMessage) -> DeliveryReceipt:
        """Post to the robot; errcode decides success, retry or failure."""
        url = self.config.get_str("base_url").rstrip("/") + "/cgi-bin/webhook/send"
        key = self.config.get_secret("robot_key")
        RateLimiter.shared(
            f"{self.name}:{hashlib.sha256(key.encode()).hexdigest()[:16]}",
            int(self.config.get_float("robot_rate_limit", 20)), 60.0,
        ).acquire(self.name)
        with translate_transport_errors(self.name):
            answer = self.client.post(
                url, params={"key": key}, json=self.body(message)
            )
        _check(self.name, answer)
        return DeliveryReceipt(channel=self.name)


class TokenCache:
    """WeCom's ``access_token``: fetched with ``gettoken``, cached until shortly before
    ``expires_in`` runs out, refetched on demand (after 40014/42001). Thread-safe."""

    def __init__(
        self,
        client: httpx.Client,
        *,
        channel: str,
        base_url: str,
        corp_id: str,
        secret: str,
        clock: Callable[[], float] = time.monotonic,
        margin: float = 60.0,
    ) -> None:
        self.client = client
        self.channel = channel
        self.base_url = base_url.rstrip("/")
        self._corp_id = corp_id
        self._secret = secret
        self._clock = clock
        self.margin = margin
        self._token: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()
        self.fetches = 0

    def get(self, *, refresh: bool = False) -> str:
        """The cached token, fetched again when expired or ``refresh``."""
        with self._lock:
            if not refresh and self._token and self._clock() < self._expires:
                return self._token
            with translate_transport_errors(self.channel):
                answer = self.client.get(
                    self.base_url + "/cgi-bin/gettoken",
                    params={"corpid": self._corp_id, "corpsecret": self._secret},
                )
            body = _check(self.channel, answer)
            self.fetches += 1
            token = body.get("access_token")
            if not token:
                raise RetryableDeliveryError(f"{self.channel}: gettoken returned no token")
            expires_in = float(body.get("expires_in", 7200))
            self._token = str(token)
            self._expires = self._clock() + max(0.0, expires_in - self.margin)
            return self._token

    def call(self, method: str, path: str, *, params: dict[str, Any] | None = None,
             json: Any = None) -> dict[str, Any]:
        """One API call with the token; refetches it once if WeCom says it is dead."""
        token = self.get()
        for attempt in (1, 2):
            with translate_transport_errors(self.channel):
                answer = self.client.request(
                    method, self.base_url + path,
                    params={**(params or {}), "access_token": token}, json=json,
                )
            try:
                return _check(self.channel, answer)
            except PermanentDeliveryError as exc:
                if exc.provider_code not in TOKEN_INVALID:
                    raise
                if attempt == 2:
                    raise RetryableDeliveryError(str(exc), provider_code=exc.provider_code) \
                        from None
                token = self.get(refresh=True)
        raise AssertionError("unreachable")  # pragma: no cover


class WeComAppConnector(Connector):
    """Application messages (应用消息) to users: ``to`` is ``userid1|userid2``.

    ``extra["toparty"]``/``extra["totag"]`` address departments or tags.
    """

    name = "wecom"
    address_kind = "wecom_userid"
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
        self.tokens = TokenCache(
            self.client,
            channel=self.name,
            base_url=settings.get_str("base_url"),
            corp_id=settings.get_str("corp_id"),
            secret=settings.get_secret("secret"),
            clock=clock,
            margin=self.token_margin,
        )

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
            content = truncate_utf8(message.text, APP_CONTENT_LIMIT)
            body.update(msgtype="markdown", markdown={"content": content})
        else:
            text = f"{message.subject}\n{message.text}" if message.subject else message.text
            body.update(msgtype="text", text={"content": truncate_utf8(text, APP_CONTENT_LIMIT)})
        if interval := self.config.get_str("duplicate_check_interval"):
            body.update(enable_duplicate_check=1, duplicate_check_interval=int(interval))
        return body

    def send(self, message: OutgoingMessage) -> DeliveryReceipt:
        """Send with the cached token; refetch it once if WeCom says it is invalid."""
        if not (message.to or message.extra.get("toparty") or message.extra.get("totag")):
            raise PermanentDeliveryError(f"{self.name}: no recipient")
        body = self.tokens.call("POST", "/cgi-bin/message/send", json=self.body(message))
        detail = {k: body[k] for k in ("invaliduser", "invalidparty", "invalidtag")
                  if body.get(k)}
        return DeliveryReceipt(
            channel=self.name, provider_message_id=body.get("msgid"), detail=detail
        )

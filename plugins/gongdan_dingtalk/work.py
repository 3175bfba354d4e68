"""DingTalk work notifications (工作通知) to people, through an internal app.

``GET /gettoken?appkey=&appsecret=`` (cached) then
``POST /topapi/message/corpconversation/asyncsend_v2?access_token=`` with
``{"agent_id", "userid_list": "a,b", "msg": {"msgtype": "text", "text": {"content"}}}``
(or ``markdown`` with ``title`` and ``text``). The answer's ``task_id`` is the receipt.
errcode -1, 90002 and 90018 (busy, over the rate limit) are retryable; 40014/42001 (token
invalid or expired) refetch the token once; the rest are permanent.
"""

from __future__ import annotations

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
)

from .connector import DEFAULT_BASE_URL
from .org import AccessToken, api_post

TOKEN_INVALID = frozenset({40014, 42001})


class DingTalkWorkConnector(Connector):
    """Work notifications: ``to`` is ``userid1|userid2``; ``extra["dept_id_list"]``
    addresses departments."""

    name = "dingtalk_work"
    address_kind = "dingtalk_userid"
    settings_prefix = "dingtalk"
    settings = (
        Setting("app_key", "internal app AppKey", required=True),
        Setting("app_secret", "internal app AppSecret", secret=True, required=True),
        Setting("agent_id", "internal app AgentId", required=True),
        Setting("base_url", "API base URL", default=DEFAULT_BASE_URL),
        Setting("timeout", "seconds per request", default="10"),
    )

    def __init__(self, settings: Settings, *, client: httpx.Client | None = None) -> None:
        super().__init__(settings, client=client)
        self._tokens = AccessToken()

    def body(self, message: OutgoingMessage) -> dict[str, Any]:
        """The JSON body for ``message``."""
        try:
            agent_id: int | str = int(self.config.get_str("agent_id"))
        except ValueError:
            agent_id = self.config.get_str("agent_id")
        body: dict[str, Any] = {"agent_id": agent_id}
        users = ",".join(u for u in message.to.replace("|", ",").split(",") if u)
        if users:
            body["userid_list"] = users
        if depts := message.extra.get("dept_id_list"):
            body["dept_id_list"] = ",".join(str(d) for d in depts)
        if message.markdown:
            title = message.subject or message.text.strip().splitlines()[0].lstrip("# ")[:64]
            body["msg"] = {"msgtype": "markdown", "markdown": {"title": title,
                                                               "text": message.text}}
        else:
            text = f"{message.subject}\n{message.text}" if message.subject else message.text
            body["msg"] = {"msgtype": "text", "text": {"content": text}}
        return body

    def send(self, message: OutgoingMessage) -> DeliveryReceipt:
        """Send the notification; the receipt carries DingTalk's ``task_id``."""
        body = self.body(message)
        if "userid_list" not in body and "dept_id_list" not in body:
            raise PermanentDeliveryError(f"{self.name}: no recipient")
        base = self.config.get_str("base_url").rstrip("/")
        key, secret = self.config.get_str("app_key"), self.config.get_secret("app_secret")
        for attempt in (1, 2):
            token = self._tokens.get(self.client, base, key, secret, self.name)
            try:
                result = api_post(self.client, base, token,
                                  "/topapi/message/corpconversation/asyncsend_v2", body,
                                  self.name)
            except PermanentDeliveryError as exc:
                if exc.provider_code not in TOKEN_INVALID:
                    raise
                if attempt == 2:
                    raise RetryableDeliveryError(str(exc), provider_code=exc.provider_code) \
                        from None
                self._tokens.invalidate()
                continue
            return DeliveryReceipt(channel=self.name,
                                   provider_message_id=str(result.get("task_id", "")) or None,
                                   detail={"request_id": result.get("request_id")})
        raise AssertionError("unreachable")  # pragma: no cover

"""Outgoing webhooks, signed per the Standard Webhooks convention."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec

from gongdan.connectors import (
    Connector,
    DeliveryReceipt,
    OutgoingMessage,
    PermanentDeliveryError,
    Setting,
    Settings,
    SettingsError,
    raise_for_http_status,
    translate_transport_errors,
)

from .signing import InvalidSecret, decode_secret, sign


class WebhookConnector(Connector):
    """POSTs a JSON event to a URL with ``webhook-id``/``-timestamp``/``-signature``.

    The body is ``{"type", "timestamp", "data"}`` as the convention recommends;
    ``webhook-id`` is the message's idempotency key, identical on every retry so the
    receiver can de-duplicate.
    """

    name = "webhook"
    settings = (
        Setting("url", "default target URL"),
        Setting("allowed_hosts",
                "hosts a message's `to` URL may name, comma-separated (`*`: any; empty: none)"),
        Setting("secret", "signing secret, whsec_ + base64", secret=True, required=True),
        Setting("timeout", "seconds per request", default="10"),
    )

    def __init__(self, settings: Settings, *, client: httpx.Client | None = None) -> None:
        super().__init__(settings, client=client)
        try:
            self._key = decode_secret(settings.get_secret("secret"))
        except InvalidSecret as exc:
            raise SettingsError(f"GONGDAN_WEBHOOK_SECRET: {exc}") from None

    def _target(self, message: OutgoingMessage) -> str:
        if message.to.startswith(("http://", "https://")):
            # rules are written in the browser: a URL in a rule must not reach any host
            # the server can (internal services, cloud metadata) unless allowed
            allowed = {h.strip().lower() for h in
                       self.config.get_str("allowed_hosts").split(",") if h.strip()}
            host = (httpx.URL(message.to).host or "").lower()
            if "*" not in allowed and host not in allowed:
                raise PermanentDeliveryError(
                    f"webhook: host {host!r} is not in GONGDAN_WEBHOOK_ALLOWED_HOSTS"
                )
            return message.to
        url = self.config.get_str("url")
        if not url:
            raise PermanentDeliveryError("webhook: no URL (set GONGDAN_WEBHOOK_URL or `to`)")
        return url

    @staticmethod
    def payload(message: OutgoingMessage, now: datetime) -> dict[str, Any]:
        """The JSON body sent for ``message``."""
        return {
            "type": message.extra.get("event_type", "gongdan.notification"),
            "timestamp": now.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "data": {
                "channel": message.channel,
                "to": message.to,
                "subject": message.subject,
                "text": message.text,
                "markdown": message.markdown,
                **{k: v for k, v in message.extra.items() if k != "event_type"},
            },
        }

    def send(self, message: OutgoingMessage) -> DeliveryReceipt:
        """Deliver one signed event; 2xx accepts, 429/5xx retry, other 4xx are permanent."""
        url = self._target(message)
        now = datetime.now(UTC)
        body = msgspec.json.encode(self.payload(message, now))
        timestamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "webhook-id": message.idempotency_key,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(self._key, message.idempotency_key, timestamp, body),
        }
        with translate_transport_errors(self.name):
            response = self.client.post(url, content=body, headers=headers)
        raise_for_http_status(response, channel=self.name)
        return DeliveryReceipt(
            channel=self.name,
            provider_message_id=message.idempotency_key,
            detail={"status": response.status_code},
        )

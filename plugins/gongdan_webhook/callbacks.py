"""Inbound callbacks signed per Standard Webhooks: approval results from any system.

The sender POSTs ``{"type": "approval.passed" | "approval.rejected", "timestamp": ...,
"data": {"ticket": "GD-...", "kind": "工艺变更", "approver": "...", "comment": "..."}}`` to
``/callbacks/webhook`` with the three ``webhook-*`` headers, signed with
``GONGDAN_WEBHOOK_CALLBACK_SECRET``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime

import msgspec

from gongdan.connectors import Setting, SettingsError, load_settings
from gongdan.hookspecs import (
    APPROVAL_EVENT_TYPES,
    CallbackEvent,
    CallbackRejected,
    CallbackReply,
    InboundCallback,
    VerifiedCallback,
)

from .signing import InvalidSecret, decode_secret, verify

TYPES = {"approval.passed": "approval_passed", "approval.rejected": "approval_rejected"}

EVENT_TYPES = APPROVAL_EVENT_TYPES

SETTINGS = (
    Setting("callback_secret", "secret for inbound callbacks, whsec_ + base64", secret=True),
    Setting("callback_tolerance", "seconds a callback's timestamp may differ from now",
            default="300"),
)


class StandardWebhookVerifier:
    """Checks signature and timestamp; refuses an id it has seen (the platform also
    de-duplicates ``dedup_key`` durably)."""

    name = "webhook"
    settings_prefix = "webhook"
    settings = SETTINGS

    def __init__(self, *, environ: Mapping[str, str] | None = None, seen_capacity: int = 10_000):
        self._environ = environ
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._capacity = seen_capacity
        self._lock = threading.Lock()

    def accepts(self, callback: InboundCallback) -> bool:
        """Callbacks posted to ``/callbacks/webhook``."""
        return callback.path.strip("/") == "webhook"

    def verify(self, callback: InboundCallback) -> VerifiedCallback:
        """The approval event (answered 204), or :class:`CallbackRejected`."""
        try:
            settings = load_settings("webhook", SETTINGS, environ=self._environ)
            key = decode_secret(settings.get_secret("callback_secret"))
            tolerance = settings.get_float("callback_tolerance", 300)
        except (SettingsError, InvalidSecret) as exc:
            raise CallbackRejected(f"webhook callbacks are not configured: {exc}") from None
        headers = callback.headers
        msg_id = headers.get("webhook-id", "")
        stamp = headers.get("webhook-timestamp", "")
        signature = headers.get("webhook-signature", "")
        if not (msg_id and stamp.isdigit() and signature):
            raise CallbackRejected("missing webhook-id, webhook-timestamp or webhook-signature")
        now = (callback.received_at or datetime.now(UTC)).timestamp()
        if abs(now - int(stamp)) > tolerance:
            raise CallbackRejected(f"timestamp {stamp} is outside the {tolerance:.0f}s window")
        if not verify(key, msg_id, stamp, callback.body, signature):
            raise CallbackRejected("bad signature")
        with self._lock:
            if msg_id in self._seen:
                raise CallbackRejected(f"replayed callback {msg_id}")
            self._seen[msg_id] = None
            while len(self._seen) > self._capacity:
                self._seen.popitem(last=False)
        try:
            payload = msgspec.json.decode(callback.body)
            kind = payload["type"]
            data = payload["data"]
            ticket = str(data["ticket"])
        except (msgspec.DecodeError, KeyError, TypeError) as exc:
            raise CallbackRejected(f"malformed body: {exc}") from None
        reply = CallbackReply(status=204)
        if kind not in TYPES:
            return VerifiedCallback(reply=reply)  # signed but not about tickets (a ping)
        return VerifiedCallback(reply=reply, event=CallbackEvent(
            event_type=TYPES[kind],
            ticket_ref=ticket,
            dedup_key=f"webhook:{msg_id}",
            source=self.name,
            actor=str(data.get("approver", "")),
            fields={k: str(data[k]) for k in ("approval_id", "kind", "approver", "comment")
                    if k in data},
            occurred_at=datetime.fromtimestamp(int(stamp), UTC),
        ))

"""DingTalk approval callbacks (HTTP event subscription, ``bpms_instance_change``).

DingTalk POSTs ``{"encrypt": "..."}`` to ``/callbacks/dingtalk`` with ``signature``
(or ``msg_signature``), ``timestamp`` (ms) and ``nonce`` in the query; the signature and
encryption are the WeCom scheme (``gongdan_msgcrypt``) with the app key as receive id.
The decrypted JSON's ``EventType`` is ``check_url`` when the URL is registered, or
``bpms_instance_change`` with ``processInstanceId``, ``type`` (``finish``/``terminate``)
and ``result`` (``agree``/``refuse``). Every reply must be the encrypted word
``success`` in ``{"msg_signature", "timeStamp", "nonce", "encrypt"}``, or DingTalk
retries.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from gongdan.connectors import DeliveryError, Setting, Settings, SettingsError, load_settings
from gongdan.hookspecs import (
    CallbackEvent,
    CallbackRejected,
    CallbackReplayed,
    CallbackReply,
    InboundCallback,
    VerifiedCallback,
)
from gongdan_msgcrypt import CryptError, MsgCrypt

from .connector import DEFAULT_BASE_URL
from .org import AccessToken, api_post

SETTINGS = (
    Setting("app_key", "internal app AppKey (the receive id of callbacks)", required=True),
    Setting("callback_token", "event subscription token (签名 token)", secret=True,
            required=True),
    Setting("callback_aes_key", "event subscription aes_key (43 characters)", secret=True,
            required=True),
    Setting("callback_tolerance", "seconds a callback's timestamp may differ from now",
            default="300"),
    Setting("app_secret", "internal app AppSecret, to read an approval's form", secret=True),
    Setting("approval_ticket_field", "the approval form field holding the ticket number",
            default="工单号"),
    Setting("base_url", "API base URL", default=DEFAULT_BASE_URL),
)

_log = logging.getLogger("gongdan.plugins.dingtalk")


def ticket_from_instance(detail: Mapping[str, Any], field: str) -> str:
    """The ticket number in a process instance's form (``processinstance/get``), or ""."""
    values = detail.get("process_instance", {}).get("form_component_values", [])
    for item in values:
        if item.get("name") == field:
            return str(item.get("value", "")).strip()
    return ""

RESULTS = {"agree": "approval_passed", "refuse": "approval_rejected"}


class DingTalkApprovalVerifier:
    """Verifies and decrypts DingTalk event callbacks; approvals become ticket events."""

    name = "dingtalk"
    settings_prefix = "dingtalk"
    settings = SETTINGS

    def __init__(self, *, environ: Mapping[str, str] | None = None,
                 client: httpx.Client | None = None, seen_capacity: int = 10_000) -> None:
        self._environ = environ
        self._client = client
        self._own_client: httpx.Client | None = None
        self._tokens = AccessToken()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._capacity = seen_capacity
        self._lock = threading.Lock()

    def accepts(self, callback: InboundCallback) -> bool:
        """Callbacks sent to ``/callbacks/dingtalk``."""
        return callback.path.strip("/") == "dingtalk"

    def resolve_ticket(self, instance: str, settings: Settings) -> str:
        """The ticket number from the approval's form, "" when unknown or unreadable.

        ``POST /topapi/processinstance/get`` gives the form values; the one named
        ``approval_ticket_field`` holds the ticket number. A failure is logged, not fatal.
        """
        secret = settings.get_secret("app_secret")
        if not secret:
            return ""
        client = self._client or self._own_client
        if client is None:
            client = self._own_client = httpx.Client(timeout=3.0)
        base = settings.get_str("base_url").rstrip("/")
        try:
            token = self._tokens.get(client, base, settings.get_str("app_key"), secret,
                                     "dingtalk-approval")
            detail = api_post(client, base, token, "/topapi/processinstance/get",
                              {"process_instance_id": instance}, "dingtalk-approval")
        except DeliveryError as exc:
            _log.warning("dingtalk approval %s: cannot read its form: %s", instance, exc)
            return ""
        return ticket_from_instance(detail, settings.get_str("approval_ticket_field"))

    def close(self) -> None:
        """Close the HTTP client this verifier created."""
        if self._own_client is not None:
            self._own_client.close()
            self._own_client = None

    def _success(self, crypt: MsgCrypt) -> CallbackReply:
        stamp, nonce = str(int(datetime.now(UTC).timestamp() * 1000)), secrets.token_hex(4)
        encrypted = crypt.encrypt("success")
        body = {"msg_signature": crypt.signature(stamp, nonce, encrypted), "timeStamp": stamp,
                "nonce": nonce, "encrypt": encrypted}
        return CallbackReply(body=json.dumps(body).encode(), content_type="application/json")

    def verify(self, callback: InboundCallback) -> VerifiedCallback:
        """The approval event (or none) and the encrypted ``success``; else CallbackRejected."""
        try:
            s = load_settings("dingtalk", SETTINGS, environ=self._environ)
            crypt = MsgCrypt(s.get_secret("callback_token"), s.get_secret("callback_aes_key"),
                             s.get_str("app_key"))
            tolerance = s.get_float("callback_tolerance", 300)
        except (SettingsError, CryptError) as exc:
            raise CallbackRejected(f"dingtalk callbacks are not configured: {exc}") from None
        q = callback.query
        signature = q.get("msg_signature") or q.get("signature", "")
        stamp, nonce = q.get("timestamp", ""), q.get("nonce", "")
        if not (signature and stamp.isdigit() and nonce):
            raise CallbackRejected("missing signature, timestamp or nonce")
        now = (callback.received_at or datetime.now(UTC)).timestamp()
        if abs(now - int(stamp) / 1000) > tolerance:
            raise CallbackRejected(f"timestamp {stamp} is outside the {tolerance:.0f}s window")
        try:
            encrypted = str(json.loads(callback.body)["encrypt"])
            crypt.check_signature(signature, stamp, nonce, encrypted)
            payload = json.loads(crypt.decrypt(encrypted))
        except (ValueError, KeyError, TypeError, CryptError) as exc:
            raise CallbackRejected(f"dingtalk callback: {exc}") from None
        with self._lock:
            if signature in self._seen:
                raise CallbackReplayed(f"replayed callback {signature}")
            self._seen[signature] = None
            while len(self._seen) > self._capacity:
                self._seen.popitem(last=False)
        reply = self._success(crypt)
        if payload.get("EventType") != "bpms_instance_change" or payload.get("type") != "finish":
            return VerifiedCallback(reply=reply)  # check_url, started, terminated...
        result = payload.get("result", "")
        instance = str(payload.get("processInstanceId", ""))
        if result not in RESULTS or not instance:
            return VerifiedCallback(reply=reply)
        finished = payload.get("finishTime")
        return VerifiedCallback(reply=reply, event=CallbackEvent(
            event_type=RESULTS[result],
            ticket_ref=self.resolve_ticket(instance, s),
            approval_id=instance,
            dedup_key=f"dingtalk:{instance}:{result}",
            source=self.name,
            actor=str(payload.get("staffId", "")),
            fields={"approval_id": instance, "approver": str(payload.get("staffId", "")),
                    "comment": str(payload.get("remark", "")),
                    "kind": str(payload.get("title", ""))},
            occurred_at=datetime.fromtimestamp(int(finished) / 1000, UTC)
            if str(finished or "").isdigit() else None,
        ))

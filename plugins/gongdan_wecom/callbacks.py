"""WeCom approval callbacks (审批状态变化 ``sys_approval_change``), verified and decrypted.

WeCom calls ``/callbacks/wecom`` with ``msg_signature``, ``timestamp`` and ``nonce`` in
the query: a ``GET`` with ``echostr`` when the URL is configured (answer the decrypted
echo), then ``POST`` with ``<xml><Encrypt>…</Encrypt></xml>`` for each event. The
signature covers the token, timestamp, nonce and cipher text; the cipher text decrypts
to the event XML. ``SpStatus`` 2 (已通过) becomes ``approval_passed``, 3 (已驳回)
``approval_rejected``; other statuses are acknowledged and ignored.
"""

from __future__ import annotations

import logging
import re
import threading
import xml.etree.ElementTree as ET
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

from .connector import DEFAULT_BASE_URL, TokenCache

SETTINGS = (
    Setting("corp_id", "企业 ID (corpid), the receive id of callbacks", required=True),
    Setting("callback_token", "the callback Token (接收消息服务器配置)", secret=True,
            required=True),
    Setting("callback_aes_key", "the callback EncodingAESKey (43 characters)", secret=True,
            required=True),
    Setting("callback_tolerance", "seconds a callback's timestamp may differ from now",
            default="300"),
    Setting("approval_secret",
            "secret of the 审批 app, to read an approval's form (empty: GONGDAN_WECOM_SECRET)",
            secret=True),
    Setting("secret", "the application's secret (corpsecret)", secret=True),
    Setting("approval_ticket_field", "the approval form control holding the ticket number",
            default="工单号"),
    Setting("base_url", "API base URL", default=DEFAULT_BASE_URL),
)

_log = logging.getLogger("gongdan.plugins.wecom")


def ticket_from_detail(detail: Mapping[str, Any], field: str) -> str:
    """The ticket number in an approval's form (``getapprovaldetail``), or ""."""
    contents = detail.get("info", {}).get("apply_data", {}).get("contents", [])
    for control in contents:
        titles = {t.get("text", "") for t in control.get("title", [])}
        if field in titles:
            return str(control.get("value", {}).get("text", "")).strip()
    return ""

STATUS_EVENTS = {"2": "approval_passed", "3": "approval_rejected"}
_ENCRYPT = re.compile(rb"<Encrypt>\s*(?:<!\[CDATA\[)?([A-Za-z0-9+/=]+)(?:\]\]>)?\s*</Encrypt>")


def _text(node: ET.Element | None, path: str) -> str:
    found = node.find(path) if node is not None else None
    return (found.text or "").strip() if found is not None else ""


class WeComApprovalVerifier:
    """Verifies and decrypts WeCom callbacks; approvals become ticket events."""

    name = "wecom"
    settings_prefix = "wecom"
    settings = SETTINGS

    def __init__(self, *, environ: Mapping[str, str] | None = None,
                 client: httpx.Client | None = None, seen_capacity: int = 10_000) -> None:
        self._environ = environ
        self._client = client
        self._tokens: TokenCache | None = None
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._capacity = seen_capacity
        self._lock = threading.Lock()

    def accepts(self, callback: InboundCallback) -> bool:
        """Callbacks sent to ``/callbacks/wecom``."""
        return callback.path.strip("/") == "wecom"

    def _crypt(self) -> tuple[MsgCrypt, Settings]:
        try:
            s = load_settings("wecom", SETTINGS, environ=self._environ)
            crypt = MsgCrypt(s.get_secret("callback_token"), s.get_secret("callback_aes_key"),
                             s.get_str("corp_id"))
            return crypt, s
        except (SettingsError, CryptError) as exc:
            raise CallbackRejected(f"wecom callbacks are not configured: {exc}") from None

    def resolve_ticket(self, sp_no: str, settings: Settings) -> str:
        """The ticket number from the approval's form, "" when unknown or unreadable.

        The callback carries only ``SpNo``; ``POST /cgi-bin/oa/getapprovaldetail`` gives
        the form, whose control titled ``approval_ticket_field`` holds the ticket number.
        Failing to read it is logged, not fatal: the platform can still map
        ``approval_id`` to the ticket that opened the approval.
        """
        secret = settings.get_secret("approval_secret") or settings.get_secret("secret")
        if not secret:
            return ""
        if self._tokens is None:
            self._tokens = TokenCache(
                self._client or httpx.Client(timeout=3.0), channel="wecom-approval",
                base_url=settings.get_str("base_url"), corp_id=settings.get_str("corp_id"),
                secret=secret,
            )
        try:
            detail = self._tokens.call("POST", "/cgi-bin/oa/getapprovaldetail",
                                       json={"sp_no": sp_no})
        except DeliveryError as exc:
            _log.warning("wecom approval %s: cannot read its form: %s", sp_no, exc)
            return ""
        return ticket_from_detail(detail, settings.get_str("approval_ticket_field"))

    def close(self) -> None:
        """Close the HTTP client this verifier created."""
        if self._tokens is not None and self._client is None:
            self._tokens.client.close()
        self._tokens = None

    def verify(self, callback: InboundCallback) -> VerifiedCallback:
        """The approval event (or none) and WeCom's expected reply; else CallbackRejected."""
        crypt, settings = self._crypt()
        tolerance = settings.get_float("callback_tolerance", 300)
        q = callback.query
        signature, stamp, nonce = q.get("msg_signature", ""), q.get("timestamp", ""), \
            q.get("nonce", "")
        if not (signature and stamp.isdigit() and nonce):
            raise CallbackRejected("missing msg_signature, timestamp or nonce")
        if callback.method.upper() == "GET":  # URL verification: echo the decrypted echostr
            echostr = q.get("echostr", "")
            try:
                crypt.check_signature(signature, stamp, nonce, echostr)
                echo = crypt.decrypt(echostr)
            except CryptError as exc:
                raise CallbackRejected(f"wecom URL check: {exc}") from None
            return VerifiedCallback(reply=CallbackReply(body=echo.encode()))
        now = (callback.received_at or datetime.now(UTC)).timestamp()
        if abs(now - int(stamp)) > tolerance:
            raise CallbackRejected(f"timestamp {stamp} is outside the {tolerance:.0f}s window")
        try:
            # no XML parser touches the body before the signature is checked
            found = _ENCRYPT.search(callback.body)
            if found is None:
                raise CallbackRejected("wecom callback: no <Encrypt> element")
            encrypted = found.group(1).decode("ascii")
            crypt.check_signature(signature, stamp, nonce, encrypted)
            event_xml = ET.fromstring(crypt.decrypt(encrypted))
        except (ET.ParseError, CryptError) as exc:
            raise CallbackRejected(f"wecom callback: {exc}") from None
        with self._lock:
            if signature in self._seen:
                raise CallbackReplayed(f"replayed callback {signature}")
            self._seen[signature] = None
            while len(self._seen) > self._capacity:
                self._seen.popitem(last=False)
        ack = CallbackReply(body=b"success")  # WeCom: "success" (or empty) stops retries
        if _text(event_xml, "Event") != "sys_approval_change":
            return VerifiedCallback(reply=ack)
        info = event_xml.find("ApprovalInfo")
        sp_no, status = _text(info, "SpNo"), _text(info, "SpStatus")
        if status not in STATUS_EVENTS or not sp_no:
            return VerifiedCallback(reply=ack)
        records = info.findall("SpRecord/Details") if info is not None else []
        decided = [d for d in records if _text(d, "SpStatus") == status]
        last = decided[-1] if decided else None
        created = _text(event_xml, "CreateTime")
        return VerifiedCallback(reply=ack, event=CallbackEvent(
            event_type=STATUS_EVENTS[status],
            ticket_ref=self.resolve_ticket(sp_no, settings),
            approval_id=sp_no,
            dedup_key=f"wecom:{sp_no}:{status}",
            source=self.name,
            actor=_text(last, "Approver/UserId"),
            fields={"approval_id": sp_no, "approver": _text(last, "Approver/UserId"),
                    "comment": _text(last, "Speech"), "kind": _text(info, "SpName")},
            occurred_at=datetime.fromtimestamp(int(created), UTC) if created.isdigit()
            else None,
        ))

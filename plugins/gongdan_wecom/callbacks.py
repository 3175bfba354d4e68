"""WeCom approval callbacks (审批状态变化 ``sys_approval_change``), verified and decrypted.

WeCom calls ``/callbacks/wecom`` with ``msg_signature``, ``timestamp`` and ``nonce`` in
the query: a ``GET`` with ``echostr`` when the URL is configured (answer the decrypted
echo), then ``POST`` with ``<xml><Encrypt>…</Encrypt></xml>`` for each event. The
signature covers the token, timestamp, nonce and cipher text; the cipher text decrypts
to the event XML. ``SpStatus`` 2 (已通过) becomes ``approval_passed``, 3 (已驳回)
``approval_rejected``; other statuses are acknowledged and ignored.
"""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime

from gongdan.connectors import Setting, SettingsError, load_settings
from gongdan.hookspecs import (
    CallbackEvent,
    CallbackRejected,
    CallbackReply,
    InboundCallback,
    VerifiedCallback,
)
from gongdan_msgcrypt import CryptError, MsgCrypt

SETTINGS = (
    Setting("corp_id", "企业 ID (corpid), the receive id of callbacks", required=True),
    Setting("callback_token", "the callback Token (接收消息服务器配置)", secret=True,
            required=True),
    Setting("callback_aes_key", "the callback EncodingAESKey (43 characters)", secret=True,
            required=True),
    Setting("callback_tolerance", "seconds a callback's timestamp may differ from now",
            default="300"),
)

STATUS_EVENTS = {"2": "approval_passed", "3": "approval_rejected"}


def _text(node: ET.Element | None, path: str) -> str:
    found = node.find(path) if node is not None else None
    return (found.text or "").strip() if found is not None else ""


class WeComApprovalVerifier:
    """Verifies and decrypts WeCom callbacks; approvals become ticket events."""

    name = "wecom"
    settings_prefix = "wecom"
    settings = SETTINGS

    def __init__(self, *, environ: Mapping[str, str] | None = None,
                 seen_capacity: int = 10_000) -> None:
        self._environ = environ
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._capacity = seen_capacity
        self._lock = threading.Lock()

    def accepts(self, callback: InboundCallback) -> bool:
        """Callbacks sent to ``/callbacks/wecom``."""
        return callback.path.strip("/") == "wecom"

    def _crypt(self) -> tuple[MsgCrypt, float]:
        try:
            s = load_settings("wecom", SETTINGS, environ=self._environ)
            crypt = MsgCrypt(s.get_secret("callback_token"), s.get_secret("callback_aes_key"),
                             s.get_str("corp_id"))
            return crypt, s.get_float("callback_tolerance", 300)
        except (SettingsError, CryptError) as exc:
            raise CallbackRejected(f"wecom callbacks are not configured: {exc}") from None

    def verify(self, callback: InboundCallback) -> VerifiedCallback:
        """The approval event (or none) and WeCom's expected reply; else CallbackRejected."""
        crypt, tolerance = self._crypt()
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
            encrypted = _text(ET.fromstring(callback.body), "Encrypt")
            crypt.check_signature(signature, stamp, nonce, encrypted)
            event_xml = ET.fromstring(crypt.decrypt(encrypted))
        except (ET.ParseError, CryptError) as exc:
            raise CallbackRejected(f"wecom callback: {exc}") from None
        with self._lock:
            if signature in self._seen:
                raise CallbackRejected(f"replayed callback {signature}")
            self._seen[signature] = None
            while len(self._seen) > self._capacity:
                self._seen.popitem(last=False)
        ack = CallbackReply(body=b"")
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
            approval_id=sp_no,
            dedup_key=f"wecom:{sp_no}:{status}",
            source=self.name,
            actor=_text(last, "Approver/UserId"),
            fields={"approval_id": sp_no, "approver": _text(last, "Approver/UserId"),
                    "comment": _text(last, "Speech"), "kind": _text(info, "SpName")},
            occurred_at=datetime.fromtimestamp(int(created), UTC) if created.isdigit()
            else None,
        ))

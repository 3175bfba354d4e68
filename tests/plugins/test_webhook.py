"""gongdan_webhook against a receiver that verifies Standard Webhooks signatures itself."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime

import pytest

from gongdan.connectors import OutgoingMessage, PermanentDeliveryError, RetryableDeliveryError
from gongdan.hookspecs import CallbackRejected, InboundCallback
from gongdan_webhook import StandardWebhookVerifier, WebhookConnector
from gongdan_webhook.signing import new_secret

# Standard Webhooks' own example: key, id, timestamp, body and the signature it documents
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def receiver_verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The receiver's check, written from the convention, independent of the plugin."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(
        sig.split(",", 1)[0] == "v1" and hmac.compare_digest(sig.split(",", 1)[1], expected)
        for sig in headers["webhook-signature"].split(" ")
    )


def message(**kw: object) -> OutgoingMessage:
    base: dict[str, object] = {
        "channel": "webhook", "text": "工单 GD-1 已超时", "idempotency_key": "msg_outbox_42"
    }
    base.update(kw)
    return OutgoingMessage(**base)  # type: ignore[arg-type]


def test_signature_matches_the_spec_example() -> None:
    from gongdan_webhook.signing import decode_secret, sign

    body = b'{"test": 2432232314}'
    assert (
        sign(decode_secret(SPEC_SECRET), "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_send_is_signed_and_verified_by_the_receiver(local_server) -> None:
    secret = new_secret()

    def receiver(req):
        assert req.method == "POST" and req.path == "/hooks/gongdan"
        assert req.headers["content-type"] == "application/json"
        assert req.headers["webhook-id"] == "msg_outbox_42"
        assert abs(int(req.headers["webhook-timestamp"]) - time.time()) < 60
        assert receiver_verify(secret, req.headers, req.body)
        body = req.json()
        assert body["type"] == "ticket.overdue"
        assert body["data"]["text"] == "工单 GD-1 已超时"
        assert body["data"]["ticket"] == "GD-1"
        datetime.fromisoformat(body["timestamp"])
        return 204, {}, b""

    srv = local_server(receiver)
    env = {"GONGDAN_WEBHOOK_SECRET": secret, "GONGDAN_WEBHOOK_URL": srv.url + "/hooks/gongdan"}
    with WebhookConnector.from_env(environ=env) as conn:
        receipt = conn.send(message(extra={"event_type": "ticket.overdue", "ticket": "GD-1"}))
    assert receipt.provider_message_id == "msg_outbox_42"
    assert len(srv.requests) == 1


def test_wrong_secret_is_caught_by_the_receiver(local_server) -> None:
    receiver_secret = new_secret()

    def receiver(req):
        ok = receiver_verify(receiver_secret, req.headers, req.body)
        return (204, {}, b"") if ok else (401, {}, "bad signature")

    srv = local_server(receiver)
    env = {"GONGDAN_WEBHOOK_SECRET": new_secret(), "GONGDAN_WEBHOOK_URL": srv.url}
    with WebhookConnector.from_env(environ=env) as conn, pytest.raises(PermanentDeliveryError):
        conn.send(message())


@pytest.mark.parametrize(
    ("status", "headers", "error", "retry_after"),
    [
        (429, {"retry-after": "7"}, RetryableDeliveryError, 7.0),
        (503, {}, RetryableDeliveryError, None),
        (410, {}, PermanentDeliveryError, None),
        (400, {}, PermanentDeliveryError, None),
    ],
)
def test_status_codes(local_server, status, headers, error, retry_after) -> None:
    srv = local_server(lambda req: (status, headers, "no"))
    env = {"GONGDAN_WEBHOOK_SECRET": new_secret(), "GONGDAN_WEBHOOK_URL": srv.url}
    with WebhookConnector.from_env(environ=env) as conn, pytest.raises(error) as info:
        conn.send(message())
    assert getattr(info.value, "retry_after", None) == retry_after


def test_connection_refused_is_retryable(local_server) -> None:
    srv = local_server(lambda req: (200, {}, ""))
    srv.stop()
    env = {"GONGDAN_WEBHOOK_SECRET": new_secret(), "GONGDAN_WEBHOOK_URL": srv.url}
    with WebhookConnector.from_env(environ=env) as conn, pytest.raises(RetryableDeliveryError):
        conn.send(message())


def test_message_to_overrides_the_url_on_allowed_hosts_only(local_server) -> None:
    srv = local_server(lambda req: (200, {}, "ok"))
    env = {"GONGDAN_WEBHOOK_SECRET": new_secret(), "GONGDAN_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1"}
    with WebhookConnector.from_env(environ=env) as conn:
        conn.send(message(to=srv.url + "/other"))
        with pytest.raises(PermanentDeliveryError):
            conn.send(message())  # no URL anywhere
        with pytest.raises(PermanentDeliveryError, match="ALLOWED_HOSTS"):
            conn.send(message(to="http://169.254.169.254/latest/meta-data/"))
    assert srv.requests[0].path == "/other"
    with WebhookConnector.from_env(environ={"GONGDAN_WEBHOOK_SECRET": new_secret()}) as conn, \
            pytest.raises(PermanentDeliveryError, match="ALLOWED_HOSTS"):
        conn.send(message(to=srv.url + "/other"))  # by default no rule-given URL at all
    assert len(srv.requests) == 1


# --- inbound callbacks ------------------------------------------------------------


def signed_callback(secret: str, payload: dict, *, msg_id: str = "msg_cb_1", ts: int | None = None,
                    tamper: bool = False) -> InboundCallback:
    body = json.dumps(payload).encode()
    ts = int(time.time()) if ts is None else ts
    key = base64.b64decode(secret.removeprefix("whsec_"))
    sig = base64.b64encode(
        hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    ).decode()
    return InboundCallback(
        path="webhook",
        headers={"webhook-id": msg_id, "webhook-timestamp": str(ts),
                 "webhook-signature": f"v1,{sig}"},
        body=body + (b" " if tamper else b""),
        received_at=datetime.now(UTC),
    )


APPROVED = {"type": "approval.passed", "timestamp": "2026-11-25T05:00:00Z",
            "data": {"ticket": "GD-20261125-0001", "kind": "工艺变更", "approver": "王经理",
                     "comment": "同意"}}


def test_callback_becomes_an_approval_event() -> None:
    secret = new_secret()
    verifier = StandardWebhookVerifier(environ={"GONGDAN_WEBHOOK_CALLBACK_SECRET": secret})
    result = verifier.verify(signed_callback(secret, APPROVED))
    assert result.reply.status == 204
    event = result.event
    assert event is not None
    assert event.event_type == "approval_passed"
    assert event.ticket_ref == "GD-20261125-0001"
    assert event.actor == "王经理" and event.fields["comment"] == "同意"
    assert event.fields["kind"] == "工艺变更"
    assert event.dedup_key == "webhook:msg_cb_1"


@pytest.mark.parametrize(
    "case", ["forged", "tampered", "stale", "replayed", "unsigned", "not configured"]
)
def test_bad_callbacks_are_refused(case: str) -> None:
    secret = new_secret()
    env = {} if case == "not configured" else {"GONGDAN_WEBHOOK_CALLBACK_SECRET": secret}
    verifier = StandardWebhookVerifier(environ=env)
    if case == "forged":
        cb = signed_callback(new_secret(), APPROVED)
    elif case == "tampered":
        cb = signed_callback(secret, APPROVED, tamper=True)
    elif case == "stale":
        cb = signed_callback(secret, APPROVED, ts=int(time.time()) - 3600)
    elif case == "replayed":
        cb = signed_callback(secret, APPROVED)
        verifier.verify(cb)
    elif case == "unsigned":
        cb = InboundCallback(path="webhook", body=json.dumps(APPROVED).encode())
    else:
        cb = signed_callback(secret, APPROVED)
    with pytest.raises(CallbackRejected):
        verifier.verify(cb)


def test_callbacks_are_routed_through_the_plugin_manager(monkeypatch) -> None:
    from gongdan.plugins import make_plugin_manager, verify_callback

    secret = new_secret()
    monkeypatch.setenv("GONGDAN_WEBHOOK_CALLBACK_SECRET", secret)
    pm = make_plugin_manager(environ={"GONGDAN_LOAD_PLUGINS": "webhook"})
    result = verify_callback(signed_callback(secret, APPROVED, msg_id="msg_routed"), pm)
    assert result.event is not None and result.event.event_type == "approval_passed"
    with pytest.raises(CallbackRejected, match="0 verifiers"):
        verify_callback(InboundCallback(path="nowhere"), pm)


def test_malformed_secret_is_a_settings_error() -> None:
    from gongdan.connectors import SettingsError

    with pytest.raises(SettingsError, match="GONGDAN_WEBHOOK_SECRET"):
        WebhookConnector.from_env(environ={"GONGDAN_WEBHOOK_SECRET": "whsec_not*base64"})

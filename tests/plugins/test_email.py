"""gongdan_email against a local SMTP server (aiosmtpd) requiring STARTTLS and AUTH."""

from __future__ import annotations

import email
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from gongdan.connectors import OutgoingMessage, PermanentDeliveryError, RetryableDeliveryError
from gongdan_email import SmtpConnector

USER, PASSWORD = "gongdan@example.cn", "app-token-5f2c9e"


@dataclass
class Mailbox:
    """What the server saw: mechanisms used, messages delivered."""

    mechanisms: list[str] = field(default_factory=list)
    messages: list[tuple[str, list[str], Message]] = field(default_factory=list)
    tls_at_auth: list[bool] = field(default_factory=list)

    def authenticator(self, server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        self.mechanisms.append(mechanism)
        self.tls_at_auth.append(session.ssl is not None)
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login.decode() == USER and auth_data.password.decode() == PASSWORD)
        return AuthResult(success=ok, handled=False)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        if address.startswith("nobody@"):
            return "550 5.1.1 mailbox unavailable"
        if address.startswith("busy@"):
            return "450 4.2.1 mailbox busy, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        assert session.authenticated
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                              email.message_from_bytes(envelope.content)))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def server_context(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
    return ctx


@pytest.fixture(params=["PLAIN", "LOGIN"])
def smtp_server(request, ca: trustme.CA) -> Iterator[tuple[Mailbox, int]]:
    """STARTTLS required, AUTH required (only after TLS), offering one mechanism."""
    box = Mailbox()
    other = {"PLAIN": "LOGIN", "LOGIN": "PLAIN"}[request.param]
    port = free_port()
    controller = Controller(
        box, hostname="127.0.0.1", port=port, tls_context=server_context(ca),
        require_starttls=True, auth_required=True, auth_require_tls=True,
        authenticator=box.authenticator, auth_exclude_mechanism=[other],
    )
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


def connector(port: int, ca_file: str, password: str = PASSWORD, **more: str) -> SmtpConnector:
    env = {"GONGDAN_EMAIL_HOST": "127.0.0.1", "GONGDAN_EMAIL_PORT": str(port),
           "GONGDAN_EMAIL_USERNAME": USER, "GONGDAN_EMAIL_PASSWORD": password,
           "GONGDAN_EMAIL_FROM_ADDRESS": "工单平台 <noreply@example.cn>",
           "GONGDAN_EMAIL_CA_FILE": ca_file, "GONGDAN_EMAIL_TIMEOUT": "5"}
    env.update({f"GONGDAN_EMAIL_{k.upper()}": v for k, v in more.items()})
    return SmtpConnector.from_env(environ=env)


def msg(**kw: object) -> OutgoingMessage:
    base: dict[str, object] = {"channel": "email", "to": "zhang.gong@example.cn",
                               "subject": "工单 GD-11 已派给你", "text": "请于今天 17:00 前上门。",
                               "idempotency_key": "outbox:11"}
    base.update(kw)
    return OutgoingMessage(**base)  # type: ignore[arg-type]


def test_mail_goes_through_starttls_and_login(smtp_server, ca_file) -> None:
    box, port = smtp_server
    with connector(port, ca_file) as conn:
        receipt = conn.send(msg(to="zhang.gong@example.cn, li.gong@example.cn"))
    assert box.mechanisms and all(box.tls_at_auth)
    (mail_from, rcpts, mail), = box.messages
    assert mail_from == "noreply@example.cn"
    assert rcpts == ["zhang.gong@example.cn", "li.gong@example.cn"]
    assert str(email.header.make_header(email.header.decode_header(mail["Subject"]))) \
        == "工单 GD-11 已派给你"
    assert mail["Message-ID"] == "<outbox-11@example.cn>" == receipt.provider_message_id
    assert mail.get_payload(decode=True).decode("utf-8").strip() == "请于今天 17:00 前上门。"


def test_wrong_password_is_permanent(smtp_server, ca_file) -> None:
    _, port = smtp_server
    with connector(port, ca_file, password="wrong-password") as conn, \
            pytest.raises(PermanentDeliveryError) as info:
        conn.send(msg())
    assert info.value.provider_code == 535


def test_unknown_mailbox_is_permanent_busy_one_retryable(smtp_server, ca_file) -> None:
    box, port = smtp_server
    with connector(port, ca_file) as conn:
        with pytest.raises(PermanentDeliveryError):
            conn.send(msg(to="nobody@example.cn"))
        with pytest.raises(RetryableDeliveryError):
            conn.send(msg(to="busy@example.cn"))
        partial = conn.send(msg(to="nobody@example.cn, ok@example.cn"))
    assert partial.detail == {"refused": {"nobody@example.cn": 550}}
    assert [r for _, r, _ in box.messages] == [["ok@example.cn"]]


def test_untrusted_certificate_is_permanent(smtp_server, tmp_path: Path) -> None:
    _, port = smtp_server
    other_ca = tmp_path / "other.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    with connector(port, str(other_ca)) as conn, pytest.raises(PermanentDeliveryError):
        conn.send(msg())


def test_no_server_is_retryable(ca_file) -> None:
    with connector(free_port(), ca_file) as conn, pytest.raises(RetryableDeliveryError):
        conn.send(msg())


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_implicit_tls(ca: trustme.CA, ca_file: str) -> None:
    box = Mailbox()
    port = free_port()
    controller = Controller(
        box, hostname="127.0.0.1", port=port, ssl_context=server_context(ca),
        # the whole connection is TLS; aiosmtpd only counts STARTTLS as TLS for AUTH
        auth_required=True, auth_require_tls=False, authenticator=box.authenticator,
    )
    controller.start()
    try:
        with connector(port, ca_file, security="ssl") as conn:
            conn.send(msg())
    finally:
        controller.stop()
    assert len(box.messages) == 1


def test_subject_and_recipients_cannot_inject_headers(smtp_server, ca_file) -> None:
    box, port = smtp_server
    with connector(port, ca_file) as conn:
        conn.send(msg(subject="工单\r\nBcc: spy@evil.example", to="a@example.cn\r\nb@example.cn"))
    (_, rcpts, mail), = box.messages
    assert rcpts == ["a@example.cn", "b@example.cn"]
    assert mail["Bcc"] is None

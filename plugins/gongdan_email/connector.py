"""E-mail through SMTP with the standard library's ``smtplib``.

One connection per message: EHLO, STARTTLS (or implicit TLS on 465), EHLO again, AUTH
(smtplib picks PLAIN or LOGIN from what the server offers), MAIL/RCPT/DATA, QUIT. A
password is never sent before TLS is up: ``security`` is ``starttls`` or ``ssl``, with no
plain-text option.

Outcome: 4xx replies, dropped connections and time-outs are retryable; 5xx replies
(bad login, unknown mailbox, refused content) and TLS certificate failures are permanent.
The ``Message-ID`` is derived from the idempotency key, so a retried message carries the
same id and mail clients show it once.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from gongdan.connectors import (
    Connector,
    DeliveryError,
    DeliveryReceipt,
    OutgoingMessage,
    PermanentDeliveryError,
    RetryableDeliveryError,
    Setting,
)


def _smtp_error(exc: smtplib.SMTPResponseException, what: str) -> DeliveryError:
    detail = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) \
        else str(exc.smtp_error)
    text = f"email: {what}: {exc.smtp_code} {detail}"
    if 400 <= exc.smtp_code < 500:
        return RetryableDeliveryError(text, provider_code=exc.smtp_code)
    return PermanentDeliveryError(text, provider_code=exc.smtp_code)


class SmtpConnector(Connector):
    """``to`` is one address or several separated by commas; ``subject`` is the subject."""

    name = "email"
    address_kind = "email"
    settings = (
        Setting("host", "SMTP server host name", required=True),
        Setting("port", "SMTP port (587 for STARTTLS, 465 for implicit TLS)", default="587"),
        Setting("security", "starttls or ssl", default="starttls"),
        Setting("username", "login name (empty: no AUTH)"),
        Setting("password", "login password or app token", secret=True),
        Setting("from_address", "the From address, e.g. 工单平台 <noreply@example.com>",
                required=True),
        Setting("ca_file", "PEM file of the CA to trust (empty: the system's)"),
        Setting("timeout", "seconds per SMTP command", default="15"),
    )

    def _tls_context(self) -> ssl.SSLContext:
        cafile = self.config.get_str("ca_file") or None
        return ssl.create_default_context(cafile=cafile)

    def build(self, message: OutgoingMessage) -> EmailMessage:
        """The e-mail for ``message``."""
        recipients = [a.strip() for a in re.split(r"[,;|\s]", message.to) if a.strip()]
        if not recipients:
            raise PermanentDeliveryError("email: no recipient")
        sender = self.config.get_str("from_address")
        domain = sender.rsplit("@", 1)[-1].strip(" >") or "gongdan.local"
        local = re.sub(r"[^A-Za-z0-9._-]", "-", message.idempotency_key) or "message"
        mail = EmailMessage()
        mail["From"] = sender
        mail["To"] = ", ".join(recipients)
        subject = message.subject or (message.text.strip().splitlines() or [""])[0][:78]
        mail["Subject"] = " ".join(subject.split())  # no line breaks: no header injection
        mail["Date"] = formatdate(localtime=False, usegmt=True)
        mail["Message-ID"] = f"<{local}@{domain}>"
        mail.set_content(message.text)
        if html := message.extra.get("html"):
            mail.add_alternative(str(html), subtype="html")
        return mail

    def send(self, message: OutgoingMessage) -> DeliveryReceipt:
        """Deliver over a fresh TLS connection; see the module doc for outcomes."""
        mail = self.build(message)
        host = self.config.get_str("host")
        try:
            port = int(self.config.get_str("port"))
        except ValueError:
            raise PermanentDeliveryError("email: GONGDAN_EMAIL_PORT must be a number") from None
        security = self.config.get_str("security").lower()
        if security not in ("starttls", "ssl"):
            raise PermanentDeliveryError("email: GONGDAN_EMAIL_SECURITY must be starttls or ssl")
        timeout = self.config.get_float("timeout", 15.0)
        refused: dict[str, Any] = {}
        try:
            smtp: smtplib.SMTP
            if security == "ssl":
                smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=self._tls_context())
            else:
                smtp = smtplib.SMTP(host, port, timeout=timeout)
            with smtp:
                smtp.ehlo()
                if security == "starttls":
                    smtp.starttls(context=self._tls_context())
                    smtp.ehlo()
                if username := self.config.get_str("username"):
                    smtp.login(username, self.config.get_secret("password"))
                refused = smtp.send_message(mail)
        except smtplib.SMTPAuthenticationError as exc:
            raise _smtp_error(exc, "login refused") from None
        except smtplib.SMTPNotSupportedError as exc:
            raise PermanentDeliveryError(f"email: server lacks {exc}") from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            text = "email: every recipient refused: " + ", ".join(
                f"{addr} {code}" for addr, (code, _) in exc.recipients.items())
            if codes and all(400 <= c < 500 for c in codes):
                raise RetryableDeliveryError(text, provider_code=codes[0]) from None
            raise PermanentDeliveryError(text, provider_code=codes[0] if codes else None) \
                from None
        except smtplib.SMTPResponseException as exc:
            raise _smtp_error(exc, "refused") from None
        except ssl.SSLCertVerificationError as exc:
            raise PermanentDeliveryError(f"email: TLS certificate not trusted: {exc}") from None
        except (smtplib.SMTPException, OSError) as exc:  # disconnects, time-outs, refused
            raise RetryableDeliveryError(f"email: {type(exc).__name__}: {exc}") from None
        return DeliveryReceipt(
            channel=self.name,
            provider_message_id=mail["Message-ID"],
            detail={"refused": {k: v[0] for k, v in refused.items()}} if refused else {},
        )

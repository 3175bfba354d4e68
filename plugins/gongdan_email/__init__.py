"""gongdan_email: e-mail through SMTP (STARTTLS or implicit TLS, then login), as a plugin."""

from __future__ import annotations

from gongdan.connectors import Connector
from gongdan.plugins import hookimpl

from .connector import SmtpConnector

__all__ = ["SmtpConnector"]


@hookimpl
def register_connectors() -> list[type[Connector]]:
    return [SmtpConnector]

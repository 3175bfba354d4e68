"""The `log` channel: writes each message to the `gongdan.outbox` log. Always available,
needs no credentials, so a line's rules (`notify … via log`) work on a demo machine.

It registers through the `gongdan` entry-point group (`log`) like any connector plugin."""

from __future__ import annotations

import logging
from typing import ClassVar

from gongdan.connectors import Connector, DeliveryReceipt, OutgoingMessage
from gongdan.plugins import hookimpl

log = logging.getLogger("gongdan.outbox")


class LogConnector(Connector):
    """Delivers by logging at INFO: channel, recipient, subject, text, idempotency key."""

    name: ClassVar[str] = "log"

    def send(self, message: OutgoingMessage) -> DeliveryReceipt:
        log.info("outbox message %s to %r: %s %s", message.idempotency_key, message.to,
                 message.subject, message.text.replace("\n", " / "))
        return DeliveryReceipt(channel=self.name, provider_message_id=message.idempotency_key)


@hookimpl
def register_connectors() -> list[type[Connector]]:
    """The `log` channel."""
    return [LogConnector]

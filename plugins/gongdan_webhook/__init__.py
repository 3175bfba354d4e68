"""gongdan_webhook: generic webhooks signed per Standard Webhooks, both directions.

Registered by entry point (``webhook = "gongdan_webhook"``), exactly as a third-party
plugin would be.
"""

from __future__ import annotations

from gongdan.connectors import Connector
from gongdan.hookspecs import CallbackVerifier, EventType
from gongdan.plugins import hookimpl

from .callbacks import EVENT_TYPES, StandardWebhookVerifier
from .connector import WebhookConnector

__all__ = ["StandardWebhookVerifier", "WebhookConnector"]


@hookimpl
def register_connectors() -> list[type[Connector]]:
    return [WebhookConnector]


@hookimpl
def register_callback_verifiers() -> list[CallbackVerifier]:
    return [StandardWebhookVerifier()]


@hookimpl
def register_event_types() -> list[EventType]:
    return EVENT_TYPES

"""gongdan_wecom: 企业微信 group robot and application messages, as a gongdan plugin."""

from __future__ import annotations

from gongdan.connectors import Connector
from gongdan.hookspecs import APPROVAL_EVENT_TYPES, CallbackVerifier, EventType, OrgSource
from gongdan.plugins import hookimpl

from .callbacks import WeComApprovalVerifier
from .connector import WeComAppConnector, WeComRobotConnector
from .org import WeComOrgSource

__all__ = [
    "WeComAppConnector",
    "WeComApprovalVerifier",
    "WeComOrgSource",
    "WeComRobotConnector",
]


@hookimpl
def register_connectors() -> list[type[Connector]]:
    return [WeComAppConnector, WeComRobotConnector]


@hookimpl
def register_org_sources() -> list[OrgSource]:
    return [WeComOrgSource()]


@hookimpl
def register_callback_verifiers() -> list[CallbackVerifier]:
    return [WeComApprovalVerifier()]


@hookimpl
def register_event_types() -> list[EventType]:
    return APPROVAL_EVENT_TYPES

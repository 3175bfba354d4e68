"""gongdan_dingtalk: 钉钉 custom robot messages (signed URL), as a gongdan plugin."""

from __future__ import annotations

from gongdan.connectors import Connector
from gongdan.hookspecs import APPROVAL_EVENT_TYPES, CallbackVerifier, EventType, OrgSource
from gongdan.plugins import hookimpl

from .callbacks import DingTalkApprovalVerifier
from .connector import DingTalkRobotConnector
from .org import DingTalkOrgSource
from .work import DingTalkWorkConnector

__all__ = [
    "DingTalkApprovalVerifier",
    "DingTalkOrgSource",
    "DingTalkRobotConnector",
    "DingTalkWorkConnector",
]


@hookimpl
def register_connectors() -> list[type[Connector]]:
    return [DingTalkRobotConnector, DingTalkWorkConnector]


@hookimpl
def register_org_sources() -> list[OrgSource]:
    return [DingTalkOrgSource()]


@hookimpl
def register_callback_verifiers() -> list[CallbackVerifier]:
    return [DingTalkApprovalVerifier()]


@hookimpl
def register_event_types() -> list[EventType]:
    return APPROVAL_EVENT_TYPES

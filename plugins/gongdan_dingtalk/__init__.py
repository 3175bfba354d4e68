"""gongdan_dingtalk: 钉钉 custom robot messages (signed URL), as a gongdan plugin."""

from __future__ import annotations

from gongdan.connectors import Connector
from gongdan.hookspecs import OrgSource
from gongdan.plugins import hookimpl

from .connector import DingTalkRobotConnector
from .org import DingTalkOrgSource

__all__ = ["DingTalkOrgSource", "DingTalkRobotConnector"]


@hookimpl
def register_connectors() -> list[type[Connector]]:
    return [DingTalkRobotConnector]


@hookimpl
def register_org_sources() -> list[OrgSource]:
    return [DingTalkOrgSource()]

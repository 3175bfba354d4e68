"""gongdan_wecom: 企业微信 group robot and application messages, as a gongdan plugin."""

from __future__ import annotations

from gongdan.connectors import Connector
from gongdan.hookspecs import OrgSource
from gongdan.plugins import hookimpl

from .connector import WeComAppConnector, WeComRobotConnector
from .org import WeComOrgSource

__all__ = ["WeComAppConnector", "WeComOrgSource", "WeComRobotConnector"]


@hookimpl
def register_connectors() -> list[type[Connector]]:
    return [WeComAppConnector, WeComRobotConnector]


@hookimpl
def register_org_sources() -> list[OrgSource]:
    return [WeComOrgSource()]

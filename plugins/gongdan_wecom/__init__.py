"""gongdan_wecom: 企业微信 group robot and application messages, as a gongdan plugin."""

from __future__ import annotations

from gongdan.connectors import Connector
from gongdan.plugins import hookimpl

from .connector import WeComAppConnector, WeComRobotConnector

__all__ = ["WeComAppConnector", "WeComRobotConnector"]


@hookimpl
def register_connectors() -> list[type[Connector]]:
    return [WeComAppConnector, WeComRobotConnector]

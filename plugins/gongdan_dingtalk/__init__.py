"""gongdan_dingtalk: 钉钉 custom robot messages (signed URL), as a gongdan plugin."""

from __future__ import annotations

from gongdan.connectors import Connector
from gongdan.plugins import hookimpl

from .connector import DingTalkRobotConnector

__all__ = ["DingTalkRobotConnector"]


@hookimpl
def register_connectors() -> list[type[Connector]]:
    return [DingTalkRobotConnector]

"""gongdan_voice: voice calls through Aliyun 语音服务 (``SingleCallByTts``), as a plugin.

Used by rules such as ``dwell … notify supervisor via voice``.
"""

from __future__ import annotations

from gongdan.connectors import Connector
from gongdan.plugins import hookimpl

from .connector import AliyunVoiceConnector

__all__ = ["AliyunVoiceConnector"]


@hookimpl
def register_connectors() -> list[type[Connector]]:
    return [AliyunVoiceConnector]

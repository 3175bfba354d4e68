"""gongdan_sms: SMS through Aliyun 短信服务 (dysmsapi ``SendSms``), as a gongdan plugin."""

from __future__ import annotations

from gongdan.connectors import Connector
from gongdan.plugins import hookimpl

from .connector import AliyunSmsConnector

__all__ = ["AliyunSmsConnector"]


@hookimpl
def register_connectors() -> list[type[Connector]]:
    return [AliyunSmsConnector]

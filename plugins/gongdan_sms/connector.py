"""SMS through Aliyun dysmsapi ``SendSms`` (version 2017-05-25), RPC signature v1.

SMS in China must use an approved signature (``SignName``) and template
(``TemplateCode``); the message text fills one template variable
(``GONGDAN_SMS_TEMPLATE_PARAM_NAME``, default ``content``) unless
``extra["template_param"]`` gives all variables. ``extra["template_code"]`` picks
another approved template. The idempotency key travels as ``OutId`` and comes back
in Aliyun's delivery receipts.
"""

from __future__ import annotations

import json

from gongdan.connectors import (
    Connector,
    DeliveryReceipt,
    OutgoingMessage,
    PermanentDeliveryError,
    Setting,
)
from gongdan_aliyun import call

DEFAULT_ENDPOINT = "https://dysmsapi.aliyuncs.com"


class AliyunSmsConnector(Connector):
    """``to`` is one mainland mobile number, or several separated by commas."""

    name = "sms"
    address_kind = "phone"
    settings = (
        Setting("access_key_id", "Aliyun AccessKey ID", secret=True, required=True),
        Setting("access_key_secret", "Aliyun AccessKey secret", secret=True, required=True),
        Setting("sign_name", "approved SMS signature (签名), e.g. 某某售后", required=True),
        Setting("template_code", "approved template code, e.g. SMS_123456789", required=True),
        Setting("template_param_name", "template variable the message text fills",
                default="content"),
        Setting("region_id", "Aliyun region", default="cn-hangzhou"),
        Setting("base_url", "API endpoint", default=DEFAULT_ENDPOINT),
        Setting("timeout", "seconds per request", default="10"),
    )

    def parameters(self, message: OutgoingMessage) -> dict[str, str]:
        """The ``SendSms`` parameters for ``message`` (before signing)."""
        numbers = ",".join(n.strip() for n in message.to.replace("|", ",").split(",") if n.strip())
        if not numbers:
            raise PermanentDeliveryError("sms: no phone number")
        template_param = message.extra.get("template_param")
        if template_param is None:
            template_param = {self.config.get_str("template_param_name"): message.text}
        return {
            "PhoneNumbers": numbers,
            "SignName": self.config.get_str("sign_name"),
            "TemplateCode": str(message.extra.get("template_code")
                                or self.config.get_str("template_code")),
            "TemplateParam": json.dumps(template_param, ensure_ascii=False),
            "OutId": message.idempotency_key,
        }

    def send(self, message: OutgoingMessage) -> DeliveryReceipt:
        """Send; ``Code`` ``OK`` succeeds, flow control retries, bad numbers/keys fail."""
        result = call(
            self.client,
            self.config.get_str("base_url"),
            self.parameters(message),
            channel=self.name,
            action="SendSms",
            version="2017-05-25",
            access_key_id=self.config.get_secret("access_key_id"),
            access_key_secret=self.config.get_secret("access_key_secret"),
            region_id=self.config.get_str("region_id"),
        )
        return DeliveryReceipt(
            channel=self.name,
            provider_message_id=result.get("BizId"),
            detail={"request_id": result.get("RequestId")},
        )

"""Voice notifications through Aliyun dyvmsapi ``SingleCallByTts`` (2017-05-25).

A text-to-speech template (``TtsCode``) is read to the callee; the message text fills
one template variable (``GONGDAN_VOICE_TTS_PARAM_NAME``, default ``content``) unless
``extra["tts_param"]`` gives them all. One number per call. Same RPC signature as SMS.
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

DEFAULT_ENDPOINT = "https://dyvmsapi.aliyuncs.com"


class AliyunVoiceConnector(Connector):
    """``to`` is the phone number to call (mobile or landline)."""

    name = "voice"
    address_kind = "phone"
    settings = (
        Setting("access_key_id", "Aliyun AccessKey ID", secret=True, required=True),
        Setting("access_key_secret", "Aliyun AccessKey secret", secret=True, required=True),
        Setting("tts_code", "approved TTS template code, e.g. TTS_123456789", required=True),
        Setting("tts_param_name", "template variable the message text fills",
                default="content"),
        Setting("called_show_number", "caller number shown (专属模式); empty: public pool"),
        Setting("play_times", "times the message is played, 1-3", default="2"),
        Setting("region_id", "Aliyun region", default="cn-hangzhou"),
        Setting("base_url", "API endpoint", default=DEFAULT_ENDPOINT),
        Setting("timeout", "seconds per request", default="10"),
    )

    def parameters(self, message: OutgoingMessage) -> dict[str, str]:
        """The ``SingleCallByTts`` parameters for ``message`` (before signing)."""
        number = message.to.strip()
        if not number or "," in number or "|" in number:
            raise PermanentDeliveryError("voice: exactly one number per call")
        tts_param = message.extra.get("tts_param")
        if tts_param is None:
            tts_param = {self.config.get_str("tts_param_name"): message.text}
        params = {
            "CalledNumber": number,
            "TtsCode": str(message.extra.get("tts_code") or self.config.get_str("tts_code")),
            "TtsParam": json.dumps(tts_param, ensure_ascii=False),
            "PlayTimes": self.config.get_str("play_times"),
            "OutId": message.idempotency_key,
        }
        if show := self.config.get_str("called_show_number"):
            params["CalledShowNumber"] = show
        return params

    def send(self, message: OutgoingMessage) -> DeliveryReceipt:
        """Place the call; the receipt carries Aliyun's ``CallId``."""
        result = call(
            self.client,
            self.config.get_str("base_url"),
            self.parameters(message),
            channel=self.name,
            action="SingleCallByTts",
            version="2017-05-25",
            access_key_id=self.config.get_secret("access_key_id"),
            access_key_secret=self.config.get_secret("access_key_secret"),
            region_id=self.config.get_str("region_id"),
        )
        return DeliveryReceipt(
            channel=self.name,
            provider_message_id=result.get("CallId"),
            detail={"request_id": result.get("RequestId")},
        )

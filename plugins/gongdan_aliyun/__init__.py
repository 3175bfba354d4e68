"""Aliyun (阿里云) RPC-style API calls with signature version 1.0 (HMAC-SHA1).

Shared by ``gongdan_sms`` (dysmsapi ``SendSms``) and ``gongdan_voice`` (dyvmsapi
``SingleCallByTts``). A library, not a plugin: it has no entry point.

The signature, as Aliyun documents it for RPC APIs:

1. add the common parameters (``AccessKeyId``, ``Action``, ``Format=JSON``,
   ``RegionId``, ``SignatureMethod=HMAC-SHA1``, ``SignatureNonce`` (unique per request),
   ``SignatureVersion=1.0``, ``Timestamp`` (UTC ``YYYY-MM-DDThh:mm:ssZ``), ``Version``);
2. percent-encode every name and value (RFC 3986: only ``A-Z a-z 0-9 - _ . ~`` stay;
   space is ``%20``, ``*`` is ``%2A``), sort by name, join as ``k=v`` with ``&``: the
   canonicalized query string;
3. ``StringToSign = METHOD + "&" + percent("/") + "&" + percent(canonicalized)``;
4. ``Signature = base64(HMAC-SHA1(AccessKeySecret + "&", StringToSign))``, sent as one
   more parameter. We POST the parameters as an ``application/x-www-form-urlencoded`` body.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from gongdan.connectors import (
    DeliveryError,
    PermanentDeliveryError,
    RetryableDeliveryError,
    raise_for_http_status,
    translate_transport_errors,
)

__all__ = [
    "RETRYABLE_CODES",
    "call",
    "canonicalized_query",
    "classify",
    "percent_encode",
    "sign",
    "signed_parameters",
    "string_to_sign",
]

#: Aliyun codes after which trying again later can succeed, with a suggested delay
RETRYABLE_CODES: dict[str, float] = {
    "isv.BUSINESS_LIMIT_CONTROL": 60.0,  # per-number flow control (1/min, 5/h, 10/day)
    "isv.DAY_LIMIT_CONTROL": 3600.0,
    "Throttling": 10.0,
    "Throttling.User": 10.0,
    "Throttling.Api": 10.0,
    "isp.SYSTEM_ERROR": 30.0,
    "ServiceUnavailable": 30.0,
    "InternalError": 30.0,
    "SignatureNonceUsed": 0.0,  # a fresh nonce is drawn on the next try
}


def percent_encode(value: str) -> str:
    """RFC 3986 encoding as Aliyun's signature wants it (``%20``, ``%2A``, ``~``)."""
    return quote(value, safe="~")


def canonicalized_query(params: Mapping[str, str]) -> str:
    """Sorted, percent-encoded ``k=v`` pairs joined by ``&`` (``Signature`` excluded)."""
    return "&".join(
        f"{percent_encode(k)}={percent_encode(v)}"
        for k, v in sorted(params.items())
        if k != "Signature"
    )


def string_to_sign(method: str, params: Mapping[str, str]) -> str:
    """``METHOD&%2F&percent(canonicalized query)``."""
    return f"{method.upper()}&{percent_encode('/')}&{percent_encode(canonicalized_query(params))}"


def sign(access_key_secret: str, method: str, params: Mapping[str, str]) -> str:
    """The ``Signature`` parameter's value."""
    key = (access_key_secret + "&").encode()
    digest = hmac.new(key, string_to_sign(method, params).encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def signed_parameters(
    params: Mapping[str, str],
    *,
    action: str,
    version: str,
    access_key_id: str,
    access_key_secret: str,
    region_id: str = "cn-hangzhou",
    method: str = "POST",
    now: datetime | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """``params`` plus the common parameters and the ``Signature``."""
    full = {
        **params,
        "AccessKeyId": access_key_id,
        "Action": action,
        "Format": "JSON",
        "RegionId": region_id,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": nonce or uuid.uuid4().hex,
        "SignatureVersion": "1.0",
        "Timestamp": (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "Version": version,
    }
    full["Signature"] = sign(access_key_secret, method, full)
    return full


def classify(channel: str, status: int, code: str, message: str) -> DeliveryError:
    """The delivery error for an Aliyun answer whose ``Code`` is not ``OK``."""
    what = f"{channel}: {code}: {message}".rstrip(": ")
    if code in RETRYABLE_CODES or (not code and status >= 500):
        return RetryableDeliveryError(what, provider_code=code or status,
                                      retry_after=RETRYABLE_CODES.get(code))
    if code.startswith("Throttling"):
        return RetryableDeliveryError(what, provider_code=code, retry_after=10.0)
    if status >= 500:
        return RetryableDeliveryError(what, provider_code=code or status)
    return PermanentDeliveryError(what, provider_code=code or status)


def call(
    client: httpx.Client,
    endpoint: str,
    params: Mapping[str, str],
    *,
    channel: str,
    action: str,
    version: str,
    access_key_id: str,
    access_key_secret: str,
    region_id: str = "cn-hangzhou",
) -> dict[str, Any]:
    """POST one signed RPC call; the JSON answer when ``Code`` is ``OK``, else raise."""
    body = signed_parameters(
        params, action=action, version=version, access_key_id=access_key_id,
        access_key_secret=access_key_secret, region_id=region_id,
    )
    with translate_transport_errors(channel):
        answer = client.post(endpoint.rstrip("/") + "/", data=body)
    try:
        result: dict[str, Any] = answer.json()
    except ValueError:
        raise_for_http_status(answer, channel=channel)
        raise RetryableDeliveryError(f"{channel}: answer is not JSON") from None
    code = str(result.get("Code", ""))
    if code == "OK" and answer.status_code < 300:
        return result
    raise classify(channel, answer.status_code, code, str(result.get("Message", "")))

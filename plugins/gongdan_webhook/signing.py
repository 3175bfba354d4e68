"""Standard Webhooks signatures: ``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``.

The secret is ``whsec_`` followed by base64 of the key bytes (the convention's format);
a secret without the prefix is taken as base64 too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

PREFIX = "whsec_"


class InvalidSecret(ValueError):
    """The signing secret is not ``whsec_`` + base64."""


def decode_secret(secret: str) -> bytes:
    """The HMAC key bytes of a ``whsec_...`` secret."""
    raw = secret[len(PREFIX):] if secret.startswith(PREFIX) else secret
    try:
        key = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidSecret("the webhook secret must be whsec_ followed by base64") from None
    if len(key) < 16:
        raise InvalidSecret("the webhook secret must hold at least 16 bytes")
    return key


def new_secret() -> str:
    """A fresh ``whsec_`` secret (24 random bytes)."""
    return PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value for one delivery."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(key: bytes, msg_id: str, timestamp: str, body: bytes, header: str) -> bool:
    """True if any ``v1,`` signature in the space-separated ``header`` matches."""
    expected = sign(key, msg_id, int(timestamp), body).encode()
    for candidate in header.split():
        if candidate.startswith("v1,") and hmac.compare_digest(candidate.encode(), expected):
            return True
    return False

"""The callback encryption WeCom and DingTalk share (企业微信/钉钉 回调加解密).

- signature: ``sha1("".join(sorted([token, timestamp, nonce, encrypted])))`` in hex;
- key: ``base64decode(EncodingAESKey + "=")`` (32 bytes), AES-256-CBC, IV = key[:16];
- plaintext: 16 random bytes + 4-byte big-endian length + message + receive id (the
  corp id for WeCom, the app key / corp id for DingTalk), PKCS#7-padded to 32 bytes.

A library, not a plugin (no entry point): ``gongdan_wecom`` and ``gongdan_dingtalk`` use it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

__all__ = ["CryptError", "MsgCrypt"]

BLOCK = 32


class CryptError(ValueError):
    """Bad signature, undecryptable text or the wrong receive id."""


class MsgCrypt:
    """Sign, verify, encrypt and decrypt callback messages for one app."""

    def __init__(self, token: str, encoding_aes_key: str, receive_id: str) -> None:
        try:
            self._key = base64.b64decode(encoding_aes_key + "=", validate=True)
        except (binascii.Error, ValueError):
            raise CryptError("EncodingAESKey must be 43 characters of base64") from None
        if len(self._key) != 32:
            raise CryptError("EncodingAESKey must be 43 characters of base64")
        self._token = token
        self.receive_id = receive_id

    def signature(self, timestamp: str, nonce: str, encrypted: str) -> str:
        """The hex SHA-1 signature over the sorted four strings."""
        joined = "".join(sorted([self._token, timestamp, nonce, encrypted]))
        return hashlib.sha1(joined.encode()).hexdigest()

    def check_signature(self, signature: str, timestamp: str, nonce: str, encrypted: str) -> None:
        """Raise :class:`CryptError` unless ``signature`` matches."""
        expected = self.signature(timestamp, nonce, encrypted)
        if not hmac.compare_digest(expected, signature.lower()):
            raise CryptError("bad signature")

    def decrypt(self, encrypted: str) -> str:
        """The message inside ``encrypted``; checks padding, length and receive id."""
        try:
            data = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError):
            raise CryptError("not base64") from None
        if not data or len(data) % 16:
            raise CryptError("bad cipher text length")
        decryptor = Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16])).decryptor()
        plain = decryptor.update(data) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= BLOCK or plain[-pad:] != bytes([pad]) * pad:
            raise CryptError("bad padding")
        plain = plain[:-pad]
        if len(plain) < 20:
            raise CryptError("too short")
        (length,) = struct.unpack(">I", plain[16:20])
        message, receive_id = plain[20:20 + length], plain[20 + length:]
        if len(message) != length:
            raise CryptError("bad length")
        if receive_id.decode(errors="replace") != self.receive_id:
            raise CryptError("message for another receive id")
        return message.decode()

    def encrypt(self, message: str, *, random16: bytes | None = None) -> str:
        """``message`` encrypted for this app (replies, and tests)."""
        body = message.encode()
        plain = (random16 or os.urandom(16)) + struct.pack(">I", len(body)) + body \
            + self.receive_id.encode()
        pad = BLOCK - len(plain) % BLOCK
        plain += bytes([pad]) * pad
        encryptor = Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16])).encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()

"""The vault: secrets stored sealed (AES-256-GCM) under the server's key.

The key comes from DESCRIPT_MCP_SECRET_KEY, or from a key file made on first start, readable
by this user only. Each sealed value names its key (a short fingerprint) and is bound to what
it belongs to (its `context`, e.g. a grant id), so a value copied to another row, or opened
under another key, fails loudly instead of decrypting.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from descript_mcp.errors import ConfigurationError, SealedSecretError

KEY_BYTES = 32
FORMAT = b"v1"
NONCE_BYTES = 12
MAKE_A_KEY = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


class Vault:
    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ConfigurationError(f"the secret key must be {KEY_BYTES} bytes")
        self._aead = AESGCM(key)
        self._key_id = hashlib.sha256(b"descript-mcp key id" + key).digest()[:4]

    @classmethod
    def from_key_text(cls, text: str) -> Vault:
        try:
            key = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != KEY_BYTES:
            raise ConfigurationError(
                f"DESCRIPT_MCP_SECRET_KEY must be {KEY_BYTES} random bytes in base64url; "
                f"make one with: {MAKE_A_KEY}"
            )
        return cls(key)

    @classmethod
    def from_key_file(cls, path: Path) -> Vault:
        """The key in `path`, made there (0600, never overwritten) if absent: blocking."""
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            if path.stat().st_mode & 0o077:
                raise ConfigurationError(
                    f"the key file {path} is readable by others: chmod 600 it"
                ) from None
            return cls.from_key_text(path.read_text())
        with os.fdopen(descriptor, "w") as out:
            out.write(secrets.token_urlsafe(KEY_BYTES) + "\n")
        return cls.from_key_text(path.read_text())

    def seal(self, secret: str, *, context: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        header = FORMAT + self._key_id
        sealed = self._aead.encrypt(nonce, secret.encode(), header + context.encode())
        return header + nonce + sealed

    def open(self, sealed: bytes, *, context: str) -> str:
        header, body = sealed[: len(FORMAT) + 4], sealed[len(FORMAT) + 4 :]
        if header != FORMAT + self._key_id:
            raise SealedSecretError("sealed under another secret key: connect again")
        try:
            opened = self._aead.decrypt(
                body[:NONCE_BYTES], body[NONCE_BYTES:], header + context.encode()
            )
        except InvalidTag:
            raise SealedSecretError("a sealed secret was altered or moved") from None
        return opened.decode()

"""Encrypt secrets at rest (provider API keys) with Fernet, keyed from the app's secret key."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken

from smplat.settings import get_settings


class SecretUnreadable(ValueError):
    """A stored secret cannot be decrypted: the secret key changed or the value is corrupt."""


def _fernet() -> Fernet:
    # Fernet wants 32 url-safe base64 bytes; SHA-256 of the secret key gives exactly that,
    # so any secret length works. Rotating SMPLAT_SECRET_KEY makes old tokens unreadable.
    digest = hashlib.sha256(get_settings().secret().encode("utf-8")).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(text: str) -> str:
    return _fernet().encrypt(text.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, ValueError):
        raise SecretUnreadable(
            "a stored secret cannot be decrypted: SMPLAT_SECRET_KEY changed or the value is corrupt"
        ) from None

"""Secrets whoelse keeps in its database (workspace bot tokens, vendors' signing secrets) are sealed at rest.

Fernet (from `cryptography`): AES-128-CBC with an HMAC-SHA256, so a sealed value that was tampered with, or sealed
with a key whoelse no longer has, is refused rather than decrypted to garbage. WHOELSE_ENCRYPTION_KEYS holds one or
more keys, newest first: the first seals, every one opens. Rotation is: put a new key first, run
`whoelse keys rotate` (every stored secret is sealed again with it), then drop the old key.
"""

from __future__ import annotations

import binascii
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretUnreadable(Exception):
    """A stored secret that none of the configured keys opens (a key was dropped too early, or the row was altered)."""


def generate_key() -> str:
    return Fernet.generate_key().decode("ascii")


def key_problem(key: str) -> str | None:
    """Why a configured key cannot be used, in words; None when it can."""
    try:
        Fernet(key.encode("ascii"))
    except (ValueError, binascii.Error, UnicodeEncodeError):
        return "is not a Fernet key (32 random bytes in URL-safe base64, 44 characters)"
    return None


class SecretBox:
    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("a SecretBox needs at least one key")
        self._fernet = MultiFernet([Fernet(key.encode("ascii")) for key in keys])
        self._newest = Fernet(keys[0].encode("ascii"))

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError) as error:
            raise SecretUnreadable(
                "a stored secret could not be opened with any key in WHOELSE_ENCRYPTION_KEYS"
            ) from error

    def is_sealed_with_newest_key(self, sealed: str) -> bool:
        try:
            self._newest.decrypt(sealed.encode("ascii"))
        except InvalidToken:
            return False
        return True

    def reseal(self, sealed: str) -> str:
        """The same secret sealed with the newest key (the original time stamp is kept)."""
        try:
            return self._fernet.rotate(sealed.encode("ascii")).decode("ascii")
        except InvalidToken as error:
            raise SecretUnreadable(
                "a stored secret could not be opened with any key in WHOELSE_ENCRYPTION_KEYS"
            ) from error

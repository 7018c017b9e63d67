"""Errors of the crypto layer.

The crypto package knows nothing about S3: it raises these exceptions and the service layer
decides what a client sees (normally ``InternalError``; never key material or plaintext).

``CryptoError``
    Base class of everything below. Also raised directly for misuse that is not a data
    problem (e.g. dropping the active master key, duplicate key ids).
``IntegrityError``
    Authentication failed: the data was tampered with, truncated, extended, reordered,
    spliced from another object/extent, is malformed, or was sealed under a different key.
    Never carries plaintext.
``MissingMasterKey``
    A sealed data key names a master key id that the keyring does not hold. ``key_id``
    says which one (ids are not secret).
``KeyFileError``
    The keyring source (file or environment value) is unusable: unsafe permissions,
    malformed JSON/base64, wrong key length, unknown format version, I/O failure.
"""

from __future__ import annotations


class CryptoError(Exception):
    """Base class of all errors raised by ``sealbox.crypto``."""


class IntegrityError(CryptoError):
    """Authenticated decryption failed (tampered/truncated/spliced data or wrong key)."""


class MissingMasterKey(CryptoError):
    """The keyring holds no master key with this id."""

    def __init__(self, key_id: str) -> None:
        super().__init__(f"master key {key_id!r} is not in the keyring")
        self.key_id = key_id


class KeyFileError(CryptoError):
    """The keyring file (or environment value) is unsafe or malformed."""

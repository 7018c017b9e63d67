"""Envelope encryption: per-object data keys sealed under master keys.

Every object gets a fresh random 32-byte *data key* (``new_data_key``). Object bytes are
encrypted with keys derived from it (``sealbox.crypto.stream``); the data key itself is stored
only *sealed* (AES-256-GCM) under the keyring's active master key, bound to the object's
identity, so it is useless without the master key and cannot be moved to another object.

Object context (``object_context``), all integers unsigned big-endian::

    b"sealbox-object-v1"
    || u32 len(bucket_utf8) || bucket_utf8
    || u32 len(key_utf8)    || key_utf8
    || u32 len(object_uid)  || object_uid

    Strings are UTF-8 encoded with ``surrogateescape`` (so keys that were decoded from
    non-UTF-8 bytes with surrogateescape round-trip to their original bytes).
    Length prefixes make the encoding injective: no two (bucket, key, uid) give the same bytes.

Associated data of a seal::

    b"sealbox-datakey-v1" || u32 len(key_id_utf8) || key_id_utf8 || context

    So a sealed key copied to another object's row (different context) or relabelled with
    another master key id fails to unseal.

Sealed blob (``SealedKey.blob``, 61 bytes)::

    offset 0   1 byte   version = 0x01
    offset 1  12 bytes  GCM nonce (random)
    offset 13 48 bytes  AES-256-GCM(master.material, nonce, data_key, aad) = 32 ciphertext || 16 tag

Text form (``SealedKey.to_text``), one ASCII string for a DB column::

    "v1:" || key_id || ":" || standard base64 (padded) of blob

    Key ids never contain ":" (see ``sealbox.crypto.keyring``). ``from_text`` rejects anything
    else with ``IntegrityError`` (a malformed stored key is corrupt data).

``unseal`` raises ``MissingMasterKey`` if the key id is not in the keyring and
``IntegrityError`` if the blob is malformed or authentication fails.
"""

from __future__ import annotations

import base64
import binascii
import functools
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sealbox.crypto.errors import CryptoError, IntegrityError
from sealbox.crypto.keyring import Keyring, MasterKey, valid_key_id

__all__ = [
    "DATA_KEY_SIZE",
    "SEALED_BLOB_SIZE",
    "SealedKey",
    "new_data_key",
    "object_context",
    "reseal",
    "seal",
    "unseal",
]

DATA_KEY_SIZE = 32
_VERSION = 1
_NONCE_SIZE = 12
_TAG_SIZE = 16
SEALED_BLOB_SIZE = 1 + _NONCE_SIZE + DATA_KEY_SIZE + _TAG_SIZE
_AAD_LABEL = b"sealbox-datakey-v1"
_CONTEXT_LABEL = b"sealbox-object-v1"
_TEXT_PREFIX = "v1"
_U32 = struct.Struct(">I")

Rng = Callable[[int], bytes]



@functools.lru_cache(maxsize=64)
def _master_aead(material: bytes) -> AESGCM:
    """One cipher per master key (there are a handful): the AES key schedule is not redone per object."""
    return AESGCM(material)

def new_data_key(rng: Rng = os.urandom) -> bytes:
    """A fresh random 32-byte data key."""
    key = rng(DATA_KEY_SIZE)
    if len(key) != DATA_KEY_SIZE:
        raise CryptoError("random source returned the wrong number of bytes")
    return bytes(key)


@dataclass(frozen=True)
class SealedKey:
    """A data key sealed under master key ``key_id``. Safe to print/store (no secrets)."""

    key_id: str
    blob: bytes = field(repr=False)

    def to_text(self) -> str:
        return f"{_TEXT_PREFIX}:{self.key_id}:{base64.b64encode(self.blob).decode('ascii')}"

    @classmethod
    def from_text(cls, s: str) -> SealedKey:
        parts = s.split(":") if isinstance(s, str) else []
        if len(parts) != 3 or parts[0] != _TEXT_PREFIX:
            raise IntegrityError("malformed sealed data key (expected 'v1:<key_id>:<base64>')")
        key_id, b64 = parts[1], parts[2]
        if not valid_key_id(key_id):
            raise IntegrityError("malformed sealed data key: invalid master key id")
        try:
            blob = base64.b64decode(b64.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError, ValueError):
            raise IntegrityError("malformed sealed data key: invalid base64") from None
        if len(blob) != SEALED_BLOB_SIZE or blob[0] != _VERSION:
            raise IntegrityError("malformed sealed data key: wrong blob size or version")
        return cls(key_id, blob)


def _len_prefixed(data: bytes) -> bytes:
    return _U32.pack(len(data)) + data


def object_context(bucket: str, key: str, object_uid: bytes) -> bytes:
    """Canonical, injective encoding of an object's identity (see module docstring)."""
    return b"".join(
        (
            _CONTEXT_LABEL,
            _len_prefixed(bucket.encode("utf-8", "surrogateescape")),
            _len_prefixed(key.encode("utf-8", "surrogateescape")),
            _len_prefixed(bytes(object_uid)),
        )
    )


def _aad(key_id: str, context: bytes) -> bytes:
    return _AAD_LABEL + _len_prefixed(key_id.encode("utf-8")) + bytes(context)


def seal(data_key: bytes, master: MasterKey, context: bytes, rng: Rng = os.urandom) -> SealedKey:
    """Seal ``data_key`` under ``master``, bound to ``context`` and ``master.key_id``."""
    if len(data_key) != DATA_KEY_SIZE:
        raise CryptoError(f"data key must be {DATA_KEY_SIZE} bytes")
    nonce = rng(_NONCE_SIZE)
    if len(nonce) != _NONCE_SIZE:
        raise CryptoError("random source returned the wrong number of bytes")
    ct = _master_aead(master.material).encrypt(nonce, bytes(data_key), _aad(master.key_id, context))
    return SealedKey(master.key_id, bytes((_VERSION,)) + nonce + ct)


def unseal(sealed: SealedKey, keyring: Keyring, context: bytes) -> bytes:
    """The data key inside ``sealed``. MissingMasterKey / IntegrityError on failure."""
    master = keyring.get(sealed.key_id)
    blob = sealed.blob
    if len(blob) != SEALED_BLOB_SIZE or blob[0] != _VERSION:
        raise IntegrityError("malformed sealed data key: wrong blob size or version")
    try:
        return _master_aead(master.material).decrypt(
            blob[1 : 1 + _NONCE_SIZE], blob[1 + _NONCE_SIZE :], _aad(sealed.key_id, context)
        )
    except InvalidTag:
        raise IntegrityError(
            f"sealed data key failed authentication under master key {sealed.key_id!r}"
        ) from None


def reseal(
    sealed: SealedKey,
    keyring: Keyring,
    context: bytes,
    *,
    new_context: bytes | None = None,
    rng: Rng = os.urandom,
) -> SealedKey:
    """Unseal and seal again under ``keyring.active`` (rotation).

    ``new_context`` (default: ``context``) re-binds the data key to another identity; only
    useful if the encrypted data is valid for that identity too.
    """
    data_key = unseal(sealed, keyring, context)
    return seal(data_key, keyring.active, context if new_context is None else new_context, rng)

"""Sealed object metadata: the values an SSE object's metadata row must not hold in the clear.

A metadata row of an SSE object version, multipart upload or part keeps its ETag (the MD5 of the
plaintext, or of the parts' MD5s), its checksums (CRC32, CRC32C, CRC64NVME, SHA-1, SHA-256 of the
plaintext), its user metadata and its content headers only in this sealed form, under the object's
own data key (``sealbox.crypto.envelope``): from the MD5 or CRC of a short object its content can be
found by brute force, so they are as secret as the content. Names and sizes stay in the clear.

All integers are unsigned big-endian.

Key
    ``meta_key = HMAC-SHA256(data_key, b"sealbox-metadata-v1")`` (32 bytes, AES-256-GCM). The extent
    subkeys are HMAC-SHA256(data_key, b"sealbox-extent-v1" || salt(16)): a different, longer input,
    so no metadata key equals an extent key. A key rotation re-seals the data key, never the data key
    itself, so sealed metadata keeps opening after it.

Associated data (``aad``)::

    b"sealbox-metadata-v1"
    || u8  kind           1 = object version, 2 = multipart upload, 3 = part of an upload
    || u32 part_number    the part's number for kind 3, else 0
    || object_context(bucket, key, object_uid)     (see sealbox.crypto.envelope)

    The object uid is random per version (a multipart upload's uid becomes its version's), and the
    data key is itself bound to (bucket, key, uid): a blob copied onto another object's row, onto
    another part of the same upload, or from an upload's row onto its version fails to open.

Plaintext
    The JSON object ``{"c": {algorithm: base64}, "e": etag, "h": {content header: value},
    "m": {user metadata name: value}, "p": [part checksum, ...], "t": {tag key: tag value}}`` in ASCII
    (every other character as a ``\\uXXXX`` escape, so lone surrogates round-trip too), without
    insignificant whitespace, members in that order (the members of "t" in the tag set's order), a
    member whose value is empty omitted (a missing member reads as empty); then ASCII spaces up to
    a multiple of ``PAD`` (32) bytes, so the length says little about the values. Readers accept
    any JSON text of that shape; anything else (other members, non-string values) is refused.
    ("p", a multipart object's part checksums, and "t", its tags, came with schema 7: blobs written
    before have neither, and read as having none.)

Sealed blob (``seal``; stored as a BLOB column ``sealed_meta``)::

    offset 0   1 byte   version = 0x01
    offset 1  12 bytes  GCM nonce (random; a data key seals at most one version, one upload and
                        its parts, so random nonces are far from colliding)
    offset 13  n bytes  AES-256-GCM(meta_key, nonce, plaintext, aad) = ciphertext || 16-byte tag

``open_metadata`` raises ``IntegrityError`` for a malformed blob, an unknown version, or one that
fails authentication (tampered, wrong data key, or sealed for another identity), and never
returns unauthenticated values.
"""

from __future__ import annotations

import enum
import hmac
import json
import os
import struct
from collections.abc import Callable
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sealbox.core.types import ObjectMetadata
from sealbox.crypto.errors import CryptoError, IntegrityError

__all__ = ["MIN_BLOB_SIZE", "PAD", "MetaKind", "aad", "metadata_key", "open_metadata", "seal_metadata"]

_VERSION = 1
_LABEL = b"sealbox-metadata-v1"
_NONCE_SIZE = 12
_TAG_SIZE = 16
PAD = 32
MIN_BLOB_SIZE = 1 + _NONCE_SIZE + PAD + _TAG_SIZE
_KIND_PART = struct.Struct(">BI")

Rng = Callable[[int], bytes]


class MetaKind(enum.IntEnum):
    VERSION = 1
    UPLOAD = 2
    PART = 3


def metadata_key(data_key: bytes) -> bytes:
    """The AES-256-GCM key of an object's sealed metadata."""
    return hmac.digest(data_key, _LABEL, "sha256")


def aad(kind: MetaKind, part_number: int, context: bytes) -> bytes:
    """``context`` is ``envelope.object_context(bucket, key, object_uid)``."""
    if kind is not MetaKind.PART and part_number:
        raise CryptoError("only a part's metadata carries a part number")
    return _LABEL + _KIND_PART.pack(int(kind), part_number) + context


# One encoder and decoder for the process (json.dumps/loads with options build one per call).
_ENCODER = json.JSONEncoder(separators=(",", ":"))
_DECODER = json.JSONDecoder()
_MEMBERS = frozenset("cehmpt")


def _encode(fields: ObjectMetadata) -> bytes:
    members: dict[str, Any] = {}
    if fields.checksums:
        members["c"] = fields.checksums
    if fields.etag:
        members["e"] = fields.etag
    if fields.content_headers:
        members["h"] = fields.content_headers
    if fields.user_meta:
        members["m"] = fields.user_meta
    if fields.part_checksums:
        members["p"] = list(fields.part_checksums)
    if fields.tags:
        members["t"] = fields.tags
    raw = _ENCODER.encode(members).encode("ascii")
    return raw + b" " * (-len(raw) % PAD)


def _str_map(value: Any) -> dict[str, str]:
    # JSON object keys are always strings; the values must be too.
    if type(value) is not dict or not all(type(v) is str for v in value.values()):
        raise IntegrityError("sealed metadata: malformed member")
    return value


def _decode(raw: bytes) -> ObjectMetadata:
    try:
        members = _DECODER.decode(raw.decode("ascii"))
    except ValueError:  # UnicodeDecodeError included
        raise IntegrityError("sealed metadata: malformed plaintext") from None
    if type(members) is not dict or not _MEMBERS.issuperset(members):
        raise IntegrityError("sealed metadata: malformed plaintext")
    etag = members.get("e", "")
    if type(etag) is not str:
        raise IntegrityError("sealed metadata: malformed member")
    parts = members.get("p", [])
    if type(parts) is not list or not all(type(p) is str for p in parts):
        raise IntegrityError("sealed metadata: malformed member")
    return ObjectMetadata(etag, _str_map(members.get("c", {})), _str_map(members.get("m", {})),
                          _str_map(members.get("h", {})), _str_map(members.get("t", {})), tuple(parts))


def seal_metadata(data_key: bytes, fields: ObjectMetadata, aad: bytes, rng: Rng = os.urandom) -> bytes:
    """The sealed blob of ``fields`` under ``data_key``, bound to ``aad`` (see ``aad()``)."""
    nonce = rng(_NONCE_SIZE)
    if len(nonce) != _NONCE_SIZE:
        raise CryptoError("random source returned the wrong number of bytes")
    sealed = AESGCM(metadata_key(data_key)).encrypt(nonce, _encode(fields), aad)
    return bytes((_VERSION,)) + nonce + sealed


def open_metadata(data_key: bytes, blob: bytes, aad: bytes) -> ObjectMetadata:
    """The fields sealed in ``blob``; IntegrityError unless it authenticates under ``data_key`` and ``aad``."""
    if len(blob) < MIN_BLOB_SIZE or blob[0] != _VERSION or (len(blob) - MIN_BLOB_SIZE) % PAD:
        raise IntegrityError("malformed sealed metadata: wrong size or version")
    try:
        raw = AESGCM(metadata_key(data_key)).decrypt(blob[1:1 + _NONCE_SIZE], blob[1 + _NONCE_SIZE:], aad)
    except InvalidTag:
        raise IntegrityError("sealed metadata failed authentication") from None
    return _decode(raw)

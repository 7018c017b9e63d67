"""Formats of the key service (SSE-KMS): sealed key material, ciphertext blobs, object key records.

Pure and typed, like ``envelope`` and ``stream``: this docstring is the byte-level spec. All integers
are unsigned big-endian; ``lp(x)`` is ``u32 len(x) || x``.

1. Key material (``material_context``)
   A KMS key has one or more *material versions*, each 32 random bytes (AES-256). Rotation adds a
   version; every version is kept until the key is deleted, so old ciphertexts still decrypt.
   Material is stored only sealed under the master keyring with ``envelope.seal`` (its 61-byte
   sealed blob, text ``"v1:<master key id>:<base64>"``), bound to::

       b"sealbox-kms-material-v1" || lp(key_id_utf8) || u32(material_version)

   so a sealed material row moved to another key or version does not open, and master-key
   rotation (``sealbox keys rotate``) re-seals it like any data key.

2. Ciphertext blob (``seal_blob``/``open_blob``): what Encrypt and GenerateDataKey return and
   Decrypt takes (the KMS API's ``CiphertextBlob``), and what wraps the S3 side's key-encryption
   keys and bucket keys::

       offset  0   4 bytes  magic b"SBKC"
       offset  4   1 byte   version 0x01
       offset  5  16 bytes  key id (the UUID's 16 bytes)
       offset 21   4 bytes  material version
       offset 25  12 bytes  nonce (random)
       offset 37   n+16     AES-256-GCM(material, nonce, plaintext, aad)   (1 <= n <= 4096)
       aad = b"sealbox-kms-ciphertext-v1" || bytes 0..36 || canonical(encryption context)

   ``canonical(ctx)`` = ``u32(count) || lp(k) || lp(v) ...`` over the pairs sorted by the UTF-8 bytes
   of ``k``: the same context in any order gives the same bytes, and no two contexts collide. The
   blob names its key and material version, so Decrypt needs no key id, as on AWS; a wrong context,
   another key's material or any flipped bit fails authentication.

3. Object key record (``KmsRecord``): the ``sealed_key`` of an SSE-KMS / DSSE-KMS object version or
   multipart upload, text ``"kms1:" || base64(record)``::

       offset 0  1 byte   record version 0x01
       offset 1  1 byte   mode: 0x01 SSE-KMS, 0x02 SSE-KMS under a bucket key, 0x03 DSSE-KMS (two layers)
       lp(key ARN, UTF-8)
       lp(encryption context: the client's JSON as sent, UTF-8; empty when none)
       u8(layer count: 1, or 2 for DSSE)
       per layer:
           lp(wrap)  mode 1/3: the ciphertext blob (2.) of this layer's key-encryption key (KEK),
                     from GenerateDataKey under the KMS key; mode 2: the 16-byte id of the bucket
                     key, whose own ciphertext blob is stored once per bucket
           12 bytes  nonce (random)
           48 bytes  AES-256-GCM(KEK, nonce, layer data key (32 bytes), aad_layer)
       aad_layer = b"sealbox-kms-datakey-v1" || u8(mode) || u8(layer) || lp(object context)
                   || lp(key ARN) || lp(encryption context)

   The object context is ``envelope.object_context(bucket, key, object_uid)``: a record copied onto
   another object (or version) does not open, and the ARN, mode and context are authenticated, so
   they cannot be relabelled. The object's data key is the layer key (32 bytes), or for DSSE the two
   layer keys concatenated (64 bytes: ``sealbox.crypto.stream`` then writes two layers). The KEK's
   encryption context at the key service is ``{"aws:s3:arn": "arn:aws:s3:::<bucket>/<key>"}`` plus
   the client's pairs (a bucket key's: ``{"aws:s3:arn": "arn:aws:s3:::<bucket>"}``).

4. ETag of an SSE-KMS object (``kms_etag``): not the MD5 of the plaintext (as on AWS), but
   ``hex(HMAC-SHA256(data key, b"sealbox-kms-etag-v1" || md5)[:16])``: stable for the object,
   computable only with its data key, and no plaintext digest reaches the metadata store, so
   listings need no key.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
import json
import os
import struct
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sealbox.crypto.errors import CryptoError, IntegrityError

__all__ = [
    "BLOB_MAGIC",
    "KEY_SIZE",
    "MODE_BUCKET_KEY",
    "MODE_DSSE",
    "MODE_KMS",
    "RECORD_PREFIX",
    "BlobHeader",
    "KmsRecord",
    "LayerSeal",
    "canonical_context",
    "is_record",
    "kms_etag",
    "material_context",
    "open_blob",
    "open_layer",
    "parse_blob_header",
    "seal_blob",
    "seal_layer",
]

KEY_SIZE = 32
BLOB_MAGIC = b"SBKC"
_BLOB_VERSION = 1
_BLOB_HEADER = struct.Struct(">4sB16sI12s")
BLOB_HEADER_SIZE = _BLOB_HEADER.size  # 37
_TAG = 16
MAX_PLAINTEXT = 4096
_CIPHERTEXT_LABEL = b"sealbox-kms-ciphertext-v1"
_MATERIAL_LABEL = b"sealbox-kms-material-v1"
_DATAKEY_LABEL = b"sealbox-kms-datakey-v1"
_ETAG_LABEL = b"sealbox-kms-etag-v1"
RECORD_PREFIX = "kms1:"
_RECORD_VERSION = 1
MODE_KMS = 1
MODE_BUCKET_KEY = 2
MODE_DSSE = 3
_U32 = struct.Struct(">I")

Rng = Callable[[int], bytes]


def _lp(data: bytes) -> bytes:
    return _U32.pack(len(data)) + data


@functools.lru_cache(maxsize=256)
def _aead(key: bytes) -> AESGCM:
    """One cipher per material version or key-encryption key in use: the key schedule is not redone."""
    return AESGCM(key)


def material_context(key_id: str, version: int) -> bytes:
    """The envelope context that binds one sealed material version to its key and version number."""
    return _MATERIAL_LABEL + _lp(key_id.encode("utf-8")) + _U32.pack(version)


def canonical_context(context: Mapping[str, str]) -> bytes:
    """The encryption context as bytes (see the module docstring): order-independent, injective."""
    items = sorted((k.encode("utf-8", "surrogateescape"), v.encode("utf-8", "surrogateescape"))
                   for k, v in context.items())
    return _U32.pack(len(items)) + b"".join(_lp(k) + _lp(v) for k, v in items)


# -- 2. ciphertext blobs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BlobHeader:
    key_id: str  # the KMS key's UUID, canonical text form
    material_version: int


@functools.lru_cache(maxsize=1024)
def _uuid_bytes(key_id: str) -> bytes:
    return uuid.UUID(key_id).bytes


def parse_blob_header(blob: bytes) -> BlobHeader:
    """Which key and material version a ciphertext blob names; IntegrityError if it is no blob of ours."""
    if len(blob) < BLOB_HEADER_SIZE + _TAG + 1:
        raise IntegrityError("ciphertext blob is too short")
    magic, version, raw_id, material_version, _nonce = _BLOB_HEADER.unpack_from(blob)
    if magic != BLOB_MAGIC or version != _BLOB_VERSION:
        raise IntegrityError("not a sealbox KMS ciphertext blob (magic or version)")
    return BlobHeader(str(uuid.UUID(bytes=raw_id)), material_version)


def seal_blob(material: bytes, key_id: str, material_version: int, plaintext: bytes,
              context: Mapping[str, str], rng: Rng = os.urandom) -> bytes:
    if len(material) != KEY_SIZE:
        raise CryptoError("KMS key material must be 32 bytes")
    if not 1 <= len(plaintext) <= MAX_PLAINTEXT:
        raise CryptoError(f"plaintext must be 1..{MAX_PLAINTEXT} bytes")
    nonce = rng(12)
    if len(nonce) != 12:
        raise CryptoError("random source returned the wrong number of bytes")
    header = _BLOB_HEADER.pack(BLOB_MAGIC, _BLOB_VERSION, _uuid_bytes(key_id), material_version, nonce)
    return header + _aead(bytes(material)).encrypt(nonce, bytes(plaintext),
                                                   _CIPHERTEXT_LABEL + header + canonical_context(context))


def open_blob(material: bytes, blob: bytes, context: Mapping[str, str]) -> bytes:
    """The plaintext of ``blob`` (whose header names ``material``'s key and version). IntegrityError on failure."""
    parse_blob_header(blob)
    header = blob[:BLOB_HEADER_SIZE]
    try:
        return _aead(bytes(material)).decrypt(header[-12:], blob[BLOB_HEADER_SIZE:],
                                              _CIPHERTEXT_LABEL + header + canonical_context(context))
    except InvalidTag:
        raise IntegrityError("ciphertext blob failed authentication (wrong key or encryption context)") from None


# -- 3. object key records ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerSeal:
    wrap: bytes  # the KEK's ciphertext blob (modes 1 and 3) or the bucket key's 16-byte id (mode 2)
    nonce: bytes = b""
    sealed_key: bytes = b""  # AES-256-GCM(KEK, nonce, layer data key) = 32 + 16 bytes


@dataclass(frozen=True)
class KmsRecord:
    """What an SSE-KMS object stores about its encryption: nothing secret without the key service."""

    mode: int
    key_arn: str
    context: str  # the client's encryption context JSON as sent ("" when none)
    layers: tuple[LayerSeal, ...]

    @property
    def bucket_key(self) -> bool:
        return self.mode == MODE_BUCKET_KEY

    @property
    def dsse(self) -> bool:
        return self.mode == MODE_DSSE

    def context_pairs(self) -> dict[str, str]:
        return context_pairs(self.context)

    def to_text(self) -> str:
        out = [bytes((_RECORD_VERSION, self.mode)), _lp(self.key_arn.encode("utf-8")),
               _lp(self.context.encode("utf-8")), bytes((len(self.layers),))]
        for layer in self.layers:
            out += [_lp(layer.wrap), layer.nonce, layer.sealed_key]
        return RECORD_PREFIX + base64.b64encode(b"".join(out)).decode("ascii")

    @classmethod
    def from_text(cls, text: str) -> KmsRecord:
        return _parse_record(text)


def is_record(sealed_text: str | None) -> bool:
    """Whether a stored ``sealed_key`` is an SSE-KMS record (rather than an SSE-S3 ``v1:`` sealed key)."""
    return bool(sealed_text) and sealed_text.startswith(RECORD_PREFIX)  # type: ignore[union-attr]


@functools.lru_cache(maxsize=16384)
def _parse_record(text: str) -> KmsRecord:
    if not text.startswith(RECORD_PREFIX):
        raise IntegrityError("not an SSE-KMS key record")
    try:
        raw = base64.b64decode(text[len(RECORD_PREFIX):].encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise IntegrityError("SSE-KMS key record: invalid base64") from None
    pos = 0

    def take(n: int) -> bytes:
        nonlocal pos
        if n < 0 or pos + n > len(raw):
            raise IntegrityError("SSE-KMS key record is truncated")
        piece = raw[pos:pos + n]
        pos += n
        return piece

    def take_lp() -> bytes:
        return take(_U32.unpack(take(4))[0])

    version, mode = take(2)
    if version != _RECORD_VERSION or mode not in (MODE_KMS, MODE_BUCKET_KEY, MODE_DSSE):
        raise IntegrityError("SSE-KMS key record: unknown version or mode")
    try:
        arn, context = take_lp().decode("utf-8"), take_lp().decode("utf-8")
    except UnicodeDecodeError:
        raise IntegrityError("SSE-KMS key record: text is not UTF-8") from None
    count = take(1)[0]
    if count != (2 if mode == MODE_DSSE else 1):
        raise IntegrityError("SSE-KMS key record: wrong number of layers for its mode")
    layers = tuple(LayerSeal(take_lp(), take(12), take(KEY_SIZE + _TAG)) for _ in range(count))
    if pos != len(raw):
        raise IntegrityError("SSE-KMS key record has trailing bytes")
    return KmsRecord(mode, arn, context, layers)


def _layer_aad(mode: int, layer: int, object_context: bytes, key_arn: str, context: str) -> bytes:
    return (_DATAKEY_LABEL + bytes((mode, layer)) + _lp(object_context) + _lp(key_arn.encode("utf-8"))
            + _lp(context.encode("utf-8")))


def seal_layer(kek: bytes, data_key: bytes, *, mode: int, layer: int, object_context: bytes, key_arn: str,
               context: str, wrap: bytes, rng: Rng = os.urandom) -> LayerSeal:
    """One layer's data key sealed under its KEK (whose ciphertext blob, or bucket-key id, is ``wrap``)."""
    if len(kek) != KEY_SIZE or len(data_key) != KEY_SIZE:
        raise CryptoError("key-encryption and data keys must be 32 bytes")
    nonce = rng(12)
    sealed = _aead(bytes(kek)).encrypt(nonce, bytes(data_key), _layer_aad(mode, layer, object_context, key_arn,
                                                                           context))
    return LayerSeal(wrap, nonce, sealed)


def open_layer(kek: bytes, record: KmsRecord, layer: int, object_context: bytes) -> bytes:
    seal = record.layers[layer]
    try:
        return _aead(bytes(kek)).decrypt(seal.nonce, seal.sealed_key, _layer_aad(
            record.mode, layer, object_context, record.key_arn, record.context))
    except InvalidTag:
        raise IntegrityError("SSE-KMS data key failed authentication (moved to another object?)") from None


def context_pairs(context_json: str) -> dict[str, str]:
    """The client's encryption context (JSON object of strings) as a dict; {} when empty."""
    if not context_json:
        return {}
    value = json.loads(context_json)
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise IntegrityError("encryption context is not a JSON object of strings")
    return dict(value)


# -- 4. ETag --------------------------------------------------------------------------------------------------


def kms_etag(data_key: bytes, md5: bytes) -> str:
    return hmac.digest(bytes(data_key), _ETAG_LABEL + bytes(md5), "sha256")[:16].hex()

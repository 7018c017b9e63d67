"""SSE-C (customer-provided keys): the key record of an object, its data key, and the key check.

Pure and typed like ``envelope`` and ``kms_format``: this docstring is the byte-level spec. All
integers are unsigned big-endian.

The customer key (32 bytes, sent base64 in ``x-amz-server-side-encryption-customer-key`` on every
request) is never stored, logged or cached beyond the request. What is stored lets the server
recognise the right key later and nothing more.

1. Server share (``SHARE_SIZE`` = 32 random bytes) — one per data directory, made on the first SSE-C
   write, stored only sealed under the master keyring (``envelope.seal``, text ``"v1:<id>:…"``) bound to
   ``b"sealbox-sse-c-share-v1" || ref`` (``share_context``), in the table ``sse_c_shares`` (schema 11).
   Master-key rotation re-seals it like any data key (kind ``sse-c-share``). A stolen data directory
   without the master keys, or the master keys without the customer's key, opens nothing.

2. Derivation (``derive``), one keyed hash per request (RFC 7693 keyed BLAKE2b, a PRF and MAC)::

       m = BLAKE2b-512(key = customer key, salt = salt (16 bytes), person = b"sealbox-sse-c-v1",
                       msg = share || object_context)
       data key = m[0:32]     (never stored: the object's extents are sealed under it, sealbox.crypto.stream)
       check    = m[32:64]    (stored: recognises the key; compared in constant time)

   ``object_context`` is ``envelope.object_context(bucket, key, object_uid)``: the record of one object
   does not verify or open another's. The check reveals nothing of the data key (the two halves of
   one PRF output are independent), and without the share it cannot even be tested offline.
   Why BLAKE2b and not HMAC-SHA512: the same role, but 0.5 µs a call instead of 2.2-2.8 µs
   (OpenSSL's HMAC set-up per call), on every GET of an SSE-C object (issue 14's cost target).

3. Metadata key (``metadata_key``): the ETag, checksums, user metadata and content headers of an
   SSE-C version are sealed (``sealbox.crypto.metadata``) under
   ``BLAKE2b-256(key = share, salt = salt, person = b"sealbox-ssec-mk1", msg = object_context)``, which needs no customer
   key, so listings and GetObjectAttributes' ETag still work. The ETag is keyed under the customer-
   derived data key (``kms_format.kms_etag``), not the plaintext's MD5.

4. Key record (``SsecRecord``): the ``sealed_key`` of an SSE-C version or multipart upload, text
   ``"ssec1:" || base64(record)``::

       offset 0    1 byte   record version 0x01
       offset 1    1 byte   n = length of the share reference
       offset 2    n bytes  share reference (ASCII)
       offset 2+n  16 bytes salt (random per object or upload)
       offset 18+n 32 bytes check (2.)
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import os
from dataclasses import dataclass

from sealbox.crypto.errors import IntegrityError

__all__ = ["CUSTOMER_KEY_SIZE", "RECORD_PREFIX", "SHARE_SIZE", "SsecRecord", "derive", "is_record",
           "metadata_key", "new_salt", "parse", "share_context"]

RECORD_PREFIX = "ssec1:"
CUSTOMER_KEY_SIZE = 32
SHARE_SIZE = 32
SALT_SIZE = 16
CHECK_SIZE = 32
_VERSION = 1
_PERSON = b"sealbox-sse-c-v1"  # BLAKE2b's personalisation: 16 bytes at most
_META_PERSON = b"sealbox-ssec-mk1"
_SHARE_LABEL = b"sealbox-sse-c-share-v1"


def is_record(text: str | None) -> bool:
    return text is not None and text.startswith(RECORD_PREFIX)


def share_context(ref: str) -> bytes:
    return _SHARE_LABEL + ref.encode("ascii")


def new_salt() -> bytes:
    return os.urandom(SALT_SIZE)


def derive(customer_key: bytes, share: bytes, salt: bytes, context: bytes) -> tuple[bytes, bytes]:
    """(data key, check) of one object under one customer key (2.)."""
    m = hashlib.blake2b(share + context, key=customer_key, salt=salt, person=_PERSON).digest()
    return m[:32], m[32:]


def metadata_key(share: bytes, salt: bytes, context: bytes) -> bytes:
    return hashlib.blake2b(context, digest_size=32, key=share, salt=salt, person=_META_PERSON).digest()


@dataclass(frozen=True, slots=True)
class SsecRecord:
    share_ref: str
    salt: bytes
    check: bytes

    def to_text(self) -> str:
        ref = self.share_ref.encode("ascii")
        raw = bytes((_VERSION, len(ref))) + ref + self.salt + self.check
        return RECORD_PREFIX + base64.b64encode(raw).decode("ascii")

    @classmethod
    def from_text(cls, text: str) -> SsecRecord:
        if not text.startswith(RECORD_PREFIX):
            raise IntegrityError("not an SSE-C key record")
        try:
            raw = base64.b64decode(text[len(RECORD_PREFIX):], validate=True)
        except (binascii.Error, ValueError):
            raise IntegrityError("SSE-C key record is not base64") from None
        if len(raw) < 2 or raw[0] != _VERSION:
            raise IntegrityError("SSE-C key record: unknown version")
        n = raw[1]
        if len(raw) != 2 + n + SALT_SIZE + CHECK_SIZE:
            raise IntegrityError("SSE-C key record: wrong length")
        try:
            ref = raw[2:2 + n].decode("ascii")
        except UnicodeDecodeError:
            raise IntegrityError("SSE-C key record: share reference is not ASCII") from None
        return cls(ref, raw[2 + n:2 + n + SALT_SIZE], raw[2 + n + SALT_SIZE:])

    def matches(self, check: bytes) -> bool:
        return hmac.compare_digest(self.check, check)


@functools.lru_cache(maxsize=16384)
def parse(text: str) -> SsecRecord:
    """``SsecRecord.from_text``, memoised: a record holds no secret (salt and check only), and a hot
    object's GETs then skip the base64 decode."""
    return SsecRecord.from_text(text)

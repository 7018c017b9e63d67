"""The second layer of DSSE-KMS (dual-layer server-side encryption): the byte-level spec.

AWS describes DSSE-KMS as two independent layers of authenticated encryption, each under its own
data key. In sealbox an extent so encrypted is stream format version 0x02 (``sealbox.crypto.stream``:
same 44-byte header, version byte 0x02), and its data key is 64 bytes: two independent random
32-byte keys, ``DK1 || DK2``, each sealed separately by the key service (``sealbox.crypto.kms_format``).

All integers are unsigned big-endian. For segment ``i`` with plaintext ``P_i``::

    nonce_i      = u64(i) || u32(0)                       (as in version 1)
    aad_i        = header (44 bytes) || u64(i) || final_i  (as in version 1; final_i 0x01 or 0x00)
    outer_subkey = HMAC-SHA256(DK1, b"sealbox-extent-v1" || salt)      (the version-1 subkey)
    inner_subkey = HMAC-SHA256(DK2, b"sealbox-dsse-inner-v1" || salt)
    inner_i      = AES-256-GCM(inner_subkey, nonce_i, P_i, aad_i || b"sealbox-dsse-inner-v1")
                   = len(P_i) bytes of ciphertext || 16-byte tag
    stored_i     = AES-256-GCM(outer_subkey, nonce_i, inner_i, aad_i)
                   = len(P_i) + 16 bytes || 16-byte tag

So a stored segment is ``len(P_i) + 32`` bytes, segment ``i`` starts at
``HEADER_SIZE + i * (segment_size + 32)``, and the file size is
``HEADER_SIZE + plain_size + n * 32``. The two subkeys derive from different keys with different
labels, so the layers share no key even though they share nonces. Reading verifies the outer tag,
then the inner one: a flip anywhere, a segment re-sealed under the outer key alone, or a
version-1 extent offered to a two-layer reader (and the reverse) fails authentication.
"""

from __future__ import annotations

import functools
import hmac

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sealbox.core.types import Buffer
from sealbox.crypto.errors import CryptoError

__all__ = ["INNER_LABEL", "LAYERED_KEY_SIZE", "VERSION", "inner_aead", "open_inner", "reading_inner_aead",
           "seal_inner"]

VERSION = 2  # the stream format version of a two-layer extent
LAYER_KEY_SIZE = 32
LAYERED_KEY_SIZE = 2 * LAYER_KEY_SIZE
INNER_LABEL = b"sealbox-dsse-inner-v1"


def _inner_subkey(inner_key: bytes, salt: bytes) -> bytes:
    if len(inner_key) != LAYER_KEY_SIZE:
        raise CryptoError(f"the inner layer's data key must be {LAYER_KEY_SIZE} bytes")
    return hmac.digest(bytes(inner_key), INNER_LABEL + bytes(salt), "sha256")


def inner_aead(inner_key: bytes, salt: bytes) -> AESGCM:
    """The inner layer's cipher of a new extent (``salt`` from its header)."""
    return AESGCM(_inner_subkey(inner_key, salt))


@functools.lru_cache(maxsize=1024)
def reading_inner_aead(inner_key: bytes, salt: bytes) -> AESGCM:
    """The inner layer's cipher of an extent being read, kept like the outer one (stream._reading_aead)."""
    return AESGCM(_inner_subkey(inner_key, salt))


def seal_inner(aead: AESGCM, nonce: bytes, segment: Buffer, aad: bytes) -> bytes:
    """``inner_i`` of one plaintext segment."""
    return aead.encrypt(nonce, bytes(segment), aad + INNER_LABEL)


def open_inner(aead: AESGCM, nonce: bytes, inner: Buffer, aad: bytes) -> bytes:
    """``P_i`` from ``inner_i``; raises cryptography's InvalidTag if it does not authenticate."""
    return aead.decrypt(nonce, bytes(inner), aad + INNER_LABEL)

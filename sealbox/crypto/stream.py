"""Segmented AEAD stream format for one *extent* (one data file: a whole simple object or one
multipart part), in the spirit of MinIO's DARE.

All integers are unsigned big-endian.

Per-extent subkey
    Each extent has a random 16-byte ``salt`` (in its header) and is encrypted under
    ``subkey = HMAC-SHA256(data_key, b"sealbox-extent-v1" || salt)`` (32 bytes, AES-256).
    Many extents of one object (multipart parts, re-uploaded parts) share the object's data
    key but never a (key, nonce) pair.

Header (``HEADER_SIZE`` = 44 bytes, at file offset 0)::

    offset  0   3 bytes  magic  b"SBX"
    offset  3   1 byte   version 0x01
    offset  4   4 bytes  segment_size (u32; plaintext bytes per full segment, 1..MAX_SEGMENT_SIZE)
    offset  8  16 bytes  object_uid
    offset 24   4 bytes  extent_index (u32)
    offset 28  16 bytes  salt (random)

Body (starts at offset 44): ``n = max(1, ceil(plain_size / segment_size))`` segments.
Segment ``i`` holds plaintext bytes ``[i*segment_size, min((i+1)*segment_size, plain_size))``;
every segment but the last is full, the last may be shorter, and an empty extent has exactly
one empty final segment. Each segment is stored as::

    AES-256-GCM(subkey, nonce_i, plaintext_i, aad_i) = ciphertext (same length) || 16-byte tag
    nonce_i = u64(i) || u32(0)                         (12 bytes; unique per subkey)
    aad_i   = header (44 bytes) || u64(i) || final_i   (final_i = 0x01 for the last segment, else 0x00)

So the file size is ``HEADER_SIZE + plain_size + n * TAG_SIZE`` (``ciphertext_size``), and a
segment's position is computable: segment ``i`` starts at ``HEADER_SIZE + i*(segment_size+16)``.
Flipped bits anywhere, reordered segments, truncation (the last present segment is not marked
final, or is short), extension, a wrong uid/extent index/data key and splicing segments between
objects or extents (different header/salt/subkey) all fail authentication -> ``IntegrityError``.

Two layers (DSSE-KMS)
    A 64-byte data key is two independent 32-byte keys (outer || inner): the extent is then
    written in format version 0x02, whose segments are sealed twice (the second layer is specified
    in ``sealbox.crypto.dsse``), so each stored segment carries ``2 * TAG_SIZE`` bytes of tags and
    ``ciphertext_size``/``plan_range`` take ``layers=2``. The version byte is part of the header,
    hence of both layers' AAD: a reader holding a two-layer key refuses a version-1 extent and
    the other way round.

Reading: ``ExtentDecryptor`` is told the trusted ``plain_size`` (from metadata) and derives which
segment is final from it. ``plan_range`` says which ciphertext bytes serve a plaintext range.
The caller must check that it actually read the planned number of bytes (a short read of a
truncated file that happens to end on a segment boundary is otherwise indistinguishable from a
request for fewer segments); ``decrypt_run`` rejects partial segments and extra bytes.
"""

from __future__ import annotations

import functools
import hmac
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sealbox.core.types import Buffer
from sealbox.crypto import dsse
from sealbox.crypto.errors import CryptoError, IntegrityError

__all__ = [
    "HEADER_SIZE",
    "MAGIC",
    "MAX_SEGMENT_SIZE",
    "SALT_SIZE",
    "SEGMENT_SIZE",
    "TAG_SIZE",
    "UID_SIZE",
    "VERSION",
    "ExtentDecryptor",
    "ExtentEncryptor",
    "RangePlan",
    "ciphertext_size",
    "decrypt_extent",
    "encrypt_extent",
    "key_layers",
    "plan_range",
    "segment_count",
]

MAGIC = b"SBX"
VERSION = 1
TAG_SIZE = 16
SALT_SIZE = 16
UID_SIZE = 16
SEGMENT_SIZE = 64 * 1024
MAX_SEGMENT_SIZE = 16 * 1024 * 1024
_DATA_KEY_SIZE = 32
_MAX_EXTENT_INDEX = 0xFFFFFFFF
_SCRATCH_KEEP = 8 * 1024 * 1024  # largest output buffer an encryptor keeps for reuse
_SUBKEY_LABEL = b"sealbox-extent-v1"

_HEADER = struct.Struct(">3sBI16sI16s")
HEADER_SIZE = _HEADER.size  # 44
_NONCE = struct.Struct(">QI")
_AAD_TAIL = struct.Struct(">QB")

Rng = Callable[[int], bytes]


def _as_bytes_view(data: Buffer) -> memoryview:
    mv = memoryview(data)
    if mv.format != "B" or mv.ndim != 1:
        mv = mv.cast("B")
    return mv


def _subkey(data_key: bytes, salt: bytes) -> bytes:
    if len(data_key) != _DATA_KEY_SIZE:
        raise CryptoError(f"data key must be {_DATA_KEY_SIZE} bytes")
    return hmac.digest(bytes(data_key), _SUBKEY_LABEL + salt, "sha256")


@functools.lru_cache(maxsize=8192)
def _reading_aead(data_key: bytes, salt: bytes) -> AESGCM:
    """The cipher of an extent being read. Kept for the extents read most recently: deriving the
    subkey and expanding the AES key schedule cost more than decrypting a small object. (Writers
    never share one: each new extent has a fresh salt.) The data keys are already held in memory
    by ``Sealer``'s cache, so this keeps no secret that is not there anyway."""
    return AESGCM(_subkey(data_key, salt))


def key_layers(data_key: bytes | None) -> int:
    """How many layers of encryption a data key stands for: 1 (32 bytes), 2 (64 bytes, DSSE)."""
    if data_key is None:
        return 0
    if len(data_key) == _DATA_KEY_SIZE:
        return 1
    if len(data_key) == dsse.LAYERED_KEY_SIZE:
        return 2
    raise CryptoError(f"data key must be {_DATA_KEY_SIZE} or {dsse.LAYERED_KEY_SIZE} bytes")


def _check_layers(layers: int) -> None:
    if layers not in (1, 2):
        raise ValueError("layers must be 1 or 2")


def _check_segment_size(segment_size: int) -> None:
    if not isinstance(segment_size, int) or not 1 <= segment_size <= MAX_SEGMENT_SIZE:
        raise ValueError(f"segment_size must be an int in 1..{MAX_SEGMENT_SIZE}")


def segment_count(plain_size: int, segment_size: int = SEGMENT_SIZE) -> int:
    """Number of stored segments for ``plain_size`` plaintext bytes (at least 1)."""
    if plain_size < 0:
        raise ValueError("plain_size must be >= 0")
    _check_segment_size(segment_size)
    return max(1, -(-plain_size // segment_size))


def ciphertext_size(plain_size: int, segment_size: int = SEGMENT_SIZE, layers: int = 1) -> int:
    """Size of the whole extent file (header included) for ``plain_size`` plaintext bytes."""
    _check_layers(layers)
    return HEADER_SIZE + plain_size + segment_count(plain_size, segment_size) * TAG_SIZE * layers


class ExtentEncryptor:
    """Encrypts one extent incrementally: ``header()``, then ``update()``*, then ``finalize()``.

    The file content is ``header() + update(...) + ... + finalize()``. ``update`` emits only
    segments known not to be final, so up to one full segment stays buffered until
    ``finalize``. Not thread-safe (one instance per writer).
    """

    __slots__ = ("_aead", "_finished", "_header", "_index", "_inner", "_pending", "_scratch", "_seg", "_size")

    def __init__(
        self,
        data_key: bytes,
        object_uid: bytes,
        extent_index: int,
        segment_size: int = SEGMENT_SIZE,
        rng: Rng = os.urandom,
    ) -> None:
        _check_segment_size(segment_size)
        if len(object_uid) != UID_SIZE:
            raise ValueError(f"object_uid must be {UID_SIZE} bytes")
        if not isinstance(extent_index, int) or not 0 <= extent_index <= _MAX_EXTENT_INDEX:
            raise ValueError("extent_index must be an int in 0..2**32-1")
        salt = rng(SALT_SIZE)
        if len(salt) != SALT_SIZE:
            raise CryptoError("random source returned the wrong number of bytes")
        layers = key_layers(data_key)
        version = VERSION if layers == 1 else dsse.VERSION
        self._header = _HEADER.pack(MAGIC, version, segment_size, bytes(object_uid), extent_index, salt)
        self._aead = AESGCM(_subkey(data_key[:_DATA_KEY_SIZE], salt))
        self._inner = dsse.inner_aead(data_key[_DATA_KEY_SIZE:], salt) if layers == 2 else None
        self._seg = segment_size
        self._index = 0
        self._pending = bytearray()
        self._size = 0
        self._finished = False
        self._scratch: bytearray | None = None

    @property
    def segment_size(self) -> int:
        return self._seg

    @property
    def plain_size(self) -> int:
        """Plaintext bytes passed to ``update`` so far."""
        return self._size

    def header(self) -> bytes:
        return self._header

    def _seal(self, chunk: Buffer, final: bool) -> bytes:
        i = self._index
        self._index = i + 1
        nonce, aad = _NONCE.pack(i, 0), self._header + _AAD_TAIL.pack(i, final)
        if self._inner is not None:
            chunk = dsse.seal_inner(self._inner, nonce, chunk, aad)
        return self._aead.encrypt(nonce, chunk, aad)

    def update(self, data: Buffer) -> bytes:
        """Ciphertext of every segment completed (and known non-final) so far."""
        return bytes(self._update(data))

    def update_view(self, data: Buffer) -> memoryview | bytes:
        """``update`` without the final copy: large outputs are a view of a buffer this encryptor
        reuses, valid only until its next ``update_view``/``update``/``finalize`` call. For a caller
        that has consumed (written) each output before producing the next."""
        return self._update(data, reuse=True)

    def _update(self, data: Buffer, reuse: bool = False) -> memoryview | bytes:
        if self._finished:
            raise CryptoError("update() after finalize()")
        mv = _as_bytes_view(data)
        n = len(mv)
        if n == 0:
            return b""
        self._size += n
        seg = self._seg
        pending = self._pending
        if pending:
            need = seg - len(pending)
            if n <= need:
                pending += mv
                return b""
            pending += mv[:need]
            mv = mv[need:]
            n -= need
        # Every segment sealed here is followed by more data, so none is final; keep 1..seg bytes.
        full = (n - 1) // seg
        count = full + (1 if pending else 0)
        if count == 0:
            pending += mv
            return b""
        out: memoryview | bytes
        if count == 1:
            out = self._seal(pending if pending else mv[:seg], False)
        elif self._inner is not None:
            # Two layers (DSSE): segment by segment; the fast path below is for one layer.
            sealed = [self._seal(pending, False)] if pending else []
            sealed += [self._seal(mv[j * seg : (j + 1) * seg], False) for j in range(full)]
            out = b"".join(sealed)
        else:
            # Seal straight into one reusable buffer and copy it out once: fewer, steadier
            # allocations than joining per-segment bytes (measurably faster with glibc malloc).
            need_size = count * (seg + TAG_SIZE)
            buf = self._scratch
            self._scratch = None
            if buf is None or len(buf) < need_size:
                buf = bytearray(need_size)
            view = memoryview(buf)
            encrypt_into = self._aead.encrypt_into
            header = self._header
            i = self._index
            pos = 0
            step = seg + TAG_SIZE
            if pending:
                encrypt_into(_NONCE.pack(i, 0), pending, header + _AAD_TAIL.pack(i, False), view[:step])
                i += 1
                pos = step
            for j in range(full):
                encrypt_into(
                    _NONCE.pack(i, 0),
                    mv[j * seg : (j + 1) * seg],
                    header + _AAD_TAIL.pack(i, False),
                    view[pos : pos + step],
                )
                i += 1
                pos += step
            self._index = i
            if reuse and len(buf) <= _SCRATCH_KEEP:
                out = view[:pos]  # the caller is done with it before the next call (see update_view)
                self._scratch = buf
            else:
                out = view[:pos].tobytes()
                view.release()
                if len(buf) <= _SCRATCH_KEEP:
                    self._scratch = buf
        pending.clear()
        pending += mv[full * seg :]
        return out

    def finalize(self) -> bytes:
        """The last segment (marked final); an empty extent yields one empty final segment."""
        if self._finished:
            raise CryptoError("finalize() called twice")
        self._finished = True
        out = self._seal(bytes(self._pending), True)
        self._pending = bytearray()
        return out


@dataclass(frozen=True)
class RangePlan:
    """Which stored bytes serve a plaintext range of one extent."""

    cipher_offset: int  # absolute file offset of the first needed segment (header read separately)
    cipher_length: int  # bytes to read from cipher_offset (whole sealed segments)
    first_segment: int  # index of the segment at cipher_offset
    skip: int  # plaintext bytes to drop from the first decrypted segment
    length: int  # plaintext bytes wanted in total

    @property
    def end_offset(self) -> int:
        return self.cipher_offset + self.cipher_length


def plan_range(plain_size: int, start: int, end_inclusive: int, segment_size: int, layers: int = 1) -> RangePlan:
    """Plan to read plaintext bytes ``[start, end_inclusive]`` (requires 0<=start<=end<plain_size)."""
    _check_segment_size(segment_size)
    _check_layers(layers)
    tag = TAG_SIZE * layers
    if not 0 <= start <= end_inclusive < plain_size:
        raise ValueError(f"range {start}-{end_inclusive} not within a {plain_size}-byte extent")
    first = start // segment_size
    last = end_inclusive // segment_size
    last_plain = min(segment_size, plain_size - last * segment_size)
    return RangePlan(
        cipher_offset=HEADER_SIZE + first * (segment_size + tag),
        cipher_length=(last - first) * (segment_size + tag) + last_plain + tag,
        first_segment=first,
        skip=start - first * segment_size,
        length=end_inclusive - start + 1,
    )


class ExtentDecryptor:
    """Decrypts segments of one extent whose header and trusted plaintext size are known.

    One instance per reader.
    """

    __slots__ = (
        "_aead",
        "_header",
        "_inner",
        "_last",
        "_last_sealed",
        "_tag",
        "layers",
        "plain_size",
        "segment_count",
        "segment_size",
    )

    def __init__(
        self,
        data_key: bytes,
        header: Buffer,
        *,
        object_uid: bytes,
        extent_index: int,
        plain_size: int,
    ) -> None:
        header = bytes(header)
        if len(header) != HEADER_SIZE:
            raise IntegrityError(f"extent header must be {HEADER_SIZE} bytes, got {len(header)}")
        magic, version, seg, uid, index, salt = _HEADER.unpack(header)
        if magic != MAGIC:
            raise IntegrityError("not a sealbox extent (bad magic)")
        layers = key_layers(bytes(data_key))
        if version not in (VERSION, dsse.VERSION):
            raise IntegrityError(f"unsupported extent format version {version}")
        if (version == dsse.VERSION) != (layers == 2):
            raise IntegrityError(f"extent format version {version} does not match a {layers}-layer data key")
        if not 1 <= seg <= MAX_SEGMENT_SIZE:
            raise IntegrityError(f"invalid segment size {seg} in extent header")
        if not hmac.compare_digest(uid, bytes(object_uid)):
            raise IntegrityError("extent header belongs to another object")
        if index != extent_index:
            raise IntegrityError(f"extent header is for extent {index}, expected {extent_index}")
        if plain_size < 0:
            raise ValueError("plain_size must be >= 0")
        self._header = header
        self._aead = _reading_aead(bytes(data_key[:_DATA_KEY_SIZE]), salt)
        self._inner = dsse.reading_inner_aead(bytes(data_key[_DATA_KEY_SIZE:]), salt) if layers == 2 else None
        self.layers: int = layers
        self._tag = TAG_SIZE * layers
        self.segment_size: int = seg
        self.plain_size: int = plain_size
        self.segment_count: int = segment_count(plain_size, seg)
        self._last = self.segment_count - 1
        self._last_sealed = plain_size - self._last * seg + self._tag

    @property
    def ciphertext_size(self) -> int:
        """Expected size of the whole extent file."""
        return ciphertext_size(self.plain_size, self.segment_size, self.layers)

    @property
    def tag_bytes(self) -> int:
        """Bytes of authentication tags per stored segment (16 per layer)."""
        return self._tag

    def plan_range(self, start: int, end_inclusive: int) -> RangePlan:
        return plan_range(self.plain_size, start, end_inclusive, self.segment_size, self.layers)

    def _open(self, index: int, sealed: Buffer) -> bytes:
        final = index == self._last
        nonce, aad = _NONCE.pack(index, 0), self._header + _AAD_TAIL.pack(index, final)
        try:
            plain = self._aead.decrypt(nonce, sealed, aad)
        except InvalidTag:
            raise IntegrityError(f"segment {index} failed authentication") from None
        if self._inner is None:
            return plain
        try:
            return dsse.open_inner(self._inner, nonce, plain, aad)
        except InvalidTag:
            raise IntegrityError(f"segment {index} failed authentication in the second layer") from None

    def decrypt_segment(self, index: int, sealed: Buffer) -> bytes:
        """Plaintext of segment ``index`` (its final flag is derived from ``plain_size``)."""
        if not 0 <= index <= self._last:
            raise IntegrityError(f"segment {index} is beyond the final segment {self._last}")
        expected = self.segment_size + self._tag if index < self._last else self._last_sealed
        if len(sealed) != expected:
            raise IntegrityError(f"segment {index} is {len(sealed)} bytes, expected {expected}")
        return self._open(index, sealed)

    def plain_length(self, sealed_length: int) -> int:
        """How many plaintext bytes ``decrypt_run`` makes of ``sealed_length`` bytes of whole segments
        (an upper bound when the run is malformed, which ``decrypt_run`` then rejects)."""
        full = self.segment_size + self._tag
        return sealed_length - self._tag * -(-sealed_length // full)

    def decrypt_run(
        self, first_index: int, sealed: Buffer, out: bytearray | None = None
    ) -> bytes | bytearray | memoryview:
        """Concatenated plaintext of consecutive whole sealed segments starting at ``first_index``.

        ``sealed`` must be one or more whole sealed segments (a partial segment, bytes past the
        final segment or an empty run raise ``IntegrityError``). With ``out`` (at least
        ``plain_length`` bytes) the plaintext is written there and a view of it returned.
        """
        mv = _as_bytes_view(sealed)
        n = len(mv)
        if n == 0:
            raise IntegrityError("empty segment run (truncated extent?)")
        if first_index < 0:
            raise IntegrityError(f"negative segment index {first_index}")
        seg = self.segment_size
        tag = self._tag
        full = seg + tag
        last = self._last
        # Lay out the run first (cheap integer work), then decrypt.
        if first_index > last:
            raise IntegrityError("data extends past the final segment")
        count_full = min(n // full, last - first_index)
        rest = n - count_full * full
        if rest == 0:
            count, plain_len = count_full, count_full * seg
        elif first_index + count_full == last and rest == self._last_sealed:
            count, plain_len = count_full + 1, count_full * seg + rest - tag
        elif first_index + count_full == last and rest > self._last_sealed:
            raise IntegrityError("data extends past the final segment")
        else:
            raise IntegrityError(f"segment {first_index + count_full} is truncated")
        if count == 1 and out is None:
            return self._open(first_index, mv)
        if out is not None and len(out) < plain_len:
            raise ValueError(f"output buffer of {len(out)} bytes for {plain_len} bytes of plaintext")
        # Without ``out``, a fresh buffer handed out as is: the caller (often the socket's write
        # buffer) may keep it as long as it likes.
        buf = bytearray(plain_len) if out is None else out
        if self._inner is not None:
            # Two layers (DSSE): segment by segment through _open (the fast path is for one layer).
            pos = out_pos = 0
            for index in range(first_index, first_index + count):
                size = full if index < last else self._last_sealed
                buf[out_pos : out_pos + size - tag] = self._open(index, mv[pos : pos + size])
                pos += size
                out_pos += size - tag
            return buf if len(buf) == plain_len else memoryview(buf)[:plain_len]
        view = memoryview(buf)
        decrypt_into = self._aead.decrypt_into
        header = self._header
        pos = 0
        out_pos = 0
        try:
            for index in range(first_index, first_index + count):
                size = full if index < last else self._last_sealed
                try:
                    decrypt_into(
                        _NONCE.pack(index, 0),
                        mv[pos : pos + size],
                        header + _AAD_TAIL.pack(index, index == last),
                        view[out_pos : out_pos + size - TAG_SIZE],
                    )
                except InvalidTag:
                    raise IntegrityError(f"segment {index} failed authentication") from None
                pos += size
                out_pos += size - TAG_SIZE
        finally:
            view.release()
        return buf if len(buf) == plain_len else memoryview(buf)[:plain_len]


def encrypt_extent(
    data_key: bytes,
    plaintext: Buffer,
    object_uid: bytes,
    extent_index: int,
    segment_size: int = SEGMENT_SIZE,
    rng: Rng = os.urandom,
) -> bytes:
    """The whole extent file for ``plaintext`` in one call (convenience for small data)."""
    enc = ExtentEncryptor(data_key, object_uid, extent_index, segment_size, rng)
    return b"".join((enc.header(), enc.update(plaintext), enc.finalize()))


def decrypt_extent(
    data_key: bytes, blob: Buffer, *, object_uid: bytes, extent_index: int, plain_size: int
) -> Buffer:
    """The plaintext of a whole extent file (checks its exact size). Raises IntegrityError."""
    mv = _as_bytes_view(blob)
    if len(mv) < HEADER_SIZE:
        raise IntegrityError("extent is shorter than its header")
    dec = ExtentDecryptor(
        data_key, mv[:HEADER_SIZE], object_uid=object_uid, extent_index=extent_index, plain_size=plain_size
    )
    if len(mv) != dec.ciphertext_size:
        raise IntegrityError(f"extent is {len(mv)} bytes, expected {dec.ciphertext_size}")
    return dec.decrypt_run(0, mv[HEADER_SIZE:])

"""Streaming between request bodies and extent files, with hashing and encryption off the event loop.

Write side: the body arrives in pieces; they are coalesced into ~1 MiB buffers and each buffer is
hashed (MD5 for the ETag, requested checksums, SHA-256 when the signature covers the payload),
encrypted and written by a worker thread while the event loop receives the next buffer — a
two-stage pipeline, so neither hashing nor AES-GCM runs serially with network I/O. hashlib and
cryptography release the GIL on large buffers, so several uploads use several cores.

Read side: extent files are opened before the response starts (an open descriptor keeps a blob
readable even if a concurrent overwrite unlinks it), then read ~1 MiB at a time by a worker thread,
one buffer ahead of the socket (large buffers are mapped, not copied), and decrypted on the event
loop into a few reused buffers.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import sys
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Protocol

from sealbox.core.checksums import Checksum, b64, new_checksum
from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.types import Body, Buffer, Extent
from sealbox.crypto import stream as aead
from sealbox.storage.data.base import BlobHandle, BlobStore, BlobWriter, NotResident, ShortBlob

BUFFER = 1024 * 1024
ON_LOOP_LIMIT = 128 * 1024  # below this, hashing/encrypting on the event loop beats a thread hop


@dataclass
class PayloadChecks:
    """What the client claims about the body, verified once it has been read in full."""

    content_md5: bytes | None = None
    sha256_hex: str | None = None
    algorithms: tuple[str, ...] = ()
    expected: Callable[[], dict[str, str]] = field(default=dict)  # called after the body (trailers)


class Payload(Protocol):
    checks: PayloadChecks

    def chunks(self) -> AsyncIterator[Buffer]: ...


@dataclass(frozen=True)
class EncryptionTarget:
    data_key: bytes
    object_uid: bytes
    extent_index: int


@dataclass(frozen=True)
class WrittenExtent:
    extent: Extent
    md5: bytes
    checksums: dict[str, bytes]  # algorithm -> raw digest


class _Sink:
    """Hashes, encrypts and writes.

    Two independent chains: ``digest`` (MD5, checksums, SHA-256) and ``store`` (encrypt, write).
    Each chain runs in order, but the two run side by side: MD5 (the slowest step, ~0.7 GB/s,
    releasing the GIL) overlaps with AES-GCM (fast) and the write.
    """

    def __init__(self, writer: BlobWriter, enc: EncryptionTarget | None, algorithms: tuple[str, ...],
                 sha256: bool) -> None:
        self.writer = writer
        self.md5 = hashlib.md5()
        self.sums: dict[str, Checksum] = {a: new_checksum(a) for a in algorithms}
        self.sha256 = hashlib.sha256() if sha256 else None
        self.size = 0
        self.encryptor = aead.ExtentEncryptor(enc.data_key, enc.object_uid, enc.extent_index) if enc else None
        if self.encryptor:
            writer.write(self.encryptor.header())

    def feed(self, data: bytes) -> None:
        self.digest(data)
        self.store(data)

    def digest(self, data: bytes) -> None:
        self.size += len(data)
        self.md5.update(data)
        for c in self.sums.values():
            c.update(data)
        if self.sha256:
            self.sha256.update(data)

    def store(self, data: bytes) -> None:
        self.writer.write(self.seal(data))

    def seal(self, data: bytes) -> bytes | memoryview:
        # A view of the encryptor's reused buffer: each sealed buffer is written before the next is
        # sealed (write_extent awaits the previous write first; BlobWriter copies what it keeps).
        return self.encryptor.update_view(data) if self.encryptor else data

    def close(self) -> None:
        if self.encryptor:
            self.writer.write(self.encryptor.finalize())


async def _coalesce(chunks: AsyncIterator[Buffer]) -> AsyncIterator[bytes]:
    buf: list[Buffer] = []
    size = 0
    async for chunk in chunks:
        if not chunk:
            continue
        buf.append(chunk)
        size += len(chunk)
        if size >= BUFFER:
            yield b"".join(buf)
            buf, size = [], 0
    if buf:
        yield b"".join(buf)


async def write_extent(blobs: BlobStore, pool: Executor, payload: Payload, enc: EncryptionTarget | None,
                       commit: bool = True, inline: bool = False) -> tuple[WrittenExtent, BlobWriter]:
    """Stream ``payload`` into a new blob; verify what the client claimed; fsync+rename if ``commit``.

    On any failure the temporary file is removed and nothing becomes visible. The returned writer
    is already committed when ``commit`` is true; otherwise the caller commits it (in a thread).
    ``inline``: a small body may stay out of any file (the extent says so), and the caller hands
    ``writer.inline_data`` to the metadata write after commit.
    """
    loop = asyncio.get_running_loop()
    writer = blobs.new_writer(inline)
    pending: list[asyncio.Future[None]] = []
    try:
        sink = _Sink(writer, enc, payload.checks.algorithms, payload.checks.sha256_hex is not None)
        async for buf in _coalesce(payload.chunks()):
            # One buffer in flight per chain, while the loop already receives the next one.
            for future in pending:
                await future
            pending = []
            if len(buf) < ON_LOOP_LIMIT:
                sink.feed(buf)
            else:
                # The MD5 and the write release the GIL and run in worker threads beside the loop;
                # AES-GCM runs here (sealing in the write's thread too measured no faster).
                pending = [loop.run_in_executor(pool, sink.digest, buf),
                           loop.run_in_executor(pool, writer.write, sink.seal(buf))]
        for future in pending:
            await future
        pending = []
        sink.close()
        result = WrittenExtent(Extent(writer.blob_id, sink.size, inline=writer.inline), sink.md5.digest(),
                               {a: c.digest() for a, c in sink.sums.items()})
        _verify(payload.checks, result, sink.sha256)
        if commit:
            await loop.run_in_executor(pool, writer.commit)
    except BaseException:
        for future in pending:
            # The body failed while a buffer is still being written in a worker thread: let that
            # write finish (and collect its outcome) before the file is closed under it.
            with contextlib.suppress(BaseException):
                await future
        writer.abort()
        raise
    return result, writer


def _verify(checks: PayloadChecks, result: WrittenExtent, sha256: hashlib._Hash | None) -> None:
    if checks.sha256_hex is not None and sha256 is not None:
        computed = sha256.hexdigest()
        if not hmac.compare_digest(computed, checks.sha256_hex.lower()):
            raise SealboxError(ErrorCode.X_AMZ_CONTENT_SHA256_MISMATCH,
                               ClientComputedContentSHA256=checks.sha256_hex, S3ComputedContentSHA256=computed)
    if checks.content_md5 is not None and checks.content_md5 != result.md5:
        raise SealboxError(ErrorCode.BAD_DIGEST, "The Content-MD5 you specified did not match what we received.",
                           ExpectedDigest=b64(checks.content_md5), CalculatedDigest=b64(result.md5))
    for algorithm, expected in checks.expected().items():
        digest = result.checksums.get(algorithm)
        if digest is None or b64(digest) != expected:
            raise SealboxError(ErrorCode.BAD_DIGEST,
                               f"The {algorithm} you specified did not match the calculated checksum.")


# -- read side ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExtentSlice:
    """Plaintext bytes [start, start+length) of one open extent."""

    blob: BlobHandle
    extent: Extent
    extent_index: int
    start: int
    length: int


class IntegrityFailure(Exception):
    """Stored data failed authentication or does not match its metadata; never serve it."""


def _references(buffers: list[bytearray], index: int) -> int:
    return sys.getrefcount(buffers[index])


# What ``_references`` reports for a buffer only the pool's list holds: measured through the same
# function rather than assumed, so no interpreter's way of counting can make a held buffer look idle.
_IDLE_REFERENCES = _references([bytearray(1)], 0)


class ReusableBuffers:
    """A few output buffers for decrypted plaintext, each reused once nothing else refers to it.

    A buffer given to the socket may wait in the transport's write queue (as itself or as a
    memoryview of it) until the kernel has taken every byte; writing into it before then would
    change bytes already "sent". CPython's reference count says exactly when that is over: the
    pool's list is then the only holder. A fresh bytearray per buffer instead costs a zero-fill and
    cold memory (~7 % of a large SSE GET's server CPU, measured with perf).
    """

    LIMIT = 3  # one being filled, one with the consumer, one in the transport's queue

    def __init__(self) -> None:
        self._buffers: list[bytearray] = []

    def take(self, size: int) -> bytearray:
        """An idle buffer of at least ``size`` bytes (contents undefined), or a new one."""
        buffers = self._buffers
        for index in range(len(buffers)):
            if len(buffers[index]) >= size and _references(buffers, index) <= _IDLE_REFERENCES:
                return buffers[index]
        buffer = bytearray(size)
        if len(buffers) < self.LIMIT:
            buffers.append(buffer)
        return buffer


class ExtentReader:
    """Produces the plaintext of one slice in buffers of about ``BUFFER`` bytes (blocking calls)."""

    def __init__(self, part: ExtentSlice, data_key: bytes | None, object_uid: bytes) -> None:
        self.part = part
        self.pos = part.start
        self.end = part.start + part.length
        self.decryptor: aead.ExtentDecryptor | None = None
        self.buffers = ReusableBuffers()
        self._check_size(data_key)
        if data_key is not None:
            header = self._stored(0, aead.HEADER_SIZE, False)
            try:
                self.decryptor = aead.ExtentDecryptor(data_key, header, object_uid=object_uid,
                                                      extent_index=part.extent_index, plain_size=part.extent.size)
            except Exception as exc:
                raise IntegrityFailure(f"extent header rejected: {exc}") from exc

    def _check_size(self, data_key: bytes | None) -> None:
        on_disk = self.part.blob.size
        want = _stored_size(self.part.extent, data_key)
        if on_disk != want:
            raise IntegrityFailure(f"blob {self.part.extent.blob_id} is {on_disk} bytes, expected {want}")

    def next(self) -> Buffer | None:
        raw = self.read()
        return None if raw is None else self.open(raw)

    def read(self, resident_only: bool = False) -> _Raw | None:
        """The stored bytes behind the next buffer (blocking I/O; releases the GIL). With
        ``resident_only`` it raises NotResident, having read nothing, unless they are all in the
        page cache (so the event loop's thread can read them without waiting for the disk)."""
        if self.pos >= self.end:
            return None
        want = min(BUFFER, self.end - self.pos)
        start = self.pos
        plan = None
        if self.decryptor is None:
            data = self._stored(start, want, resident_only)
        else:
            plan = self.decryptor.plan_range(start, start + want - 1)
            data = self._stored(plan.cipher_offset, plan.cipher_length, resident_only)
        self.pos = start + want
        return _Raw(data, plan, want)

    def _stored(self, offset: int, length: int, resident_only: bool) -> Buffer:
        try:
            return self.part.blob.read(offset, length, resident_only=resident_only)
        except ShortBlob as exc:
            raise IntegrityFailure(str(exc)) from None

    def open(self, raw: _Raw) -> Buffer:
        """Plaintext of what ``read`` returned, every segment authenticated (AES-GCM, on the loop)."""
        if raw.plan is None or self.decryptor is None:
            return raw.data
        decryptor = self.decryptor
        try:
            out = self.buffers.take(decryptor.plain_length(len(raw.data)))
            plain = decryptor.decrypt_run(raw.plan.first_segment, raw.data, out)
        except Exception as exc:
            raise IntegrityFailure(f"segment authentication failed in blob {self.part.extent.blob_id}") from exc
        if raw.plan.skip == 0 and raw.want == len(plain):
            return plain  # the whole decrypted buffer: a slice of a bytearray would copy it
        return plain[raw.plan.skip: raw.plan.skip + raw.want]


def _stored_size(extent: Extent, data_key: bytes | None) -> int:
    """Stored bytes of an extent: plaintext, or ciphertext of one layer (or two: a DSSE data key)."""
    if data_key is None:
        return extent.size
    return aead.ciphertext_size(extent.size, layers=aead.key_layers(data_key))


def read_whole(blobs: BlobStore, extent: Extent, data_key: bytes | None, object_uid: bytes,
               start: int, length: int) -> Buffer:
    """Plaintext [start, start+length) of a small extent file, read with one system call (blocking)."""
    stored = blobs.read_whole(extent.blob_id, _stored_size(extent, data_key))
    return open_stored(stored, extent, data_key, object_uid, start, length)


def open_stored(stored: bytes, extent: Extent, data_key: bytes | None, object_uid: bytes,
                start: int, length: int) -> Buffer:
    """Plaintext [start, start+length) of an extent's whole stored bytes (a small file, or inline).

    The same checks as ``ExtentReader``: exact stored size, header bound to this object and extent,
    every segment authenticated (all of them: a small extent is cheaper to open whole than to plan).
    """
    want = _stored_size(extent, data_key)
    if len(stored) != want:
        raise IntegrityFailure(f"blob {extent.blob_id} is {len(stored)}{'+' if len(stored) > want else ''} bytes,"
                               f" expected {want}")
    if data_key is None:
        return stored[start: start + length] if (start, length) != (0, len(stored)) else stored
    try:
        plain = aead.decrypt_extent(data_key, stored, object_uid=object_uid, extent_index=extent.index,
                                    plain_size=extent.size)
    except Exception as exc:
        raise IntegrityFailure(f"blob {extent.blob_id} failed authentication: {exc}") from exc
    return plain[start: start + length] if (start, length) != (0, len(plain)) else plain


@dataclass(frozen=True)
class _Raw:
    data: Buffer  # bytes from pread, or a view of a mapping
    plan: aead.RangePlan | None
    want: int


async def read_slices(pool: Executor, slices: list[ExtentSlice], data_key: bytes | None,
                      object_uid: bytes, total: int) -> Body:
    """Yield plaintext for the slices in order.

    Stored bytes already in the page cache are mapped and read on the event loop (a hand-off to a
    worker thread per buffer cost more than the read; single-stream SSE GETs ran ~25 % faster
    without it). From the first buffer that would wait for the disk on, file reads run in a worker
    thread one buffer ahead of the socket. Decryption runs on the event loop. (cryptography 50
    releases the GIL in AES-GCM, but decrypting in the reader thread too was measured slower: 1 MiB
    buffers one ahead serialise the two threads rather than overlap them.)
    """
    loop = asyncio.get_running_loop()
    on_loop = total <= ON_LOOP_LIMIT
    ahead: asyncio.Future[_Raw | None] | None = None
    try:
        for part in slices:
            if on_loop:
                reader = ExtentReader(part, data_key, object_uid)
                while (chunk := reader.next()) is not None:
                    yield chunk
                continue
            reader = await loop.run_in_executor(pool, ExtentReader, part, data_key, object_uid)
            threaded = False  # from the first buffer that had to come from the disk on
            while True:
                if ahead is not None:
                    raw = await ahead
                else:
                    try:
                        raw = reader.read(resident_only=True)
                    except NotResident:
                        threaded = True
                        raw = await loop.run_in_executor(pool, reader.read)
                if raw is None:
                    break
                ahead = loop.run_in_executor(pool, reader.read) if threaded else None
                yield reader.open(raw)
            ahead = None
    finally:
        if ahead is not None and not ahead.done():
            # The consumer stopped early (client gone, failure): let the read in flight finish
            # before its file is closed under it.
            with contextlib.suppress(BaseException):
                await ahead
        for part in slices:
            part.blob.close()

"""Scrub: verify every stored object version against its metadata, and find what nothing references.

For each object version (every bucket, every version, walked by row id so the walk resumes cleanly
while the server keeps writing):

- each extent's stored bytes (its blob file, or its row in ``inline_blobs`` for a small object)
  exist and have exactly the size its metadata implies (the AEAD ciphertext size for SSE, the
  plaintext size otherwise);
- SSE: the data key unseals under the keyring (bound to bucket/key/uid), and *every* segment of
  every extent authenticates — including an empty extent's single empty final segment; the sealed
  ETag, checksums and metadata open under the data key (else a ``metadata`` problem, and the checks
  below that need them are skipped: the data itself is still authenticated);
- SSE-KMS: a version whose KMS key was deleted is a ``kms-key-gone`` problem (crypto-shredded: its
  data can never be read again); one whose key is disabled or pending deletion is counted as
  ``kms_unavailable`` and only its files are checked;
- SSE-C: the server holds no key that opens the data (it is derived from the customer's key, which is
  never stored), so only what needs no customer key is verified: the key record and the server share
  open, the sealed ETag, checksums and metadata authenticate (under the share), every extent's file
  exists with the ciphertext size its plaintext size implies. The segments' authentication tags,
  the ETag and the checksums against the data cannot be checked: such versions are counted as
  ``sse_c_unverified`` (GET with the key authenticates every byte it returns);
- the plaintext MD5 equals the ETag (single-part), or the part MD5s combine to the ``<md5>-N``
  multipart ETag when each extent is one part; FULL_OBJECT checksums match the plaintext;
- the extent sizes add up to the version's size.

Parts of unfinished multipart uploads must exist with their expected size. Then the store as a whole:
blob files that no version or part references (orphans) and temp files left in ``tmp/`` by an
interrupted write. Anything younger than ``grace`` seconds is an in-flight write, not a problem.

Safe while the server runs: it only reads. A row overwritten or deleted while it is being checked
is re-read before a missing file is reported, so a concurrent DELETE is not mistaken for data loss.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from sealbox.core.checksums import Checksum, b64, new_checksum
from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.progress import NO_PROGRESS, Progress
from sealbox.core.types import SSE_C, Buffer, Extent, ObjectVersion
from sealbox.crypto import dsse, kms_format
from sealbox.crypto import stream as aead
from sealbox.crypto.errors import CryptoError
from sealbox.service.metadata import MetadataSealer
from sealbox.service.pipeline import IntegrityFailure
from sealbox.service.sealing import Sealer
from sealbox.storage.data.base import BlobHandle, BlobNotFound, BlobStore, BytesHandle, ShortBlob
from sealbox.storage.meta.base import MetadataOwner, MetaStore

BATCH = 500
READ_BUFFER = 1024 * 1024
DEFAULT_GRACE = 3600.0  # seconds: younger unreferenced files may belong to an upload in flight


@dataclass(frozen=True)
class Problem:
    """One thing wrong, located as precisely as the store allows."""

    kind: str  # missing-data, size-mismatch, auth-failed, data-key, metadata, etag-mismatch, checksum-mismatch, orphan-blob, stale-temp
    detail: str
    bucket: str | None = None
    key: str | None = None
    version_id: str | None = None
    upload_id: str | None = None
    path: str | None = None

    def describe(self) -> str:
        where = []
        if self.bucket is not None:
            where.append(f"{self.bucket}/{self.key}" if self.key is not None else self.bucket)
        if self.version_id is not None:
            where.append(f"version={self.version_id}")
        if self.upload_id is not None:
            where.append(f"upload={self.upload_id}")
        if self.path is not None:
            where.append(self.path)
        return f"{self.kind}: {' '.join(where)}: {self.detail}"

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class ScrubReport:
    versions: int = 0
    delete_markers: int = 0
    extents: int = 0
    parts: int = 0
    bytes_verified: int = 0  # plaintext bytes read (and for SSE authenticated)
    blob_files: int = 0
    unverifiable: int = 0  # checks the metadata gives too little to run (e.g. COMPOSITE checksums)
    kms_unavailable: int = 0  # SSE-KMS versions whose KMS key is disabled or pending deletion: not checked now
    sse_c_unverified: int = 0  # SSE-C versions: structure and metadata checked, data tags need the customer key
    in_flight: int = 0  # unreferenced files younger than the grace period
    skipped_concurrent: int = 0  # rows changed by the server while being checked
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def counts(self) -> dict[str, int]:
        by_kind: dict[str, int] = {}
        for p in self.problems:
            by_kind[p.kind] = by_kind.get(p.kind, 0) + 1
        return by_kind

    def summary(self) -> str:
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(self.counts().items())) or "none"
        return (f"scrub: {self.versions} versions ({self.delete_markers} delete markers), {self.extents} extents,"
                f" {self.parts} pending parts, {self.bytes_verified} bytes verified, {self.blob_files} blob files,"
                f" {self.in_flight} in flight, {self.unverifiable} checks not applicable,"
                f" {self.kms_unavailable} under a disabled KMS key, {self.sse_c_unverified} SSE-C (data not"
                f" verifiable without the customer key)"
                f" in {self.seconds:.1f}s; problems: {len(self.problems)} ({kinds})")

    def as_dict(self) -> dict[str, object]:
        return {"versions": self.versions, "delete_markers": self.delete_markers, "extents": self.extents,
                "parts": self.parts, "bytes_verified": self.bytes_verified, "blob_files": self.blob_files,
                "unverifiable": self.unverifiable, "kms_unavailable": self.kms_unavailable,
                "sse_c_unverified": self.sse_c_unverified,
                "in_flight": self.in_flight,
                "skipped_concurrent": self.skipped_concurrent, "seconds": round(self.seconds, 3),
                "ok": self.ok, "problems": [p.as_dict() for p in self.problems]}


class Throttle:
    """Caps the read rate (bytes/second) so a scrub does not starve the server of disk bandwidth."""

    def __init__(self, bytes_per_second: float | None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.rate = bytes_per_second if bytes_per_second and bytes_per_second > 0 else None
        self._clock, self._sleep = clock, sleep
        self._start = clock()
        self._total = 0

    def consume(self, n: int) -> None:
        if self.rate is None:
            return
        self._total += n
        ahead = self._total / self.rate - (self._clock() - self._start)
        if ahead > 0:
            self._sleep(ahead)


class _Digests:
    """Running MD5 and checksums over a version's whole plaintext, plus each extent's own MD5."""

    def __init__(self, algorithms: list[str]) -> None:
        self.md5 = hashlib.md5()
        self.sums: dict[str, Checksum] = {a: new_checksum(a) for a in algorithms}
        self.part_md5s: list[bytes] = []
        self._part = hashlib.md5()

    def feed(self, data: Buffer) -> None:
        self.md5.update(data)
        self._part.update(data)
        for c in self.sums.values():
            c.update(data)

    def end_extent(self) -> None:
        self.part_md5s.append(self._part.digest())
        self._part = hashlib.md5()


class ExtentCorrupt(Exception):
    """An extent file does not match its metadata (size, header, authentication)."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


def _read_exact(f: BlobHandle, offset: int, length: int) -> Buffer:
    try:
        return f.read(offset, length)
    except ShortBlob as exc:
        raise ExtentCorrupt("size-mismatch", f"short read: {exc}") from None


def _stored_size(f: BlobHandle) -> int:
    return f.size  # a blob, or an inline extent's bytes


def _plain_runs(f: BlobHandle, size: int) -> Iterator[Buffer]:
    on_disk = _stored_size(f)
    if on_disk != size:
        raise ExtentCorrupt("size-mismatch", f"stored extent is {on_disk} bytes, metadata says {size}")
    pos = 0
    while pos < size:
        n = min(READ_BUFFER, size - pos)
        yield _read_exact(f, pos, n)
        pos += n


def _sealed_runs(f: BlobHandle, extent: Extent, data_key: bytes, object_uid: bytes) -> Iterator[Buffer]:
    """Authenticate every segment of an SSE extent in ~1 MiB runs, yielding the plaintext."""
    on_disk = _stored_size(f)
    if on_disk < aead.HEADER_SIZE:
        raise ExtentCorrupt("size-mismatch", f"stored extent is {on_disk} bytes, shorter than its header")
    try:
        dec = aead.ExtentDecryptor(data_key, _read_exact(f, 0, aead.HEADER_SIZE), object_uid=object_uid,
                                   extent_index=extent.index, plain_size=extent.size)
    except CryptoError as exc:
        raise ExtentCorrupt("auth-failed", f"extent header rejected: {exc}") from None
    if on_disk != dec.ciphertext_size:
        raise ExtentCorrupt("size-mismatch", f"stored extent is {on_disk} bytes, expected {dec.ciphertext_size}"
                            f" for {extent.size} plaintext bytes")
    seg, count = dec.segment_size, dec.segment_count
    per_run = max(1, READ_BUFFER // seg)
    full = seg + dec.tag_bytes
    for first in range(0, count, per_run):
        last = min(first + per_run, count) - 1
        length = (last - first) * full + (extent.size - last * seg + dec.tag_bytes if last == count - 1 else full)
        sealed = _read_exact(f, aead.HEADER_SIZE + first * full, length)
        try:
            yield dec.decrypt_run(first, sealed)
        except CryptoError as exc:
            raise ExtentCorrupt("auth-failed", f"{exc} (segments {first}..{last})") from None


class Scrubber:
    def __init__(self, meta: MetaStore, blobs: BlobStore, sealer: Sealer | None, *,
                 grace: float = DEFAULT_GRACE, rate: float | None = None,
                 on_problem: Callable[[Problem], None] | None = None,
                 clock: Callable[[], float] = time.time, progress: Progress = NO_PROGRESS) -> None:
        self.meta = meta
        self.blobs = blobs
        self.sealer = sealer  # None: master keys unavailable; SSE objects are reported, not skipped
        # ``meta`` may be a store without keys: sealed metadata is opened here, so a row whose metadata
        # does not authenticate is one problem, not the end of the walk.
        self.metadata = MetadataSealer(sealer) if sealer is not None else None
        self.grace = grace
        self.throttle = Throttle(rate)
        self.on_problem = on_problem
        self.clock = clock
        self.progress = progress  # items: versions checked (total: the versions when the pass began); failed: problems

    def run(self) -> ScrubReport:
        report = ScrubReport()
        started = time.monotonic()
        with self.progress:
            self.progress.set_total(self.meta.count_versions())
            # Files are listed *before* the metadata is read: a blob committed after this listing is
            # not seen at all, and one removed meanwhile is re-checked before it is called an orphan.
            on_disk = self._blob_files()
            report.blob_files = len(on_disk)
            self._check_versions(report)
            self._check_parts(report)
            self._check_orphans(report, on_disk)
            self._check_temp(report)
        report.seconds = time.monotonic() - started
        return report

    def _problem(self, report: ScrubReport, problem: Problem) -> None:
        report.problems.append(problem)
        self.progress.add(failed=1)
        if self.on_problem is not None:
            self.on_problem(problem)

    # -- versions ----------------------------------------------------------------------------------
    def _check_versions(self, report: ScrubReport) -> None:
        after = 0
        while batch := self.meta.iter_versions(after, BATCH):
            for version in batch:
                after = version.seq
                if version.is_delete_marker:
                    report.delete_markers += 1
                else:
                    self._check_version(report, version)
                report.versions += 1
                self.progress.add(done=1)

    def _check_version(self, report: ScrubReport, v: ObjectVersion) -> None:
        def problem(kind: str, detail: str) -> None:
            self._problem(report, Problem(kind, detail, v.bucket, v.key, v.version_id))

        if sum(e.size for e in v.extents) != v.size:
            problem("size-mismatch", f"extents hold {sum(e.size for e in v.extents)} bytes, version says {v.size}")
        if v.sse == SSE_C:
            self._check_sse_c(report, v, problem)
            return
        try:
            data_key = self._data_key(v, problem)
        except SealboxError as exc:  # SSE-KMS: the key service refused
            if exc.code is ErrorCode.KMS_NOT_FOUND:
                problem("kms-key-gone", f"its KMS key no longer exists, the data cannot be decrypted ever again:"
                        f" {exc.message}")
            else:
                report.kms_unavailable += 1
            self._check_files_exist(report, v, problem)
            return
        if v.sse and data_key is None:
            self._check_files_exist(report, v, problem)
            return
        v, metadata_ok = self._open_metadata(v, problem)
        composite = v.checksum_type == "COMPOSITE" or any("-" in value for value in v.checksums.values())
        digests = _Digests([] if composite else sorted(v.checksums))
        for extent in v.extents:
            report.extents += 1
            try:
                with self._open_extent(extent) as f:
                    runs = _sealed_runs(f, extent, data_key, v.object_uid) if data_key else _plain_runs(f, extent.size)
                    for plain in runs:
                        digests.feed(plain)
                        report.bytes_verified += len(plain)
                        self.throttle.consume(len(plain))
            except FileNotFoundError:
                if self._changed(v):
                    report.skipped_concurrent += 1
                    return
                problem("missing-data", f"{self._where(extent)} does not exist")
                return
            except ExtentCorrupt as exc:
                problem(exc.kind, f"extent {extent.blob_id} (index {extent.index}): {exc}")
                return
            digests.end_extent()
        if not metadata_ok:
            return  # the data authenticated; there is no trustworthy ETag or checksum to compare
        self._check_etag(report, v, digests, problem, data_key)
        if composite:
            report.unverifiable += len(v.checksums)
        for algorithm, expected in v.checksums.items():
            if not composite and b64(digests.sums[algorithm].digest()) != expected:
                problem("checksum-mismatch", f"{algorithm} of the stored data is"
                        f" {b64(digests.sums[algorithm].digest())}, metadata says {expected}")

    def _data_key(self, v: ObjectVersion, problem: Callable[[str, str], None]) -> bytes | None:
        if not v.sse:
            return None
        if not v.sealed_key:
            problem("data-key", "marked encrypted but has no sealed data key")
            return None
        if self.sealer is None:
            problem("data-key", "master keys unavailable: the data cannot be verified")
            return None
        try:
            return self.sealer.open_data_key(v.bucket, v.key, v.object_uid, v.sealed_key)
        except CryptoError as exc:
            problem("data-key", f"the sealed data key does not open: {exc}")
            return None

    def _open_metadata(self, v: ObjectVersion, problem: Callable[[str, str], None]) -> tuple[ObjectVersion, bool]:
        """``v`` with its sealed ETag, checksums and metadata opened, and whether that worked."""
        if v.sealed_meta is None:
            return v, True
        assert self.metadata is not None  # an SSE version whose data key opened
        owner = MetadataOwner("version", v.bucket, v.key, v.object_uid, v.sealed_key or "")
        try:
            fields = self.metadata.open(owner, v.sealed_meta)
        except IntegrityFailure as exc:
            problem("metadata", str(exc))
            return v, False
        return dataclasses.replace(v, etag=fields.etag, checksums=fields.checksums, user_meta=fields.user_meta,
                                   content_headers=fields.content_headers, sealed_meta=None), True

    def _open_extent(self, extent: Extent) -> BlobHandle:
        """The stored bytes of an extent; BlobNotFound if they are gone."""
        if not extent.inline:
            return self.blobs.open(extent.blob_id)
        stored = self.meta.read_inline(extent.blob_id)
        if stored is None:
            raise BlobNotFound(self._where(extent))
        return BytesHandle(stored)

    def _where(self, extent: Extent) -> str:
        if extent.inline:
            return f"inline extent {extent.blob_id} (metadata table inline_blobs)"
        return f"extent file {self.blobs.location(extent.blob_id)}"

    def _exists(self, extent: Extent) -> bool:
        if extent.inline:
            return self.meta.read_inline(extent.blob_id) is not None
        return self.blobs.stat(extent.blob_id) is not None

    def _check_sse_c(self, report: ScrubReport, v: ObjectVersion, problem: Callable[[str, str], None]) -> None:
        """What can be verified of an SSE-C version without its customer key (module docstring)."""
        report.sse_c_unverified += 1
        if self.sealer is None:
            problem("data-key", "master keys unavailable: the SSE-C server share cannot be opened")
        else:
            self._open_metadata(v, problem)
        for extent in v.extents:
            report.extents += 1
            if extent.inline:
                if self.meta.read_inline(extent.blob_id) is None and not self._changed(v):
                    problem("missing-data", f"{self._where(extent)} does not exist")
                continue
            info = self.blobs.stat(extent.blob_id)
            try:
                want = self._part_size(extent.blob_id, extent.size, True) if info is not None else None
            except BlobNotFound:
                info = want = None
            size = info.size if info is not None else None
            if size is None:
                if not self._changed(v):
                    problem("missing-data", f"{self._where(extent)} does not exist")
            elif want is not None and size != want:
                problem("size-mismatch", f"extent {extent.blob_id}: file is {size} bytes, expected {want}")

    def _check_files_exist(self, report: ScrubReport, v: ObjectVersion, problem: Callable[[str, str], None]) -> None:
        for extent in v.extents:
            report.extents += 1
            if not self._exists(extent) and not self._changed(v):
                problem("missing-data", f"{self._where(extent)} does not exist")

    def _check_etag(self, report: ScrubReport, v: ObjectVersion, digests: _Digests,
                    problem: Callable[[str, str], None], data_key: bytes | None = None) -> None:
        # SSE-KMS ETags are keyed digests of the MD5s, not the MD5s (crypto.kms_format.kms_etag).
        keyed = data_key is not None and kms_format.is_record(v.sealed_key)

        def etag(md5: bytes) -> str:
            return kms_format.kms_etag(data_key, md5) if keyed and data_key is not None else md5.hex()

        if v.part_count == 0:
            if etag(digests.md5.digest()) != v.etag:
                problem("etag-mismatch", f"MD5 of the stored data is {digests.md5.hexdigest()}, ETag is {v.etag}")
        elif len(v.extents) == v.part_count:
            parts = b"".join(bytes.fromhex(etag(md5)) for md5 in digests.part_md5s)
            combined = f"{hashlib.md5(parts).hexdigest()}-{v.part_count}"
            if combined != v.etag:
                problem("etag-mismatch", f"part MD5s combine to {combined}, ETag is {v.etag}")
        else:
            report.unverifiable += 1

    def _changed(self, v: ObjectVersion) -> bool:
        """The server deleted or replaced this row while it was being checked."""
        now = self.meta.get_version(v.bucket, v.key, v.version_id)
        return now is None or now.seq != v.seq or now.extents != v.extents

    # -- parts of unfinished uploads ---------------------------------------------------------------
    def _check_parts(self, report: ScrubReport) -> None:
        after = ("", 0)
        while batch := self.meta.iter_parts(after, BATCH):
            for upload, part in batch:
                after = (upload.upload_id, part.part_number)
                report.parts += 1
                blob_id = part.extent.blob_id
                info = self.blobs.stat(blob_id)
                if info is None:
                    if self.meta.get_upload(upload.upload_id) is not None:
                        self._problem(report, Problem("missing-data", f"part {part.part_number}: file"
                                                      f" {self.blobs.location(blob_id)} does not exist",
                                                      upload.bucket, upload.key, upload_id=upload.upload_id))
                    continue
                size = info.size
                try:
                    want = self._part_size(blob_id, part.extent.size, upload.sse is not None)
                except BlobNotFound:  # the upload was completed or aborted meanwhile
                    continue
                if want is not None and size != want:
                    self._problem(report, Problem("size-mismatch", f"part {part.part_number}: file is {size}"
                                                  f" bytes, expected {want}", upload.bucket, upload.key,
                                                  upload_id=upload.upload_id))

    def _part_size(self, blob_id: str, plain_size: int, sealed: bool) -> int | None:
        if not sealed:
            return plain_size
        with self.blobs.open(blob_id) as f:
            header = bytes(f.read(0, min(aead.HEADER_SIZE, f.size)))
        if len(header) < aead.HEADER_SIZE:
            return aead.ciphertext_size(plain_size)
        segment_size = int.from_bytes(header[4:8], "big")
        if not 1 <= segment_size <= aead.MAX_SEGMENT_SIZE:
            return aead.ciphertext_size(plain_size)
        layers = 2 if header[3] == dsse.VERSION else 1  # a DSSE-KMS part: two layers of tags
        return aead.ciphertext_size(plain_size, segment_size, layers)

    # -- files nothing references ------------------------------------------------------------------
    def _blob_files(self) -> dict[str, float]:
        found: dict[str, float] = {}
        for blob_id in self.blobs.blob_ids():
            info = self.blobs.stat(blob_id)
            if info is not None:
                found[blob_id] = info.mtime
        return found

    def _check_orphans(self, report: ScrubReport, on_disk: dict[str, float]) -> None:
        referenced = self.meta.referenced_blob_ids()
        referenced |= self.meta.freed_blob_ids()  # freed, waiting out their grace: not orphans
        now = self.clock()
        for blob_id, mtime in sorted(on_disk.items()):
            if blob_id in referenced:
                continue
            if now - mtime < self.grace:
                report.in_flight += 1
                continue
            if self.blobs.stat(blob_id) is not None:  # not removed by an overwrite/delete since the listing
                self._problem(report, Problem("orphan-blob", "no version or part references this file",
                                              path=self.blobs.location(blob_id)))

    def _check_temp(self, report: ScrubReport) -> None:
        now = self.clock()
        for temp in sorted(self.blobs.temp_blobs(), key=lambda t: t.name):
            age = now - temp.mtime
            if age < self.grace:
                report.in_flight += 1
            else:
                self._problem(report, Problem("stale-temp", f"left by an interrupted write {age:.0f}s ago",
                                              path=temp.location))

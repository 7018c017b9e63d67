"""Sealed metadata of SSE objects: the metadata store's cipher, and the migration of clear rows.

For an SSE object version, multipart upload or part, the metadata store keeps the ETag, the
checksums, the user metadata and the content headers only sealed under the object's data key
(format: ``sealbox.crypto.metadata``), because from the MD5 or CRC of a short object its content can
be found by brute force. ``MetadataSealer`` is the ``MetadataCipher`` the store calls: it seals a row
before the write transaction and opens rows as they are read (a GET, a listing, the current version
of a conditional PUT inside its transaction), so every caller above the store sees the values.

Per worker, opened values are cached, keyed by the exact sealed blob and the identity it opened for:
a listing page read again, or a hot object re-read after another write emptied the store's lookup
memo, costs a dictionary lookup per row instead of a decryption. Opened data keys come from the
``Sealer``'s own cache. A blob that does not authenticate is never cached and raises
``IntegrityFailure`` (answered 500 and logged as an integrity failure, like tampered ciphertext).

``seal_existing`` seals what a data directory written before schema 4 holds in the clear: in batches,
each its own compare-and-swap transaction, so it is idempotent and resumes where it stopped. It runs
at every start (``sealbox.bootstrap``) once the keys are loaded and checked; the store's partial
indexes make it free once nothing is left.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sealbox.core.errors import SealboxError
from sealbox.core.types import ObjectMetadata
from sealbox.crypto import envelope
from sealbox.crypto import metadata as fmt
from sealbox.crypto.errors import CryptoError
from sealbox.service.pipeline import IntegrityFailure
from sealbox.service.sealing import Sealer
from sealbox.storage.meta.base import METADATA_KINDS, MetadataOwner, MetadataUnavailable, MetaStore

log = logging.getLogger("sealbox.metadata")

_KINDS = {"version": fmt.MetaKind.VERSION, "upload": fmt.MetaKind.UPLOAD, "part": fmt.MetaKind.PART}
_OPENED = 16384  # rows; a blob of ~100 bytes and its fields each: a few MiB at most


def _identity(owner: MetadataOwner) -> tuple[str, str, str, bytes, int]:
    return owner.kind, owner.bucket, owner.key, owner.object_uid, owner.part_number


class MetadataSealer:
    """The metadata store's ``MetadataCipher``, backed by the worker's ``Sealer``."""

    def __init__(self, sealer: Sealer) -> None:
        self.sealer = sealer
        self._opened: dict[tuple[bytes, tuple[str, str, str, bytes, int]], ObjectMetadata] = {}

    def _key_and_aad(self, owner: MetadataOwner) -> tuple[bytes, bytes]:
        """The data key that seals ``owner``'s metadata, and the AAD that binds it to the row."""
        context = envelope.object_context(owner.bucket, owner.key, owner.object_uid)
        try:
            data_key = self.sealer.open_data_key_in(context, owner.sealed_key)
        except CryptoError as exc:
            raise IntegrityFailure(f"data key of the {owner.kind} {owner.bucket}/{owner.key} does not open"
                                   f" (its metadata is sealed under it): {exc}") from exc
        return data_key, fmt.aad(_KINDS[owner.kind], owner.part_number, context)

    def _remember(self, blob: bytes, owner: MetadataOwner, fields: ObjectMetadata) -> None:
        if len(self._opened) >= _OPENED:
            self._opened.clear()
        self._opened[(blob, _identity(owner))] = fields

    def seal(self, owner: MetadataOwner, fields: ObjectMetadata) -> bytes:
        data_key, aad = self._key_and_aad(owner)
        blob = fmt.seal_metadata(data_key, fields, aad)
        self._remember(blob, owner, fields)  # the next read of this row (after the commit) opens nothing
        return blob

    def open(self, owner: MetadataOwner, blob: bytes) -> ObjectMetadata:
        cached = self._opened.get((blob, _identity(owner)))
        if cached is not None:
            return cached
        try:
            data_key, aad = self._key_and_aad(owner)
        except SealboxError as exc:  # SSE-KMS: the key service refuses the key now (disabled, deleted)
            raise MetadataUnavailable(f"{exc.code.value}: {exc.message}") from exc
        try:
            fields = fmt.open_metadata(data_key, blob, aad)
        except CryptoError as exc:
            raise IntegrityFailure(f"sealed metadata of the {owner.kind} {owner.bucket}/{owner.key} does not"
                                   f" open: {exc}") from exc
        self._remember(blob, owner, fields)
        return fields


# -- the migration: seal rows written in the clear ----------------------------------------------


@dataclass
class SealingReport:
    sealed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(METADATA_KINDS, 0))
    failed: list[str] = field(default_factory=list)  # rows whose data key did not open (left as they were)
    erased: bool = True  # False: the old values may linger in the WAL until it is reused (a reader was open)

    @property
    def total(self) -> int:
        return sum(self.sealed.values())


def seal_existing(meta: MetaStore, cipher: MetadataSealer, *, batch: int = 500,
                  on_batch: Callable[[str, int], None] | None = None) -> SealingReport:
    """Seal the metadata of every SSE row still in the clear; then erase the old values from the files."""
    report = SealingReport()
    for kind in METADATA_KINDS:
        after = ""
        while rows := meta.clear_metadata(kind, after, batch):
            after = rows[-1].ref
            sealed: list[tuple[str, bytes]] = []
            for row in rows:
                try:
                    sealed.append((row.ref, cipher.seal(row.owner, row.fields)))
                except IntegrityFailure as exc:
                    report.failed.append(f"{kind} {row.owner.bucket}/{row.owner.key} ({row.ref}): {exc}")
            done = meta.seal_metadata(kind, sealed) if sealed else 0
            report.sealed[kind] += done
            if on_batch is not None:
                on_batch(kind, done)
    if report.total:
        report.erased = meta.erase_freed_pages()
        if not report.erased:
            log.warning("another process holds an old snapshot: the write-ahead log keeps the pages of the"
                        " rows as they were before sealing until SQLite reuses it")
        log.info("sealed the metadata of %s", ", ".join(f"{n} {k}(s)" for k, n in report.sealed.items()))
    for failure in report.failed:
        log.error("metadata left unsealed: %s", failure)
    return report

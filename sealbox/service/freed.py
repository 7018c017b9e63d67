"""Deferred unlinking of replaced and deleted blobs on a shared store (issue 19).

On one host an overwrite or delete unlinks the replaced blob files at once: a GET streaming one
keeps reading it through its open descriptor (POSIX keeps an unlinked file's data until the last
descriptor closes). On a file system several gateways mount (NFS above all: its clients do not know
what another client has open, and ``silly rename`` protects only the client's own descriptors), the
same unlink cuts short a GET that gateway B is streaming while gateway A overwrites the key. So when
the store is shared (PostgreSQL metadata: several gateways), ``DeferredDeletes`` stands in front of
the blob store and turns ``delete`` into a record in the metadata store (``freed_blobs``: the blob
and when it was freed), and ``sweep_freed`` unlinks those freed more than ``grace`` seconds ago.

The sweep runs once across the cluster (run-once lock ``freed-blobs``): in the lifecycle worker's
thread of every gateway after each lifecycle round (every tenth of a lifecycle day, at most an hour,
so a freed file is gone within grace + 1 h), and at the start of ``sealbox gc``. gc and scrub leave
recorded blobs alone (they are not orphans, only waiting).

``FREED_GRACE``: 24 h by default (``--freed-grace``). It must outlast any GET: a GET has no overall
time limit, only a stall limit (``--request-timeout``, 30 s without progress), so a slow reader can
take long: 24 h covers a 5 GiB object (the largest single PUT) read at 60 KB/s, or 100 GiB at
1.2 MB/s. The price is disk space: replaced data stays on disk for a day. A GET that outlives the
grace on NFS is cut short as before (the client sees a short body and retries).

Safety: blob ids are random and fresh per write, so a freed blob never becomes referenced again;
the sweep still reads the referenced set (gc's one scan of versions and parts) once per pass that has
anything due, and skips any blob found in it: nothing referenced is ever unlinked.

Known gap: the record is written right after the commit that freed the blobs, not inside it. A
crash between the two leaves the files as orphans (gc removes them, as before); a ``sealbox gc``
whose referenced-set read falls in that gap (a round trip) may take such a file for an old orphan
and unlink it at once. Writing the record in the commit's own transaction (``sqlrows.release``
and the upload paths) would close it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator

from sealbox.storage.data.base import BlobHandle, BlobInfo, BlobStore, BlobWriter, TempBlob
from sealbox.storage.locks import RunOnce
from sealbox.storage.meta.base import MetaStore

log = logging.getLogger("sealbox.freed")
FREED_GRACE = 86400.0  # seconds: see the module docstring
SWEEP_BATCH = 10_000  # freed blobs handled per sweep pass: one referenced-set scan for up to this many


class DeferredDeletes:
    """A BlobStore whose ``delete`` records the blobs as freed instead of unlinking them."""

    def __init__(self, blobs: BlobStore, meta: MetaStore, clock: Callable[[], float] = time.time) -> None:
        self.blobs = blobs
        self.meta = meta
        self.clock = clock

    def delete(self, blob_ids: Iterable[str]) -> None:
        ids = list(blob_ids)
        if not ids:
            return
        try:
            self.meta.free_blobs(ids, self.clock())
        except Exception as exc:  # noqa: BLE001 - the store is unreachable: never leak the files, unlink now
            # Mostly the blob of a write whose own commit just failed the same way (never visible):
            # unlinking it at once is right; the message, not a traceback: an outage is expected.
            log.warning("could not record %d freed blob(s) (%s); unlinking them at once", len(ids), exc)
            self.blobs.delete(ids)

    def new_writer(self, inline: bool = False) -> BlobWriter:
        return self.blobs.new_writer(inline)

    def open(self, blob_id: str) -> BlobHandle:
        return self.blobs.open(blob_id)

    def read_whole(self, blob_id: str, expected: int) -> bytes:
        return self.blobs.read_whole(blob_id, expected)

    def stat(self, blob_id: str) -> BlobInfo | None:
        return self.blobs.stat(blob_id)

    def blob_ids(self) -> Iterator[str]:
        return self.blobs.blob_ids()

    def temp_blobs(self) -> Iterator[TempBlob]:
        return self.blobs.temp_blobs()

    def remove_temp(self, name: str) -> None:
        self.blobs.remove_temp(name)

    def location(self, blob_id: str) -> str:
        return self.blobs.location(blob_id)


def for_store(blobs: BlobStore, meta: MetaStore, shared: bool) -> BlobStore:
    """The blob store the services delete through: deferring when several gateways share the store
    (``meta.shared``). A SQLite store is one host's: its unlinks stay immediate, since a GET there
    keeps reading an unlinked file through its open descriptor, and disk space comes back at once."""
    return DeferredDeletes(blobs, meta) if shared else blobs


def sweep_freed(meta: MetaStore, blobs: BlobStore, grace: float, now: float | None = None,
                batch: int = SWEEP_BATCH) -> list[str]:
    """Unlink the blobs freed at least ``grace`` seconds ago (``blobs``: the real store, not the
    deferring one) and forget them; the ids unlinked. Idempotent: a file already gone is skipped."""
    now = time.time() if now is None else now
    removed: list[str] = []
    for _ in range(1_000):  # bounded: 10 M blobs per call at most
        due = meta.freed_blobs(now - grace, batch)
        if not due:
            break
        referenced = meta.referenced_blob_ids()
        gone = [b for b in due if b not in referenced]
        blobs.delete(gone)
        meta.forget_freed_blobs(due)
        removed += gone
        if len(due) < batch:
            break
    return removed


def periodic_sweep(meta: MetaStore, blobs: BlobStore, locks: RunOnce, grace: float) -> Callable[[], list[str]]:
    """One sweep across the cluster per call: whoever holds the run-once lock ``freed-blobs`` sweeps,
    the others skip this round. Nothing due (one indexed read) takes no lock: a lock is a connection
    of its own, opened per hold."""
    def sweep() -> list[str]:
        if not meta.freed_blobs(time.time() - grace, 1):
            return []
        with locks.hold("freed-blobs") as held:
            return sweep_freed(meta, blobs, grace) if held is not None else []
    return sweep

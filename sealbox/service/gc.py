"""Garbage collection: remove blob files nothing references and temp files of interrupted writes.

Both come from crashes (a blob is renamed into place before the metadata commit that references it,
see ``sealbox.storage.data.local``) or from failures while deleting replaced data. Only files older
than ``grace`` seconds are candidates, so the blob of a PUT that is between its rename and its
metadata commit, or the temp file of an upload still streaming, is never touched while the server
runs. ``grace=0`` is for a stopped server (and tests).

On a shared store (several gateways) blobs freed by overwrites and deletes wait in ``freed_blobs``
for their grace (``sealbox.service.freed``): gc first sweeps those due (``freed_grace``), and leaves
the others alone, since a GET on another gateway may still be streaming them.

Order matters for safety with a live server: candidates are listed first, the referenced set is read
afterwards in one snapshot; a blob referenced at any time after the listing is therefore kept.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sealbox.core.progress import NO_PROGRESS, Progress
from sealbox.service.freed import sweep_freed
from sealbox.service.scrub import DEFAULT_GRACE
from sealbox.storage.data.base import BlobStore
from sealbox.storage.meta.base import MetaStore


@dataclass
class GcReport:
    removed_blobs: list[str] = field(default_factory=list)  # paths
    removed_temp: list[str] = field(default_factory=list)
    bytes_freed: int = 0
    kept_young: int = 0  # unreferenced but younger than the grace period
    kept_freed: int = 0  # freed by an overwrite or delete, waiting for the freed grace (shared store)
    errors: list[str] = field(default_factory=list)
    dry_run: bool = False

    def summary(self) -> str:
        verb = "would remove" if self.dry_run else "removed"
        return (f"gc: {verb} {len(self.removed_blobs)} orphan blobs and {len(self.removed_temp)} stale temp files"
                f" ({self.bytes_freed} bytes); kept {self.kept_young} younger than the grace period"
                f" and {self.kept_freed} freed ones waiting for their grace;"
                f" {len(self.errors)} errors")

    def as_dict(self) -> dict[str, object]:
        return {"removed_blobs": self.removed_blobs, "removed_temp": self.removed_temp,
                "bytes_freed": self.bytes_freed, "kept_young": self.kept_young, "kept_freed": self.kept_freed,
                "errors": self.errors,
                "dry_run": self.dry_run}


class Collector:
    def __init__(self, meta: MetaStore, blobs: BlobStore, *, grace: float = DEFAULT_GRACE,
                 dry_run: bool = False, clock: Callable[[], float] = time.time,
                 progress: Progress = NO_PROGRESS, freed_grace: float | None = None) -> None:
        self.meta = meta
        self.freed_grace = freed_grace  # None: leave freed blobs to the servers' sweep
        self.blobs = blobs
        self.grace = grace
        self.dry_run = dry_run
        self.clock = clock
        self.progress = progress  # items: blob and temp files examined; failed: removals that failed

    def run(self) -> GcReport:
        with self.progress:
            return self._run()

    def _run(self) -> GcReport:
        report = GcReport(dry_run=self.dry_run)
        now = self.clock()
        if self.freed_grace is not None and not self.dry_run:
            for blob_id in sweep_freed(self.meta, self.blobs, self.freed_grace, now):
                report.removed_blobs.append(self.blobs.location(blob_id))
        blobs = [info for blob_id in self.blobs.blob_ids() if (info := self.blobs.stat(blob_id)) is not None]
        temps = list(self.blobs.temp_blobs())
        referenced = self.meta.referenced_blob_ids()  # read after the listing: see the module docstring
        waiting = self.meta.freed_blob_ids()
        self.progress.set_total(len(blobs) + len(temps))
        for blob in blobs:
            if blob.blob_id in referenced:
                self.progress.add(done=1)
                continue
            if blob.blob_id in waiting:
                report.kept_freed += 1
                self.progress.add(done=1)
                continue
            if now - blob.mtime >= self.grace:
                self._remove(report, blob.location, blob.size, report.removed_blobs,
                             functools.partial(self.blobs.delete, [blob.blob_id]))
            else:
                report.kept_young += 1
                self.progress.add(done=1)
        for temp in temps:
            if now - temp.mtime >= self.grace:
                self._remove(report, temp.location, temp.size, report.removed_temp,
                             functools.partial(self.blobs.remove_temp, temp.name))
            else:
                report.kept_young += 1
                self.progress.add(done=1)
        return report

    def _remove(self, report: GcReport, location: str, size: int, removed: list[str],
                remove: Callable[[], None]) -> None:
        try:
            if not self.dry_run:
                remove()
        except OSError as exc:
            report.errors.append(f"{location}: {exc}")
            self.progress.add(failed=1)
            return
        self.progress.add(done=1)
        removed.append(location)
        report.bytes_freed += size

"""Garbage collection: remove blob files nothing references and temp files of interrupted writes.

Both come from crashes (a blob is renamed into place before the metadata commit that references it,
see ``sealbox.storage.data.local``) or from failures while deleting replaced data. Only files older
than ``grace`` seconds are candidates, so the blob of a PUT that is between its rename and its
metadata commit, or the temp file of an upload still streaming, is never touched while the server
runs. ``grace=0`` is for a stopped server (and tests).

Order matters for safety with a live server: candidates are listed first, the referenced set is read
afterwards in one snapshot; a blob referenced at any time after the listing is therefore kept.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sealbox.service.scrub import DEFAULT_GRACE
from sealbox.storage.data.local import LocalBlobStore
from sealbox.storage.meta.base import MetaStore


@dataclass
class GcReport:
    removed_blobs: list[str] = field(default_factory=list)  # paths
    removed_temp: list[str] = field(default_factory=list)
    bytes_freed: int = 0
    kept_young: int = 0  # unreferenced but younger than the grace period
    errors: list[str] = field(default_factory=list)
    dry_run: bool = False

    def summary(self) -> str:
        verb = "would remove" if self.dry_run else "removed"
        return (f"gc: {verb} {len(self.removed_blobs)} orphan blobs and {len(self.removed_temp)} stale temp files"
                f" ({self.bytes_freed} bytes); kept {self.kept_young} younger than the grace period;"
                f" {len(self.errors)} errors")

    def as_dict(self) -> dict[str, object]:
        return {"removed_blobs": self.removed_blobs, "removed_temp": self.removed_temp,
                "bytes_freed": self.bytes_freed, "kept_young": self.kept_young, "errors": self.errors,
                "dry_run": self.dry_run}


class Collector:
    def __init__(self, meta: MetaStore, blobs: LocalBlobStore, *, grace: float = DEFAULT_GRACE,
                 dry_run: bool = False, clock: Callable[[], float] = time.time) -> None:
        self.meta = meta
        self.blobs = blobs
        self.grace = grace
        self.dry_run = dry_run
        self.clock = clock

    def run(self) -> GcReport:
        report = GcReport(dry_run=self.dry_run)
        blobs = self._ages(self._blob_paths())
        temps = self._ages(self.blobs.temp_files())
        referenced = self.meta.referenced_blob_ids()  # read after the listing: see the module docstring
        for path, age in blobs:
            if path.name in referenced:
                continue
            if age >= self.grace:
                self._remove(report, path, report.removed_blobs)
            else:
                report.kept_young += 1
        for path, age in temps:
            if age >= self.grace:
                self._remove(report, path, report.removed_temp)
            else:
                report.kept_young += 1
        return report

    def _blob_paths(self) -> Iterator[Path]:
        for blob_id in self.blobs.blob_ids():
            try:
                yield self.blobs.path(blob_id)
            except ValueError:  # not a blob id: a file sealbox did not write is not gc's to remove
                continue

    def _ages(self, paths: Iterable[Path]) -> list[tuple[Path, float]]:
        now = self.clock()
        found: list[tuple[Path, float]] = []
        for path in paths:
            try:
                found.append((path, now - path.stat().st_mtime))
            except FileNotFoundError:
                continue
        return found

    def _remove(self, report: GcReport, path: Path, removed: list[str]) -> None:
        try:
            size = path.stat().st_size
            if not self.dry_run:
                os.unlink(path)
        except FileNotFoundError:
            return  # deleted by the server meanwhile
        except OSError as exc:
            report.errors.append(f"{path}: {exc}")
            return
        removed.append(str(path))
        report.bytes_freed += size

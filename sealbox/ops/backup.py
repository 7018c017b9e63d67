"""A consistent backup of a data directory, also while a server writes to it, and its restore.

What a backup holds: ``meta.sqlite3`` (taken with SQLite's online backup API in one step, i.e. one
read snapshot: WAL readers never block the server's writers), ``blobs/`` (every blob file the
snapshot references), ``manifest.json``, and ``keys/master-keys.json`` only when asked
(``--include-keys``): keys belong apart from the data they protect.

Why it is consistent: blob files are immutable (written, fsynced, renamed into place, later
unlinked, never changed). The order is (1) link or copy every blob file present, (2) snapshot the
metadata, (3) link or copy the blob files written between (1) and (2), then check that every blob
the snapshot references is in the backup (and drop those it does not: superseded before it). A blob superseded and unlinked between (1) and (3) that the
snapshot still names (an object written and overwritten within the backup's own window) makes the
backup retake (2) and (3), up to three times, before it reports the objects it could not keep. An
object acknowledged before the backup started has its blob present at (1): it is always kept.

Hard links (the default when the backup is on the same filesystem) cost no space and protect against
deletes and overwrites, not against the loss of the disk: ``--copy`` copies the bytes.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

MANIFEST = "manifest.json"
DB = "meta.sqlite3"
KEYS = Path("keys") / "master-keys.json"
FORMAT = 1


class BackupError(RuntimeError):
    pass


@dataclass
class Report:
    blobs: int = 0
    bytes: int = 0
    linked: int = 0
    copied: int = 0
    missing: list[str] = field(default_factory=list)
    keys: bool = False
    seconds: float = 0.0

    def summary(self, verb: str) -> str:
        how = f"{self.linked} hard-linked, {self.copied} copied"
        keys = "master keys included" if self.keys else "master keys NOT included (back them up apart)"
        lost = f"; {len(self.missing)} blob(s) referenced but gone" if self.missing else ""
        return (f"sealbox: {verb} metadata and {self.blobs} blob file(s), {self.bytes / 1e6:.1f} MB ({how});"
                f" {keys}; {self.seconds:.1f} s{lost}")


Progress = Callable[[str, int, int], None]


def console_progress(stream: TextIO | None = None) -> Progress:
    out = stream or sys.stderr
    tty = out.isatty()
    last = [0.0]

    def show(stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if done != total and now - last[0] < (0.1 if tty else 5.0):
            return
        last[0] = now
        text = f"sealbox: {stage} {done}/{total}"
        print(("\r" + text + ("\n" if done == total else "")) if tty else text, end="" if tty else "\n",
              file=out, flush=True)

    return show


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _put(src: Path, dst: Path, copy: bool, report: Report) -> bool:
    """Link or copy one immutable file; False when the source is gone."""
    if dst.exists():
        return True
    try:
        if not copy:
            try:
                os.link(src, dst)
                report.linked += 1
                report.bytes += dst.stat().st_size
                return True
            except OSError as exc:
                if exc.errno not in (18, 1, 95):  # EXDEV, EPERM, EOPNOTSUPP: fall back to a copy
                    if isinstance(exc, FileNotFoundError):
                        return False
                    raise
        tmp = dst.with_name(dst.name + ".part")
        shutil.copyfile(src, tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, dst)
        report.copied += 1
        report.bytes += dst.stat().st_size
        return True
    except FileNotFoundError:
        return False


def _blob_files(data_dir: Path) -> list[Path]:
    root = data_dir / "blobs"
    if not root.is_dir():
        return []
    return [Path(entry.path) for sub in sorted(root.iterdir()) if sub.is_dir() for entry in os.scandir(sub)
            if entry.is_file() and not entry.name.endswith(".part")]


def _snapshot(src_db: Path, dst_db: Path) -> None:
    tmp = dst_db.with_name(dst_db.name + ".part")
    tmp.unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{src_db}?mode=ro", uri=True, timeout=30.0)
    dst = sqlite3.connect(tmp)
    try:
        src.backup(dst, pages=-1)  # one step: one read snapshot of the whole database
        dst.execute("PRAGMA journal_mode=DELETE")
    finally:
        dst.close()
        src.close()
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, dst_db)


def _referenced(db: Path, present: set[str]) -> tuple[set[str], set[str]]:
    """The blob files the snapshot references, and those of them not in ``present`` (extents kept
    inline in the metadata store are no files: they came with the snapshot)."""
    from sealbox.storage.meta.sqlite import SqliteMetaStore

    meta = SqliteMetaStore(db)
    try:
        referenced = meta.referenced_blob_ids()
        missing = {b for b in referenced - present if meta.read_inline(b) is None}
        return referenced, missing
    finally:
        meta.close()
        for extra in (f"{db}.tokens", f"{db}.writelock", f"{db}-wal", f"{db}-shm"):
            Path(extra).unlink(missing_ok=True)


def backup(data_dir: Path, to: Path, *, key_file: Path | None = None, copy: bool = False,
           progress: Progress | None = None) -> Report:
    started = time.monotonic()
    if not (data_dir / DB).is_file():
        raise BackupError(f"{data_dir} is not a sealbox data directory (no {DB})")
    if to.exists() and any(to.iterdir()):
        raise BackupError(f"{to} is not empty: a backup goes into a new or empty directory")
    report = Report()
    blobs_to = to / "blobs"
    blobs_to.mkdir(parents=True, mode=0o700)
    os.chmod(to, 0o700)
    show = progress or (lambda stage, done, total: None)

    def copy_all(stage: str) -> None:
        files = _blob_files(data_dir)
        for i, src in enumerate(files, 1):
            (blobs_to / src.parent.name).mkdir(exist_ok=True)
            _put(src, blobs_to / src.parent.name / src.name, copy, report)
            show(stage, i, len(files))
        if not files:
            show(stage, 0, 0)

    copy_all("blob files")
    missing: set[str] = set()
    for _attempt in range(3):
        _snapshot(data_dir / DB, to / DB)
        copy_all("blob files written since")
        present = {p.name: p for p in _blob_files(to)}
        referenced, missing = _referenced(to / DB, set(present))
        if not missing:
            # Superseded before the snapshot: not part of it (scrub would call them orphans).
            for name, path in present.items():
                if name not in referenced:
                    path.unlink()
            break
    report.missing = sorted(missing)
    report.blobs = len(_blob_files(to))
    for sub in sorted(blobs_to.iterdir()):
        _fsync_dir(sub)
    if key_file is not None:
        (to / KEYS).parent.mkdir(mode=0o700, exist_ok=True)
        shutil.copyfile(key_file, to / KEYS)
        os.chmod(to / KEYS, 0o600)
        report.keys = True
    report.seconds = time.monotonic() - started
    manifest = {"format": FORMAT, "created": time.time(), "source": str(data_dir.resolve()),
                "blobs": report.blobs, "bytes": report.bytes, "keys_included": report.keys,
                "missing_blobs": report.missing}
    (to / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    _fsync_dir(to)
    return report


def restore(source: Path, data_dir: Path, *, copy: bool = False, progress: Progress | None = None) -> Report:
    started = time.monotonic()
    if not (source / MANIFEST).is_file() or not (source / DB).is_file():
        raise BackupError(f"{source} is not a sealbox backup (no {MANIFEST} or {DB})")
    if data_dir.exists() and any(data_dir.iterdir()):
        raise BackupError(f"{data_dir} is not empty: restore only into a new or empty directory")
    report = Report()
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)
    show = progress or (lambda stage, done, total: None)
    files = _blob_files(source)
    for i, src in enumerate(files, 1):
        sub = data_dir / "blobs" / src.parent.name
        sub.mkdir(parents=True, exist_ok=True)
        _put(src, sub / src.name, copy, report)
        show("blob files", i, len(files))
    report.blobs = len(files)
    tmp = data_dir / (DB + ".part")
    shutil.copyfile(source / DB, tmp)
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, data_dir / DB)
    if (source / KEYS).is_file():
        (data_dir / KEYS).parent.mkdir(mode=0o700, exist_ok=True)
        shutil.copyfile(source / KEYS, data_dir / KEYS)
        os.chmod(data_dir / KEYS, 0o600)
        report.keys = True
    _fsync_dir(data_dir)
    report.seconds = time.monotonic() - started
    return report

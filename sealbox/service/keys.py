"""Master keys at run time: where they come from, keeping workers current, rotation, status, start check.

Sources
    ``SEALBOX_MASTER_KEYS`` (``<id>:<base64 32 bytes>[,...]``, first = active; see
    ``crypto.keyring.keyring_from_env``) when set, else the key file (default
    ``<data dir>/keys/master-keys.json``, mode 0600 — looser modes are refused). ``FileKeySource``
    stats the file on each use and re-reads it when it changed, so every worker seals under a new
    active key as soon as ``keys rotate`` has saved it (``save_keyring`` replaces the file atomically).

Rotation (``rotate``) is online and resumable. It saves a keyring with a new active key first, then
re-seals every stored value not yet under it — object versions' and multipart uploads' data keys and
credentials' secrets — in batches, each its own transaction, with compare-and-swap so concurrent
writes are never overwritten. No object data is rewritten. Values written meanwhile under the old key
(a worker that had not seen the new file, a long upload) are caught by further passes and by the
re-seal at commit (``Sealer.current_seal``). If anything is still under an older key when ``rotate``
starts, the previous rotation did not finish: it is completed, and no new key is made (unless
``new_key=True``). A retired key can be removed once nothing is sealed under it.

The start check (``verify_keys``) refuses a keyring that lacks a key id the stored values name, or
whose key under some id does not open a value sealed under that id (right id, wrong material).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sealbox.config import Settings, env_default
from sealbox.core.progress import NO_PROGRESS, Progress
from sealbox.crypto import kms_format, ssec
from sealbox.crypto.errors import CryptoError, KeyFileError
from sealbox.crypto.keyring import Keyring, keyring_from_env, load_keyring, save_keyring
from sealbox.service.sealing import FixedKeySource, Sealer
from sealbox.storage.locks import run_once
from sealbox.storage.meta.base import SEALED_KINDS, MetaStore, SealedRow

log = logging.getLogger("sealbox.keys")

ENV_NAME = "SEALBOX_MASTER_KEYS"
_MAX_PASSES = 50  # passes over the store; each catches what concurrent writers sealed under old keys


class KeyCheckError(Exception):
    """The keyring cannot serve the stored data (one line, names the key id)."""


# -- sources -----------------------------------------------------------------------------------------


class FileKeySource:
    """The key file, re-read whenever it changes (mtime, size or inode)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._keyring = load_keyring(path)
        self._stamp = self._stat()

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size, st.st_ino

    def current(self) -> Keyring:
        stamp = self._stat()
        if stamp is not None and stamp != self._stamp:
            self._reload(stamp)
        return self._keyring

    def refresh(self) -> Keyring:
        self._reload(self._stat())
        return self._keyring

    def _reload(self, stamp: tuple[int, int, int] | None) -> None:
        try:
            keyring = load_keyring(self.path)
        except KeyFileError as exc:
            # Keep serving with the keys we have (e.g. someone chmod'ed the file 644 by mistake).
            log.error("cannot reload master keys, keeping the previous ones: %s", exc)
            self._stamp = stamp
            return
        self._keyring, self._stamp = keyring, stamp


def key_source(settings: Settings) -> FileKeySource | FixedKeySource:
    from_env = env_default("MASTER_KEYS")
    if from_env:
        return FixedKeySource(keyring_from_env(from_env))
    return FileKeySource(settings.keyring_path)


def describe_source(settings: Settings) -> str:
    return ENV_NAME if env_default("MASTER_KEYS") else f"the key file {settings.keyring_path}"


# -- the start check ---------------------------------------------------------------------------------


def needed_key_ids(meta: MetaStore) -> dict[str, int]:
    """master key id -> how many stored values are sealed under it (all kinds)."""
    totals: dict[str, int] = {}
    for per_key in meta.sealed_key_counts().values():
        for key_id, count in per_key.items():
            totals[key_id] = totals.get(key_id, 0) + count
    return totals


def verify_keys(meta: MetaStore, keyring: Keyring, where: str) -> None:
    """KeyCheckError unless ``keyring`` opens what is stored: every key id present, each one right."""
    for key_id, count in sorted(needed_key_ids(meta).items()):
        if key_id not in keyring:
            raise KeyCheckError(f"master key {key_id} is needed to decrypt {count} stored value(s) but is"
                                f" not in {where}; add it back (from your key backup) before starting")
    sealer = Sealer(keyring)
    for row in meta.sealed_samples():
        try:
            open_row(sealer, row)
        except CryptoError:
            raise KeyCheckError(f"master key {row.key_id} in {where} does not decrypt the data keys sealed"
                                " under it (wrong key material for this id?); refusing to start") from None


def _material_context(ref: str) -> bytes:
    key_id, _, version = ref.rpartition("/")
    return kms_format.material_context(key_id, int(version))


def open_row(sealer: Sealer, row: SealedRow) -> None:
    if row.kind == "credential":
        sealer.open_secret(row.key, row.sealed)
    elif row.kind == "kms-key":
        sealer.open_value(row.sealed, _material_context(row.key))
    elif row.kind == "sse-c-share":
        sealer.open_value(row.sealed, ssec.share_context(row.key))
    else:
        sealer.open_data_key(row.bucket, row.key, row.object_uid, row.sealed)


def reseal_row(sealer: Sealer, row: SealedRow) -> str:
    if row.kind == "credential":
        return sealer.reseal_secret(row.key, row.sealed)
    if row.kind == "kms-key":
        return sealer.reseal_value(row.sealed, _material_context(row.key))
    if row.kind == "sse-c-share":
        return sealer.reseal_value(row.sealed, ssec.share_context(row.key))
    return sealer.reseal_data_key(row.bucket, row.key, row.object_uid, row.sealed)


# -- status ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyStatus:
    key_id: str
    active: bool
    created: str  # ISO 8601, "" when unknown
    counts: dict[str, int]  # kind -> values sealed under this key
    in_keyring: bool = True


def key_status(meta: MetaStore, keyring: Keyring) -> list[KeyStatus]:
    counts = meta.sealed_key_counts()
    rows: list[KeyStatus] = []
    for key in keyring:
        per_kind = {kind: counts.get(kind, {}).get(key.key_id, 0) for kind in SEALED_KINDS}
        created = key.created.isoformat() if key.created else ""
        rows.append(KeyStatus(key.key_id, key.key_id == keyring.active.key_id, created, per_kind))
    for key_id in sorted(needed_key_ids(meta)):
        if key_id not in keyring:
            per_kind = {kind: counts.get(kind, {}).get(key_id, 0) for kind in SEALED_KINDS}
            rows.append(KeyStatus(key_id, False, "", per_kind, in_keyring=False))
    return rows


# -- rotation ------------------------------------------------------------------------------------------


@dataclass
class RotationReport:
    active: str  # the key everything was re-sealed under
    created: bool  # a new key was made (False: an unfinished rotation was completed)
    resealed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SEALED_KINDS, 0))
    failed: list[str] = field(default_factory=list)  # "kind ref: reason" of values that did not open
    remaining: int = 0  # values still under another key when rotate stopped


BatchHook = Callable[[str, int], None]  # (kind, rows re-sealed in the batch just committed)


def pending(meta: MetaStore, active_id: str) -> int:
    return sum(n for key_id, n in needed_key_ids(meta).items() if key_id != active_id)


@contextlib.contextmanager
def keyring_lock(path: Path) -> Iterator[None]:
    """One keyring writer at a time: two rotations saving their own new keyring would lose a key
    that values may already be sealed under. The lock file sits beside the key file."""
    lock_path = path.with_name(path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise KeyCheckError(f"another `sealbox keys` command holds {lock_path}; wait for it") from None
        yield
    finally:
        os.close(fd)  # closing releases the lock


def rotate(meta: MetaStore, settings: Settings, *, new_key: bool = False, batch: int = 500,
           pause: float = 0.0, on_batch: BatchHook | None = None,
           progress: Progress = NO_PROGRESS) -> RotationReport:
    """Make a new active key (file keyring) and re-seal every stored value under the active key.

    One rotation at a time in the deployment (the run-once lock ``key-rotation``: with several
    gateways on PostgreSQL, an advisory lock), whichever gateway's host it is started on.
    ``progress``: items are sealed values re-sealed (total: those under another key when the
    re-sealing began); failed: values that did not open."""
    def counted(kind: str, done: int) -> None:
        progress.add(done=done)
        if on_batch is not None:
            on_batch(kind, done)

    with run_once(settings.data_dir, settings.meta_url).hold("key-rotation") as held:
        if held is None:
            raise KeyCheckError("another key rotation is running; wait for it (`sealbox keys status`)")
        with progress:
            report = _rotate(meta, settings, new_key, batch, pause, counted, progress)
            progress.add(failed=len(report.failed))
            return report


def _rotate(meta: MetaStore, settings: Settings, new_key: bool, batch: int, pause: float, on_batch: BatchHook,
            progress: Progress) -> RotationReport:
    from_env = env_default("MASTER_KEYS")
    if from_env:
        # The environment cannot be rewritten from here: the operator puts the new key first in
        # SEALBOX_MASTER_KEYS (and restarts the server); rotate then moves everything under it.
        keyring = keyring_from_env(from_env)
        progress.set_total(pending(meta, keyring.active.key_id))
        return _reseal_all(meta, keyring, False, batch, pause, on_batch)
    with keyring_lock(settings.keyring_path):
        keyring = load_keyring(settings.keyring_path)
        created = new_key or pending(meta, keyring.active.key_id) == 0
        if created:
            keyring = keyring.with_new_active()
            save_keyring(settings.keyring_path, keyring)
            log.info("new active master key %s saved in %s", keyring.active.key_id, settings.keyring_path)
        progress.set_total(pending(meta, keyring.active.key_id))
        return _reseal_all(meta, keyring, created, batch, pause, on_batch)


def _reseal_all(meta: MetaStore, keyring: Keyring, created: bool, batch: int, pause: float,
                on_batch: BatchHook | None) -> RotationReport:
    report = RotationReport(keyring.active.key_id, created)
    sealer = Sealer(keyring)
    for _ in range(_MAX_PASSES):
        if not _reseal_pass(meta, sealer, report, batch, pause, on_batch):
            break
    report.remaining = pending(meta, keyring.active.key_id)
    return report


def _reseal_pass(meta: MetaStore, sealer: Sealer, report: RotationReport, batch: int, pause: float,
                 on_batch: BatchHook | None) -> bool:
    """One walk over every kind; True if it found anything to move (another pass may find more)."""
    active = sealer.keyring.active.key_id
    failed = set(report.failed)
    moved_any = False
    for kind in SEALED_KINDS:
        after = ""
        while rows := meta.sealed_not_under(kind, active, after, batch):
            after = rows[-1].ref
            changes = []
            for row in rows:
                try:
                    changes.append((row.ref, row.sealed, reseal_row(sealer, row)))
                except CryptoError as exc:
                    failed.add(f"{kind} {row.bucket}/{row.key} ({row.ref}): {exc}")
            done = meta.replace_sealed(kind, changes) if changes else 0
            report.resealed[kind] += done
            moved_any = moved_any or bool(changes)
            if on_batch is not None:
                on_batch(kind, done)
            if pause:
                time.sleep(pause)  # --pause: lets a busy server's writers in between batches
    report.failed = sorted(failed)
    return moved_any


def remove_key(meta: MetaStore, settings: Settings, key_id: str) -> Keyring:
    """Drop a retired key from the key file; refused while anything is sealed under it."""
    if env_default("MASTER_KEYS"):
        raise KeyCheckError(f"the master keys come from {ENV_NAME}: remove {key_id} from it there")
    with keyring_lock(settings.keyring_path):
        keyring = load_keyring(settings.keyring_path)
        if key_id not in keyring:
            raise KeyCheckError(f"master key {key_id} is not in {settings.keyring_path}")
        if key_id == keyring.active.key_id:
            raise KeyCheckError(f"master key {key_id} is the active key; rotate first")
        still = needed_key_ids(meta).get(key_id, 0)
        if still:
            raise KeyCheckError(f"master key {key_id} still seals {still} stored value(s); run"
                                " `sealbox keys rotate` until `sealbox keys status` shows none")
        smaller = keyring.without(key_id)
        save_keyring(settings.keyring_path, smaller)
        return smaller

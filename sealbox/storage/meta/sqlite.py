"""SQLite metadata store: the embedded default.

WAL mode lets readers in every worker process run while one writer commits; ``synchronous=FULL``
makes every acknowledged commit durable. One connection per thread (sqlite3 connections must not
be shared between threads mid-transaction). Writes use ``BEGIN IMMEDIATE`` so that the
read-check-write of a conditional PUT or a delete is atomic across processes: one writer at a time,
so the mixins' row-lock hooks (``sqlrows.SqlStore``) are no-ops here. The MetaStore methods
themselves are shared with the PostgreSQL store (``sql_*.py``); this module holds the connections,
the group commit and the migrations.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from sealbox.storage.meta.base import MetadataCipher
from sealbox.storage.meta.generation import COMMITS, ChangeTokens
from sealbox.storage.meta.migrations import MIGRATIONS
from sealbox.storage.meta.sql_buckets import BucketsMixin
from sealbox.storage.meta.sql_freed import FreedBlobsMixin
from sealbox.storage.meta.sql_principals import PrincipalsMixin
from sealbox.storage.meta.sql_sealed import SealedMixin
from sealbox.storage.meta.sql_uploads import UploadsMixin


class SqliteMetaStore(BucketsMixin, UploadsMixin, PrincipalsMixin, SealedMixin, FreedBlobsMixin):
    """``metadata``: the cipher that seals and opens SSE rows' metadata (``sealbox.service.metadata``).
    Without one (tools that hold no keys) such rows read back with their ``sealed_meta`` set and the
    sealed fields empty, and writing one is refused."""

    def __init__(self, path: Path, metadata: MetadataCipher | None = None,
                 observe_commit: Callable[[float], None] | None = None) -> None:
        self._path = path
        self._cipher = metadata
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._init_caches(ChangeTokens(Path(f"{path}.tokens")))
        self._group = _GroupCommit(self._new_connection, Path(f"{path}.writelock"),
                                   on_commit=lambda: self._tokens.bump(COMMITS), observe=observe_commit)
        with self._write() as db:
            _migrate(db)

    # -- connections -------------------------------------------------------------------------
    def _new_connection(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._path, timeout=30.0, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        # Up to 16 MiB of pages per connection (default 2 MiB), allocated as used: lookups of a
        # working set of thousands of objects stay in SQLite's own cache instead of re-reading pages
        # with a system call each. (Repeated lookups of one object skip SQLite: get_version.)
        conn.execute("PRAGMA cache_size=-16384")
        # Deleted and overwritten row contents are zeroed, not left in free space: sealing a row
        # written in the clear (seal_metadata) must not leave its old values readable in the file.
        conn.execute("PRAGMA secure_delete=ON")
        with self._lock:
            self._all.append(conn)
        return conn

    def _conn(self) -> sqlite3.Connection:
        """This thread's connection, for reads (WAL: readers never wait for the writer)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._new_connection()
            self._local.conn = conn
        return conn

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        """One write, atomic on its own, durable when the block exits (see _GroupCommit)."""
        return self._group.write()

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        db = self._conn()
        db.execute("BEGIN")  # a deferred read transaction: one snapshot of the WAL until COMMIT
        try:
            yield db
        finally:
            db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()

    def erase_freed_pages(self) -> bool:
        """secure_delete (set on every connection) zeroed the old values inside the database file; the
        write-ahead log still holds the pages as they were until a checkpoint, which TRUNCATE then
        empties. A reader in another process (a scrub) holding an old snapshot keeps the checkpoint
        from finishing: False after waiting up to 5 s for it (the WAL's old frames are then only
        overwritten as the log is reused)."""
        conn = sqlite3.connect(self._path, timeout=5.0, isolation_level=None)
        try:
            busy, _log, _done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            conn.close()
        return not busy


class _GroupCommit:
    """All writes of one process share one connection and are committed in groups.

    Each write runs in its own SAVEPOINT inside a shared transaction, so it is atomic on its own
    (a failing write rolls back only itself). When a write finishes and no other thread is queued
    to write, it COMMITs the transaction for everyone in it; otherwise it waits for a later writer
    to do so. Every caller returns only after a COMMIT (one fsync with synchronous=FULL) covers
    its write, so acknowledged still means durable, but concurrent PUTs share fsyncs instead of
    queueing behind SQLite's lock one fsync at a time.
    """

    def __init__(self, connect: Callable[[], sqlite3.Connection], lock_path: Path,
                 on_commit: Callable[[], None] = lambda: None,
                 observe: Callable[[float], None] | None = None) -> None:
        self._observe = observe  # seconds each COMMIT took (metrics)
        self._connect = connect
        self._on_commit = on_commit  # after each successful COMMIT, before its writers return
        self._lock_path = lock_path
        self._lock_fd: int | None = None
        self._db: sqlite3.Connection | None = None
        self._cond = threading.Condition(threading.RLock())
        self._queue_lock = threading.Lock()
        self._queued = 0
        self._depth = 0
        self._in_tx = False
        self._written = 0  # generation of the last write added to the open transaction
        self._committed = 0  # generation covered by the last successful COMMIT
        self._failed: tuple[int, int, BaseException] | None = None  # (from, to] generations lost

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        with self._queue_lock:
            self._queued += 1
        with self._cond:
            with self._queue_lock:
                self._queued -= 1
            if self._depth:  # a write inside a write: part of the outer one
                yield self._db  # type: ignore[misc]
                return
            db = self._db = self._db or self._connect()
            if not self._in_tx:
                self._lock_processes()
                try:
                    db.execute("BEGIN IMMEDIATE")
                except BaseException:
                    self._unlock_processes()
                    raise
                self._in_tx = True
                self._tx_start = self._written
            db.execute("SAVEPOINT write")
            self._depth = 1
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK TO write")
                raise
            finally:
                self._depth = 0
                db.execute("RELEASE write")
                self._written += 1
                mine = self._written
                self._settle(db, mine)

    def _settle(self, db: sqlite3.Connection, mine: int) -> None:
        """Commit now if nobody else is about to join the transaction; else wait for their commit."""
        with self._queue_lock:
            others = self._queued
        if others == 0 and self._in_tx:
            self._commit(db)
        while self._committed < mine:
            if self._failed and self._failed[0] < mine <= self._failed[1]:
                raise self._failed[2]
            if not self._cond.wait(timeout=1.0) and self._in_tx:
                self._commit(db)  # the writers we waited for are gone; don't strand this one
        if self._failed and self._failed[0] < mine <= self._failed[1]:
            raise self._failed[2]

    def _commit(self, db: sqlite3.Connection) -> None:
        upto = self._written
        try:
            began = time.perf_counter()
            db.execute("COMMIT")
            if self._observe is not None:
                self._observe(time.perf_counter() - began)
            self._committed = upto
            self._on_commit()
        except BaseException as exc:  # noqa: BLE001 - handed to every writer in this transaction
            try:
                db.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            self._failed = (self._tx_start, upto, exc)
            self._committed = upto
        finally:
            self._in_tx = False
            self._unlock_processes()
            self._cond.notify_all()

    def _lock_processes(self) -> None:
        """Queue behind other worker processes on a file lock, which wakes the next waiter as soon
        as the holder commits, instead of in SQLite's busy handler, which polls with sleeps of up
        to 100 ms. Other tools (CLI, scrub) still coordinate through SQLite's own locking."""
        if self._lock_fd is None:
            self._lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)

    def _unlock_processes(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)


def _migrate(db: sqlite3.Connection) -> None:
    db.execute("CREATE TABLE IF NOT EXISTS schema_meta(k TEXT PRIMARY KEY, v INTEGER NOT NULL)")
    row = db.execute("SELECT v FROM schema_meta WHERE k='version'").fetchone()
    current = row[0] if row else 0
    for number, script in enumerate(MIGRATIONS, start=1):
        if number > current:
            for statement in script:
                db.execute(statement)
            db.execute("INSERT OR REPLACE INTO schema_meta(k, v) VALUES ('version', ?)", (number,))


def sqlite_schema_version(path: Path) -> int:
    """The schema number of an existing database file (0 before any migration)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30.0)
    try:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name='schema_meta'").fetchone():
            return 0
        row = conn.execute("SELECT v FROM schema_meta WHERE k='version'").fetchone()
        return int(row[0]) if row else 0
    finally:
        conn.close()

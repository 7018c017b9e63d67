"""The console's own small SQLite database (``<data_dir>/console.sqlite3``): bulk jobs and sign-outs.

It is not the object metadata (the console never touches that store): it holds what the console
itself must share between worker processes — the state of background jobs, so any worker can
answer the page that polls a job, and the ids of signed-out sessions. Its schema is versioned with
``PRAGMA user_version``; methods are blocking and each is one short transaction.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    principal TEXT NOT NULL,
    access_key TEXT NOT NULL,
    bucket TEXT NOT NULL,
    action TEXT NOT NULL,           -- "encrypt", "decrypt" or "delete"
    selection TEXT NOT NULL,        -- JSON: {"keys": [...], "prefixes": [...]}
    state TEXT NOT NULL,            -- listing, running, done, failed
    total INTEGER NOT NULL DEFAULT 0,
    succeeded INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    created REAL NOT NULL,
    heartbeat REAL NOT NULL,
    worker_pid INTEGER NOT NULL DEFAULT 0  -- the process running it (all workers share one host)
);
CREATE INDEX IF NOT EXISTS jobs_by_principal ON jobs (principal, created);
CREATE TABLE IF NOT EXISTS job_items (
    job_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    key TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',  -- pending, ok, skipped, failed
    reason TEXT,
    PRIMARY KEY (job_id, seq)
);
CREATE INDEX IF NOT EXISTS job_items_pending ON job_items (job_id, state, seq);
CREATE TABLE IF NOT EXISTS signed_out (
    sid TEXT PRIMARY KEY,
    expires REAL NOT NULL
);
"""
ACTIVE = ("listing", "running")


@dataclass(frozen=True)
class Job:
    id: str
    principal: str
    access_key: str
    bucket: str
    action: str
    keys: list[str]
    prefixes: list[str]
    state: str
    total: int
    succeeded: int
    skipped: int
    failed: int
    error: str | None
    created: float
    heartbeat: float
    worker_pid: int

    @property
    def done(self) -> int:
        return self.succeeded + self.skipped + self.failed

    @property
    def active(self) -> bool:
        return self.state in ACTIVE


@dataclass(frozen=True)
class ItemResult:
    seq: int
    state: str  # ok, skipped, failed
    reason: str | None = None


_JOB_COLS = ("id, principal, access_key, bucket, action, selection, state, total, succeeded, skipped, failed,"
             " error, created, heartbeat, worker_pid")


def _job(row: tuple[Any, ...]) -> Job:
    selection = json.loads(row[5])
    return Job(id=row[0], principal=row[1], access_key=row[2], bucket=row[3], action=row[4],
               keys=selection["keys"], prefixes=selection["prefixes"], state=row[6], total=row[7],
               succeeded=row[8], skipped=row[9], failed=row[10], error=row[11], created=row[12],
               heartbeat=row[13], worker_pid=row[14])


class ConsoleStore:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._local = threading.local()
        with self._tx() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise RuntimeError(f"{path} has schema {version}, newer than this sealbox ({SCHEMA_VERSION})")
            for statement in _SCHEMA.split(";"):  # executescript would commit the open transaction
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        """Close this thread's connection (the others close with their threads)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self._path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # job progress may lose its last commit on power loss
            self._local.conn = conn
        return conn

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # -- jobs ------------------------------------------------------------------------------------
    def create_job(self, job_id: str, principal: str, access_key: str, bucket: str, action: str,
                   keys: list[str], prefixes: list[str]) -> None:
        now = time.time()
        selection = json.dumps({"keys": keys, "prefixes": prefixes}, ensure_ascii=False)
        with self._tx() as db:
            db.execute(f"INSERT INTO jobs ({_JOB_COLS}) VALUES (?,?,?,?,?,?,'listing',0,0,0,0,NULL,?,?,?)",
                       (job_id, principal, access_key, bucket, action, selection, now, now, os.getpid()))

    def get_job(self, job_id: str) -> Job | None:
        row = self._conn().execute(f"SELECT {_JOB_COLS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _job(row) if row else None

    def jobs_of(self, principal: str, limit: int = 50) -> list[Job]:
        rows = self._conn().execute(f"SELECT {_JOB_COLS} FROM jobs WHERE principal = ? ORDER BY created DESC"
                                    " LIMIT ?", (principal, limit)).fetchall()
        return [_job(r) for r in rows]

    def add_items(self, job_id: str, start_seq: int, keys: Iterable[str]) -> int:
        """Append items (during listing); returns the next sequence number."""
        rows = [(job_id, start_seq + i, k) for i, k in enumerate(keys)]
        with self._tx() as db:
            db.executemany("INSERT OR IGNORE INTO job_items (job_id, seq, key) VALUES (?,?,?)", rows)
            db.execute("UPDATE jobs SET total = ?, heartbeat = ? WHERE id = ?",
                       (start_seq + len(rows), time.time(), job_id))
        return start_seq + len(rows)

    def clear_items(self, job_id: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM job_items WHERE job_id = ?", (job_id,))
            db.execute("UPDATE jobs SET total = 0, succeeded = 0, skipped = 0, failed = 0 WHERE id = ?", (job_id,))

    def item_count(self, job_id: str) -> int:
        row = self._conn().execute("SELECT COUNT(*) FROM job_items WHERE job_id = ?", (job_id,)).fetchone()
        return int(row[0])

    def set_state(self, job_id: str, state: str, error: str | None = None) -> None:
        with self._tx() as db:
            db.execute("UPDATE jobs SET state = ?, error = ?, heartbeat = ? WHERE id = ?",
                       (state, error, time.time(), job_id))

    def pending_items(self, job_id: str, limit: int) -> list[tuple[int, str]]:
        return [(int(s), str(k)) for s, k in self._conn().execute(
            "SELECT seq, key FROM job_items WHERE job_id = ? AND state = 'pending' ORDER BY seq LIMIT ?",
            (job_id, limit))]

    def record(self, job_id: str, results: list[ItemResult]) -> None:
        """Store a batch of outcomes and bump the job's counters in one transaction."""
        counts = {"ok": 0, "skipped": 0, "failed": 0}
        with self._tx() as db:
            for r in results:
                cur = db.execute("UPDATE job_items SET state = ?, reason = ? WHERE job_id = ? AND seq = ?"
                                 " AND state = 'pending'", (r.state, r.reason, job_id, r.seq))
                counts[r.state] += cur.rowcount  # an item already recorded (by a resumed run) counts once
            db.execute("UPDATE jobs SET succeeded = succeeded + ?, skipped = skipped + ?, failed = failed + ?,"
                       " heartbeat = ? WHERE id = ?",
                       (counts["ok"], counts["skipped"], counts["failed"], time.time(), job_id))

    def heartbeat(self, job_id: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE jobs SET heartbeat = ? WHERE id = ?", (time.time(), job_id))

    def claim(self, job_id: str, seen_pid: int, seen_heartbeat: float) -> bool:
        """Take over an active job from a dead worker; True if this caller won (compare-and-set)."""
        with self._tx() as db:
            cur = db.execute("UPDATE jobs SET heartbeat = ?, worker_pid = ? WHERE id = ? AND state IN"
                             " ('listing', 'running') AND worker_pid = ? AND heartbeat = ?",
                             (time.time(), os.getpid(), job_id, seen_pid, seen_heartbeat))
            return cur.rowcount == 1

    def failures(self, job_id: str, limit: int = 200) -> list[tuple[str, str]]:
        return [(str(k), str(r or "")) for k, r in self._conn().execute(
            "SELECT key, reason FROM job_items WHERE job_id = ? AND state = 'failed' ORDER BY seq LIMIT ?",
            (job_id, limit))]

    # -- signed-out sessions ----------------------------------------------------------------------
    def sign_out(self, sid: str, expires: float) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO signed_out (sid, expires) VALUES (?, ?)", (sid, expires))
            db.execute("DELETE FROM signed_out WHERE expires < ?", (time.time(),))

    def is_signed_out(self, sid: str) -> bool:
        return self._conn().execute("SELECT 1 FROM signed_out WHERE sid = ?", (sid,)).fetchone() is not None

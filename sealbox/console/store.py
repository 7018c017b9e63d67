"""The console's own small SQLite database (``<data_dir>/console.sqlite3``): bulk jobs, sign-outs,
failed sign-ins; with ``--meta-url postgresql://…`` the same tables in the PostgreSQL metadata database.

It is not the object metadata (the console never touches that store): it holds what the console
itself must share between worker processes — the state of background jobs, so any worker can
answer the page that polls a job, the ids of signed-out sessions, and the failed sign-in counts
that slow down password guessing (a guess may land on any worker). Its schema is versioned with
``PRAGMA user_version`` (2 added ``jobs.context`` and ``signin_failures``); methods are blocking
and each is one short transaction.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sealbox.storage.meta.pgconn import PgDatabase, advisory_key
from sealbox.storage.meta.sqlrows import Db

SCHEMA_VERSION = 2
_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    principal TEXT NOT NULL,
    access_key TEXT NOT NULL,
    bucket TEXT NOT NULL,
    action TEXT NOT NULL,           -- "encrypt", "decrypt", "delete", "empty" or "purge"
    selection TEXT NOT NULL,        -- JSON: {"keys": [...], "prefixes": [...]}
    state TEXT NOT NULL,            -- listing, running, done, failed
    total INTEGER NOT NULL DEFAULT 0,
    succeeded INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    created REAL NOT NULL,
    heartbeat REAL NOT NULL,
    worker_pid INTEGER NOT NULL DEFAULT 0,  -- the process running it (all workers share one host)
    context TEXT  -- JSON: the starting request's policy context (NULL: a job from before schema 2)
);
CREATE INDEX IF NOT EXISTS jobs_by_principal ON jobs (principal, created);
CREATE TABLE IF NOT EXISTS job_items (
    job_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    key TEXT NOT NULL,              -- the object key (for "empty", "purge": JSON [key, version id])
    state TEXT NOT NULL DEFAULT 'pending',  -- pending, ok, skipped, failed
    reason TEXT,
    PRIMARY KEY (job_id, seq)
);
CREATE INDEX IF NOT EXISTS job_items_pending ON job_items (job_id, state, seq);
CREATE TABLE IF NOT EXISTS signed_out (
    sid TEXT PRIMARY KEY,
    expires REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS signin_failures (
    subject TEXT PRIMARY KEY,       -- "ip:<client address>" or "key:<hash of the access key typed>"
    failures INTEGER NOT NULL,      -- failed sign-ins since the last success (or since forgotten)
    last REAL NOT NULL,             -- when the latest failure was counted
    blocked_until REAL NOT NULL,    -- no attempt is checked before this time
    pending INTEGER NOT NULL,       -- attempts being checked right now
    pending_since REAL NOT NULL     -- when the latest of those began
);
CREATE INDEX IF NOT EXISTS signin_failures_by_last ON signin_failures (last);
"""
# Schema 1 -> 2 for an existing file (CREATE TABLE IF NOT EXISTS above adds the new table).
_UPGRADES = {2: ["ALTER TABLE jobs ADD COLUMN context TEXT"]}
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
    context: str | None  # JSON of the starting request's policy context (sealbox.console.policy_context)

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
             " error, created, heartbeat, worker_pid, context")


def _job(row: tuple[Any, ...]) -> Job:
    selection = json.loads(row[5])
    return Job(id=row[0], principal=row[1], access_key=row[2], bucket=row[3], action=row[4],
               keys=selection["keys"], prefixes=selection["prefixes"], state=row[6], total=row[7],
               succeeded=row[8], skipped=row[9], failed=row[10], error=row[11], created=row[12],
               heartbeat=row[13], worker_pid=row[14], context=row[15])


class _Tx(Protocol):
    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Any: ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]], /) -> Any: ...


class ConsoleStore:
    """``path``: the SQLite file (``<data_dir>/console.sqlite3``). With ``meta_url`` (``--meta-url
    postgresql://…``) the same tables live in the PostgreSQL metadata database instead (made by its
    migrations, ``storage/meta/pg_migrations.py``), so that every gateway sees every job, sign-out and
    failed sign-in; ``path`` is then unused."""

    def __init__(self, path: Path, meta_url: str | None = None) -> None:
        # One host's file: a job's worker_pid can be checked with kill(pid, 0); in PostgreSQL, jobs
        # of other hosts' gateways are there too, and only their heartbeat tells whether they live.
        self.host_local = not meta_url
        self._path = path
        self._local = threading.local()
        self._pg: PgDatabase | None = None
        if meta_url:
            self._pg = PgDatabase.shared(meta_url)
            return
        with self._tx() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise RuntimeError(f"{path} has schema {version}, newer than this sealbox ({SCHEMA_VERSION})")
            if version:  # an existing file: its tables first gain what later schemas added
                for step in range(version + 1, SCHEMA_VERSION + 1):
                    for statement in _UPGRADES.get(step, []):
                        db.execute(statement)
            for statement in _SCHEMA.split(";"):  # executescript would commit the open transaction
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        """Close this thread's connection (the others close with their threads); on PostgreSQL, give
        the pool back."""
        if self._pg is not None:
            self._pg.close()
            return
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _conn(self) -> Db:
        if self._pg is not None:
            return self._pg.reader
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self._path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # job progress may lose its last commit on power loss
            self._local.conn = conn
        return conn

    @contextmanager
    def _tx(self) -> Iterator[_Tx]:
        if self._pg is not None:
            with self._pg.transaction() as tx:
                yield tx
            return
        conn = self._conn()
        assert isinstance(conn, sqlite3.Connection)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _serialize(self, db: _Tx, name: str) -> None:
        """One such transaction at a time across every process: SQLite's BEGIN IMMEDIATE already is;
        on PostgreSQL an advisory transaction lock (READ COMMITTED would let two admissions read the
        same counts and both write theirs)."""
        if self._pg is not None:
            db.execute("SELECT pg_advisory_xact_lock(?)", (advisory_key("sealbox-console", name),))

    # -- jobs ------------------------------------------------------------------------------------
    def create_job(self, job_id: str, principal: str, access_key: str, bucket: str, action: str,
                   keys: list[str], prefixes: list[str], context: str) -> None:
        now = time.time()
        selection = json.dumps({"keys": keys, "prefixes": prefixes}, ensure_ascii=False)
        with self._tx() as db:
            db.execute(f"INSERT INTO jobs ({_JOB_COLS}) VALUES (?,?,?,?,?,?,'listing',0,0,0,0,NULL,?,?,?,?)",
                       (job_id, principal, access_key, bucket, action, selection, now, now, os.getpid(), context))

    def get_job(self, job_id: str) -> Job | None:
        row = self._conn().execute(f"SELECT {_JOB_COLS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _job(row) if row else None

    def stale_jobs(self, heartbeat_before: float, limit: int) -> list[Job]:
        """Active jobs whose heartbeat is older than ``heartbeat_before``, stalest first (the runners'
        sweep; a scan of the jobs table, one row per job ever started: small next to job_items)."""
        rows = self._conn().execute(f"SELECT {_JOB_COLS} FROM jobs WHERE state IN ('listing', 'running')"
                                    " AND heartbeat < ? ORDER BY heartbeat LIMIT ?",
                                    (heartbeat_before, limit)).fetchall()
        return [_job(r) for r in rows]

    def jobs_of(self, principal: str, limit: int = 50) -> list[Job]:
        rows = self._conn().execute(f"SELECT {_JOB_COLS} FROM jobs WHERE principal = ? ORDER BY created DESC"
                                    " LIMIT ?", (principal, limit)).fetchall()
        return [_job(r) for r in rows]

    def add_items(self, job_id: str, start_seq: int, keys: Iterable[str]) -> int:
        """Append items (during listing); returns the next sequence number."""
        rows = [(job_id, start_seq + i, k) for i, k in enumerate(keys)]
        with self._tx() as db:
            db.executemany("INSERT INTO job_items (job_id, seq, key) VALUES (?,?,?) ON CONFLICT DO NOTHING", rows)
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
            return bool(cur.rowcount == 1)

    def failures(self, job_id: str, limit: int = 200, state: str = "failed") -> list[tuple[str, str]]:
        """(key, reason) of the job's items in ``state`` ("failed", or "skipped": those left unchanged)."""
        return [(str(k), str(r or "")) for k, r in self._conn().execute(
            "SELECT key, reason FROM job_items WHERE job_id = ? AND state = ? ORDER BY seq LIMIT ?",
            (job_id, state, limit))]

    # -- signed-out sessions ----------------------------------------------------------------------
    def sign_out(self, sid: str, expires: float) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO signed_out (sid, expires) VALUES (?, ?)"
                       " ON CONFLICT (sid) DO UPDATE SET expires = excluded.expires", (sid, expires))
            db.execute("DELETE FROM signed_out WHERE expires < ?", (time.time(),))

    def is_signed_out(self, sid: str) -> bool:
        return self._conn().execute("SELECT 1 FROM signed_out WHERE sid = ?", (sid,)).fetchone() is not None

    # -- sign-in attempts (sealbox.console.throttle) --------------------------------------------
    def _signin_rows(self, db: _Tx, subjects: list[str], now: float,
                     rules: SigninRules) -> dict[str, tuple[int, float, float, int]]:
        """subject -> (failures, last, blocked_until, pending), forgotten and stale parts zeroed."""
        rows = {}
        for subject, failures, last, blocked, pending, since in db.execute(
                "SELECT subject, failures, last, blocked_until, pending, pending_since FROM signin_failures"
                f" WHERE subject IN ({','.join('?' * len(subjects))})", subjects):
            rows[str(subject)] = (0 if now - last > rules.forget else int(failures), float(last), float(blocked),
                                  0 if now - since > rules.stale else int(pending))
        return rows

    def admit_signin(self, subjects: list[str], now: float, rules: SigninRules) -> Admission:
        """Let one sign-in attempt be checked, counted against every subject as in flight (then
        ``finish_signin`` must follow) — unless a subject is blocked, or already has as many
        attempts in flight as its failures allow (``rules.capacity``). One transaction across all
        workers: parallel attempts queue here, so no more are checked at once than the rules allow.
        """
        with self._tx() as db:
            self._serialize(db, "signin")
            rows = self._signin_rows(db, subjects, now, rules)
            wait = max((blocked - now for _, _, blocked, _ in rows.values()), default=0.0)
            if wait > 0:
                return Admission(False, wait=wait)
            if any(pending >= rules.capacity(failures) for failures, _, _, pending in rows.values()):
                return Admission(False, failing=any(failures > 0 for failures, _, _, _ in rows.values()))
            for subject in subjects:
                failures, last, blocked, pending = rows.get(subject, (0, now, 0.0, 0))
                db.execute("INSERT INTO signin_failures (subject, failures, last, blocked_until, pending,"
                           " pending_since) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (subject) DO UPDATE SET"
                           " failures = excluded.failures, last = excluded.last, blocked_until = excluded.blocked_until,"
                           " pending = excluded.pending, pending_since = excluded.pending_since",
                           (subject, failures, last, blocked, pending + 1, now))
            return Admission(True)

    def finish_signin(self, subjects: list[str], now: float, succeeded: bool, rules: SigninRules) -> None:
        """An admitted attempt's outcome: a failure counts and may block; a success clears the count."""
        with self._tx() as db:
            self._serialize(db, "signin")
            rows = self._signin_rows(db, subjects, now, rules)
            for subject in subjects:
                failures, last, blocked, pending = rows.get(subject, (0, now, 0.0, 1))
                pending = max(0, pending - 1)
                if succeeded:
                    failures, blocked = 0, 0.0
                else:
                    failures, last = failures + 1, now
                    delay = rules.delay(failures)
                    blocked = now + delay if delay > 0 else blocked
                db.execute("INSERT INTO signin_failures (subject, failures, last, blocked_until, pending, pending_since)"
                           " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (subject) DO UPDATE SET failures = excluded.failures,"
                           " last = excluded.last, blocked_until = excluded.blocked_until, pending = excluded.pending",
                           (subject, failures, last, blocked, pending, now))
            db.execute("DELETE FROM signin_failures WHERE (failures = 0 OR last < ?) AND blocked_until < ?"
                       " AND (pending = 0 OR pending_since < ?)", (now - rules.forget, now, now - rules.stale))


@dataclass(frozen=True)
class Admission:
    """Whether a sign-in attempt may be checked; if not, for how long a subject is blocked (``wait``
    > 0), or else that too many are being checked at once (and whether the subject has failures)."""

    admitted: bool
    wait: float = 0.0
    failing: bool = False


@dataclass(frozen=True)
class SigninRules:
    """How sign-in attempts are limited (``sealbox.console.throttle`` holds the numbers)."""

    capacity: Callable[[int], int]  # attempts that may be in flight at once, given the failures so far
    delay: Callable[[int], float]  # seconds a subject is blocked after this many failures (0: not)
    forget: float  # seconds after the last failure when the count starts over
    stale: float  # seconds after which an attempt still in flight is taken as gone (its worker died)

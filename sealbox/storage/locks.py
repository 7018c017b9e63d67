"""Run-once locks: key rotation, scrub, gc, the lifecycle pass run in one process of the whole
deployment at a time, however many gateways (and hosts) serve it.

``RunOnce.hold(name)`` is a context manager yielding a ``Held`` (this process has the lock until the
block ends) or None (someone else has it: skip this round). Never blocking: every user of these
locks is a periodic or operator-started job, and a second runner has nothing to wait for.

- ``FlockRunOnce`` (SQLite, one host): an exclusive non-blocking ``flock`` on ``<dir>/<name>.lock``;
  the kernel drops it when the process dies, however it dies.
- ``PgRunOnce`` (PostgreSQL): a session-level advisory lock (``pg_try_advisory_lock``) taken on a
  connection of its own, opened for the hold and closed after it. Session-level, not
  transaction-level: a pass is many transactions. A dead process closes its socket and the server
  drops its locks at once; a dead *host* is noticed by TCP keepalives (idle 10 s, then 3 probes
  5 s apart: the lock is free about 25 s after the host stopped answering, ``tcp_user_timeout``
  bounds a write stuck on it the same way). Advisory locks are per database: two deployments on
  one PostgreSQL server do not see each other's.

A hold can be lost while the holder still runs (its lock connection was cut): ``Held.alive()``
says so, and a long job checks it between batches and stops (it resumes from its saved cursor on
whichever gateway takes the lock next: the lifecycle pass keeps it in ``lifecycle_state``, key
rotation re-seals whatever is still under an old key, scrub and gc are idempotent).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

# libpq connection parameters of a lock's connection (see the module docstring for the timing).
KEEPALIVE = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3,
             "tcp_user_timeout": 25_000, "connect_timeout": 10}


class Held(Protocol):
    def alive(self) -> bool:
        """False once the lock may be held by someone else (stop, the work resumes elsewhere)."""
        ...


class RunOnce(Protocol):
    @property
    def scope(self) -> str:
        """What the lock spans, for messages: "this host" or "the cluster"."""
        ...

    def hold(self, name: str) -> contextlib.AbstractContextManager[Held | None]:
        ...


class _FlockHeld:
    def alive(self) -> bool:
        return True  # a flock is held until the descriptor closes


class FlockRunOnce:
    scope = "this host"

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, name: str) -> Path:
        return self.directory / f"{name}.lock"

    @contextlib.contextmanager
    def hold(self, name: str) -> Iterator[Held | None]:
        fd = os.open(self.path(name), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield None
                return
            yield _FlockHeld()
        finally:
            os.close(fd)  # releases the lock


# Two-int advisory keys (class "sbrn", a hash of the name): a key space of their own, apart from the
# per-object-key transaction locks (bigint keys) and the migration lock ("sbox", 1) of storage/meta.
_LOCK_CLASS = 0x7362726E


def lock_key(name: str) -> tuple[int, int]:
    return _LOCK_CLASS, int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big", signed=True)


class _PgHeld:
    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def alive(self) -> bool:
        try:
            self._conn.execute("SELECT 1").fetchone()
            return True
        except Exception:  # noqa: BLE001 - any failure of the lock's connection means the lock is gone
            return False


class PgRunOnce:
    scope = "the cluster"

    def __init__(self, url: str) -> None:
        self.url = url

    @contextlib.contextmanager
    def hold(self, name: str) -> Iterator[Held | None]:
        import psycopg

        from psycopg.conninfo import make_conninfo

        conn = psycopg.connect(make_conninfo(self.url, application_name=f"sealbox lock {name}", **KEEPALIVE),
                               autocommit=True)
        try:
            row = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", lock_key(name)).fetchone()
            yield _PgHeld(conn) if row and row[0] else None
        finally:
            conn.close()  # ends the session: the server releases its advisory locks


def run_once(data_dir: Path, meta_url: str | None) -> RunOnce:
    """The deployment's run-once locks: advisory locks in PostgreSQL, else flocks in the data directory."""
    from sealbox.storage.meta.pgconn import is_postgres_url

    if meta_url and is_postgres_url(meta_url):
        return PgRunOnce(meta_url)
    return FlockRunOnce(data_dir)

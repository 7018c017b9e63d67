"""PostgreSQL connections for the stores on ``--meta-url postgresql://…`` (issue 19): one pool per
worker process, statements written for SQLite's ``?`` placeholders, and the mapping of "the
database cannot be reached" to ``StoreUnavailable`` (a 503 to S3 clients, who retry).

- **Pool.** ``psycopg_pool.ConnectionPool`` of autocommit connections, made on first use in each
  process (a pool inherited across ``fork`` is dropped, never used: its sockets belong to the parent).
  Up to ``POOL_MAX`` connections: the worker's I/O threads plus the event loop's helpers. Waiting more
  than ``POOL_WAIT`` seconds for one (every connection busy, or the server unreachable while the pool
  reconnects in the background) is ``StoreUnavailable``.
- **Reads** run one statement on a borrowed connection in autocommit mode and buffer the rows, so the
  connection goes back to the pool at once. READ COMMITTED per statement: every read sees every
  commit acknowledged before it began (strong read-after-write, on every gateway alike).
- **Writes** are one transaction (``conn.transaction()``) at READ COMMITTED; what makes a
  read-check-write atomic is explicit locking by the callers (``sqlrows.SqlStore``): an advisory
  transaction lock per object key and ``SELECT … FOR SHARE/FOR UPDATE`` of the rows relied on. An
  exception inside rolls the whole transaction back: nothing is ever half-written.
- **Faults.** ``psycopg.OperationalError`` (server restarting, connection lost, admin shutdown,
  deadlock or serialization failure) and ``PoolTimeout`` become ``StoreUnavailable``; a connection
  found dead is discarded and the pool checks its idle ones, so the pool is whole again as soon as the
  server is back. A read that failed on a dead pooled connection is retried once on a fresh one (it
  changed nothing); a write is not (its COMMIT may have landed: the client retries, as after any 503).
- **Passwords** in a URL are never logged: ``redact`` is what messages show.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from sealbox.storage.meta.base import StoreUnavailable

log = logging.getLogger("sealbox.meta")

POOL_MIN = 1
POOL_MAX = 24  # app.IO_THREADS (16) + asyncio.to_thread's helpers and the console's jobs
POOL_WAIT = 5.0  # seconds a request waits for a connection before it is answered 503
# While the server is known to be unreachable (the pool's last reconnection attempts failed), a request
# waits this long instead, so clients get their 503 at once rather than after POOL_WAIT each.
FAIL_FAST_WAIT = 0.5
# The pool retries a failed connection attempt with backoff (1 s, 2 s, …) and gives up after this many
# seconds; the next request then starts a new attempt at once. Short, so that a server back after a
# restart is used within about this long, not after a backoff grown during a long outage.
RECONNECT_GIVE_UP = 2.0
CONNECT_TIMEOUT = 5  # seconds libpq waits for a server that does not answer (an unreachable host)
_PREPARE_AFTER = 2  # executions after which psycopg prepares a statement server-side (default 5)
# No request waits on the database for ever: a statement (a lock wait included) running longer than
# this is cancelled (a 503; no sealbox statement takes a tenth of it), and a transaction left idle that
# long (its gateway frozen mid-request) is ended by the server, releasing the key locks it held.
# Migrations and VACUUM lift the statement limit for themselves.
_SESSION_OPTIONS = "-c statement_timeout=30s -c idle_in_transaction_session_timeout=60s"


def is_postgres_url(url: str | None) -> bool:
    return bool(url) and str(url).split(":", 1)[0] in ("postgresql", "postgres")


class UnsupportedMetaUrl(ValueError):
    pass


def check_url(url: str) -> str:
    if not is_postgres_url(url):
        raise UnsupportedMetaUrl(f"--meta-url {redact(url)}: only postgresql://USER[:PASSWORD]@HOST[:PORT]/DB"
                                 " is supported (without it, SQLite in the data directory)")
    return url


_SECRET_IN_TEXT = re.compile(r"(://[^:/@\s]*:)[^@\s]*(@)|(password\s*=\s*)('[^']*'|\S+)", re.IGNORECASE)


def scrub_secrets(text: str) -> str:
    """``text`` with every URL password and ``password=…`` replaced by *** (libpq echoes a conninfo it
    cannot parse in its error message)."""
    return _SECRET_IN_TEXT.sub(lambda m: f"{m.group(1)}***{m.group(2)}" if m.group(1) else f"{m.group(3)}***", text)


class _NoSecrets(logging.Filter):
    """On psycopg's loggers (the pool logs every failed connection attempt with libpq's message)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = scrub_secrets(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


for _name in ("psycopg", "psycopg.pool"):
    logging.getLogger(_name).addFilter(_NoSecrets())


def redact(url: str) -> str:
    """The URL with its password (if any) replaced by ***, for messages and logs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable database URL>"
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[-1]}"))


@functools.lru_cache(maxsize=4096)
def translate(sql: str) -> str:
    """SQLite's ``?`` placeholders as psycopg's ``%s`` (a literal ``%``, as in LIKE 'v1:%', doubled).
    The shared statements hold no ``?`` inside string literals."""
    return sql.replace("%", "%%").replace("?", "%s")


def advisory_key(*names: str) -> int:
    """A signed 64-bit advisory-lock key for ``names`` (a hash: a collision only makes two unrelated
    writers wait for each other, never lets two writers of one key run at once)."""
    digest = hashlib.blake2b("\0".join(names).encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class Result:
    """The rows of one statement, fetched whole (the connection is back in the pool already)."""

    __slots__ = ("_rows", "_at", "rowcount")

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self._at = 0
        self.rowcount = rowcount

    def fetchone(self) -> Any:
        if self._at >= len(self._rows):
            return None
        self._at += 1
        return self._rows[self._at - 1]

    def fetchall(self) -> list[Any]:
        rows, self._at = self._rows[self._at:], len(self._rows)
        return rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


def _run(conn: psycopg.Connection[Any], sql: str, params: Sequence[Any]) -> Result:
    cur = conn.execute(translate(sql), tuple(params))
    rows = cur.fetchall() if cur.description is not None else []
    return Result(rows, cur.rowcount)


class Tx:
    """A connection inside one transaction (what the mixins' ``db`` is on PostgreSQL)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Result:
        return _run(self.conn, sql, parameters)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]], /) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(translate(sql), [tuple(r) for r in rows])


class Reader:
    """Statements outside a transaction: each borrows a pooled connection (autocommit) for its run."""

    def __init__(self, db: PgDatabase) -> None:
        self._db = db

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Result:
        for attempt in (1, 2):
            try:
                with self._db.connection() as conn:
                    return _run(conn, sql, parameters)
            except StoreUnavailable as exc:
                # A connection that died while idle in the pool (the server restarted): it changed
                # nothing, so the read runs once more on a fresh connection.
                if attempt == 2 or not exc.stale:
                    raise
        raise AssertionError("unreachable")


class PgDatabase:
    """The pool of one database URL in this process, shared by the meta, KMS and console stores.

    Also the way in for what runs across gateways (issue 19, several gateways): ``connection()``
    lends a connection for any query; ``transaction()`` one transaction. Cluster-wide run-once locks
    are ``sealbox.storage.locks.PgRunOnce`` (a connection of their own, outside this pool).
    """

    _instances: dict[str, PgDatabase] = {}
    _instances_lock = threading.Lock()

    def __init__(self, url: str) -> None:
        self.url = check_url(url)
        self._pid = -1
        self._pool: ConnectionPool[psycopg.Connection[Any]] | None = None
        self._lock = threading.Lock()
        self._local = threading.local()
        self._users = 1
        self._unreachable = False  # the pool gave up reconnecting and no request has connected since
        self.reader = Reader(self)

    @classmethod
    def shared(cls, url: str) -> PgDatabase:
        """One pool per URL and process: the meta, KMS and console stores of a worker share it (each
        ``close`` gives one back; the last closes the pool)."""
        with cls._instances_lock:
            db = cls._instances.get(url)
            if db is None:
                db = cls._instances[url] = cls(url)
            else:
                db._users += 1
            return db

    @property
    def pool(self) -> ConnectionPool[psycopg.Connection[Any]]:
        pid = os.getpid()
        if self._pool is None or self._pid != pid:
            with self._lock:
                if self._pool is None or self._pid != pid:
                    # A pool made before a fork is left alone (closing it would close the parent's sockets).
                    self._pool = ConnectionPool(
                        self.url, min_size=POOL_MIN, max_size=POOL_MAX, timeout=POOL_WAIT, open=True,
                        kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT,
                                "prepare_threshold": _PREPARE_AFTER, "options": _SESSION_OPTIONS},
                        name="sealbox-meta", reconnect_timeout=RECONNECT_GIVE_UP,
                        reconnect_failed=self._gave_up)
                    self._pid = pid
        return self._pool

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection (autocommit) for the block; errors reaching the server → StoreUnavailable."""
        pool = self.pool
        wait = FAIL_FAST_WAIT if self._unreachable else POOL_WAIT
        try:
            conn_cm = pool.connection(timeout=wait)
            conn = conn_cm.__enter__()
        except PoolTimeout as exc:
            raise StoreUnavailable(f"no connection to the metadata database {redact(self.url)} within"
                                   f" {wait:g} s") from exc
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(f"the metadata database {redact(self.url)} cannot be reached") from exc
        self._unreachable = False
        try:
            yield conn
        except psycopg.OperationalError as exc:
            stale = conn.closed or conn.broken
            conn_cm.__exit__(type(exc), exc, exc.__traceback__)
            if stale:
                self._check_idle()
            raise StoreUnavailable(f"the metadata database {redact(self.url)} failed:"
                                   f" {scrub_secrets(_first_line(exc))}",
                                   stale=stale) from exc
        except BaseException as exc:
            conn_cm.__exit__(type(exc), exc, exc.__traceback__)
            raise
        conn_cm.__exit__(None, None, None)

    def _gave_up(self, pool: object) -> None:
        self._unreachable = True

    def _check_idle(self) -> None:
        """Have the pool test its idle connections in the background (after a server restart they are
        all dead) instead of each failing one request."""
        pool = self._pool
        if pool is not None:
            threading.Thread(target=_check, args=(pool,), name="sealbox-pg-check", daemon=True).start()

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """One transaction (nested calls in one thread join the outer one)."""
        outer: Tx | None = getattr(self._local, "tx", None)
        if outer is not None:
            yield outer
            return
        with self.connection() as conn:
            with conn.transaction():
                tx = self._local.tx = Tx(conn)
                try:
                    yield tx
                finally:
                    self._local.tx = None

    @contextmanager
    def snapshot(self) -> Iterator[Tx]:
        """A read-only REPEATABLE READ transaction: every statement sees one snapshot."""
        with self.connection() as conn:
            with conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                yield Tx(conn)

    def close(self) -> None:
        with PgDatabase._instances_lock:
            self._users -= 1
            if self._users > 0:
                return
            if PgDatabase._instances.get(self.url) is self:
                del PgDatabase._instances[self.url]
        with self._lock:
            if self._pool is not None and self._pid == os.getpid():
                self._pool.close()
            self._pool = None


def _check(pool: ConnectionPool[psycopg.Connection[Any]]) -> None:
    try:
        pool.check()
    except Exception:  # noqa: BLE001 - best effort: the next borrow reconnects anyway
        log.debug("pool check failed", exc_info=True)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]

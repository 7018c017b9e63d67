"""PostgreSQL metadata store (``--meta-url postgresql://USER@HOST/DB``, issue 19): what several gateways
share. The MetaStore methods are SQLite's (``sql_*.py``); this module supplies the connections
(``pgconn``: a pool per worker process), the locking that SQLite gets from running one writer at a
time, and the migrations.

Semantics, as on SQLite:

- **Strong read-after-write.** Every read is a statement on a pooled connection in autocommit mode
  at READ COMMITTED: it sees every transaction committed before it started, whichever gateway
  committed it. Object rows are not kept across requests; bucket rows and CORS texts are, until the
  change feed's BUCKETS sequence moves (``pg_changes.PgChangeFeed``: a bump by any gateway after
  its commit, checked by one round trip before each use).
- **Atomic conditional writes, last writer wins.** Each write is one transaction. One that reads a
  key's versions before changing them (PUT, conditional PUT, DELETE, tags, Object Lock, Complete)
  first takes ``pg_advisory_xact_lock`` on a 64-bit hash of (bucket, key): writers of one key queue
  there and each reads the latest version *after* the previous one committed (READ COMMITTED takes a
  fresh snapshot per statement), so ``If-None-Match: *`` / ``If-Match`` are decided against what is
  really current, and versions are stacked in commit order. The unique partial index on
  (bucket, key) WHERE is_latest = 1 is the database's own check that two writers never both made a
  "latest" row. Rows are inserted whole in one transaction: a reader sees the old row or the new
  one, never a torn one. Then the bucket row FOR SHARE, so DeleteBucket or a versioning change (FOR
  UPDATE) waits for the writes in flight; an upload row FOR UPDATE when it completes or aborts.
  Locks are always taken in this order (key, bucket, upload), so writers do not deadlock; if one
  still did, PostgreSQL aborts one transaction, which reaches the client as 503 and is retried.
- **Durability.** A write returns after its COMMIT, which PostgreSQL makes durable (its WAL flush,
  ``synchronous_commit`` as the server is configured). There is no group commit here: PostgreSQL
  flushes concurrent commits together itself (``commit_delay`` aside).
- **Small bodies inline.** ``inline_blobs.data`` is BYTEA, written in the version's transaction.
- **Faults.** See ``pgconn``: unreachable or restarting → ``StoreUnavailable`` (503), the
  transaction rolled back; the pool reconnects by itself when the server is back.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.types import Versioning

from sealbox.storage.meta.base import MetadataCipher
from sealbox.storage.meta.pg_migrations import PG_MIGRATIONS
from sealbox.storage.meta.pgconn import PgDatabase, Tx, advisory_key
from sealbox.storage.meta.sql_buckets import BucketsMixin
from sealbox.storage.meta.sql_freed import FreedBlobsMixin
from sealbox.storage.meta.sql_principals import PrincipalsMixin
from sealbox.storage.meta.sql_sealed import SealedMixin
from sealbox.storage.meta.sql_uploads import UploadsMixin
from sealbox.storage.meta.pg_changes import PgChangeFeed
from sealbox.storage.meta.sqlrows import Db

# The advisory lock (two-int form: its own key space, apart from the per-key locks' bigints) under
# which migrations run: "sbox" and 1.
_MIGRATION_LOCK = (0x73626F78, 1)


class PostgresMetaStore(BucketsMixin, UploadsMixin, PrincipalsMixin, SealedMixin, FreedBlobsMixin):
    """``url``: a libpq URL (``postgresql://user[:password]@host[:port]/db[?…]``; ``host=/dir`` for a
    Unix socket). ``metadata``: the cipher of SSE rows' metadata, as for ``SqliteMetaStore``.
    ``migrate``: bring the schema up to date now (every start does; ``sealbox migrate`` too)."""

    shared = True  # several gateways: replaced blobs wait out a grace before unlinking (service/freed.py)
    _SHARE = " FOR SHARE"
    _UPDATE = " FOR UPDATE"
    _KEY_ID_SQL = "split_part({0}, ':', 2)"  # "v1:<key id>:…" (ids never contain ':')

    def __init__(self, url: str, metadata: MetadataCipher | None = None, *, migrate: bool = True) -> None:
        self._cipher = metadata
        self.database = PgDatabase.shared(url)
        # Bucket rows, CORS texts: kept until the feed's BUCKETS sequence moves; object rows never.
        self._init_caches(PgChangeFeed(self.database.connection))
        if migrate:
            migrate_postgres(self.database)

    # -- the SqlStore hooks --------------------------------------------------------------------
    def _conn(self) -> Db:
        return self.database.reader

    def _write(self) -> AbstractContextManager[Tx]:
        return self.database.transaction()

    def _snapshot(self) -> AbstractContextManager[Tx]:
        return self.database.snapshot()

    def _lock_key(self, db: Db, bucket: str, key: str) -> None:
        db.execute("SELECT pg_advisory_xact_lock(?)", (advisory_key(bucket, key),))

    def _lock_key_versioning(self, db: Db, bucket: str, key: str) -> Versioning:
        """One round trip: the key's advisory lock is taken as the bucket row is read (the target list is
        computed before LockRows takes the row FOR SHARE: the same order as two statements; a re-check
        after waiting for the row calls the lock again, which a holder re-enters)."""
        row = db.execute("SELECT pg_advisory_xact_lock(?), versioning FROM buckets WHERE name=? FOR SHARE",
                         (advisory_key(bucket, key), bucket)).fetchone()
        if row is None:
            raise SealboxError(ErrorCode.NO_SUCH_BUCKET, "The specified bucket does not exist", BucketName=bucket)
        return Versioning(row[1])

    def close(self) -> None:
        self.database.close()

    def erase_freed_pages(self) -> bool:
        """The old values of rows sealed by ``seal_metadata`` are dead tuples until VACUUM reclaims
        them; VACUUM (here, of the three tables) makes their space reusable, and PostgreSQL does not
        zero it, so old values may stay in free space and in the WAL until overwritten: the database
        files are the operator's to protect (as its backups are). True once VACUUM ran."""
        with self.database.connection() as conn:  # autocommit: VACUUM cannot run in a transaction
            conn.execute("SET statement_timeout = 0")  # for this session only, until the RESET
            try:
                for table in ("versions", "uploads", "parts"):
                    conn.execute(f"VACUUM {table}")
            finally:
                conn.execute("RESET statement_timeout")
        return True


def schema_version(db: PgDatabase) -> int:
    with db.connection() as conn:
        row = conn.execute("SELECT to_regclass('schema_meta') IS NOT NULL").fetchone()
        if not row or not row[0]:
            return 0
        found = conn.execute("SELECT v FROM schema_meta WHERE k='version'").fetchone()
        return int(found[0]) if found else 0


def migrate_postgres(db: PgDatabase) -> list[int]:
    """Apply the migrations not applied yet; the numbers applied. Idempotent, and safe with several
    gateways starting at once: each migration runs in a transaction holding the migration advisory
    lock, which re-reads the schema version after taking it."""
    if schema_version(db) >= len(PG_MIGRATIONS):
        return []  # the usual start: one cheap read, no lock
    applied: list[int] = []
    with db.transaction() as tx:
        tx.execute("SET LOCAL statement_timeout = 0")  # an index on a large table may take long
        tx.execute("SELECT pg_advisory_xact_lock(?, ?)", _MIGRATION_LOCK)
        tx.execute("CREATE TABLE IF NOT EXISTS schema_meta(k TEXT PRIMARY KEY, v INTEGER NOT NULL)")
        row = tx.execute("SELECT v FROM schema_meta WHERE k='version'").fetchone()
        current = int(row[0]) if row else 0
        if current > len(PG_MIGRATIONS):
            raise RuntimeError(f"the metadata database has schema {current}, newer than this sealbox"
                               f" ({len(PG_MIGRATIONS)})")
        for number, script in enumerate(PG_MIGRATIONS, start=1):
            if number > current:
                for statement in script:
                    tx.execute(statement)
                tx.execute("INSERT INTO schema_meta(k, v) VALUES ('version', ?)"
                           " ON CONFLICT(k) DO UPDATE SET v=excluded.v", (number,))
                applied.append(number)
    return applied


"""The key service's tables on PostgreSQL (``--meta-url``): the queries of ``kms_sqlite.SqlKmsStore`` on
the metadata store's pool (``pgconn.PgDatabase``).

The change token every gateway checks before using the keys it cached is ``kms_account.changes``,
bumped inside every key-service write transaction (one indexed row read per check): a key disabled
through any gateway or ``sealbox kms … --meta-url`` is refused by the next request on every gateway.
Destroyed material (``destroy_key``) is deleted; PostgreSQL does not zero the freed space, so until
VACUUM and later writes reuse it the sealed (never clear) material may remain in the files.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sealbox.storage.meta.kms_sqlite import SqlKmsStore
from sealbox.storage.meta.pgconn import PgDatabase, Tx
from sealbox.storage.meta.sqlrows import Db


class PostgresKmsStore(SqlKmsStore):
    def __init__(self, url: str) -> None:
        """``url``: an already migrated database (PostgresMetaStore migrates it)."""
        self.database = PgDatabase.shared(url)

    def _conn(self) -> Db:
        return self.database.reader

    @contextmanager
    def _write(self) -> Iterator[Tx]:
        with self.database.transaction() as tx:
            yield tx
            tx.execute("UPDATE kms_account SET changes = changes + 1 WHERE id = 1")

    def token(self) -> bytes:
        row = self.database.reader.execute("SELECT changes FROM kms_account WHERE id = 1").fetchone()
        return int(row[0]).to_bytes(8, "big", signed=True)

    def close(self) -> None:
        self.database.close()

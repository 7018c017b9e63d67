"""The key service's tables in the metadata database (schema: storage/meta/migrations.py, migration 10;
on PostgreSQL pg_migrations.py, and kms_postgres.py for the connections).

The KMS store has its own connections to ``meta.sqlite3`` (one per thread, WAL, ``synchronous=FULL``)
and writes with ``BEGIN IMMEDIATE`` through SQLite's own locking, as the command-line tools do: key
changes are rare, and ``sealbox kms …`` writes the same way while the server runs. Every write bumps
the KMS change token after its commit (``generation.KMS``), so every worker drops what it cached.

``destroy_key`` is crypto-shredding: the connection runs with ``secure_delete`` (freed pages are
zeroed, not left in the file), and a checkpoint then truncates the write-ahead log, so the sealed
material is gone from the files as far as SQLite controls them (a checkpoint blocked by a reader
leaves the WAL to be truncated by a later one; the material in it stays sealed under the master keys).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from sealbox.kms.model import Alias, BucketKey, KeyState, KmsKey, Material
from sealbox.storage.meta.generation import KMS, ChangeTokens
from sealbox.storage.meta.sqlrows import Db

_KEY_COLS = ("key_id, owner, description, state, created, key_manager, deletion_date, pending_window_days, policy,"
             " rotation_enabled, rotation_period_days, next_rotation, material_version, tags, key_usage")


def _key(row: tuple[Any, ...]) -> KmsKey:
    return KmsKey(key_id=row[0], owner=row[1], description=row[2], state=KeyState(row[3]), created=row[4],
                  key_manager=row[5], deletion_date=row[6], pending_window_days=row[7], policy=row[8],
                  rotation_enabled=bool(row[9]), rotation_period_days=row[10], next_rotation=row[11],
                  material_version=row[12], tags=json.loads(row[13]), key_usage=row[14])


def _key_params(k: KmsKey) -> tuple[Any, ...]:
    return (k.key_id, k.owner, k.description, k.state.value, k.created, k.key_manager, k.deletion_date,
            k.pending_window_days, k.policy, int(k.rotation_enabled), k.rotation_period_days, k.next_rotation,
            k.material_version, json.dumps(k.tags, sort_keys=True), k.key_usage)


class _AliasTaken(Exception):
    """Rolls back a key whose alias another writer took first."""


class SqlKmsStore:
    """The key service's queries, shared by SQLite (``SqliteKmsStore``) and PostgreSQL
    (``kms_postgres.PostgresKmsStore``); a backend supplies ``_conn``, ``_write`` and ``token``."""

    _account: str | None = None

    def _conn(self) -> Db:
        raise NotImplementedError

    def _write(self) -> AbstractContextManager[Db]:
        raise NotImplementedError

    def token(self) -> bytes:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def _after_destroy(self) -> None:
        """Whatever makes destroyed material leave the backend's files (SQLite: truncate the WAL)."""

    def account(self) -> str:
        if self._account is None:
            row = self._conn().execute("SELECT account FROM kms_account WHERE id=1").fetchone()
            self._account = str(row[0])
        return self._account

    # -- keys ---------------------------------------------------------------------------------
    def create_key(self, key: KmsKey, material: Material, alias: str | None = None) -> bool:
        try:
            with self._write() as db:
                db.execute(f"INSERT INTO kms_keys({_KEY_COLS}) VALUES ({','.join('?' * 15)})", _key_params(key))
                self._insert_material(db, material)
                # ON CONFLICT DO NOTHING: of two writers racing for one alias (PostgreSQL runs them at
                # once), one gets it and the other's key is rolled back.
                if alias is not None and db.execute("INSERT INTO kms_aliases(name, key_id, created, updated)"
                                                    " VALUES (?,?,?,?) ON CONFLICT DO NOTHING",
                                                    (alias, key.key_id, key.created, key.created)).rowcount == 0:
                    raise _AliasTaken
        except _AliasTaken:
            return False
        return True

    @staticmethod
    def _insert_material(db: Db, m: Material) -> None:
        db.execute("INSERT INTO kms_material(ref, key_id, version, sealed, created, on_demand) VALUES (?,?,?,?,?,?)",
                   (m.ref, m.key_id, m.version, m.sealed, m.created, int(m.on_demand)))

    def get_key(self, key_id: str) -> KmsKey | None:
        row = self._conn().execute(f"SELECT {_KEY_COLS} FROM kms_keys WHERE key_id=?", (key_id,)).fetchone()
        return _key(row) if row else None

    def list_keys(self) -> list[KmsKey]:
        return [_key(r) for r in self._conn().execute(f"SELECT {_KEY_COLS} FROM kms_keys ORDER BY key_id")]

    def update_key(self, key: KmsKey) -> None:
        params = _key_params(key)
        with self._write() as db:
            db.execute("UPDATE kms_keys SET owner=?, description=?, state=?, created=?, key_manager=?,"
                       " deletion_date=?, pending_window_days=?, policy=?, rotation_enabled=?,"
                       " rotation_period_days=?, next_rotation=?, material_version=?, tags=?, key_usage=?"
                       " WHERE key_id=?", (*params[1:], params[0]))

    def add_material(self, key: KmsKey, material: Material) -> None:
        with self._write() as db:
            self._insert_material(db, material)
            db.execute("UPDATE kms_keys SET material_version=?, next_rotation=? WHERE key_id=?",
                       (key.material_version, key.next_rotation, key.key_id))

    def get_material(self, key_id: str, version: int) -> Material | None:
        row = self._conn().execute("SELECT key_id, version, sealed, created, on_demand FROM kms_material"
                                   " WHERE key_id=? AND version=?", (key_id, version)).fetchone()
        return Material(row[0], row[1], row[2], row[3], bool(row[4])) if row else None

    def list_materials(self, key_id: str) -> list[Material]:
        rows = self._conn().execute("SELECT key_id, version, sealed, created, on_demand FROM kms_material"
                                    " WHERE key_id=? ORDER BY version", (key_id,)).fetchall()
        return [Material(r[0], r[1], r[2], r[3], bool(r[4])) for r in rows]

    def destroy_key(self, key_id: str, arn: str) -> bool:
        with self._write() as db:
            gone = db.execute("DELETE FROM kms_keys WHERE key_id=?", (key_id,)).rowcount > 0
            db.execute("DELETE FROM kms_material WHERE key_id=?", (key_id,))
            db.execute("DELETE FROM kms_aliases WHERE key_id=?", (key_id,))
            db.execute("DELETE FROM kms_bucket_keys WHERE kms_key_arn=?", (arn,))
        self._after_destroy()
        return gone

    # -- aliases -------------------------------------------------------------------------------
    def get_alias(self, name: str) -> Alias | None:
        row = self._conn().execute("SELECT name, key_id, created, updated FROM kms_aliases WHERE name=?",
                                   (name,)).fetchone()
        return Alias(*row) if row else None

    def list_aliases(self) -> list[Alias]:
        return [Alias(*r) for r in self._conn().execute("SELECT name, key_id, created, updated FROM kms_aliases"
                                                        " ORDER BY name")]

    def put_alias(self, alias: Alias, create: bool) -> bool:
        with self._write() as db:
            if create:  # False if taken, also by a writer racing this one
                return db.execute("INSERT INTO kms_aliases(name, key_id, created, updated) VALUES (?,?,?,?)"
                                  " ON CONFLICT DO NOTHING",
                                  (alias.name, alias.key_id, alias.created, alias.updated)).rowcount > 0
            return db.execute("UPDATE kms_aliases SET key_id=?, updated=? WHERE name=?",
                              (alias.key_id, alias.updated, alias.name)).rowcount > 0

    def delete_alias(self, name: str) -> bool:
        with self._write() as db:
            return db.execute("DELETE FROM kms_aliases WHERE name=?", (name,)).rowcount > 0

    # -- bucket keys ---------------------------------------------------------------------------
    def put_bucket_key(self, key: BucketKey) -> None:
        with self._write() as db:
            db.execute("INSERT INTO kms_bucket_keys(id, bucket, kms_key_arn, blob, created) VALUES (?,?,?,?,?)",
                       (key.key_id, key.bucket, key.kms_key_arn, key.blob, key.created))

    def get_bucket_key(self, key_id: str) -> BucketKey | None:
        row = self._conn().execute("SELECT id, bucket, kms_key_arn, blob, created FROM kms_bucket_keys WHERE id=?",
                                   (key_id,)).fetchone()
        return BucketKey(row[0], row[1], row[2], bytes(row[3]), row[4]) if row else None

    def latest_bucket_key(self, bucket: str, kms_key_arn: str) -> BucketKey | None:
        row = self._conn().execute("SELECT id, bucket, kms_key_arn, blob, created FROM kms_bucket_keys"
                                   " WHERE bucket=? AND kms_key_arn=? ORDER BY created DESC LIMIT 1",
                                   (bucket, kms_key_arn)).fetchone()
        return BucketKey(row[0], row[1], row[2], bytes(row[3]), row[4]) if row else None


class SqliteKmsStore(SqlKmsStore):
    def __init__(self, db_path: Path) -> None:
        """``db_path`` is an already migrated metadata database (SqliteMetaStore migrates it)."""
        self._path = db_path
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[sqlite3.Connection] = []
        self._tokens = ChangeTokens(Path(f"{db_path}.tokens"))

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self._path, timeout=30.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA secure_delete=ON")  # destroyed key material is zeroed in the file
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        db = self._conn()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        self._tokens.bump(KMS)

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()

    def token(self) -> bytes:
        return self._tokens.current(KMS)

    def _after_destroy(self) -> None:
        try:
            self._conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.OperationalError:
            pass  # busy: a later checkpoint truncates it

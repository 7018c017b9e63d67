"""Buckets and what hangs off them: versioning, encryption, policy, ACL/ownership/public access
block, CORS, tags, Object Lock and lifecycle configuration; and the background jobs' small state."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sealbox.core.acl import Acl, Ownership, PublicAccessBlock, acl_from_json, acl_to_json
from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.types import Bucket, Extent, Versioning
from sealbox.storage.meta.generation import BUCKETS
from sealbox.storage.meta.sqlrows import (
    ACCESS_COLS,
    BUCKET_CACHE,
    BUCKET_COLS,
    Db,
    SqlStore,
    access_params,
    bucket_of,
    dumps,
)


class BucketsMixin(SqlStore):
    # -- buckets -------------------------------------------------------------------------------
    @contextmanager
    def _bucket_write(self) -> Iterator[Db]:
        """A write that changes a bucket row: every process's cached rows are dropped once it commits."""
        try:
            with self._write() as db:
                yield db
        finally:
            self._tokens.bump(BUCKETS)

    def create_bucket(self, bucket: Bucket) -> Bucket | None:
        with self._bucket_write() as db:
            # ON CONFLICT DO NOTHING, then read: two creators racing (PostgreSQL runs them at once) get one
            # insert and one "exists" answer, never a unique-violation error.
            inserted = db.execute("INSERT INTO buckets(name, owner, created, region, versioning, default_sse,"
                                  f" bucket_key_enabled, {ACCESS_COLS}, object_lock) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
                                  " ON CONFLICT DO NOTHING",
                                  (bucket.name, bucket.owner, bucket.created, bucket.region, bucket.versioning.value,
                                   bucket.default_sse, int(bucket.bucket_key_enabled), *access_params(bucket),
                                   int(bucket.object_lock))).rowcount
            if inserted == 0:
                row = db.execute(f"SELECT {BUCKET_COLS} FROM buckets WHERE name=?", (bucket.name,)).fetchone()
                return bucket_of(row)
        return None

    def get_bucket(self, name: str) -> Bucket | None:
        token = self._tokens.current(BUCKETS)  # before the read: a change committed after it is not missed
        cached = self._buckets.get(name)
        if cached is not None and cached[0] == token:
            return cached[1]
        row = self._conn().execute(f"SELECT {BUCKET_COLS} FROM buckets WHERE name=?", (name,)).fetchone()
        bucket = bucket_of(row) if row else None
        if len(self._buckets) >= BUCKET_CACHE:
            self._buckets.clear()
        self._buckets[name] = (token, bucket)
        return bucket

    def list_buckets(self) -> list[Bucket]:
        rows = self._conn().execute(f"SELECT {BUCKET_COLS} FROM buckets ORDER BY name").fetchall()
        return [bucket_of(r) for r in rows]

    def delete_bucket(self, name: str) -> list[Extent] | None:
        with self._bucket_write() as db:
            # FOR UPDATE (PostgreSQL): waits for writers holding the row FOR SHARE (a PUT in flight)
            row = db.execute(f"SELECT versioning FROM buckets WHERE name=?{self._UPDATE}", (name,)).fetchone()
            if not row:
                return None
            if db.execute("SELECT 1 FROM versions WHERE bucket=? LIMIT 1", (name,)).fetchone():
                message = "The bucket you tried to delete is not empty"
                if row[0]:  # AWS adds this once the bucket has had versioning
                    message += ". You must delete all versions in the bucket."
                raise SealboxError(ErrorCode.BUCKET_NOT_EMPTY, message, BucketName=name)
            # Unfinished multipart uploads do not keep a bucket (AWS deletes them with it).
            parts = db.execute("SELECT p.blob_id, p.size FROM parts p JOIN uploads u ON u.upload_id = p.upload_id"
                               " WHERE u.bucket=?", (name,)).fetchall()
            db.execute("DELETE FROM parts WHERE upload_id IN (SELECT upload_id FROM uploads WHERE bucket=?)", (name,))
            db.execute("DELETE FROM object_acls WHERE object_uid IN (SELECT object_uid FROM uploads WHERE bucket=?)",
                       (name,))
            db.execute("DELETE FROM uploads WHERE bucket=?", (name,))
            db.execute("DELETE FROM buckets WHERE name=?", (name,))
        return [Extent(blob_id, size) for blob_id, size in parts]

    def _update_bucket(self, name: str, sql: str, params: tuple[Any, ...]) -> None:
        with self._bucket_write() as db:
            if db.execute(sql, params + (name,)).rowcount == 0:
                raise SealboxError(ErrorCode.NO_SUCH_BUCKET, "The specified bucket does not exist",
                                   BucketName=name)

    def set_bucket_versioning(self, name: str, state: Versioning) -> None:
        # A bucket with Object Lock keeps versioning Enabled: checked in the same statement.
        with self._bucket_write() as db:
            row = db.execute(f"SELECT object_lock FROM buckets WHERE name=?{self._UPDATE}", (name,)).fetchone()
            if row is None:
                raise SealboxError(ErrorCode.NO_SUCH_BUCKET, "The specified bucket does not exist",
                                   BucketName=name)
            if row[0] and state is not Versioning.ENABLED:
                raise SealboxError(ErrorCode.INVALID_BUCKET_STATE, "An Object Lock configuration is present on"
                                   " this bucket, so the versioning state cannot be changed.", BucketName=name)
            db.execute("UPDATE buckets SET versioning=? WHERE name=?", (state.value, name))

    def set_bucket_encryption(self, name: str, sse: str | None, bucket_key_enabled: bool,
                              kms_key_id: str | None = None) -> None:
        self._update_bucket(name, "UPDATE buckets SET default_sse=?, bucket_key_enabled=?, default_kms_key=?"
                            " WHERE name=?", (sse, int(bucket_key_enabled), kms_key_id))

    def get_bucket_policy(self, name: str) -> str | None:
        row = self._conn().execute("SELECT policy FROM buckets WHERE name=?", (name,)).fetchone()
        return row[0] if row else None

    def set_bucket_policy(self, name: str, policy: str | None) -> None:
        self._update_bucket(name, "UPDATE buckets SET policy=? WHERE name=?", (policy,))

    def get_bucket_cors(self, name: str) -> str | None:
        # Asked on every request with an Origin header: kept until any bucket changes, like bucket rows.
        token = self._tokens.current(BUCKETS)
        cached = self._cors.get(name)
        if cached is not None and cached[0] == token:
            return cached[1]
        row = self._conn().execute("SELECT config FROM bucket_cors WHERE bucket=?", (name,)).fetchone()
        text: str | None = row[0] if row else None
        if len(self._cors) >= BUCKET_CACHE:
            self._cors.clear()
        self._cors[name] = (token, text)
        return text

    def set_bucket_cors(self, name: str, config: str | None) -> None:
        with self._bucket_write() as db:
            if not db.execute(f"SELECT 1 FROM buckets WHERE name=?{self._SHARE}", (name,)).fetchone():
                raise SealboxError(ErrorCode.NO_SUCH_BUCKET, "The specified bucket does not exist",
                                   BucketName=name)
            if config is None:
                db.execute("DELETE FROM bucket_cors WHERE bucket=?", (name,))
            else:
                db.execute("INSERT INTO bucket_cors(bucket, config) VALUES (?,?)"
                           " ON CONFLICT(bucket) DO UPDATE SET config=excluded.config", (name, config))

    def get_bucket_tags(self, name: str) -> dict[str, str] | None:
        row = self._conn().execute("SELECT tags FROM buckets WHERE name=?", (name,)).fetchone()
        return dict(json.loads(row[0])) if row and row[0] is not None else None

    def set_bucket_tags(self, name: str, tags: dict[str, str] | None) -> None:
        self._update_bucket(name, "UPDATE buckets SET tags=? WHERE name=?", (None if tags is None else dumps(tags),))

    def set_bucket_acl(self, name: str, acl: Acl | None) -> None:
        self._update_bucket(name, "UPDATE buckets SET acl=? WHERE name=?", (acl_to_json(acl) if acl else None,))

    def set_bucket_ownership(self, name: str, ownership: Ownership | None) -> None:
        self._update_bucket(name, "UPDATE buckets SET ownership=? WHERE name=?",
                            (ownership.value if ownership else None,))

    def set_public_access_block(self, name: str, block: PublicAccessBlock | None) -> None:
        self._update_bucket(name, "UPDATE buckets SET public_access_block=? WHERE name=?",
                            (block.to_json() if block else None,))

    def get_object_acl(self, object_uid: bytes) -> Acl | None:
        row = self._conn().execute("SELECT acl FROM object_acls WHERE object_uid=?", (object_uid,)).fetchone()
        return acl_from_json(row[0]) if row else None

    def set_object_acl(self, object_uid: bytes, acl: Acl | None) -> None:
        with self._write() as db:
            if acl is None:
                db.execute("DELETE FROM object_acls WHERE object_uid=?", (object_uid,))
            else:
                db.execute("INSERT INTO object_acls(object_uid, acl) VALUES (?,?)"
                           " ON CONFLICT(object_uid) DO UPDATE SET acl=excluded.acl", (object_uid, acl_to_json(acl)))

    def set_bucket_object_lock(self, name: str, default: str | None) -> None:
        # Enabling is for good (AWS: it cannot be disabled), and it needs versioning on: one statement
        # checks both, so a concurrent "suspend versioning" cannot slip between them.
        with self._bucket_write() as db:
            versioning = self._versioning_in_tx(db, name, self._UPDATE)
            if versioning is not Versioning.ENABLED:
                raise SealboxError(ErrorCode.INVALID_BUCKET_STATE, "Versioning must be 'Enabled' on the bucket"
                                   " to apply a Object Lock configuration", BucketName=name)
            db.execute("UPDATE buckets SET object_lock=1, lock_default=? WHERE name=?", (default, name))

    def set_bucket_lifecycle(self, name: str, rules: str | None) -> None:
        self._update_bucket(name, "UPDATE buckets SET lifecycle=? WHERE name=?", (rules,))

    def get_state(self, key: str) -> str | None:
        row = self._conn().execute("SELECT v FROM lifecycle_state WHERE k=?", (key,)).fetchone()
        return row[0] if row else None

    def set_state(self, key: str, value: str | None) -> None:
        with self._write() as db:
            if value is None:
                db.execute("DELETE FROM lifecycle_state WHERE k=?", (key,))
            else:
                db.execute("INSERT INTO lifecycle_state(k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v=excluded.v",
                           (key, value))

"""SQLite metadata store: the embedded default.

WAL mode lets readers in every worker process run while one writer commits; ``synchronous=FULL``
makes every acknowledged commit durable. One connection per thread (sqlite3 connections must not
be shared between threads mid-transaction). Writes use ``BEGIN IMMEDIATE`` so that the
read-check-write of a conditional PUT or a delete is atomic across processes.
"""

from __future__ import annotations

import dataclasses
import fcntl
import functools
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from sealbox.core.acl import Acl, Ownership, PublicAccessBlock, acl_from_json, acl_to_json
from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.preconditions import DeleteCondition, WriteCondition, check_delete, check_write
from sealbox.core.object_lock import check_deletable
from sealbox.core.types import (
    NO_LOCK,
    NULL_VERSION,
    Bucket,
    Extent,
    ListPage,
    ObjectLock,
    ObjectMetadata,
    ObjectVersion,
    Versioning,
)
from sealbox.crypto import kms_format
from sealbox.storage.meta.base import (
    ClearMetadataRow,
    CompletedUpload,
    Credential,
    DeleteResult,
    MetadataCipher,
    MetadataOwner,
    Part,
    SealedRow,
    Upload,
    User,
    WriteResult,
    MetadataUnavailable,
)
from sealbox.storage.meta.generation import BUCKETS, COMMITS, ChangeTokens
from sealbox.storage.meta.listing import BATCH, Row, paginate
from sealbox.storage.meta.migrations import MIGRATIONS

_VERSION_COLS = (
    "bucket, key, version_id, object_uid, size, etag, last_modified, owner, is_delete_marker, "
    "content_headers, user_meta, checksums, checksum_type, sse, sealed_key, extents, part_count, "
    "storage_class, is_latest, id, sealed_meta, lock_mode, lock_until, legal_hold, tags, part_checksums"
)
_VERSION_INSERT = (
    "INSERT INTO versions(bucket, key, version_id, object_uid, size, etag, last_modified, owner, is_delete_marker,"
    " content_headers, user_meta, checksums, checksum_type, sse, sealed_key, extents, part_count, storage_class,"
    " sealed_meta, lock_mode, lock_until, legal_hold, tags, part_checksums, is_latest)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,1)"
)
_UPLOAD_COLS = ("upload_id, bucket, key, object_uid, initiated, owner, content_headers, user_meta, sse, sealed_key,"
                " checksum_algorithm, checksum_type, storage_class, sealed_meta, lock_mode, lock_until, legal_hold,"
                " tags, base_seq")
_UPLOAD_WIDTH = 19  # columns in _UPLOAD_COLS
_BUCKET_COLS = ("name, owner, created, region, versioning, default_sse, bucket_key_enabled, policy, acl, ownership,"
                " public_access_block, object_lock, lock_default, lifecycle, default_kms_key")
_CLEAR = ObjectMetadata()  # what the clear columns of a sealed row hold
_BATCH = BATCH
_BUCKET_CACHE = 4096  # bucket names (existing or not) remembered per process before starting over
_VERSION_MEMO = 16384  # object lookups remembered per process between two commits
_COMPLETED_KEPT = 86400.0  # seconds a completion is remembered for a repeated CompleteMultipartUpload
_MISSING = object()


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _extent_item(e: Extent) -> list[str | int]:
    """[blob id, size], then the extent index if not 0, then 1 if the bytes are inline."""
    if e.inline:
        return [e.blob_id, e.size, e.index, 1]
    return [e.blob_id, e.size, e.index] if e.index else [e.blob_id, e.size]


def _extents_json(extents: tuple[Extent, ...] | list[Extent]) -> str:
    return _dumps([_extent_item(e) for e in extents])


@functools.lru_cache(maxsize=16384)
def _extents(text: str) -> tuple[Extent, ...]:
    """Decoded once per hot object: the text names blob ids, so equal text means equal (immutable) extents."""
    return tuple(Extent(item[0], item[1], item[2] if len(item) > 2 else 0, len(item) > 3 and bool(item[3]))
                 for item in json.loads(text))


def _release(db: sqlite3.Connection, extents: Iterable[Extent]) -> list[Extent]:
    """Drop the inline bytes of extents no version references any more, in the caller's transaction;
    the rest are blob files, which the caller deletes once the transaction has committed."""
    files: list[Extent] = []
    for extent in extents:
        if extent.inline:
            db.execute("DELETE FROM inline_blobs WHERE blob_id=?", (extent.blob_id,))
        else:
            files.append(extent)
    return files


def _object(text: str) -> dict[str, str]:
    """A JSON object column; most rows hold "{}", which needs no parser (rows are decoded per GET)."""
    return {} if text == "{}" else dict(json.loads(text))


def _strings(text: str) -> tuple[str, ...]:
    """A JSON array column of strings; most rows hold "[]"."""
    return () if text == "[]" else tuple(json.loads(text))


Stored = tuple[ObjectMetadata, bytes | None]  # (what a row's clear columns hold, its sealed metadata blob)


def _version_params(v: ObjectVersion, version_id: str, stored: Stored) -> tuple[Any, ...]:
    clear, blob = stored
    return (
        v.bucket, v.key, version_id, v.object_uid, v.size, clear.etag, v.last_modified, v.owner,
        int(v.is_delete_marker), _dumps(clear.content_headers), _dumps(clear.user_meta), _dumps(clear.checksums),
        v.checksum_type, v.sse, v.sealed_key, _extents_json(v.extents), v.part_count, v.storage_class, blob,
        v.lock.mode, v.lock.retain_until, int(v.lock.legal_hold), _dumps(clear.tags), _dumps(list(clear.part_checksums)),
    )


def _lock(mode: str | None, until: float | None, hold: int | None) -> ObjectLock:
    return ObjectLock(mode, until, bool(hold)) if mode or hold else NO_LOCK


def _version_owner(v: ObjectVersion) -> MetadataOwner | None:
    """Whose data key seals this version's metadata; None for a plain version or a delete marker."""
    return MetadataOwner("version", v.bucket, v.key, v.object_uid, v.sealed_key or "") if v.sse else None


def _upload_owner(u: Upload) -> MetadataOwner | None:
    return MetadataOwner("upload", u.bucket, u.key, u.object_uid, u.sealed_key or "") if u.sse else None


_ACCESS_COLS = "acl, ownership, public_access_block"


def _bucket(row: tuple[Any, ...]) -> Bucket:
    return Bucket(name=row[0], owner=row[1], created=row[2], region=row[3], versioning=Versioning(row[4]),
                  default_sse=row[5], bucket_key_enabled=bool(row[6]), policy=row[7],
                  acl=acl_from_json(row[8]) if row[8] else None,
                  ownership=Ownership(row[9]) if row[9] else None,
                  public_access_block=PublicAccessBlock.from_json(row[10]) if row[10] else None,
                  object_lock=bool(row[11]), lock_default=row[12], lifecycle=row[13],
                  default_kms_key_id=row[14])


def _access_params(b: Bucket) -> tuple[Any, ...]:
    return (acl_to_json(b.acl) if b.acl else None, b.ownership.value if b.ownership else None,
            b.public_access_block.to_json() if b.public_access_block else None)


class SqliteMetaStore:
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
        # Rows read per request, kept until any process changes them (see generation.py).
        self._tokens = ChangeTokens(Path(f"{path}.tokens"))
        self._buckets: dict[str, tuple[bytes, Bucket | None]] = {}
        self._cors: dict[str, tuple[bytes, str | None]] = {}  # CORS texts, kept like bucket rows
        # (the COMMITS token it was started under, lookups): replaced whole, so the two always agree
        self._versions: tuple[bytes, dict[tuple[str, str, str | None], ObjectVersion | None]] = (b"", {})
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

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()

    # -- sealed metadata ------------------------------------------------------------------------
    def _seal(self, owner: MetadataOwner | None, fields: ObjectMetadata, still_sealed: bytes | None) -> Stored:
        """What a row stores: plain rows keep their fields in the clear, SSE rows only a sealed blob."""
        if owner is None:
            return fields, None
        # An SSE-KMS row's ETag is a keyed digest, not the MD5 (crypto.kms_format.kms_etag): it stays in the
        # clear column too, so listings need no key (the row's other values are sealed like any SSE row's).
        clear = ObjectMetadata(etag=fields.etag) if kms_format.is_record(owner.sealed_key) else _CLEAR
        if still_sealed is not None:  # read from a store without keys and written back unopened
            return clear, still_sealed
        if self._cipher is None:
            raise RuntimeError("the metadata of an encrypted object cannot be written without the keys"
                               " (this metadata store was opened without a metadata cipher)")
        return clear, self._cipher.seal(owner, fields)

    def _open(self, owner: MetadataOwner, blob: bytes, clear_etag: str = "") -> Stored:
        """(the fields, None) opened, or (empty fields but the clear ETag, the blob) for a store without
        keys or a key refused now (``MetadataUnavailable``)."""
        if self._cipher is not None:
            try:
                return self._cipher.open(owner, bytes(blob)), None
            except MetadataUnavailable:
                pass
        return ObjectMetadata(etag=clear_etag) if clear_etag else _CLEAR, bytes(blob)

    def _version(self, row: tuple[Any, ...]) -> ObjectVersion:
        if row[20] is None:  # a plain version (or an SSE one written before schema 4, not sealed yet)
            fields, blob = ObjectMetadata(row[5], _object(row[11]), _object(row[10]), _object(row[9]),
                                          _object(row[24]), _strings(row[25])), None
        else:
            fields, blob = self._open(MetadataOwner("version", row[0], row[1], row[3], row[14] or ""), row[20],
                                      row[5])
        return ObjectVersion(
            bucket=row[0], key=row[1], version_id=row[2], object_uid=row[3], size=row[4], etag=fields.etag,
            last_modified=row[6], owner=row[7], is_delete_marker=bool(row[8]),
            content_headers=fields.content_headers, user_meta=fields.user_meta, checksums=fields.checksums,
            checksum_type=row[12], sse=row[13], sealed_key=row[14], extents=_extents(row[15]),
            part_count=row[16], storage_class=row[17], is_latest=bool(row[18]), seq=row[19], sealed_meta=blob,
            lock=_lock(row[21], row[22], row[23]), tags=fields.tags, part_checksums=fields.part_checksums,
        )

    def _stored_version(self, v: ObjectVersion) -> Stored:
        return self._seal(_version_owner(v), v.metadata, v.sealed_meta)

    def _upload(self, row: tuple[Any, ...]) -> Upload:
        if row[13] is None:
            fields, blob = ObjectMetadata(user_meta=json.loads(row[7]), content_headers=json.loads(row[6]),
                                          tags=_object(row[17])), None
        else:
            fields, blob = self._open(MetadataOwner("upload", row[1], row[2], row[3], row[9] or ""), row[13])
        return Upload(upload_id=row[0], bucket=row[1], key=row[2], object_uid=row[3], initiated=row[4],
                      owner=row[5], content_headers=fields.content_headers, user_meta=fields.user_meta,
                      sse=row[8], sealed_key=row[9], checksum_algorithm=row[10], checksum_type=row[11],
                      storage_class=row[12], sealed_meta=blob, lock=_lock(row[14], row[15], row[16]),
                      tags=fields.tags, base_seq=row[18])

    def _part(self, row: tuple[Any, ...], upload: tuple[str, str, bytes, str | None]) -> Part:
        """A parts row (part_number, blob_id, size, etag, checksums, last_modified, sealed_meta) of the
        upload (bucket, key, object_uid, sealed_key)."""
        if row[6] is None:
            fields, blob = ObjectMetadata(row[3], json.loads(row[4])), None
        else:
            bucket, key, uid, sealed_key = upload
            fields, blob = self._open(MetadataOwner("part", bucket, key, uid, sealed_key or "", row[0]), row[6],
                                      row[3])
        return Part(row[0], Extent(row[1], row[2]), fields.etag, fields.checksums, row[5], sealed_meta=blob)

    # -- buckets -------------------------------------------------------------------------------
    @contextmanager
    def _bucket_write(self) -> Iterator[sqlite3.Connection]:
        """A write that changes a bucket row: every process's cached rows are dropped once it commits."""
        try:
            with self._write() as db:
                yield db
        finally:
            self._tokens.bump(BUCKETS)

    def create_bucket(self, bucket: Bucket) -> Bucket | None:
        with self._bucket_write() as db:
            row = db.execute(f"SELECT {_BUCKET_COLS} FROM buckets WHERE name=?", (bucket.name,)).fetchone()
            if row:
                return _bucket(row)
            db.execute("INSERT INTO buckets(name, owner, created, region, versioning, default_sse,"
                       f" bucket_key_enabled, {_ACCESS_COLS}, object_lock) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                       (bucket.name, bucket.owner, bucket.created, bucket.region, bucket.versioning.value,
                        bucket.default_sse, int(bucket.bucket_key_enabled), *_access_params(bucket),
                        int(bucket.object_lock)))
        return None

    def get_bucket(self, name: str) -> Bucket | None:
        token = self._tokens.current(BUCKETS)  # before the read: a change committed after it is not missed
        cached = self._buckets.get(name)
        if cached is not None and cached[0] == token:
            return cached[1]
        row = self._conn().execute(f"SELECT {_BUCKET_COLS} FROM buckets WHERE name=?", (name,)).fetchone()
        bucket = _bucket(row) if row else None
        if len(self._buckets) >= _BUCKET_CACHE:
            self._buckets.clear()
        self._buckets[name] = (token, bucket)
        return bucket

    def list_buckets(self) -> list[Bucket]:
        rows = self._conn().execute(f"SELECT {_BUCKET_COLS} FROM buckets ORDER BY name").fetchall()
        return [_bucket(r) for r in rows]

    def delete_bucket(self, name: str) -> list[Extent] | None:
        with self._bucket_write() as db:
            row = db.execute("SELECT versioning FROM buckets WHERE name=?", (name,)).fetchone()
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
            row = db.execute("SELECT object_lock FROM buckets WHERE name=?", (name,)).fetchone()
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
        if len(self._cors) >= _BUCKET_CACHE:
            self._cors.clear()
        self._cors[name] = (token, text)
        return text

    def set_bucket_cors(self, name: str, config: str | None) -> None:
        with self._bucket_write() as db:
            if not db.execute("SELECT 1 FROM buckets WHERE name=?", (name,)).fetchone():
                raise SealboxError(ErrorCode.NO_SUCH_BUCKET, "The specified bucket does not exist",
                                   BucketName=name)
            if config is None:
                db.execute("DELETE FROM bucket_cors WHERE bucket=?", (name,))
            else:
                db.execute("INSERT OR REPLACE INTO bucket_cors(bucket, config) VALUES (?,?)", (name, config))

    def get_bucket_tags(self, name: str) -> dict[str, str] | None:
        row = self._conn().execute("SELECT tags FROM buckets WHERE name=?", (name,)).fetchone()
        return dict(json.loads(row[0])) if row and row[0] is not None else None

    def set_bucket_tags(self, name: str, tags: dict[str, str] | None) -> None:
        self._update_bucket(name, "UPDATE buckets SET tags=? WHERE name=?", (None if tags is None else _dumps(tags),))

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
                db.execute("INSERT OR REPLACE INTO object_acls(object_uid, acl) VALUES (?,?)",
                           (object_uid, acl_to_json(acl)))

    def set_bucket_object_lock(self, name: str, default: str | None) -> None:
        # Enabling is for good (AWS: it cannot be disabled), and it needs versioning on: one statement
        # checks both, so a concurrent "suspend versioning" cannot slip between them.
        with self._bucket_write() as db:
            versioning = self._versioning_in_tx(db, name)
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
                db.execute("INSERT OR REPLACE INTO lifecycle_state(k, v) VALUES (?, ?)", (key, value))

    # -- objects -------------------------------------------------------------------------------
    def get_version(self, bucket: str, key: str, version_id: str | None = None, *,
                    fresh: bool = False) -> ObjectVersion | None:
        """The version a read names. Lookups are remembered until the next commit by any process (the
        COMMITS token, see generation.py): a read-mostly workload skips the query and the row decoding,
        and any commit anywhere empties the memo before the next lookup can use it. Between a commit
        and its token the memo may be stale: ``fresh`` reads the row (and replaces the memo's)."""
        token = self._tokens.current(COMMITS)  # before the read, as in get_bucket
        seen, memo = self._versions
        if seen != token:
            memo = {}
            self._versions = (token, memo)
        found = memo.get((bucket, key, version_id), _MISSING) if not fresh else _MISSING
        if found is not _MISSING:
            return found  # type: ignore[return-value]
        version = self._read_version(self._conn(), bucket, key, version_id)
        if len(memo) < _VERSION_MEMO or (fresh and (bucket, key, version_id) in memo):
            memo[(bucket, key, version_id)] = version
        return version

    def _read_version(self, db: sqlite3.Connection, bucket: str, key: str, version_id: str | None) -> ObjectVersion | None:
        if version_id is None:
            row = db.execute(f"SELECT {_VERSION_COLS} FROM versions WHERE bucket=? AND key=? AND is_latest=1",
                             (bucket, key)).fetchone()
        else:
            row = db.execute(f"SELECT {_VERSION_COLS} FROM versions WHERE bucket=? AND key=? AND version_id=?",
                             (bucket, key, version_id)).fetchone()
        return self._version(row) if row else None

    def _versioning_in_tx(self, db: sqlite3.Connection, bucket: str) -> Versioning:
        row = db.execute("SELECT versioning FROM buckets WHERE name=?", (bucket,)).fetchone()
        if row is None:
            raise SealboxError(ErrorCode.NO_SUCH_BUCKET, "The specified bucket does not exist", BucketName=bucket)
        return Versioning(row[0])

    def _latest_in_tx(self, db: sqlite3.Connection, bucket: str, key: str) -> ObjectVersion | None:
        row = db.execute(f"SELECT {_VERSION_COLS} FROM versions WHERE bucket=? AND key=? AND is_latest=1",
                         (bucket, key)).fetchone()
        return self._version(row) if row else None

    def _insert_latest(self, db: sqlite3.Connection, v: ObjectVersion, version_id: str,
                       stored: Stored) -> list[Extent]:
        """Insert ``v`` as the latest version; in non-Enabled modes it replaces the null version."""
        orphaned: list[Extent] = []
        if version_id == NULL_VERSION:
            old = db.execute("SELECT extents, lock_mode, lock_until, legal_hold FROM versions WHERE bucket=? AND"
                             " key=? AND version_id=?", (v.bucket, v.key, NULL_VERSION)).fetchone()
            if old:
                # Replacing the null version removes it: Object Lock applies (no bypass on a write).
                check_deletable(_lock(old[1], old[2], old[3]), time.time(), False)
                orphaned.extend(_release(db, _extents(old[0])))
                db.execute("DELETE FROM versions WHERE bucket=? AND key=? AND version_id=?",
                           (v.bucket, v.key, NULL_VERSION))
        db.execute("UPDATE versions SET is_latest=0 WHERE bucket=? AND key=? AND is_latest=1", (v.bucket, v.key))
        db.execute(_VERSION_INSERT, _version_params(v, version_id, stored))
        return orphaned

    def put_version(self, version: ObjectVersion, condition: WriteCondition | None = None,
                    inline_data: bytes | None = None) -> WriteResult:
        stored = self._stored_version(version)  # sealed before the write lock is taken
        with self._write() as db:
            versioning = self._versioning_in_tx(db, version.bucket)
            if condition is not None and condition.active:
                # The current version's ETag is opened inside the transaction (it may be sealed), so the
                # comparison and the write stay atomic.
                check_write(condition, self._latest_in_tx(db, version.bucket, version.key), version.key)
            vid = version.version_id if versioning is Versioning.ENABLED else NULL_VERSION
            orphaned = self._insert_latest(db, version, vid, stored)
            if inline_data is not None:
                (extent,) = version.extents
                assert extent.inline, "inline bytes for an extent stored as a file"
                db.execute("INSERT INTO inline_blobs(blob_id, data) VALUES (?, ?)", (extent.blob_id, inline_data))
        return WriteResult(vid, orphaned)

    def update_lock(self, bucket: str, key: str, version_id: str | None,
                    update: Callable[[ObjectVersion], ObjectLock]) -> ObjectVersion | None:
        """Set a version's Object Lock state to ``update(version)`` (which raises to refuse), in one
        transaction with reading it. None if there is no such version."""
        with self._write() as db:
            version = self._read_version(db, bucket, key, version_id)
            if version is None:
                return None
            lock = update(version)
            db.execute("UPDATE versions SET lock_mode=?, lock_until=?, legal_hold=? WHERE id=?",
                       (lock.mode, lock.retain_until, int(lock.legal_hold), version.seq))
        return dataclasses.replace(version, lock=lock)

    def set_object_tags(self, bucket: str, key: str, version_id: str | None,
                        tags: dict[str, str]) -> ObjectVersion | None:
        with self._write() as db:
            found = self._read_version(db, bucket, key, version_id)
            if found is None or found.is_delete_marker:
                return found
            tagged = dataclasses.replace(found, tags=dict(tags))
            # An SSE version's tags are sealed with its other metadata: seal the row again (here, in the
            # transaction that read it, so a concurrent change of the row cannot be lost).
            clear, blob = self._seal(_version_owner(tagged), tagged.metadata, None)
            db.execute("UPDATE versions SET tags=?, sealed_meta=? WHERE id=?", (_dumps(clear.tags), blob, found.seq))
        return tagged

    def read_inline(self, blob_id: str) -> bytes | None:
        row = self._conn().execute("SELECT data FROM inline_blobs WHERE blob_id=?", (blob_id,)).fetchone()
        return row[0] if row else None

    def delete(self, bucket: str, key: str, version_id: str | None, marker: ObjectVersion, *,
               bypass_governance: bool = False, only_if_latest: str | None = None,
               condition: DeleteCondition | None = None) -> DeleteResult:
        with self._write() as db:
            versioning = self._versioning_in_tx(db, bucket)
            if only_if_latest is not None:
                latest = db.execute("SELECT version_id FROM versions WHERE bucket=? AND key=? AND is_latest=1",
                                    (bucket, key)).fetchone()
                if latest is None or latest[0] != only_if_latest:
                    return DeleteResult(None, False, [])
            if condition is not None and condition.active:
                current = self._latest_in_tx(db, bucket, key)
                target = current if version_id is None else self._read_version(db, bucket, key, version_id)
                check_delete(condition, current, target, key)
            if version_id is not None:
                return self._delete_version(db, bucket, key, version_id, bypass_governance)
            if versioning is Versioning.UNVERSIONED:
                result = self._delete_version(db, bucket, key, NULL_VERSION, bypass_governance)
                return DeleteResult(None, False, result.orphaned)
            vid = marker.version_id if versioning is Versioning.ENABLED else NULL_VERSION
            orphaned = self._insert_latest(db, marker, vid, (marker.metadata, None))
            return DeleteResult(vid, True, orphaned)

    def _delete_version(self, db: sqlite3.Connection, bucket: str, key: str, version_id: str,
                        bypass_governance: bool) -> DeleteResult:
        row = db.execute("SELECT id, extents, is_latest, is_delete_marker, lock_mode, lock_until, legal_hold"
                         " FROM versions WHERE bucket=? AND key=? AND version_id=?",
                         (bucket, key, version_id)).fetchone()
        if row is None:
            return DeleteResult(version_id, False, [])
        # Object Lock, read from the row this transaction deletes (see core/object_lock.py).
        check_deletable(_lock(row[4], row[5], row[6]), time.time(), bypass_governance)
        db.execute("DELETE FROM versions WHERE id=?", (row[0],))
        if row[2]:
            db.execute("UPDATE versions SET is_latest=1 WHERE id=(SELECT MAX(id) FROM versions"
                       " WHERE bucket=? AND key=?)", (bucket, key))
        return DeleteResult(version_id, bool(row[3]), _release(db, _extents(row[1])))

    def list_objects(self, bucket: str, prefix: str, delimiter: str, after: str, max_keys: int) -> ListPage:
        db = self._conn()

        def fetch(lower: str, inclusive: bool, _lower_id: int | None) -> list[Row]:
            op = ">=" if inclusive else ">"
            rows = db.execute(f"SELECT {_VERSION_COLS} FROM versions WHERE bucket=? AND is_latest=1"
                              f" AND key {op} ? ORDER BY key LIMIT {_BATCH}", (bucket, lower)).fetchall()
            return [Row(r[1], r[19], r) for r in rows]

        page = paginate(fetch, prefix, delimiter, after, None, max_keys, skip_delete_markers=True,
                        is_delete_marker=lambda r: bool(r[8]))
        return ListPage([self._version(r) for r in page.rows], page.common_prefixes, page.is_truncated,
                        page.next_key, None)

    def list_versions(self, bucket: str, prefix: str, delimiter: str, key_marker: str,
                      version_id_marker: str, max_keys: int) -> ListPage:
        db = self._conn()
        marker_id: int | None = None
        if key_marker and version_id_marker:
            found = db.execute("SELECT id FROM versions WHERE bucket=? AND key=? AND version_id=?",
                               (bucket, key_marker, version_id_marker)).fetchone()
            marker_id = found[0] if found else None

        def fetch(lower: str, inclusive: bool, lower_id: int | None) -> list[Row]:
            if lower_id is not None:
                sql = (f"SELECT {_VERSION_COLS} FROM versions WHERE bucket=? AND (key > ? OR (key = ? AND id < ?))"
                       f" ORDER BY key, id DESC LIMIT {_BATCH}")
                params: tuple[Any, ...] = (bucket, lower, lower, lower_id)
            else:
                op = ">=" if inclusive else ">"
                sql = (f"SELECT {_VERSION_COLS} FROM versions WHERE bucket=? AND key {op} ?"
                       f" ORDER BY key, id DESC LIMIT {_BATCH}")
                params = (bucket, lower)
            return [Row(r[1], r[19], r) for r in db.execute(sql, params).fetchall()]

        page = paginate(fetch, prefix, delimiter, key_marker, marker_id, max_keys, skip_delete_markers=False,
                        is_delete_marker=lambda r: bool(r[8]))
        versions = [self._version(r) for r in page.rows]
        next_vid = versions[-1].version_id if page.is_truncated and versions and \
            page.next_key == versions[-1].key else None
        return ListPage(versions, page.common_prefixes, page.is_truncated, page.next_key, next_vid)

    def referenced_blob_ids(self) -> set[str]:
        db = self._conn()
        ids: set[str] = set()
        # One read transaction = one snapshot: a CompleteMultipartUpload committing between the two
        # SELECTs would otherwise move a blob from parts to versions unseen, and gc would delete it.
        db.execute("BEGIN")
        try:
            for (text,) in db.execute("SELECT extents FROM versions"):
                ids.update(e.blob_id for e in _extents(text))
            for (blob_id,) in db.execute("SELECT blob_id FROM parts"):
                ids.add(blob_id)
        finally:
            db.execute("COMMIT")
        return ids

    # -- multipart ----------------------------------------------------------------------------
    def create_upload(self, upload: Upload) -> None:
        clear, blob = self._seal(_upload_owner(upload), ObjectMetadata(user_meta=upload.user_meta,
                                 content_headers=upload.content_headers, tags=upload.tags), upload.sealed_meta)
        with self._write() as db:
            self._versioning_in_tx(db, upload.bucket)
            # base_seq: the key's current object now, in this transaction (a conditional Complete checks it).
            db.execute(f"INSERT INTO uploads({_UPLOAD_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,"
                       "(SELECT id FROM versions WHERE bucket=? AND key=? AND is_latest=1 AND is_delete_marker=0))",
                       (upload.upload_id, upload.bucket, upload.key, upload.object_uid, upload.initiated,
                        upload.owner, _dumps(clear.content_headers), _dumps(clear.user_meta), upload.sse,
                        upload.sealed_key, upload.checksum_algorithm, upload.checksum_type, upload.storage_class,
                        blob, upload.lock.mode, upload.lock.retain_until, int(upload.lock.legal_hold),
                        _dumps(clear.tags), upload.bucket, upload.key))

    def get_upload(self, upload_id: str) -> Upload | None:
        row = self._conn().execute(f"SELECT {_UPLOAD_COLS} FROM uploads WHERE upload_id=?", (upload_id,)).fetchone()
        return self._upload(row) if row else None

    def put_part(self, upload_id: str, part: Part) -> list[Extent]:
        # The upload's identity and data key never change: read them (to seal the part) before the write.
        up = self._conn().execute("SELECT bucket, key, object_uid, sse, sealed_key FROM uploads WHERE upload_id=?",
                                  (upload_id,)).fetchone()
        if up is None:
            raise _no_such_upload(upload_id)
        owner = MetadataOwner("part", up[0], up[1], up[2], up[4] or "", part.part_number) if up[3] else None
        clear, blob = self._seal(owner, ObjectMetadata(part.etag, part.checksums), part.sealed_meta)
        with self._write() as db:
            if not db.execute("SELECT 1 FROM uploads WHERE upload_id=?", (upload_id,)).fetchone():
                raise _no_such_upload(upload_id)
            old = db.execute("SELECT blob_id, size FROM parts WHERE upload_id=? AND part_number=?",
                             (upload_id, part.part_number)).fetchone()
            db.execute("INSERT OR REPLACE INTO parts(upload_id, part_number, blob_id, size, etag, checksums,"
                       " last_modified, sealed_meta) VALUES (?,?,?,?,?,?,?,?)",
                       (upload_id, part.part_number, part.extent.blob_id, part.extent.size, clear.etag,
                        _dumps(clear.checksums), part.last_modified, blob))
        return [Extent(old[0], old[1])] if old else []

    def list_parts(self, upload_id: str) -> list[Part]:
        rows = self._conn().execute(
            "SELECT p.part_number, p.blob_id, p.size, p.etag, p.checksums, p.last_modified, p.sealed_meta,"
            " u.bucket, u.key, u.object_uid, u.sealed_key FROM parts p JOIN uploads u ON u.upload_id = p.upload_id"
            " WHERE p.upload_id=? ORDER BY p.part_number", (upload_id,)).fetchall()
        return [self._part(r[:7], r[7:]) for r in rows]

    def finish_upload(self, upload_id: str, version: ObjectVersion | None,
                      condition: WriteCondition | None = None) -> WriteResult:
        stored = self._stored_version(version) if version is not None else None
        with self._write() as db:
            if not db.execute("SELECT 1 FROM uploads WHERE upload_id=?", (upload_id,)).fetchone():
                raise _no_such_upload(upload_id)
            if version is not None and condition is not None and condition.active:
                check_write(condition, self._latest_in_tx(db, version.bucket, version.key), version.key)
            parts = db.execute("SELECT blob_id, size FROM parts WHERE upload_id=?", (upload_id,)).fetchall()
            used = {e.blob_id for e in version.extents} if version else set()
            if not used <= {b for b, *_ in parts}:
                # A part was re-uploaded after the caller chose it (its old file is being deleted).
                raise SealboxError(ErrorCode.INVALID_PART, "One or more of the specified parts could not be"
                                   " found. The part may have been replaced while completing.", UploadId=upload_id)
            orphaned = [Extent(b, s) for b, s in parts if b not in used]
            vid = ""
            if version is not None:
                versioning = self._versioning_in_tx(db, version.bucket)
                vid = version.version_id if versioning is Versioning.ENABLED else NULL_VERSION
                assert stored is not None
                orphaned.extend(self._insert_latest(db, version, vid, stored))
                now = time.time()
                db.execute("DELETE FROM completed_uploads WHERE completed < ?", (now - _COMPLETED_KEPT,))
                db.execute("INSERT OR REPLACE INTO completed_uploads(upload_id, bucket, key, version_id, object_uid,"
                           " part_numbers, completed) VALUES (?,?,?,?,?,?,?)",
                           (upload_id, version.bucket, version.key, vid, version.object_uid,
                            _dumps([e.index for e in version.extents]), now))
            db.execute("DELETE FROM parts WHERE upload_id=?", (upload_id,))
            db.execute("DELETE FROM uploads WHERE upload_id=?", (upload_id,))
        return WriteResult(vid, orphaned)

    def list_uploads(self, bucket: str) -> list[Upload]:
        rows = self._conn().execute(f"SELECT {_UPLOAD_COLS} FROM uploads WHERE bucket=? ORDER BY key, initiated",
                                    (bucket,)).fetchall()
        return [self._upload(r) for r in rows]

    def get_completed_upload(self, upload_id: str) -> CompletedUpload | None:
        row = self._conn().execute("SELECT upload_id, bucket, key, version_id, object_uid, part_numbers, completed"
                                   " FROM completed_uploads WHERE upload_id=?", (upload_id,)).fetchone()
        if row is None or row[6] < time.time() - _COMPLETED_KEPT:
            return None
        return CompletedUpload(row[0], row[1], row[2], row[3], row[4], tuple(json.loads(row[5])), row[6])

    # -- credentials ----------------------------------------------------------------------------
    def get_credential(self, access_key: str) -> Credential | None:
        row = self._conn().execute("SELECT access_key, principal, sealed_secret, created FROM credentials"
                                   " WHERE access_key=?", (access_key,)).fetchone()
        return Credential(*row) if row else None

    def put_credential(self, credential: Credential) -> None:
        with self._write() as db:
            db.execute("INSERT OR REPLACE INTO credentials(access_key, principal, sealed_secret, created)"
                       " VALUES (?,?,?,?)", (credential.access_key, credential.principal,
                                             credential.sealed_secret, credential.created))

    def list_credentials(self) -> list[Credential]:
        rows = self._conn().execute("SELECT access_key, principal, sealed_secret, created FROM credentials"
                                    " ORDER BY created").fetchall()
        return [Credential(*r) for r in rows]

    def delete_credential(self, access_key: str) -> bool:
        with self._write() as db:
            return db.execute("DELETE FROM credentials WHERE access_key=?", (access_key,)).rowcount > 0

    # -- maintenance: iteration for scrub and gc (issue #5) ----------------------------------------
    def iter_versions(self, after_seq: int, limit: int) -> list[ObjectVersion]:
        rows = self._conn().execute(f"SELECT {_VERSION_COLS} FROM versions WHERE id > ? ORDER BY id LIMIT ?",
                                    (after_seq, limit)).fetchall()
        return [self._version(r) for r in rows]

    def iter_parts(self, after: tuple[str, int], limit: int) -> list[tuple[Upload, Part]]:
        upload_cols = ", ".join(f"u.{c}" for c in _UPLOAD_COLS.split(", "))
        rows = self._conn().execute(
            f"SELECT {upload_cols}, p.part_number, p.blob_id, p.size, p.etag, p.checksums, p.last_modified,"
            " p.sealed_meta FROM parts p JOIN uploads u ON u.upload_id = p.upload_id"
            " WHERE (p.upload_id, p.part_number) > (?, ?) ORDER BY p.upload_id, p.part_number LIMIT ?",
            (after[0], after[1], limit)).fetchall()
        found: list[tuple[Upload, Part]] = []
        for r in rows:
            w = _UPLOAD_WIDTH
            part = self._part(r[w:], (r[1], r[2], r[3], r[9]))
            found.append((self._upload(r[:w]), dataclasses.replace(part, extent=Extent(r[w + 1], r[w + 2], r[w]))))
        return found

    # -- users and master-key maintenance (issue #5: keys, principals) ---------------------------------
    def create_user(self, user: User) -> bool:
        with self._write() as db:
            return db.execute("INSERT OR IGNORE INTO users(name, created) VALUES (?,?)",
                              (user.name, user.created)).rowcount > 0

    def get_user(self, name: str) -> User | None:
        row = self._conn().execute("SELECT name, created FROM users WHERE name=?", (name,)).fetchone()
        return User(*row) if row else None

    def list_users(self) -> list[User]:
        return [User(*r) for r in self._conn().execute("SELECT name, created FROM users ORDER BY name")]

    def delete_user(self, name: str) -> list[str] | None:
        with self._write() as db:
            if db.execute("DELETE FROM users WHERE name=?", (name,)).rowcount == 0:
                return None
            keys = [r[0] for r in db.execute("SELECT access_key FROM credentials WHERE principal=?", (name,))]
            db.execute("DELETE FROM credentials WHERE principal=?", (name,))
        return keys

    def sealed_key_counts(self) -> dict[str, dict[str, int]]:
        db = self._conn()
        counts: dict[str, dict[str, int]] = {}
        db.execute("BEGIN")  # one snapshot across the three tables
        try:
            for kind, (table, _ref, _cols, column) in _SEALED_TABLES.items():
                rows = db.execute(f"SELECT {_key_id_sql(column)} AS kid, COUNT(*) FROM {table}"
                                  f" WHERE {_UNDER_MASTER_KEY.format(column)} GROUP BY kid").fetchall()
                counts[kind] = {kid: n for kid, n in rows}
        finally:
            db.execute("COMMIT")
        return counts

    def sealed_samples(self) -> list[SealedRow]:
        db = self._conn()
        samples: list[SealedRow] = []
        for kind, (table, ref, cols, column) in _SEALED_TABLES.items():
            rows = db.execute(f"SELECT {ref}, {cols}, {column} FROM {table} WHERE rowid IN (SELECT MIN(rowid)"
                              f" FROM {table} WHERE {_UNDER_MASTER_KEY.format(column)}"
                              f" GROUP BY {_key_id_sql(column)})").fetchall()
            samples += [SealedRow(kind, str(r[0]), r[1], r[2], r[3], r[4]) for r in rows]
        return samples

    def sealed_not_under(self, kind: str, key_id: str, after: str, limit: int) -> list[SealedRow]:
        table, ref, cols, column = _SEALED_TABLES[kind]
        prefix = f"v1:{key_id}:"
        after_param: Any = int(after or 0) if kind == "version" else after
        rows = self._conn().execute(
            f"SELECT {ref}, {cols}, {column} FROM {table} WHERE {_UNDER_MASTER_KEY.format(column)} AND {ref} > ?"
            f" AND substr({column}, 1, ?) <> ? ORDER BY {ref} LIMIT ?",
            (after_param, len(prefix), prefix, limit)).fetchall()
        return [SealedRow(kind, str(r[0]), r[1], r[2], r[3], r[4]) for r in rows]

    def replace_sealed(self, kind: str, changes: list[tuple[str, str, str]]) -> int:
        table, ref, _cols, column = _SEALED_TABLES[kind]
        updated = 0
        with self._write() as db:
            for row_ref, old, new in changes:
                key: Any = int(row_ref) if kind == "version" else row_ref
                updated += db.execute(f"UPDATE {table} SET {column}=? WHERE {ref}=? AND {column}=?",
                                      (new, key, old)).rowcount
        return updated

    # -- sealed metadata: the migration of rows written in the clear (issue 13) -------------------------
    def clear_metadata(self, kind: str, after: str, limit: int) -> list[ClearMetadataRow]:
        db = self._conn()
        if kind == "version":
            rows = db.execute(
                "SELECT id, bucket, key, object_uid, sealed_key, etag, checksums, user_meta, content_headers, tags,"
                " part_checksums FROM versions WHERE sse IS NOT NULL AND sealed_meta IS NULL AND sealed_key IS NOT NULL"
                " AND id > ? ORDER BY id LIMIT ?", (int(after or 0), limit)).fetchall()
            return [ClearMetadataRow(MetadataOwner("version", r[1], r[2], r[3], r[4]), str(r[0]),
                                     ObjectMetadata(r[5], _object(r[6]), _object(r[7]), _object(r[8]),
                                                    _object(r[9]), _strings(r[10])))
                    for r in rows]
        if kind == "upload":
            rows = db.execute(
                "SELECT upload_id, bucket, key, object_uid, sealed_key, user_meta, content_headers, tags FROM uploads"
                " WHERE sse IS NOT NULL AND sealed_meta IS NULL AND sealed_key IS NOT NULL AND upload_id > ?"
                " ORDER BY upload_id LIMIT ?", (after, limit)).fetchall()
            return [ClearMetadataRow(MetadataOwner("upload", r[1], r[2], r[3], r[4]), r[0],
                                     ObjectMetadata(user_meta=_object(r[5]), content_headers=_object(r[6]),
                                                    tags=_object(r[7])))
                    for r in rows]
        if kind == "part":
            upload_id, _, number = after.partition(":")
            rows = db.execute(
                "SELECT p.upload_id, p.part_number, u.bucket, u.key, u.object_uid, u.sealed_key, p.etag, p.checksums"
                " FROM parts p JOIN uploads u ON u.upload_id = p.upload_id WHERE p.sealed_meta IS NULL"
                " AND u.sse IS NOT NULL AND u.sealed_key IS NOT NULL AND (p.upload_id, p.part_number) > (?, ?)"
                " ORDER BY p.upload_id, p.part_number LIMIT ?", (upload_id, int(number or 0), limit)).fetchall()
            return [ClearMetadataRow(MetadataOwner("part", r[2], r[3], r[4], r[5], r[1]), f"{r[0]}:{r[1]}",
                                     ObjectMetadata(r[6], _object(r[7]))) for r in rows]
        raise ValueError(f"unknown metadata kind {kind!r}")

    def seal_metadata(self, kind: str, sealed: list[tuple[str, bytes]]) -> int:
        # Compare-and-swap on "still in the clear": version ids are never reused, upload ids are
        # random, and a part that replaced the one read (same upload and number) was sealed when written.
        if kind == "version":
            sql = ("UPDATE versions SET sealed_meta=?, etag='', checksums='{}', user_meta='{}', content_headers='{}',"
                   " tags='{}', part_checksums='[]' WHERE id=? AND sealed_meta IS NULL AND sse IS NOT NULL")
            params: list[tuple[Any, ...]] = [(blob, int(ref)) for ref, blob in sealed]
        elif kind == "upload":
            sql = ("UPDATE uploads SET sealed_meta=?, user_meta='{}', content_headers='{}', tags='{}'"
                   " WHERE upload_id=? AND sealed_meta IS NULL AND sse IS NOT NULL")
            params = [(blob, ref) for ref, blob in sealed]
        elif kind == "part":
            sql = ("UPDATE parts SET sealed_meta=?, etag='', checksums='{}'"
                   " WHERE upload_id=? AND part_number=? AND sealed_meta IS NULL")
            params = [(blob, ref.partition(":")[0], int(ref.partition(":")[2])) for ref, blob in sealed]
        else:
            raise ValueError(f"unknown metadata kind {kind!r}")
        updated = 0
        with self._write() as db:
            for p in params:
                updated += db.execute(sql, p).rowcount
        return updated

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


# kind -> (table, row reference column, "bucket, key, object_uid" columns, sealed column)
_SEALED_TABLES: dict[str, tuple[str, str, str, str]] = {
    "version": ("versions", "id", "bucket, key, object_uid", "sealed_key"),
    "upload": ("uploads", "upload_id", "bucket, key, object_uid", "sealed_key"),
    "credential": ("credentials", "access_key", "'', access_key, x''", "sealed_secret"),
    "kms-key": ("kms_material", "ref", "'', ref, x''", "sealed"),
}
# Values sealed under a master key ("v1:<key id>:…"); SSE-KMS objects' key records ("kms1:…") are
# sealed by the key service instead (whose material is the "kms-key" kind), so rotation skips them.
_UNDER_MASTER_KEY = "{0} LIKE 'v1:%'"


def _key_id_sql(column: str) -> str:
    """The master key id inside a sealed value "v1:<key id>:<...>" (ids never contain ':')."""
    return f"substr({column}, 4, instr(substr({column}, 4), ':') - 1)"


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


def _no_such_upload(upload_id: str) -> SealboxError:
    return SealboxError(ErrorCode.NO_SUCH_UPLOAD, "The specified upload does not exist. The upload ID may be"
                        " invalid, or the upload may have been aborted or completed.", UploadId=upload_id)


def _migrate(db: sqlite3.Connection) -> None:
    db.execute("CREATE TABLE IF NOT EXISTS schema_meta(k TEXT PRIMARY KEY, v INTEGER NOT NULL)")
    row = db.execute("SELECT v FROM schema_meta WHERE k='version'").fetchone()
    current = row[0] if row else 0
    for number, script in enumerate(MIGRATIONS, start=1):
        if number > current:
            for statement in script:
                db.execute(statement)
            db.execute("INSERT OR REPLACE INTO schema_meta(k, v) VALUES ('version', ?)", (number,))

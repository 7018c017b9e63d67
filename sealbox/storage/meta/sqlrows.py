"""What the SQL metadata stores share (SQLite: ``sqlite.py``; PostgreSQL: ``postgres.py``).

The MetaStore methods live in mixins by concept, written once in the SQL both engines speak:
``sql_buckets`` (buckets, their ACL/CORS/tags/Object Lock/lifecycle configuration, job state),
``sql_objects`` (versions, conditional writes, deletes, listings), ``sql_uploads`` (multipart),
``sql_principals`` (credentials and users) and ``sql_sealed`` (master-key rotation and the sealing
of rows written in the clear). This module holds the row codecs and ``SqlStore``, the base that
names what a backend supplies:

- ``_conn()``: a handle for reads outside a transaction, each statement seeing every commit so far;
- ``_write()``: one atomic write transaction, durable when the block exits;
- ``_snapshot()``: a read-only transaction over one snapshot (several SELECTs that must agree);
- ``_lock_key(db, bucket, key)`` and the ``_SHARE``/``_UPDATE`` row-lock suffixes: what makes a
  read-check-write atomic where writers run concurrently (PostgreSQL). SQLite runs one write
  transaction at a time (``BEGIN IMMEDIATE``), so there they are no-ops;
- ``_KEY_ID_SQL``: the SQL expression of the master-key id in a sealed value.

Statements use ``?`` placeholders; a backend whose driver wants another style translates them.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from sealbox.core.acl import Ownership, PublicAccessBlock, acl_from_json, acl_to_json
from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.types import (
    NO_LOCK,
    Bucket,
    Extent,
    ObjectLock,
    ObjectMetadata,
    ObjectVersion,
    Versioning,
)
from sealbox.crypto import kms_format, ssec
from sealbox.storage.meta.base import MetadataCipher, MetadataOwner, MetadataUnavailable, Part, Upload


class Cursor(Protocol):
    """What a statement returns: ``sqlite3.Cursor``, or the PostgreSQL store's buffered result."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Db(Protocol):
    """A connection (or transaction) that runs one statement with ``?`` placeholders."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Cursor: ...


class Tokens(Protocol):
    """Change tokens for the rows a store remembers between changes (``generation.ChangeTokens``)."""

    def current(self, slot: int) -> bytes: ...

    def bump(self, slot: int) -> None: ...


VERSION_COLS = (
    "bucket, key, version_id, object_uid, size, etag, last_modified, owner, is_delete_marker, "
    "content_headers, user_meta, checksums, checksum_type, sse, sealed_key, extents, part_count, "
    "storage_class, is_latest, id, sealed_meta, lock_mode, lock_until, legal_hold, tags, part_checksums"
)
VERSION_INSERT = (
    "INSERT INTO versions(bucket, key, version_id, object_uid, size, etag, last_modified, owner, is_delete_marker,"
    " content_headers, user_meta, checksums, checksum_type, sse, sealed_key, extents, part_count, storage_class,"
    " sealed_meta, lock_mode, lock_until, legal_hold, tags, part_checksums, is_latest)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,1)"
)
UPLOAD_COLS = ("upload_id, bucket, key, object_uid, initiated, owner, content_headers, user_meta, sse, sealed_key,"
                " checksum_algorithm, checksum_type, storage_class, sealed_meta, lock_mode, lock_until, legal_hold,"
                " tags, base_seq")
UPLOAD_WIDTH = 19  # columns in UPLOAD_COLS
BUCKET_COLS = ("name, owner, created, region, versioning, default_sse, bucket_key_enabled, policy, acl, ownership,"
                " public_access_block, object_lock, lock_default, lifecycle, default_kms_key")
CLEAR = ObjectMetadata()  # what the clear columns of a sealed row hold
BUCKET_CACHE = 4096  # bucket names (existing or not) remembered per process before starting over
VERSION_MEMO = 16384  # object lookups remembered per process between two commits
COMPLETED_KEPT = 86400.0  # seconds a completion is remembered for a repeated CompleteMultipartUpload
MISSING = object()


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _extent_item(e: Extent) -> list[str | int]:
    """[blob id, size], then the extent index if not 0, then 1 if the bytes are inline."""
    if e.inline:
        return [e.blob_id, e.size, e.index, 1]
    return [e.blob_id, e.size, e.index] if e.index else [e.blob_id, e.size]


def extents_json(extents: tuple[Extent, ...] | list[Extent]) -> str:
    return dumps([_extent_item(e) for e in extents])


@functools.lru_cache(maxsize=16384)
def extents_of(text: str) -> tuple[Extent, ...]:
    """Decoded once per hot object: the text names blob ids, so equal text means equal (immutable) extents."""
    return tuple(Extent(item[0], item[1], item[2] if len(item) > 2 else 0, len(item) > 3 and bool(item[3]))
                 for item in json.loads(text))


def release(db: Db, extents: Iterable[Extent]) -> list[Extent]:
    """Drop the inline bytes of extents no version references any more, in the caller's transaction;
    the rest are blob files, which the caller deletes once the transaction has committed."""
    files: list[Extent] = []
    for extent in extents:
        if extent.inline:
            db.execute("DELETE FROM inline_blobs WHERE blob_id=?", (extent.blob_id,))
        else:
            files.append(extent)
    return files


def json_object(text: str) -> dict[str, str]:
    """A JSON object column; most rows hold "{}", which needs no parser (rows are decoded per GET)."""
    return {} if text == "{}" else dict(json.loads(text))


def json_strings(text: str) -> tuple[str, ...]:
    """A JSON array column of strings; most rows hold "[]"."""
    return () if text == "[]" else tuple(json.loads(text))


Stored = tuple[ObjectMetadata, bytes | None]  # (what a row's clear columns hold, its sealed metadata blob)


def version_params(v: ObjectVersion, version_id: str, stored: Stored) -> tuple[Any, ...]:
    clear, blob = stored
    return (
        v.bucket, v.key, version_id, v.object_uid, v.size, clear.etag, v.last_modified, v.owner,
        int(v.is_delete_marker), dumps(clear.content_headers), dumps(clear.user_meta), dumps(clear.checksums),
        v.checksum_type, v.sse, v.sealed_key, extents_json(v.extents), v.part_count, v.storage_class, blob,
        v.lock.mode, v.lock.retain_until, hold_column(v.lock.legal_hold), dumps(clear.tags), dumps(list(clear.part_checksums)),
    )


def hold_column(hold: bool | None) -> int:
    """The ``legal_hold`` column: 0 never set, 1 ON, 2 set OFF (before this, an OFF that had been set
    was stored as 0 too, and now reads as never set: the one difference is that GET/HEAD omit the
    header for it, as they do for a version that never had a hold)."""
    return 0 if hold is None else (1 if hold else 2)


def lock_of(mode: str | None, until: float | None, hold: int | None) -> ObjectLock:
    legal_hold = None if not hold else hold == 1
    return ObjectLock(mode, until, legal_hold) if mode or hold else NO_LOCK


def version_owner(v: ObjectVersion) -> MetadataOwner | None:
    """Whose data key seals this version's metadata; None for a plain version or a delete marker."""
    return MetadataOwner("version", v.bucket, v.key, v.object_uid, v.sealed_key or "") if v.sse else None


def upload_owner(u: Upload) -> MetadataOwner | None:
    return MetadataOwner("upload", u.bucket, u.key, u.object_uid, u.sealed_key or "") if u.sse else None


ACCESS_COLS = "acl, ownership, public_access_block"


def bucket_of(row: tuple[Any, ...]) -> Bucket:
    return Bucket(name=row[0], owner=row[1], created=row[2], region=row[3], versioning=Versioning(row[4]),
                  default_sse=row[5], bucket_key_enabled=bool(row[6]), policy=row[7],
                  acl=acl_from_json(row[8]) if row[8] else None,
                  ownership=Ownership(row[9]) if row[9] else None,
                  public_access_block=PublicAccessBlock.from_json(row[10]) if row[10] else None,
                  object_lock=bool(row[11]), lock_default=row[12], lifecycle=row[13],
                  default_kms_key_id=row[14])


def access_params(b: Bucket) -> tuple[Any, ...]:
    return (acl_to_json(b.acl) if b.acl else None, b.ownership.value if b.ownership else None,
            b.public_access_block.to_json() if b.public_access_block else None)


def no_such_upload(upload_id: str) -> SealboxError:
    return SealboxError(ErrorCode.NO_SUCH_UPLOAD, "The specified upload does not exist. The upload ID may be"
                        " invalid, or the upload may have been aborted or completed.", UploadId=upload_id)




# kind -> (table, row reference column, "bucket, key, object_uid" columns (NULL: b""), sealed column)
SEALED_TABLES: dict[str, tuple[str, str, str, str]] = {
    "version": ("versions", "id", "bucket, key, object_uid", "sealed_key"),
    "upload": ("uploads", "upload_id", "bucket, key, object_uid", "sealed_key"),
    "credential": ("credentials", "access_key", "'', access_key, NULL", "sealed_secret"),
    "kms-key": ("kms_material", "ref", "'', ref, NULL", "sealed"),
    "sse-c-share": ("sse_c_shares", "ref", "'', ref, NULL", "sealed"),
}
# Values sealed under a master key ("v1:<key id>:…"); SSE-KMS objects' key records ("kms1:…") are
# sealed by the key service instead (whose material is the "kms-key" kind), and SSE-C records ("ssec1:…")
# hold no sealed value (their server share is the "sse-c-share" kind), so rotation skips them.
UNDER_MASTER_KEY = "{0} LIKE 'v1:%'"






class SqlStore:
    """The row codecs and the hooks each backend fills in (see the module docstring)."""

    _cipher: MetadataCipher | None
    _tokens: Tokens
    _buckets: dict[str, tuple[bytes, Bucket | None]]
    _cors: dict[str, tuple[bytes, str | None]]
    _versions: tuple[bytes, dict[tuple[str, str, str | None], ObjectVersion | None]]
    shared = False  # one host's store (SQLite); PostgreSQL's is shared by several gateways
    _SHARE = ""  # appended to a SELECT of a row the transaction relies on (PostgreSQL: " FOR SHARE")
    _UPDATE = ""  # appended to a SELECT of a row the transaction will change or delete (" FOR UPDATE")
    _KEY_ID_SQL = "substr({0}, 4, instr(substr({0}, 4), ':') - 1)"

    def _init_caches(self, tokens: Tokens) -> None:
        # Rows read per request, kept until any process changes them (see generation.py).
        self._tokens = tokens
        self._buckets = {}
        self._cors = {}  # CORS texts, kept like bucket rows
        # (the COMMITS token it was started under, lookups): replaced whole, so the two always agree
        self._versions = (b"", {})

    def _conn(self) -> Db:
        raise NotImplementedError

    def _write(self) -> AbstractContextManager[Db]:
        raise NotImplementedError

    def _snapshot(self) -> AbstractContextManager[Db]:
        raise NotImplementedError

    def _lock_key(self, db: Db, bucket: str, key: str) -> None:
        """Serialize this transaction with every other writer of (bucket, key) until it ends."""

    def _lock_key_versioning(self, db: Db, bucket: str, key: str) -> Versioning:
        """``_lock_key`` then ``_versioning_in_tx`` (a backend may do both in one round trip)."""
        self._lock_key(db, bucket, key)
        return self._versioning_in_tx(db, bucket)

    def _versioning_in_tx(self, db: Db, bucket: str, lock: str | None = None) -> Versioning:
        """The bucket's versioning state, its row locked for the rest of the transaction (``lock``:
        the suffix, FOR SHARE unless given) so that it cannot change or go under this write."""
        row = db.execute(f"SELECT versioning FROM buckets WHERE name=?{self._SHARE if lock is None else lock}",
                         (bucket,)).fetchone()
        if row is None:
            raise SealboxError(ErrorCode.NO_SUCH_BUCKET, "The specified bucket does not exist", BucketName=bucket)
        return Versioning(row[0])

    # -- sealed metadata ------------------------------------------------------------------------
    def _seal(self, owner: MetadataOwner | None, fields: ObjectMetadata, still_sealed: bytes | None) -> Stored:
        """What a row stores: plain rows keep their fields in the clear, SSE rows only a sealed blob."""
        if owner is None:
            return fields, None
        # An SSE-KMS or SSE-C row's ETag is a keyed digest, not the MD5 (crypto.kms_format.kms_etag): it stays
        # in the clear column too, so listings need no key (the row's other values are sealed like any SSE row's).
        keyed = kms_format.is_record(owner.sealed_key) or ssec.is_record(owner.sealed_key)
        clear = ObjectMetadata(etag=fields.etag) if keyed else CLEAR
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
        return ObjectMetadata(etag=clear_etag) if clear_etag else CLEAR, bytes(blob)

    def _version(self, row: tuple[Any, ...]) -> ObjectVersion:
        if row[20] is None:  # a plain version (or an SSE one written before schema 4, not sealed yet)
            fields, blob = ObjectMetadata(row[5], json_object(row[11]), json_object(row[10]), json_object(row[9]),
                                          json_object(row[24]), json_strings(row[25])), None
        else:
            fields, blob = self._open(MetadataOwner("version", row[0], row[1], row[3], row[14] or ""), row[20],
                                      row[5])
        return ObjectVersion(
            bucket=row[0], key=row[1], version_id=row[2], object_uid=row[3], size=row[4], etag=fields.etag,
            last_modified=row[6], owner=row[7], is_delete_marker=bool(row[8]),
            content_headers=fields.content_headers, user_meta=fields.user_meta, checksums=fields.checksums,
            checksum_type=row[12], sse=row[13], sealed_key=row[14], extents=extents_of(row[15]),
            part_count=row[16], storage_class=row[17], is_latest=bool(row[18]), seq=row[19], sealed_meta=blob,
            lock=lock_of(row[21], row[22], row[23]), tags=fields.tags, part_checksums=fields.part_checksums,
        )

    def _stored_version(self, v: ObjectVersion) -> Stored:
        return self._seal(version_owner(v), v.metadata, v.sealed_meta)

    def _upload(self, row: tuple[Any, ...]) -> Upload:
        if row[13] is None:
            fields, blob = ObjectMetadata(user_meta=json.loads(row[7]), content_headers=json.loads(row[6]),
                                          tags=json_object(row[17])), None
        else:
            fields, blob = self._open(MetadataOwner("upload", row[1], row[2], row[3], row[9] or ""), row[13])
        return Upload(upload_id=row[0], bucket=row[1], key=row[2], object_uid=row[3], initiated=row[4],
                      owner=row[5], content_headers=fields.content_headers, user_meta=fields.user_meta,
                      sse=row[8], sealed_key=row[9], checksum_algorithm=row[10], checksum_type=row[11],
                      storage_class=row[12], sealed_meta=blob, lock=lock_of(row[14], row[15], row[16]),
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


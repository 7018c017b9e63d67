"""Multipart uploads: create, parts, complete or abort, the record of recent completions, and the
walk over unfinished uploads' parts (scrub, gc)."""

from __future__ import annotations

import dataclasses
import json
import time

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.preconditions import WriteCondition, check_write
from sealbox.core.types import NULL_VERSION, Extent, ObjectMetadata, ObjectVersion, Versioning
from sealbox.storage.meta.base import CompletedUpload, MetadataOwner, Part, Upload, WriteResult
from sealbox.storage.meta.sql_objects import ObjectsMixin
from sealbox.storage.meta.sqlrows import (
    COMPLETED_KEPT,
    UPLOAD_COLS,
    UPLOAD_WIDTH,
    dumps,
    hold_column,
    no_such_upload,
    upload_owner,
)


class UploadsMixin(ObjectsMixin):
    """Completing an upload makes a version, so this builds on the objects' write path."""

    # -- multipart ----------------------------------------------------------------------------
    def create_upload(self, upload: Upload) -> None:
        clear, blob = self._seal(upload_owner(upload), ObjectMetadata(user_meta=upload.user_meta,
                                 content_headers=upload.content_headers, tags=upload.tags), upload.sealed_meta)
        with self._write() as db:
            self._versioning_in_tx(db, upload.bucket)
            # base_seq: the key's current object now, in this transaction (a conditional Complete checks it).
            db.execute(f"INSERT INTO uploads({UPLOAD_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,"
                       "(SELECT id FROM versions WHERE bucket=? AND key=? AND is_latest=1 AND is_delete_marker=0))",
                       (upload.upload_id, upload.bucket, upload.key, upload.object_uid, upload.initiated,
                        upload.owner, dumps(clear.content_headers), dumps(clear.user_meta), upload.sse,
                        upload.sealed_key, upload.checksum_algorithm, upload.checksum_type, upload.storage_class,
                        blob, upload.lock.mode, upload.lock.retain_until, hold_column(upload.lock.legal_hold),
                        dumps(clear.tags), upload.bucket, upload.key))

    def get_upload(self, upload_id: str) -> Upload | None:
        row = self._conn().execute(f"SELECT {UPLOAD_COLS} FROM uploads WHERE upload_id=?", (upload_id,)).fetchone()
        return self._upload(row) if row else None

    def put_part(self, upload_id: str, part: Part) -> list[Extent]:
        # The upload's identity and data key never change: read them (to seal the part) before the write.
        up = self._conn().execute("SELECT bucket, key, object_uid, sse, sealed_key FROM uploads WHERE upload_id=?",
                                  (upload_id,)).fetchone()
        if up is None:
            raise no_such_upload(upload_id)
        owner = MetadataOwner("part", up[0], up[1], up[2], up[4] or "", part.part_number) if up[3] else None
        clear, blob = self._seal(owner, ObjectMetadata(part.etag, part.checksums), part.sealed_meta)
        with self._write() as db:
            # Writers of one part number one after the other (PostgreSQL), so that the part replaced is
            # the one returned; FOR SHARE: a completion or abort of the upload waits for this write.
            self._lock_key(db, upload_id, f"part {part.part_number}")
            if not db.execute(f"SELECT 1 FROM uploads WHERE upload_id=?{self._SHARE}", (upload_id,)).fetchone():
                raise no_such_upload(upload_id)
            old = db.execute("SELECT blob_id, size FROM parts WHERE upload_id=? AND part_number=?",
                             (upload_id, part.part_number)).fetchone()
            db.execute("INSERT INTO parts(upload_id, part_number, blob_id, size, etag, checksums,"
                       " last_modified, sealed_meta) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(upload_id, part_number)"
                       " DO UPDATE SET blob_id=excluded.blob_id, size=excluded.size, etag=excluded.etag,"
                       " checksums=excluded.checksums, last_modified=excluded.last_modified,"
                       " sealed_meta=excluded.sealed_meta",
                       (upload_id, part.part_number, part.extent.blob_id, part.extent.size, clear.etag,
                        dumps(clear.checksums), part.last_modified, blob))
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
            # Locks in the order every writer takes them: the key, the bucket row (FOR SHARE), the upload
            # row (FOR UPDATE: a concurrent completion, abort or part write of it waits or finds it gone).
            up = db.execute("SELECT bucket, key FROM uploads WHERE upload_id=?", (upload_id,)).fetchone()
            if up is None:
                raise no_such_upload(upload_id)
            self._lock_key(db, up[0], up[1])
            bucket_row = db.execute(f"SELECT versioning FROM buckets WHERE name=?{self._SHARE}", (up[0],)).fetchone()
            if bucket_row is None or not db.execute(f"SELECT 1 FROM uploads WHERE upload_id=?{self._UPDATE}",
                                                    (upload_id,)).fetchone():
                raise no_such_upload(upload_id)
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
                versioning = Versioning(bucket_row[0])
                vid = version.version_id if versioning is Versioning.ENABLED else NULL_VERSION
                assert stored is not None
                orphaned.extend(self._insert_latest(db, version, vid, stored))
                now = time.time()
                db.execute("DELETE FROM completed_uploads WHERE completed < ?", (now - COMPLETED_KEPT,))
                db.execute("INSERT INTO completed_uploads(upload_id, bucket, key, version_id, object_uid,"
                           " part_numbers, completed) VALUES (?,?,?,?,?,?,?) ON CONFLICT(upload_id) DO UPDATE"
                           " SET bucket=excluded.bucket, key=excluded.key, version_id=excluded.version_id,"
                           " object_uid=excluded.object_uid, part_numbers=excluded.part_numbers,"
                           " completed=excluded.completed",
                           (upload_id, version.bucket, version.key, vid, version.object_uid,
                            dumps([e.index for e in version.extents]), now))
            db.execute("DELETE FROM parts WHERE upload_id=?", (upload_id,))
            db.execute("DELETE FROM uploads WHERE upload_id=?", (upload_id,))
        return WriteResult(vid, orphaned)

    def list_uploads(self, bucket: str) -> list[Upload]:
        rows = self._conn().execute(f"SELECT {UPLOAD_COLS} FROM uploads WHERE bucket=? ORDER BY key, initiated",
                                    (bucket,)).fetchall()
        return [self._upload(r) for r in rows]

    def get_completed_upload(self, upload_id: str) -> CompletedUpload | None:
        row = self._conn().execute("SELECT upload_id, bucket, key, version_id, object_uid, part_numbers, completed"
                                   " FROM completed_uploads WHERE upload_id=?", (upload_id,)).fetchone()
        if row is None or row[6] < time.time() - COMPLETED_KEPT:
            return None
        return CompletedUpload(row[0], row[1], row[2], row[3], row[4], tuple(json.loads(row[5])), row[6])


    def iter_parts(self, after: tuple[str, int], limit: int) -> list[tuple[Upload, Part]]:
        upload_cols = ", ".join(f"u.{c}" for c in UPLOAD_COLS.split(", "))
        rows = self._conn().execute(
            f"SELECT {upload_cols}, p.part_number, p.blob_id, p.size, p.etag, p.checksums, p.last_modified,"
            " p.sealed_meta FROM parts p JOIN uploads u ON u.upload_id = p.upload_id"
            " WHERE (p.upload_id, p.part_number) > (?, ?) ORDER BY p.upload_id, p.part_number LIMIT ?",
            (after[0], after[1], limit)).fetchall()
        found: list[tuple[Upload, Part]] = []
        for r in rows:
            w = UPLOAD_WIDTH
            part = self._part(r[w:], (r[1], r[2], r[3], r[9]))
            found.append((self._upload(r[:w]), dataclasses.replace(part, extent=Extent(r[w + 1], r[w + 2], r[w]))))
        return found

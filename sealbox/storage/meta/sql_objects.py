"""Object versions: lookups, (conditional) writes, deletes and delete markers, tags and Object Lock of
one version, inline bodies, listings, and the walks of scrub and gc.

Every write that reads a key's versions and then changes them takes ``_lock_key`` first: on
PostgreSQL, writers of one key then run one after the other (so ``If-None-Match: *`` / ``If-Match``
are decided against the latest committed version, and the last to commit wins whole), while
writers of other keys run in parallel; then the bucket row FOR SHARE, so a DeleteBucket or a
versioning change waits for the writes under way.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from typing import Any

from sealbox.core.object_lock import check_deletable
from sealbox.core.preconditions import DeleteCondition, WriteCondition, check_delete, check_write
from sealbox.core.types import NULL_VERSION, Extent, ListPage, ObjectLock, ObjectVersion, Versioning
from sealbox.storage.meta.base import DeleteResult, WriteResult
from sealbox.storage.meta.generation import COMMITS
from sealbox.storage.meta.listing import BATCH, Row, paginate
from sealbox.storage.meta.sqlrows import (
    MISSING,
    VERSION_COLS,
    VERSION_INSERT,
    VERSION_MEMO,
    Db,
    hold_column,
    SqlStore,
    Stored,
    extents_of,
    lock_of,
    release,
    version_owner,
    version_params,
    dumps,
)


# The inline bytes a fresh lookup read with its row, per thread: (blob id, bytes), at most one.
_PINNED = threading.local()

class ObjectsMixin(SqlStore):
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
        found = memo.get((bucket, key, version_id), MISSING) if not fresh else MISSING
        if found is not MISSING:
            return found  # type: ignore[return-value]
        version = self._read_version(self._conn(), bucket, key, version_id) if not fresh else \
            self._read_pinned(bucket, key, version_id)
        if len(memo) < VERSION_MEMO or (fresh and (bucket, key, version_id) in memo):
            memo[(bucket, key, version_id)] = version
        return version

    def _read_pinned(self, bucket: str, key: str, version_id: str | None) -> ObjectVersion | None:
        """A fresh lookup: the row and, for a version held inline, its bytes, from one snapshot; the
        bytes wait in this thread for the ``read_inline`` that follows. A fresh lookup is what a
        read does after its stored bytes vanished under it (an overwrite or delete committed between
        its lookup and its read: two statements). On one host that gap is microseconds; between
        gateways on PostgreSQL under a stream of overwrites of one key it is a round trip or two,
        and three plain attempts in a row could all lose (2 gateways x 8 writers: some GETs got
        500), while the row and its inline bytes in one snapshot always agree: both are replaced in
        one transaction."""
        with self._snapshot() as db:
            version = self._read_version(db, bucket, key, version_id)
            extents = version.extents if version is not None else ()
            if len(extents) == 1 and extents[0].inline:
                row = db.execute("SELECT data FROM inline_blobs WHERE blob_id=?", (extents[0].blob_id,)).fetchone()
                _PINNED.inline = (extents[0].blob_id, row[0]) if row else None
        return version

    def _read_version(self, db: Db, bucket: str, key: str, version_id: str | None) -> ObjectVersion | None:
        if version_id is None:
            row = db.execute(f"SELECT {VERSION_COLS} FROM versions WHERE bucket=? AND key=? AND is_latest=1",
                             (bucket, key)).fetchone()
        else:
            row = db.execute(f"SELECT {VERSION_COLS} FROM versions WHERE bucket=? AND key=? AND version_id=?",
                             (bucket, key, version_id)).fetchone()
        return self._version(row) if row else None

    def _latest_in_tx(self, db: Db, bucket: str, key: str) -> ObjectVersion | None:
        row = db.execute(f"SELECT {VERSION_COLS} FROM versions WHERE bucket=? AND key=? AND is_latest=1",
                         (bucket, key)).fetchone()
        return self._version(row) if row else None

    def _insert_latest(self, db: Db, v: ObjectVersion, version_id: str,
                       stored: Stored) -> list[Extent]:
        """Insert ``v`` as the latest version; in non-Enabled modes it replaces the null version."""
        orphaned: list[Extent] = []
        if version_id == NULL_VERSION:
            # Deleted and read back in one statement; if Object Lock forbids it, the exception undoes the
            # whole write (SQLite: its savepoint; PostgreSQL: its transaction).
            for old in db.execute("DELETE FROM versions WHERE bucket=? AND key=? AND version_id=?"
                                  " RETURNING extents, lock_mode, lock_until, legal_hold",
                                  (v.bucket, v.key, NULL_VERSION)).fetchall():
                # Replacing the null version removes it: Object Lock applies (no bypass on a write).
                check_deletable(lock_of(old[1], old[2], old[3]), time.time(), False)
                orphaned.extend(release(db, extents_of(old[0])))
        db.execute("UPDATE versions SET is_latest=0 WHERE bucket=? AND key=? AND is_latest=1", (v.bucket, v.key))
        db.execute(VERSION_INSERT, version_params(v, version_id, stored))
        return orphaned

    def put_version(self, version: ObjectVersion, condition: WriteCondition | None = None,
                    inline_data: bytes | None = None) -> WriteResult:
        stored = self._stored_version(version)  # sealed before the write lock is taken
        with self._write() as db:
            versioning = self._lock_key_versioning(db, version.bucket, version.key)
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
            self._lock_key(db, bucket, key)
            version = self._read_version(db, bucket, key, version_id)
            if version is None:
                return None
            lock = update(version)
            db.execute("UPDATE versions SET lock_mode=?, lock_until=?, legal_hold=? WHERE id=?",
                       (lock.mode, lock.retain_until, hold_column(lock.legal_hold), version.seq))
        return dataclasses.replace(version, lock=lock)

    def set_object_tags(self, bucket: str, key: str, version_id: str | None,
                        tags: dict[str, str]) -> ObjectVersion | None:
        with self._write() as db:
            self._lock_key(db, bucket, key)
            found = self._read_version(db, bucket, key, version_id)
            if found is None or found.is_delete_marker:
                return found
            tagged = dataclasses.replace(found, tags=dict(tags))
            # An SSE version's tags are sealed with its other metadata: seal the row again (here, in the
            # transaction that read it, so a concurrent change of the row cannot be lost).
            clear, blob = self._seal(version_owner(tagged), tagged.metadata, None)
            db.execute("UPDATE versions SET tags=?, sealed_meta=? WHERE id=?", (dumps(clear.tags), blob, found.seq))
        return tagged

    def read_inline(self, blob_id: str) -> bytes | None:
        pinned: tuple[str, bytes] | None = getattr(_PINNED, "inline", None)
        if pinned is not None and pinned[0] == blob_id:  # read with its row by the fresh lookup before
            _PINNED.inline = None
            return pinned[1]
        row = self._conn().execute("SELECT data FROM inline_blobs WHERE blob_id=?", (blob_id,)).fetchone()
        return row[0] if row else None

    def delete(self, bucket: str, key: str, version_id: str | None, marker: ObjectVersion, *,
               bypass_governance: bool = False, only_if_latest: str | None = None,
               condition: DeleteCondition | None = None) -> DeleteResult:
        with self._write() as db:
            versioning = self._lock_key_versioning(db, bucket, key)
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

    def _delete_version(self, db: Db, bucket: str, key: str, version_id: str,
                        bypass_governance: bool) -> DeleteResult:
        row = db.execute("SELECT id, extents, is_latest, is_delete_marker, lock_mode, lock_until, legal_hold"
                         " FROM versions WHERE bucket=? AND key=? AND version_id=?",
                         (bucket, key, version_id)).fetchone()
        if row is None:
            return DeleteResult(version_id, False, [])
        # Object Lock, read from the row this transaction deletes (see core/object_lock.py).
        check_deletable(lock_of(row[4], row[5], row[6]), time.time(), bypass_governance)
        db.execute("DELETE FROM versions WHERE id=?", (row[0],))
        if row[2]:
            db.execute("UPDATE versions SET is_latest=1 WHERE id=(SELECT MAX(id) FROM versions"
                       " WHERE bucket=? AND key=?)", (bucket, key))
        return DeleteResult(version_id, bool(row[3]), release(db, extents_of(row[1])))

    def list_objects(self, bucket: str, prefix: str, delimiter: str, after: str, max_keys: int) -> ListPage:
        db = self._conn()

        def fetch(lower: str, inclusive: bool, _lower_id: int | None) -> list[Row]:
            op = ">=" if inclusive else ">"
            rows = db.execute(f"SELECT {VERSION_COLS} FROM versions WHERE bucket=? AND is_latest=1"
                              f" AND key {op} ? ORDER BY key LIMIT {BATCH}", (bucket, lower)).fetchall()
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
                sql = (f"SELECT {VERSION_COLS} FROM versions WHERE bucket=? AND (key > ? OR (key = ? AND id < ?))"
                       f" ORDER BY key, id DESC LIMIT {BATCH}")
                params: tuple[Any, ...] = (bucket, lower, lower, lower_id)
            else:
                op = ">=" if inclusive else ">"
                sql = (f"SELECT {VERSION_COLS} FROM versions WHERE bucket=? AND key {op} ?"
                       f" ORDER BY key, id DESC LIMIT {BATCH}")
                params = (bucket, lower)
            return [Row(r[1], r[19], r) for r in db.execute(sql, params).fetchall()]

        page = paginate(fetch, prefix, delimiter, key_marker, marker_id, max_keys, skip_delete_markers=False,
                        is_delete_marker=lambda r: bool(r[8]))
        versions = [self._version(r) for r in page.rows]
        next_vid = versions[-1].version_id if page.is_truncated and versions and \
            page.next_key == versions[-1].key else None
        return ListPage(versions, page.common_prefixes, page.is_truncated, page.next_key, next_vid)

    def referenced_blob_ids(self) -> set[str]:
        ids: set[str] = set()
        # One read transaction = one snapshot: a CompleteMultipartUpload committing between the two
        # SELECTs would otherwise move a blob from parts to versions unseen, and gc would delete it.
        with self._snapshot() as db:
            for (text,) in db.execute("SELECT extents FROM versions"):
                ids.update(e.blob_id for e in extents_of(text))
            for (blob_id,) in db.execute("SELECT blob_id FROM parts"):
                ids.add(blob_id)
        return ids

    # -- maintenance: iteration for scrub and gc (issue #5) ----------------------------------------
    def count_versions(self) -> int:
        return int(self._conn().execute("SELECT COUNT(*) FROM versions").fetchone()[0])

    def iter_versions(self, after_seq: int, limit: int) -> list[ObjectVersion]:
        rows = self._conn().execute(f"SELECT {VERSION_COLS} FROM versions WHERE id > ? ORDER BY id LIMIT ?",
                                    (after_seq, limit)).fetchall()
        return [self._version(r) for r in rows]

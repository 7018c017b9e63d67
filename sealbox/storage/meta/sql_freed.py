"""Freed blobs (issue 19): blob files a committed overwrite or delete no longer references, kept on disk
until a grace period has passed (``sealbox.service.freed``), because a GET on another gateway may still
be streaming one: on a shared file system such as NFS an unlinked file is not kept readable for the
other clients that have it open (POSIX's keep-open-after-unlink holds within one host only).

One row per blob: its id and when it was freed (seconds). Rows are written after the commit that
freed the blobs and forgotten once the sweep has unlinked them.
"""

from __future__ import annotations

from collections.abc import Iterable

from sealbox.storage.meta.sqlrows import SqlStore


class FreedBlobsMixin(SqlStore):
    def free_blobs(self, blob_ids: Iterable[str], freed_at: float) -> None:
        ids = list(dict.fromkeys(blob_ids))
        if not ids:
            return
        with self._write() as db:
            for blob_id in ids:  # a blob freed twice keeps its first time (the earlier grace end)
                db.execute("INSERT INTO freed_blobs(blob_id, freed_at) VALUES (?,?) ON CONFLICT DO NOTHING",
                           (blob_id, freed_at))

    def freed_blobs(self, freed_before: float, limit: int) -> list[str]:
        rows = self._conn().execute("SELECT blob_id FROM freed_blobs WHERE freed_at <= ? ORDER BY freed_at, blob_id"
                                    " LIMIT ?", (freed_before, limit)).fetchall()
        return [r[0] for r in rows]

    def freed_blob_ids(self) -> set[str]:
        return {r[0] for r in self._conn().execute("SELECT blob_id FROM freed_blobs")}

    def forget_freed_blobs(self, blob_ids: Iterable[str]) -> None:
        ids = list(blob_ids)
        if not ids:
            return
        with self._write() as db:
            for blob_id in ids:
                db.execute("DELETE FROM freed_blobs WHERE blob_id=?", (blob_id,))

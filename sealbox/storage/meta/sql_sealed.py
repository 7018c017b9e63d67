"""Master-key maintenance (issue #5: which values are sealed under which key, their rotation) and the
sealing of SSE rows written in the clear before sealed metadata existed (issue 13)."""

from __future__ import annotations

import time
from typing import Any

from sealbox.core.types import ObjectMetadata
from sealbox.storage.meta.base import ClearMetadataRow, MetadataOwner, SealedRow
from sealbox.storage.meta.sqlrows import SEALED_TABLES, UNDER_MASTER_KEY, SqlStore, json_object, json_strings


class SealedMixin(SqlStore):
    # -- master-key maintenance ---------------------------------------------------------------------
    def sealed_key_counts(self) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = {}
        with self._snapshot() as db:  # one snapshot across the tables
            for kind, (table, _ref, _cols, column) in SEALED_TABLES.items():
                rows = db.execute(f"SELECT {self._KEY_ID_SQL.format(column)} AS kid, COUNT(*) FROM {table}"
                                  f" WHERE {UNDER_MASTER_KEY.format(column)} GROUP BY kid").fetchall()
                counts[kind] = {kid: n for kid, n in rows}
        return counts

    def sealed_samples(self) -> list[SealedRow]:
        db = self._conn()
        samples: list[SealedRow] = []
        for kind, (table, ref, cols, column) in SEALED_TABLES.items():
            rows = db.execute(f"SELECT {ref}, {cols}, {column} FROM {table} WHERE {ref} IN (SELECT MIN({ref})"
                              f" FROM {table} WHERE {UNDER_MASTER_KEY.format(column)}"
                              f" GROUP BY {self._KEY_ID_SQL.format(column)})").fetchall()
            samples += [SealedRow(kind, str(r[0]), r[1], r[2], r[3] or b"", r[4]) for r in rows]
        return samples

    def sealed_not_under(self, kind: str, key_id: str, after: str, limit: int) -> list[SealedRow]:
        table, ref, cols, column = SEALED_TABLES[kind]
        prefix = f"v1:{key_id}:"
        after_param: Any = int(after or 0) if kind == "version" else after
        rows = self._conn().execute(
            f"SELECT {ref}, {cols}, {column} FROM {table} WHERE {UNDER_MASTER_KEY.format(column)} AND {ref} > ?"
            f" AND substr({column}, 1, ?) <> ? ORDER BY {ref} LIMIT ?",
            (after_param, len(prefix), prefix, limit)).fetchall()
        return [SealedRow(kind, str(r[0]), r[1], r[2], r[3] or b"", r[4]) for r in rows]

    def replace_sealed(self, kind: str, changes: list[tuple[str, str, str]]) -> int:
        table, ref, _cols, column = SEALED_TABLES[kind]
        updated = 0
        with self._write() as db:
            for row_ref, old, new in changes:
                key: Any = int(row_ref) if kind == "version" else row_ref
                updated += db.execute(f"UPDATE {table} SET {column}=? WHERE {ref}=? AND {column}=?",
                                      (new, key, old)).rowcount
        return updated

    # -- SSE-C: the server share (sealbox.crypto.ssec) ------------------------------------------------
    def sse_c_share(self) -> tuple[str, str] | None:
        row = self._conn().execute("SELECT ref, sealed FROM sse_c_shares ORDER BY created, ref LIMIT 1").fetchone()
        return (str(row[0]), str(row[1])) if row else None

    def sse_c_share_by_ref(self, ref: str) -> str | None:
        row = self._conn().execute("SELECT sealed FROM sse_c_shares WHERE ref=?", (ref,)).fetchone()
        return str(row[0]) if row else None

    def add_sse_c_share(self, ref: str, sealed: str) -> tuple[str, str]:
        """Store a share unless one exists already (two workers, or gateways, racing on the first SSE-C
        write): the one stored first wins, and every one uses it."""
        with self._write() as db:
            if db.execute("SELECT ref FROM sse_c_shares LIMIT 1").fetchone() is None:
                db.execute("INSERT INTO sse_c_shares(ref, sealed, created) VALUES (?,?,?) ON CONFLICT DO NOTHING",
                           (ref, sealed, time.time()))
        found = self.sse_c_share()
        assert found is not None
        return found

    # -- sealed metadata: the migration of rows written in the clear (issue 13) -------------------------
    def clear_metadata(self, kind: str, after: str, limit: int) -> list[ClearMetadataRow]:
        db = self._conn()
        if kind == "version":
            rows = db.execute(
                "SELECT id, bucket, key, object_uid, sealed_key, etag, checksums, user_meta, content_headers, tags,"
                " part_checksums FROM versions WHERE sse IS NOT NULL AND sealed_meta IS NULL AND sealed_key IS NOT NULL"
                " AND id > ? ORDER BY id LIMIT ?", (int(after or 0), limit)).fetchall()
            return [ClearMetadataRow(MetadataOwner("version", r[1], r[2], r[3], r[4]), str(r[0]),
                                     ObjectMetadata(r[5], json_object(r[6]), json_object(r[7]), json_object(r[8]),
                                                    json_object(r[9]), json_strings(r[10])))
                    for r in rows]
        if kind == "upload":
            rows = db.execute(
                "SELECT upload_id, bucket, key, object_uid, sealed_key, user_meta, content_headers, tags FROM uploads"
                " WHERE sse IS NOT NULL AND sealed_meta IS NULL AND sealed_key IS NOT NULL AND upload_id > ?"
                " ORDER BY upload_id LIMIT ?", (after, limit)).fetchall()
            return [ClearMetadataRow(MetadataOwner("upload", r[1], r[2], r[3], r[4]), r[0],
                                     ObjectMetadata(user_meta=json_object(r[5]), content_headers=json_object(r[6]),
                                                    tags=json_object(r[7])))
                    for r in rows]
        if kind == "part":
            upload_id, _, number = after.partition(":")
            rows = db.execute(
                "SELECT p.upload_id, p.part_number, u.bucket, u.key, u.object_uid, u.sealed_key, p.etag, p.checksums"
                " FROM parts p JOIN uploads u ON u.upload_id = p.upload_id WHERE p.sealed_meta IS NULL"
                " AND u.sse IS NOT NULL AND u.sealed_key IS NOT NULL AND (p.upload_id, p.part_number) > (?, ?)"
                " ORDER BY p.upload_id, p.part_number LIMIT ?", (upload_id, int(number or 0), limit)).fetchall()
            return [ClearMetadataRow(MetadataOwner("part", r[2], r[3], r[4], r[5], r[1]), f"{r[0]}:{r[1]}",
                                     ObjectMetadata(r[6], json_object(r[7]))) for r in rows]
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

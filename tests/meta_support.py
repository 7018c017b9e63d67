"""Tests that look at or change a server's metadata by hand, on whichever store it has: the data
directory's SQLite file, or the PostgreSQL database it was served with (``--meta-url``, recorded in the
data directory: sealbox.storage.meta.stores.MARKER)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sealbox.storage.meta.base import MetadataCipher, MetaStore
from sealbox.storage.meta.stores import open_meta_store, recorded_meta_url


def meta_url(data_dir: Path) -> str | None:
    return recorded_meta_url(data_dir)


def open_store(data_dir: Path, metadata: MetadataCipher | None = None) -> MetaStore:
    return open_meta_store(meta_url(data_dir), data_dir / "meta.sqlite3", metadata)


def meta_sql(data_dir: Path, statement: str, params: tuple[Any, ...] | list[Any] = ()) -> list[tuple[Any, ...]]:
    """Run one statement (``?`` placeholders) and commit; its rows. SQLite's PRAGMAs are no-ops on
    PostgreSQL (it has no write-ahead log in the data directory to checkpoint)."""
    url = meta_url(data_dir)
    if url is None:
        db = sqlite3.connect(data_dir / "meta.sqlite3", timeout=30)
        try:
            rows = db.execute(statement, tuple(params)).fetchall()
            db.commit()
        finally:
            db.close()
        return rows
    if statement.lstrip().upper().startswith("PRAGMA"):
        return []
    import psycopg

    from sealbox.storage.meta.pgconn import translate

    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(translate(statement), tuple(params))
        return [tuple(r) for r in cur.fetchall()] if cur.description is not None else []


def bump_tokens(data_dir: Path) -> None:
    """What every write does after its commit: a test that edits the tables by hand must too. (On
    PostgreSQL nothing is cached across requests but the key service's state, whose token is a counter.)"""
    if meta_url(data_dir) is not None:
        meta_sql(data_dir, "UPDATE kms_account SET changes = changes + 1 WHERE id = 1")
        return
    from sealbox.storage.meta.generation import BUCKETS, COMMITS, KMS, ChangeTokens

    tokens = ChangeTokens(Path(f"{data_dir / 'meta.sqlite3'}.tokens"))
    for slot in (BUCKETS, COMMITS, KMS):
        tokens.bump(slot)
    tokens.close()

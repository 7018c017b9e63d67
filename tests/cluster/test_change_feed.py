"""The change feed (storage/meta/changes.py) on both backends: rows one process keeps are dropped as
soon as another process (on PostgreSQL: another gateway, here another process on the same database)
commits a change — bucket rows, CORS texts, and object rows (never kept on PostgreSQL)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sealbox.core.types import Bucket, Extent, ObjectVersion, Versioning
from sealbox.storage.meta.base import MetaStore
from sealbox.storage.meta.generation import BUCKETS, COMMITS, KMS, ChangeTokens
from sealbox.storage.meta.pg_changes import PgChangeFeed
from sealbox.storage.meta.postgres import PostgresMetaStore
from sealbox.storage.meta.sqlite import SqliteMetaStore

ROOT = Path(__file__).resolve().parents[2]

# Another process changes the bucket and overwrites the object, through its own store.
_OTHER = """
import sys, time
from pathlib import Path
from sealbox.core.types import Extent, ObjectVersion, Versioning
from sealbox.storage.meta.postgres import PostgresMetaStore
from sealbox.storage.meta.sqlite import SqliteMetaStore
where = sys.argv[1]
meta = PostgresMetaStore(where) if where.startswith("postgresql") else SqliteMetaStore(Path(where))
meta.set_bucket_versioning("bkt", Versioning.ENABLED)
meta.set_bucket_cors("bkt", "<CORSConfiguration/>")
meta.put_version(ObjectVersion(bucket="bkt", key="k", version_id="v2", object_uid=b"u2", size=2, etag="e2",
                               last_modified=time.time(), owner="alice", extents=(Extent("b" * 32, 2),)))
meta.close()
"""


@pytest.fixture(params=["sqlite", "postgres"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "meta.sqlite3")
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(where: str) -> Iterator[MetaStore]:
    meta: MetaStore = PostgresMetaStore(where) if where.startswith("postgresql") else SqliteMetaStore(Path(where))
    yield meta
    meta.close()


def test_a_change_by_another_process_is_seen_by_the_next_lookup(store: MetaStore, where: str) -> None:
    bucket = f"b{os.getpid()}{time.monotonic_ns() % 10**6}"
    assert store.create_bucket(Bucket(bucket, "alice", time.time(), "us-east-1")) is None
    store.put_version(ObjectVersion(bucket=bucket, key="k", version_id="v1", object_uid=b"u1", size=1, etag="e1",
                                    last_modified=time.time(), owner="alice", extents=(Extent("a" * 32, 1),)))
    for _ in range(3):  # kept now
        found = store.get_bucket(bucket)
        assert found is not None and found.versioning is Versioning.UNVERSIONED
        assert store.get_bucket_cors(bucket) is None
        version = store.get_version(bucket, "k")
        assert version is not None and version.etag == "e1"
    done = subprocess.run([sys.executable, "-c", _OTHER.replace('"bkt"', repr(bucket)), where], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    found = store.get_bucket(bucket)
    assert found is not None and found.versioning is Versioning.ENABLED
    assert store.get_bucket_cors(bucket) == "<CORSConfiguration/>"
    version = store.get_version(bucket, "k")
    assert version is not None and version.etag == "e2"


def test_postgresql_tokens_move_with_every_bump_and_object_rows_are_never_kept(pg_url: str) -> None:
    meta = PostgresMetaStore(pg_url)
    try:
        feed = PgChangeFeed(meta.database.connection)
        other = PgChangeFeed(meta.database.connection)
        before = feed.current(BUCKETS)
        assert feed.current(BUCKETS) == before  # unchanged: a kept row may be used
        other.bump(BUCKETS)
        assert feed.current(BUCKETS) != before
        for slot in (COMMITS, KMS):  # never the same twice: never kept
            assert feed.current(slot) != feed.current(slot)
        assert not feed.host_local
    finally:
        meta.close()


def test_sqlite_tokens_are_host_local(tmp_path: Path) -> None:
    tokens = ChangeTokens(tmp_path / "t")
    try:
        assert tokens.host_local
        before = tokens.current(BUCKETS)
        tokens.bump(BUCKETS)
        assert tokens.current(BUCKETS) != before
    finally:
        tokens.close()

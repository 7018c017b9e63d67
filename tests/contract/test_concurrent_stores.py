"""Writers racing through two stores on one database (as two gateways would; every thread on a connection
of its own: SQLite's per-thread ones, PostgreSQL's pooled ones), on every backend of the contract suite: conditional writes are atomic, the last commit
wins whole, a bucket is never deleted under a write. Bounded: a few hundred writes per test."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.preconditions import WriteCondition
from sealbox.core.types import Bucket, Extent, ObjectVersion, Versioning
from sealbox.storage.meta.base import MetaStore
from tests.contract.test_metastore import BACKENDS

THREADS = 8  # per store


@pytest.fixture(params=sorted(BACKENDS))
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[MetaStore, MetaStore]]:
    a = BACKENDS[request.param](tmp_path, None)
    b = BACKENDS[request.param](tmp_path, None)
    yield a, b
    a.close()
    b.close()


def _version(key: str, bucket: str = "bkt") -> ObjectVersion:
    return ObjectVersion(bucket=bucket, key=key, version_id=secrets.token_urlsafe(24), object_uid=secrets.token_bytes(16),
                         size=3, etag=secrets.token_hex(16), last_modified=time.time(), owner="alice",
                         extents=(Extent(secrets.token_hex(16), 3),))


def _race(stores: tuple[MetaStore, MetaStore], work: Callable[[MetaStore, int], None]) -> list[BaseException]:
    """``work(store, n)`` on THREADS threads per store, all released at once; the unexpected errors."""
    errors: list[BaseException] = []
    start = threading.Barrier(2 * THREADS)

    def run(store: MetaStore, n: int) -> None:
        start.wait(timeout=30)
        try:
            work(store, n)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s, i)) for s in stores for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return errors


def test_if_none_match_has_one_winner_across_stores(pair: tuple[MetaStore, MetaStore]) -> None:
    a, _ = pair
    a.create_bucket(Bucket("bkt", "alice", time.time(), "us-east-1"))
    for round_ in range(5):
        won: list[str] = []
        refused: list[ErrorCode] = []

        def put(store: MetaStore, n: int, key: str = f"k{round_}", won: list[str] = won,
                refused: list[ErrorCode] = refused) -> None:
            v = _version(key)
            try:
                store.put_version(v, WriteCondition(if_none_match=True))
                won.append(v.etag)
            except SealboxError as exc:
                refused.append(exc.code)

        assert _race(pair, put) == []
        assert len(won) == 1 and len(refused) == 2 * THREADS - 1, (won, refused)
        assert set(refused) <= {ErrorCode.PRECONDITION_FAILED, ErrorCode.CONDITIONAL_REQUEST_CONFLICT}
        for store in pair:
            latest = store.get_version("bkt", f"k{round_}", fresh=True)
            assert latest is not None and latest.etag == won[0]


def test_last_writer_wins_whole_and_every_version_is_kept(pair: tuple[MetaStore, MetaStore]) -> None:
    a, b = pair
    a.create_bucket(Bucket("bkt", "alice", time.time(), "us-east-1"))
    a.set_bucket_versioning("bkt", Versioning.ENABLED)
    written: list[ObjectVersion] = []

    def put(store: MetaStore, n: int) -> None:
        for _ in range(10):
            v = _version("hot")
            store.put_version(v)
            written.append(v)

    assert _race(pair, put) == []
    versions = b.list_versions("bkt", "", "", "", "", 1000).entries
    assert sorted(v.version_id for v in versions) == sorted(v.version_id for v in written)
    assert [v.is_latest for v in versions].count(True) == 1
    latest = a.get_version("bkt", "hot", fresh=True)
    assert latest is not None and latest.is_latest
    # Whole: the latest row is exactly one of the versions written (no mix of two writers' fields).
    assert (latest.version_id, latest.etag, latest.extents) in {(v.version_id, v.etag, v.extents) for v in written}


def test_unversioned_overwrites_leave_one_row_and_return_each_replaced_extent_once(
        pair: tuple[MetaStore, MetaStore]) -> None:
    a, b = pair
    a.create_bucket(Bucket("bkt", "alice", time.time(), "us-east-1"))
    written: list[ObjectVersion] = []
    orphaned: list[Extent] = []

    def put(store: MetaStore, n: int) -> None:
        for _ in range(10):
            v = _version("hot")
            orphaned.extend(store.put_version(v).orphaned)
            written.append(v)

    assert _race(pair, put) == []
    (only,) = b.list_versions("bkt", "", "", "", "", 1000).entries
    kept = {only.extents[0]}
    # Every extent written is either the one kept or handed back exactly once for deletion.
    assert sorted(map(repr, orphaned)) == sorted(repr(v.extents[0]) for v in written if v.extents[0] not in kept)


def test_delete_bucket_never_leaves_a_version_without_its_bucket(pair: tuple[MetaStore, MetaStore]) -> None:
    a, b = pair
    for round_ in range(5):
        name = f"b{round_}"
        a.create_bucket(Bucket(name, "alice", time.time(), "us-east-1"))

        def work(store: MetaStore, n: int, name: str = name) -> None:
            if n == 0 and store is a:
                try:
                    store.delete_bucket(name)
                except SealboxError as exc:
                    assert exc.code is ErrorCode.BUCKET_NOT_EMPTY
                return
            try:
                store.put_version(_version(f"k{n}", bucket=name))
            except SealboxError as exc:
                assert exc.code is ErrorCode.NO_SUCH_BUCKET

        assert _race(pair, work) == []
        if b.get_bucket(name) is None:
            assert b.iter_versions(0, 10_000) == [] or all(v.bucket != name for v in b.iter_versions(0, 10_000))

"""The MetaStore contract: every backend must pass this suite unchanged (SQLite now, PostgreSQL later).

A backend joins by adding a factory to ``BACKENDS``.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.types import NULL_VERSION, Bucket, Extent, ObjectVersion, Versioning
from sealbox.storage.meta.base import MetaStore, Part, Upload
from sealbox.storage.meta.sqlite import SqliteMetaStore

BACKENDS: dict[str, Callable[[Path], MetaStore]] = {
    "sqlite": lambda tmp: SqliteMetaStore(tmp / "meta.sqlite3"),
}


@pytest.fixture(params=sorted(BACKENDS))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetaStore]:
    meta = BACKENDS[request.param](tmp_path)
    yield meta
    meta.close()


def _bucket(meta: MetaStore, name: str = "bkt", versioning: Versioning = Versioning.UNVERSIONED) -> str:
    assert meta.create_bucket(Bucket(name, "alice", time.time(), "us-east-1")) is None
    if versioning is not Versioning.UNVERSIONED:
        meta.set_bucket_versioning(name, versioning)
    return name


def _version(key: str, body_id: str | None = None, bucket: str = "bkt", **kw: object) -> ObjectVersion:
    blob = body_id or secrets.token_hex(16)
    return ObjectVersion(bucket=bucket, key=key, version_id=secrets.token_urlsafe(24), object_uid=secrets.token_bytes(16),
                         size=3, etag="abc", last_modified=time.time(), owner="alice",
                         extents=(Extent(blob, 3),), **kw)  # type: ignore[arg-type]


def test_bucket_lifecycle(store: MetaStore) -> None:
    _bucket(store)
    existing = store.create_bucket(Bucket("bkt", "bob", time.time(), "us-east-1"))
    assert existing is not None and existing.owner == "alice"
    assert [b.name for b in store.list_buckets()] == ["bkt"]
    store.set_bucket_encryption("bkt", "AES256", True)
    got = store.get_bucket("bkt")
    assert got is not None and got.default_sse == "AES256" and got.bucket_key_enabled
    assert store.delete_bucket("bkt") is True
    assert store.get_bucket("bkt") is None and store.delete_bucket("bkt") is False


def test_delete_bucket_refuses_when_not_empty(store: MetaStore) -> None:
    _bucket(store)
    store.put_version(_version("k"))
    with pytest.raises(SealboxError) as exc:
        store.delete_bucket("bkt")
    assert exc.value.code is ErrorCode.BUCKET_NOT_EMPTY


def test_put_into_missing_bucket(store: MetaStore) -> None:
    with pytest.raises(SealboxError) as exc:
        store.put_version(_version("k", bucket="nope"))
    assert exc.value.code is ErrorCode.NO_SUCH_BUCKET


def test_unversioned_overwrite_returns_old_extent(store: MetaStore) -> None:
    _bucket(store)
    first = _version("k")
    assert store.put_version(first).version_id == NULL_VERSION
    second = _version("k")
    result = store.put_version(second)
    assert result.orphaned == list(first.extents)
    latest = store.get_version("bkt", "k")
    assert latest is not None and latest.extents == second.extents and latest.version_id == NULL_VERSION


def test_versioned_history_and_delete_markers(store: MetaStore) -> None:
    _bucket(store, versioning=Versioning.ENABLED)
    v1, v2 = _version("k"), _version("k")
    id1 = store.put_version(v1).version_id
    id2 = store.put_version(v2).version_id
    assert id1 == v1.version_id and id2 == v2.version_id
    marker = _version("k", is_delete_marker=True)
    deleted = store.delete("bkt", "k", None, marker)
    assert deleted.delete_marker and deleted.version_id == marker.version_id and deleted.orphaned == []
    latest = store.get_version("bkt", "k")
    assert latest is not None and latest.is_delete_marker
    assert store.list_objects("bkt", "", "", "", 100).entries == []
    # Removing the marker makes v2 current again.
    store.delete("bkt", "k", marker.version_id, marker)
    latest = store.get_version("bkt", "k")
    assert latest is not None and latest.version_id == id2 and latest.is_latest
    gone = store.delete("bkt", "k", id1, marker)
    assert gone.orphaned == list(v1.extents)
    page = store.list_versions("bkt", "", "", "", "", 100)
    assert [v.version_id for v in page.entries] == [id2]


def test_suspended_versioning_replaces_null_version(store: MetaStore) -> None:
    _bucket(store, versioning=Versioning.ENABLED)
    kept = store.put_version(_version("k")).version_id
    store.set_bucket_versioning("bkt", Versioning.SUSPENDED)
    n1 = _version("k")
    assert store.put_version(n1).version_id == NULL_VERSION
    n2 = _version("k")
    assert store.put_version(n2).orphaned == list(n1.extents)
    ids = [v.version_id for v in store.list_versions("bkt", "", "", "", "", 100).entries]
    assert ids == [NULL_VERSION, kept]


def test_conditional_put(store: MetaStore) -> None:
    _bucket(store)
    store.put_version(_version("k"), if_none_match_star=True)
    with pytest.raises(SealboxError) as exc:
        store.put_version(_version("k"), if_none_match_star=True)
    assert exc.value.code is ErrorCode.PRECONDITION_FAILED
    with pytest.raises(SealboxError) as exc:
        store.put_version(_version("k"), if_match='"other"')
    assert exc.value.code is ErrorCode.PRECONDITION_FAILED
    store.put_version(_version("k"), if_match='"abc"')


def test_listing_with_delimiter_and_pagination(store: MetaStore) -> None:
    _bucket(store)
    keys = ["a", "b/1", "b/2", "b/c/3", "c", "d/4"] + [f"e/{i:04d}" for i in range(1500)]
    for key in keys:
        store.put_version(_version(key))
    page = store.list_objects("bkt", "", "/", "", 1000)
    assert [v.key for v in page.entries] == ["a", "c"]
    assert page.common_prefixes == ["b/", "d/", "e/"] and not page.is_truncated
    seen: list[str] = []
    after = ""
    for _ in range(10):
        page = store.list_objects("bkt", "e/", "", after, 700)
        seen += [v.key for v in page.entries]
        if not page.is_truncated:
            break
        assert page.next_marker is not None
        after = page.next_marker
    assert seen == [f"e/{i:04d}" for i in range(1500)]
    truncated = store.list_objects("bkt", "", "/", "", 3)
    assert [v.key for v in truncated.entries] == ["a", "c"] and truncated.common_prefixes == ["b/"]
    assert truncated.is_truncated


def test_multipart_lifecycle(store: MetaStore) -> None:
    _bucket(store)
    upload = Upload("up1", "bkt", "big", secrets.token_bytes(16), time.time(), "alice", {}, {}, None, None, None,
                    None, "STANDARD")
    store.create_upload(upload)
    first = Part(1, Extent(secrets.token_hex(16), 5), "e1", {}, time.time())
    assert store.put_part("up1", first) == []
    again = Part(1, Extent(secrets.token_hex(16), 6), "e1b", {}, time.time())
    assert store.put_part("up1", again) == [first.extent]
    second = Part(2, Extent(secrets.token_hex(16), 7), "e2", {}, time.time())
    store.put_part("up1", second)
    assert [p.part_number for p in store.list_parts("up1")] == [1, 2]
    version = _version("big")
    final = ObjectVersion(**{**version.__dict__, "extents": (again.extent,), "part_count": 1})
    result = store.finish_upload("up1", final)
    assert result.orphaned == [second.extent]
    assert store.get_upload("up1") is None
    with pytest.raises(SealboxError) as exc:
        store.put_part("up1", first)
    assert exc.value.code is ErrorCode.NO_SUCH_UPLOAD


def test_referenced_blob_ids(store: MetaStore) -> None:
    _bucket(store)
    v = _version("k", body_id="ab" * 16)
    store.put_version(v)
    assert "ab" * 16 in store.referenced_blob_ids()


def _inline_version(key: str, bucket: str = "bkt") -> ObjectVersion:
    v = _version(key, bucket=bucket)
    return dataclasses.replace(v, extents=(dataclasses.replace(v.extents[0], inline=True),))


def test_inline_bytes_are_kept_with_their_version(store: MetaStore) -> None:
    _bucket(store)
    v = _inline_version("k")
    store.put_version(v, inline_data=b"abc")
    got = store.get_version("bkt", "k")
    assert got is not None and got.extents == v.extents and got.extents[0].inline
    assert store.read_inline(v.extents[0].blob_id) == b"abc"
    assert store.read_inline(secrets.token_hex(16)) is None


def test_inline_bytes_go_with_the_version_that_drops_them(store: MetaStore) -> None:
    _bucket(store)
    first = _inline_version("k")
    store.put_version(first, inline_data=b"one")
    # An overwrite of the null version removes the old bytes in its own transaction: nothing to delete.
    second = _version("k")
    assert store.put_version(second).orphaned == []
    assert store.read_inline(first.extents[0].blob_id) is None
    third = _inline_version("k")
    assert store.put_version(third, inline_data=b"three").orphaned == list(second.extents)  # a file: for the caller
    deleted = store.delete("bkt", "k", None, _version("k", is_delete_marker=True))
    assert deleted.orphaned == [] and store.read_inline(third.extents[0].blob_id) is None


def test_inline_bytes_of_older_versions_stay_until_those_are_deleted(store: MetaStore) -> None:
    _bucket(store, versioning=Versioning.ENABLED)
    old, new = _inline_version("k"), _inline_version("k")
    store.put_version(old, inline_data=b"old")
    store.put_version(new, inline_data=b"new")
    store.delete("bkt", "k", None, _version("k", is_delete_marker=True))
    assert store.read_inline(old.extents[0].blob_id) == b"old"
    assert store.read_inline(new.extents[0].blob_id) == b"new"
    assert store.delete("bkt", "k", old.version_id, _version("k")).orphaned == []
    assert store.read_inline(old.extents[0].blob_id) is None
    assert store.read_inline(new.extents[0].blob_id) == b"new"


def test_a_failed_conditional_put_keeps_no_inline_bytes(store: MetaStore) -> None:
    _bucket(store)
    store.put_version(_version("k"))
    refused = _inline_version("k")
    with pytest.raises(SealboxError) as exc:
        store.put_version(refused, if_none_match_star=True, inline_data=b"nope")
    assert exc.value.code is ErrorCode.PRECONDITION_FAILED
    assert store.read_inline(refused.extents[0].blob_id) is None

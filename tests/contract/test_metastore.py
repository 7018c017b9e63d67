"""The MetaStore contract: every backend must pass this suite unchanged (SQLite, and PostgreSQL on the
session's real server, tests/pg_support.py: a database per test directory).

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
from sealbox.core.preconditions import DeleteCondition, WriteCondition
from sealbox.core.types import (
    NULL_VERSION,
    SSE_AES256,
    Bucket,
    Extent,
    ObjectLock,
    ObjectMetadata,
    ObjectVersion,
    Versioning,
)
from sealbox.crypto.keyring import Keyring, generate_master_key
from sealbox.service.metadata import MetadataSealer
from sealbox.service.pipeline import IntegrityFailure
from sealbox.service.sealing import Sealer
from sealbox.storage.meta.base import MetadataCipher, MetaStore, Part, Upload
from sealbox.storage.meta.postgres import PostgresMetaStore
from sealbox.storage.meta.sqlite import SqliteMetaStore
from tests import pg_support

# A backend's factory: the store in this directory, with the cipher of SSE rows' metadata (or none).
BACKENDS: dict[str, Callable[[Path, MetadataCipher | None], MetaStore]] = {
    "sqlite": lambda tmp, cipher: SqliteMetaStore(tmp / "meta.sqlite3", metadata=cipher),
    "postgres": lambda tmp, cipher: PostgresMetaStore(pg_support.shared_server().database_for(tmp), metadata=cipher),
}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store(backend: str, tmp_path: Path) -> Iterator[MetaStore]:
    meta = BACKENDS[backend](tmp_path, None)
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
    assert store.delete_bucket("bkt") == []
    assert store.get_bucket("bkt") is None and store.delete_bucket("bkt") is None


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


def _refused(code: ErrorCode, write: Callable[[], object]) -> None:
    with pytest.raises(SealboxError) as exc:
        write()
    assert exc.value.code is code, exc.value


def test_conditional_put(store: MetaStore) -> None:
    _bucket(store)
    store.put_version(_version("k"), WriteCondition(if_none_match=True))
    _refused(ErrorCode.PRECONDITION_FAILED, lambda: store.put_version(_version("k"), WriteCondition(if_none_match=True)))
    current = store.get_version("bkt", "k")
    assert current is not None
    _refused(ErrorCode.PRECONDITION_FAILED,
             lambda: store.put_version(_version("k"), WriteCondition(if_match="other", base_seq=current.seq)))
    _refused(ErrorCode.NO_SUCH_KEY, lambda: store.put_version(_version("x"), WriteCondition(if_match="abc")))
    store.put_version(_version("k"), WriteCondition(if_match="abc", base_seq=current.seq))


def test_conditional_put_that_raced_another_write_is_a_conflict(store: MetaStore) -> None:
    """The same ETag, but not the version the write began over (rewritten meanwhile): 409."""
    _bucket(store)
    store.put_version(_version("k"))
    seen = store.get_version("bkt", "k")
    assert seen is not None
    store.put_version(_version("k"))  # the same ETag ("abc"), another version
    _refused(ErrorCode.CONDITIONAL_REQUEST_CONFLICT,
             lambda: store.put_version(_version("k"), WriteCondition(if_match="abc", base_seq=seen.seq)))
    # If-None-Match: an object was current when the write began and was deleted meanwhile.
    store.delete("bkt", "k", None, _version("k", is_delete_marker=True))
    _refused(ErrorCode.CONDITIONAL_REQUEST_CONFLICT,
             lambda: store.put_version(_version("k"), WriteCondition(if_none_match=True, base_seq=seen.seq)))
    assert store.get_version("bkt", "k") is None


def test_conditional_put_sees_a_delete_marker_as_no_object(store: MetaStore) -> None:
    _bucket(store, versioning=Versioning.ENABLED)
    store.put_version(_version("k"))
    store.delete("bkt", "k", None, _version("k", is_delete_marker=True))
    _refused(ErrorCode.NO_SUCH_KEY, lambda: store.put_version(_version("k"), WriteCondition(if_match="abc")))
    store.put_version(_version("k"), WriteCondition(if_none_match=True))


def test_conditional_delete_if_match(store: MetaStore) -> None:
    _bucket(store, versioning=Versioning.ENABLED)
    marker = _version("k", is_delete_marker=True)
    _refused(ErrorCode.NO_SUCH_KEY,
             lambda: store.delete("bkt", "k", None, marker, condition=DeleteCondition(if_match="*")))
    store.put_version(_version("k"))
    _refused(ErrorCode.PRECONDITION_FAILED, lambda: store.delete("bkt", "k", None, marker,
                                                                 condition=DeleteCondition(if_match="other")))
    assert store.delete("bkt", "k", None, marker, condition=DeleteCondition(if_match="abc")).delete_marker
    # Under a delete marker there is no current object: If-Match fails whatever the ETag.
    _refused(ErrorCode.NO_SUCH_KEY, lambda: store.delete("bkt", "k", None, _version("k", is_delete_marker=True),
                                                         condition=DeleteCondition(if_match="abc")))
    assert len(store.list_versions("bkt", "", "", "", "", 100).entries) == 2


def test_conditional_delete_size_and_time(store: MetaStore) -> None:
    _bucket(store, versioning=Versioning.ENABLED)
    v = _version("k")
    vid = store.put_version(v).version_id
    store.put_version(_version("k"))
    second = int(v.last_modified)
    _refused(ErrorCode.PRECONDITION_FAILED,
             lambda: store.delete("bkt", "k", vid, v, condition=DeleteCondition(size=4)))
    _refused(ErrorCode.PRECONDITION_FAILED,
             lambda: store.delete("bkt", "k", vid, v, condition=DeleteCondition(last_modified=second - 10)))
    gone = store.delete("bkt", "k", vid, v, condition=DeleteCondition(size=3, last_modified=second))
    assert gone.version_id == vid and store.get_version("bkt", "k", vid) is None
    # A version that does not exist satisfies them: the delete is what it would be anyway.
    assert store.delete("bkt", "k", vid, v, condition=DeleteCondition(size=99)).version_id == vid
    # A delete marker has no size: against one they never hold.
    store.delete("bkt", "k", None, _version("k", is_delete_marker=True))
    _refused(ErrorCode.PRECONDITION_FAILED, lambda: store.delete("bkt", "k", None, _version("k", is_delete_marker=True),
                                                                 condition=DeleteCondition(size=0)))


def test_object_tags(store: MetaStore) -> None:
    _bucket(store, versioning=Versioning.ENABLED)
    first = store.put_version(_version("k", tags={"b": "2", "a": "1"})).version_id
    got = store.get_version("bkt", "k")
    assert got is not None and list(got.tags.items()) == [("b", "2"), ("a", "1")]  # the order put
    second = store.put_version(_version("k")).version_id
    latest = store.get_version("bkt", "k")
    assert latest is not None and latest.tags == {}  # a new version has its own tag set
    tagged = store.set_object_tags("bkt", "k", first, {"z": ""})
    assert tagged is not None and tagged.version_id == first and tagged.tags == {"z": ""}
    older = store.get_version("bkt", "k", first)
    assert older is not None and older.tags == {"z": ""} and older.etag == "abc"
    now = store.set_object_tags("bkt", "k", None, {"c": "3"})
    assert now is not None and now.version_id == second
    assert store.set_object_tags("bkt", "nope", None, {"c": "3"}) is None
    store.delete("bkt", "k", None, _version("k", is_delete_marker=True))
    marker = store.set_object_tags("bkt", "k", None, {"c": "3"})
    assert marker is not None and marker.is_delete_marker and marker.tags == {}
    latest = store.get_version("bkt", "k")
    assert latest is not None and latest.is_delete_marker and latest.tags == {}


def test_bucket_tags(store: MetaStore) -> None:
    _bucket(store)
    assert store.get_bucket_tags("bkt") is None
    store.set_bucket_tags("bkt", {"team": "x", "env": "dev"})
    assert list((store.get_bucket_tags("bkt") or {}).items()) == [("team", "x"), ("env", "dev")]
    store.set_bucket_tags("bkt", None)
    assert store.get_bucket_tags("bkt") is None
    _refused(ErrorCode.NO_SUCH_BUCKET, lambda: store.set_bucket_tags("nope", {"a": "b"}))


def test_upload_keeps_tags_and_the_object_it_began_over(store: MetaStore) -> None:
    _bucket(store)
    upload = Upload("u0", "bkt", "k", secrets.token_bytes(16), time.time(), "alice", {}, {}, None, None, None,
                    None, "STANDARD", tags={"t": "1"})
    store.create_upload(upload)
    got = store.get_upload("u0")
    assert got is not None and got.tags == {"t": "1"} and got.base_seq is None
    store.put_version(_version("k"))
    current = store.get_version("bkt", "k")
    assert current is not None
    store.create_upload(dataclasses.replace(upload, upload_id="u1", base_seq=12345))  # the store decides it
    again = store.get_upload("u1")
    assert again is not None and again.base_seq == current.seq


def test_conditional_complete(store: MetaStore) -> None:
    _bucket(store)
    store.put_version(_version("k"))
    upload = Upload("u1", "bkt", "k", secrets.token_bytes(16), time.time(), "alice", {}, {}, None, None, None,
                    None, "STANDARD")
    store.create_upload(upload)
    part = Part(1, Extent(secrets.token_hex(16), 5), "e1", {}, time.time())
    store.put_part("u1", part)
    base = store.get_upload("u1")
    assert base is not None
    final = dataclasses.replace(_version("k"), extents=(part.extent,), part_count=1, part_checksums=("c1",))
    _refused(ErrorCode.PRECONDITION_FAILED,
             lambda: store.finish_upload("u1", final, WriteCondition(if_none_match=True, base_seq=base.base_seq)))
    store.put_version(_version("k"))  # the key is rewritten (same ETag) while the upload is open
    _refused(ErrorCode.CONDITIONAL_REQUEST_CONFLICT,
             lambda: store.finish_upload("u1", final, WriteCondition(if_match="abc", base_seq=base.base_seq)))
    assert store.get_upload("u1") is not None and [p.part_number for p in store.list_parts("u1")] == [1]
    store.finish_upload("u1", final, WriteCondition(if_match="abc", base_seq=(store.get_version("bkt", "k")
                                                                              or final).seq))
    done = store.get_version("bkt", "k")
    assert done is not None and done.part_checksums == ("c1",) and done.part_count == 1


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
        store.put_version(refused, WriteCondition(if_none_match=True), inline_data=b"nope")
    assert exc.value.code is ErrorCode.PRECONDITION_FAILED
    assert store.read_inline(refused.extents[0].blob_id) is None


# -- sealed metadata of SSE rows (issue 13) ------------------------------------------------------------------


@pytest.fixture
def sealer() -> Sealer:
    key = generate_master_key()
    return Sealer(Keyring([key], key.key_id))


@pytest.fixture
def keyed(backend: str, tmp_path: Path, sealer: Sealer) -> Iterator[MetaStore]:
    meta = BACKENDS[backend](tmp_path, MetadataSealer(sealer))
    yield meta
    meta.close()


FIELDS = ObjectMetadata(etag="0cc175b9c0f1b6a831c399e269772661", checksums={"CRC32": "6Lhm4w=="},
                        user_meta={"colour": "plum-SECRET"}, content_headers={"content-type": "text/x-secret"})


def _sse_version(sealer: Sealer, key: str, bucket: str = "bkt", fields: ObjectMetadata = FIELDS) -> ObjectVersion:
    uid = sealer.new_object_uid()
    _, sealed = sealer.new_data_key(bucket, key, uid)
    return dataclasses.replace(_version(key, bucket=bucket), object_uid=uid, sse=SSE_AES256, sealed_key=sealed,
                               etag=fields.etag, checksums=fields.checksums, user_meta=fields.user_meta,
                               content_headers=fields.content_headers, checksum_type="FULL_OBJECT")


def _sse_upload(sealer: Sealer, upload_id: str, key: str) -> Upload:
    uid = sealer.new_object_uid()
    _, sealed = sealer.new_data_key("bkt", key, uid)
    return Upload(upload_id, "bkt", key, uid, time.time(), "alice", {"content-type": "text/x-secret"},
                  {"colour": "plum-SECRET"}, SSE_AES256, sealed, "CRC32", "COMPOSITE", "STANDARD")


def test_sealed_version_reads_back_everywhere(keyed: MetaStore, sealer: Sealer) -> None:
    _bucket(keyed, versioning=Versioning.ENABLED)
    v = _sse_version(sealer, "k")
    vid = keyed.put_version(v).version_id
    for got in (keyed.get_version("bkt", "k"), keyed.get_version("bkt", "k", vid),
                keyed.list_objects("bkt", "", "", "", 10).entries[0],
                keyed.list_versions("bkt", "", "", "", "", 10).entries[0], keyed.iter_versions(0, 10)[0]):
        assert got is not None and got.metadata == FIELDS and got.sealed_meta is None
    plain = _version("p", user_meta={"open": "yes"})
    keyed.put_version(plain)
    got = keyed.get_version("bkt", "p")
    assert got is not None and got.etag == "abc" and got.user_meta == {"open": "yes"}


def test_sealed_upload_and_parts_read_back(keyed: MetaStore, sealer: Sealer) -> None:
    _bucket(keyed)
    upload = _sse_upload(sealer, "up1", "big")
    keyed.create_upload(upload)
    keyed.put_part("up1", Part(1, Extent(secrets.token_hex(16), 5), "e1-SECRET", {"CRC32": "AAAAAQ=="}, time.time()))
    keyed.put_part("up1", Part(2, Extent(secrets.token_hex(16), 6), "e2-SECRET", {"CRC32": "AAAAAg=="}, time.time()))
    got = keyed.get_upload("up1")
    assert got is not None and got.user_meta == upload.user_meta and got.content_headers == upload.content_headers
    assert [u.user_meta for u in keyed.list_uploads("bkt")] == [upload.user_meta]
    assert [(p.etag, p.checksums) for p in keyed.list_parts("up1")] == \
        [("e1-SECRET", {"CRC32": "AAAAAQ=="}), ("e2-SECRET", {"CRC32": "AAAAAg=="})]
    pairs = keyed.iter_parts(("", 0), 10)
    assert [(u.user_meta, p.part_number, p.extent.index, p.etag) for u, p in pairs] == \
        [(upload.user_meta, 1, 1, "e1-SECRET"), (upload.user_meta, 2, 2, "e2-SECRET")]
    done = dataclasses.replace(_sse_version(sealer, "big"), object_uid=upload.object_uid,
                               sealed_key=upload.sealed_key, extents=(pairs[0][1].extent,), part_count=1)
    keyed.finish_upload("up1", done)
    finished = keyed.get_version("bkt", "big")
    assert finished is not None and finished.metadata == FIELDS


def test_store_without_keys_sees_sealed_rows_unopened(backend: str, tmp_path: Path, keyed: MetaStore,
                                                       sealer: Sealer) -> None:
    """What the files hold: for SSE rows the fields only through the cipher, never in the clear."""
    _bucket(keyed)
    keyed.put_version(_sse_version(sealer, "k"))
    keyed.create_upload(_sse_upload(sealer, "up1", "m"))
    keyed.put_part("up1", Part(1, Extent(secrets.token_hex(16), 5), "e1-SECRET", {"CRC32": "AAAAAQ=="}, time.time()))
    bare = BACKENDS[backend](tmp_path, None)
    try:
        v = bare.get_version("bkt", "k")
        assert v is not None and v.sealed_meta is not None
        assert (v.etag, v.checksums, v.user_meta, v.content_headers) == ("", {}, {}, {})
        assert v.size == 3 and v.key == "k" and v.sse == SSE_AES256  # names and sizes stay in the clear
        up = bare.get_upload("up1")
        assert up is not None and up.sealed_meta is not None and up.user_meta == {} == up.content_headers
        (part,) = bare.list_parts("up1")
        assert part.sealed_meta is not None and part.etag == "" and part.checksums == {}
        # A store without keys cannot seal, so it refuses to write an SSE row with clear fields...
        with pytest.raises(RuntimeError):
            bare.put_version(_sse_version(sealer, "other"))
        # ...but writes an unopened row back as it is.
        bare.put_version(dataclasses.replace(v, key="moved", version_id="x" * 32))
    finally:
        bare.close()
    # The blob is bound to bucket/key/uid: written back under another key it does not open.
    with pytest.raises(IntegrityFailure):
        keyed.get_version("bkt", "moved")
    got = keyed.get_version("bkt", "k")
    assert got is not None and got.metadata == FIELDS


def test_conditional_put_against_a_sealed_etag(keyed: MetaStore, sealer: Sealer) -> None:
    """If-Match compares with the current version's ETag inside the write, even though it is sealed."""
    _bucket(keyed)
    keyed.put_version(_sse_version(sealer, "k"))

    def base() -> int | None:
        current = keyed.get_version("bkt", "k")
        return current.seq if current is not None else None

    with pytest.raises(SealboxError) as exc:
        keyed.put_version(_sse_version(sealer, "k"), WriteCondition(if_match="other", base_seq=base()))
    assert exc.value.code is ErrorCode.PRECONDITION_FAILED
    keyed.put_version(_sse_version(sealer, "k", fields=dataclasses.replace(FIELDS, etag="e2")),
                      WriteCondition(if_match=FIELDS.etag, base_seq=base()))
    with pytest.raises(SealboxError):
        keyed.put_version(_sse_version(sealer, "k"), WriteCondition(if_match=FIELDS.etag, base_seq=base()))  # "e2"
    keyed.put_version(_sse_version(sealer, "k"), WriteCondition(if_match="e2", base_seq=base()))


def test_tags_of_an_encrypted_object_are_sealed(keyed: MetaStore, sealer: Sealer, tmp_path: Path,
                                                backend: str) -> None:
    """An SSE version's tags and part checksums live in its sealed metadata, not in the clear; a tag change
    seals the row again, and a conditional delete still compares the (sealed) ETag."""
    _bucket(keyed, versioning=Versioning.ENABLED)
    v = dataclasses.replace(_sse_version(sealer, "k"), tags={"project": "apollo"}, part_checksums=("c1", "c2"))
    vid = keyed.put_version(v).version_id
    got = keyed.get_version("bkt", "k")
    assert got is not None and got.tags == {"project": "apollo"} and got.part_checksums == ("c1", "c2")
    tagged = keyed.set_object_tags("bkt", "k", vid, {"b": "2", "a": "1"})
    assert tagged is not None and list(tagged.tags) == ["b", "a"]
    reread = keyed.get_version("bkt", "k", vid)
    assert reread is not None and list(reread.tags.items()) == [("b", "2"), ("a", "1")]
    assert reread.metadata == dataclasses.replace(FIELDS, tags={"b": "2", "a": "1"}, part_checksums=("c1", "c2"))
    bare = BACKENDS[backend](tmp_path, None)
    try:
        unopened = bare.get_version("bkt", "k")
        assert unopened is not None and unopened.tags == {} and unopened.part_checksums == ()
        assert unopened.sealed_meta is not None
        with pytest.raises(RuntimeError):  # a store without keys cannot seal the new tag set
            bare.set_object_tags("bkt", "k", None, {"x": "y"})
    finally:
        bare.close()
    with pytest.raises(SealboxError):
        keyed.delete("bkt", "k", None, _version("k", is_delete_marker=True), condition=DeleteCondition(if_match="x"))
    assert keyed.delete("bkt", "k", None, _version("k", is_delete_marker=True),
                        condition=DeleteCondition(if_match=FIELDS.etag)).delete_marker


# -- Object Lock (issue 17): the store enforces it inside the delete transaction --------------------
def _marker(key: str) -> ObjectVersion:
    return dataclasses.replace(_version(key), is_delete_marker=True, extents=())


def test_object_lock_needs_versioning_and_keeps_it(store: MetaStore) -> None:
    _bucket(store)
    with pytest.raises(SealboxError) as exc:
        store.set_bucket_object_lock("bkt", None)
    assert exc.value.code is ErrorCode.INVALID_BUCKET_STATE
    store.set_bucket_versioning("bkt", Versioning.ENABLED)
    store.set_bucket_object_lock("bkt", "GOVERNANCE:Days:1")
    bucket = store.get_bucket("bkt")
    assert bucket is not None and bucket.object_lock and bucket.lock_default == "GOVERNANCE:Days:1"
    with pytest.raises(SealboxError) as exc:
        store.set_bucket_versioning("bkt", Versioning.SUSPENDED)
    assert exc.value.code is ErrorCode.INVALID_BUCKET_STATE


@pytest.mark.parametrize("lock", [ObjectLock("COMPLIANCE", time.time() + 3600),
                                  ObjectLock("GOVERNANCE", time.time() + 3600),
                                  ObjectLock(None, None, True)])
def test_locked_version_is_not_deleted(store: MetaStore, lock: ObjectLock) -> None:
    _bucket(store, versioning=Versioning.ENABLED)
    v = _version("k", lock=lock)
    vid = store.put_version(v).version_id
    got = store.get_version("bkt", "k", vid)
    assert got is not None and got.lock == lock
    with pytest.raises(SealboxError) as exc:
        store.delete("bkt", "k", vid, _marker("k"))
    assert exc.value.code is ErrorCode.ACCESS_DENIED
    if lock.mode == "GOVERNANCE":
        store.delete("bkt", "k", vid, _marker("k"), bypass_governance=True)
        assert store.get_version("bkt", "k", vid, fresh=True) is None
        return
    with pytest.raises(SealboxError):
        store.delete("bkt", "k", vid, _marker("k"), bypass_governance=True)
    assert store.get_version("bkt", "k", vid, fresh=True) is not None
    # without a version id: a delete marker, the version stays
    assert store.delete("bkt", "k", None, _marker("k")).delete_marker


def test_expired_retention_allows_delete_and_update_lock_is_atomic(store: MetaStore) -> None:
    _bucket(store, versioning=Versioning.ENABLED)
    vid = store.put_version(_version("k", lock=ObjectLock("COMPLIANCE", time.time() - 1))).version_id
    updated = store.update_lock("bkt", "k", vid, lambda v: dataclasses.replace(v.lock, legal_hold=True))
    assert updated is not None and updated.lock.legal_hold
    with pytest.raises(SealboxError):
        store.delete("bkt", "k", vid, _marker("k"))
    store.update_lock("bkt", "k", vid, lambda v: dataclasses.replace(v.lock, legal_hold=False))
    store.delete("bkt", "k", vid, _marker("k"))
    assert store.update_lock("bkt", "k", vid, lambda v: v.lock) is None


def test_delete_only_if_latest(store: MetaStore) -> None:
    _bucket(store, versioning=Versioning.ENABLED)
    first = store.put_version(_version("k")).version_id
    store.put_version(_version("k"))
    assert not store.delete("bkt", "k", None, _marker("k"), only_if_latest=first).delete_marker
    latest = store.get_version("bkt", "k", fresh=True)
    assert latest is not None and not latest.is_delete_marker


# -- bucket CORS configurations, DeleteBucket with unfinished uploads, completions (issue 16) -------------------


def test_bucket_cors_is_stored_replaced_removed_and_goes_with_its_bucket(store: MetaStore) -> None:
    _bucket(store)
    assert store.get_bucket_cors("bkt") is None
    store.set_bucket_cors("bkt", '{"v":1,"rules":[]}')
    assert store.get_bucket_cors("bkt") == '{"v":1,"rules":[]}'
    store.set_bucket_cors("bkt", '{"v":1,"rules":[{}]}')
    assert store.get_bucket_cors("bkt") == '{"v":1,"rules":[{}]}'
    store.set_bucket_cors("bkt", None)
    assert store.get_bucket_cors("bkt") is None
    store.set_bucket_cors("bkt", None)  # removing nothing is no error
    with pytest.raises(SealboxError) as exc:
        store.set_bucket_cors("nope", "{}")
    assert exc.value.code is ErrorCode.NO_SUCH_BUCKET
    store.set_bucket_cors("bkt", "{}")
    assert store.delete_bucket("bkt") == []
    _bucket(store)  # a bucket of the same name starts without the old one's configuration
    assert store.get_bucket_cors("bkt") is None


def _open_upload(store: MetaStore, upload_id: str, key: str = "big") -> Part:
    store.create_upload(Upload(upload_id, "bkt", key, secrets.token_bytes(16), time.time(), "alice", {}, {}, None,
                               None, None, None, "STANDARD"))
    part = Part(1, Extent(secrets.token_hex(16), 5), "e1", {}, time.time())
    store.put_part(upload_id, part)
    return part


def test_delete_bucket_takes_its_unfinished_uploads_along(store: MetaStore) -> None:
    _bucket(store)
    first, second = _open_upload(store, "up1"), _open_upload(store, "up2", "other")
    assert sorted(e.blob_id for e in store.delete_bucket("bkt") or []) == sorted(
        [first.extent.blob_id, second.extent.blob_id])
    assert store.get_upload("up1") is None and store.list_parts("up1") == []
    _bucket(store)
    assert store.list_uploads("bkt") == []


def test_delete_bucket_with_versions_says_so_once_versioned(store: MetaStore) -> None:
    _bucket(store, versioning=Versioning.ENABLED)
    store.put_version(_version("k"))
    with pytest.raises(SealboxError) as exc:
        store.delete_bucket("bkt")
    assert exc.value.code is ErrorCode.BUCKET_NOT_EMPTY
    assert exc.value.message == "The bucket you tried to delete is not empty. You must delete all versions in the bucket."


def test_a_completion_is_remembered(store: MetaStore) -> None:
    _bucket(store)
    part = _open_upload(store, "up1")
    version = _version("big")
    final = dataclasses.replace(version, extents=(Extent(part.extent.blob_id, 5, 1),), part_count=1)
    assert store.get_completed_upload("up1") is None
    result = store.finish_upload("up1", final)
    done = store.get_completed_upload("up1")
    assert done is not None
    assert (done.bucket, done.key, done.version_id, done.object_uid, done.part_numbers) == (
        "bkt", "big", result.version_id, final.object_uid, (1,))
    _open_upload(store, "up2")
    store.finish_upload("up2", None)  # an abort is no completion
    assert store.get_completed_upload("up2") is None


def test_freed_blobs_wait_for_their_time_and_are_forgotten(store: MetaStore) -> None:
    a, b, c = (secrets.token_hex(16) for _ in range(3))
    store.free_blobs([a, b], 100.0)
    store.free_blobs([c, a], 200.0)  # a freed again keeps its first time
    store.free_blobs([], 300.0)
    assert store.freed_blob_ids() == {a, b, c}
    assert store.freed_blobs(99.0, 10) == []
    assert sorted(store.freed_blobs(150.0, 10)) == sorted([a, b])
    assert len(store.freed_blobs(150.0, 1)) == 1  # the limit holds
    assert store.freed_blobs(200.0, 10)[-1] == c  # oldest first
    store.forget_freed_blobs([a, secrets.token_hex(16)])  # an unknown id is skipped
    assert store.freed_blob_ids() == {b, c}
    store.forget_freed_blobs([])


def test_the_freed_sweep_unlinks_due_blobs_and_never_a_referenced_one(store: MetaStore, tmp_path: Path) -> None:
    from sealbox.service.freed import DeferredDeletes, sweep_freed
    from sealbox.storage.data.local import LocalBlobStore

    blobs = LocalBlobStore(tmp_path / "data")
    ids = []
    for _ in range(3):
        writer = blobs.new_writer()
        writer.write(b"x" * 100)
        writer.commit()
        ids.append(writer.blob_id)
    _bucket(store)
    kept = _version("k", body_id=ids[2])
    store.put_version(kept)
    now = [1000.0]
    deferred = DeferredDeletes(blobs, store, clock=lambda: now[0])
    deferred.delete([ids[0]])
    now[0] = 2000.0
    deferred.delete([ids[1], ids[2]])  # ids[2] is referenced: a wrong record must not unlink it
    assert all(blobs.stat(i) is not None for i in ids)  # deferred: nothing unlinked yet
    assert sweep_freed(store, blobs, grace=500.0, now=1400.0) == []  # nothing due yet
    assert sweep_freed(store, blobs, grace=500.0, now=1600.0) == [ids[0]]
    assert blobs.stat(ids[0]) is None and blobs.stat(ids[1]) is not None
    assert sweep_freed(store, blobs, grace=500.0, now=2600.0, batch=1) == [ids[1]]
    assert blobs.stat(ids[1]) is None and blobs.stat(ids[2]) is not None
    assert store.freed_blob_ids() == set()

"""The object service in-process: a temporary SQLite store and blob directory, no HTTP.

These pin the service layer's own contract (what the handlers rely on) fast, beside the black-box
suite: reads with ranges, parts and conditions; the typed facts of errors; the read that raced an
overwrite retrying from the store itself.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.types import Buffer, Versioning
from sealbox.crypto.keyring import Keyring, generate_master_key
from sealbox.service.buckets import BucketService
from sealbox.service.conditions import ByteRange, Conditions
from sealbox.service.identity import ROOT, Principal
from sealbox.service.objects import ObjectService, ReadSpec, WriteParams
from sealbox.service.pipeline import PayloadChecks
from sealbox.service.metadata import MetadataSealer
from sealbox.service.sealing import Sealer
from sealbox.storage.data.local import LocalBlobStore
from sealbox.storage.meta.sqlite import SqliteMetaStore
from tests.support import run_async

ROOT_USER = Principal(ROOT, "AKROOT")


class Body:
    """A request body as the edge hands it over: pieces, and nothing to verify."""

    def __init__(self, data: bytes, piece: int = 64 * 1024) -> None:
        self.data = data
        self.piece = piece
        self.checks = PayloadChecks()

    async def chunks(self) -> AsyncIterator[Buffer]:
        for at in range(0, len(self.data), self.piece):
            yield self.data[at: at + self.piece]


def _service(data_dir: Path, keyring: Keyring, pool: ThreadPoolExecutor) -> ObjectService:
    sealer = Sealer(keyring)
    meta = SqliteMetaStore(data_dir / "meta.sqlite3", metadata=MetadataSealer(sealer))
    buckets = BucketService(meta, "us-east-1", None)
    return ObjectService(meta, LocalBlobStore(data_dir), sealer, buckets, pool)


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(4) as executor:
        yield executor


@pytest.fixture
def keyring() -> Keyring:
    key = generate_master_key()
    return Keyring([key], key.key_id)


@pytest.fixture
def objects(tmp_path: Path, keyring: Keyring, pool: ThreadPoolExecutor) -> Iterator[ObjectService]:
    service = _service(tmp_path, keyring, pool)
    service.buckets.create(ROOT_USER, "bkt", None)
    yield service
    service.meta.close()


def _put(objects: ObjectService, key: str, data: bytes, sse: str | None = None) -> str:
    version = run_async(objects.put(ROOT_USER, "bkt", key, Body(data), WriteParams(sse=sse)))
    return version.etag


async def _drain(stream: AsyncIterator[Buffer]) -> bytes:
    return b"".join([bytes(chunk) async for chunk in stream])


def _read(objects: ObjectService, key: str, spec: ReadSpec | None = None) -> tuple[bytes, int, int, bool]:
    read = objects.read(ROOT_USER, "bkt", key, spec or ReadSpec())
    if read.body is not None:
        data = bytes(read.body)
    else:
        assert read.stream is not None
        data = run_async(_drain(read.stream))
    return data, read.start, read.length, read.partial


@pytest.mark.parametrize("size", [0, 100, 200_000, 2 * 1024 * 1024 + 3])
@pytest.mark.parametrize("sse", [None, "AES256"])
def test_read_returns_what_was_put_whole_and_in_ranges(objects: ObjectService, size: int, sse: str | None) -> None:
    data = os.urandom(size)
    etag = _put(objects, "k", data, sse)
    assert etag == hashlib.md5(data).hexdigest()
    assert _read(objects, "k") == (data, 0, size, False)
    if size:
        got, start, length, partial = _read(objects, "k", ReadSpec(byte_range=ByteRange(first=size // 3)))
        assert (got, start, length, partial) == (data[size // 3:], size // 3, size - size // 3, True)
        got, _, _, _ = _read(objects, "k", ReadSpec(byte_range=ByteRange(suffix=7)))
        assert got == data[-7:]
        assert _read(objects, "k", ReadSpec(part_number=1))[0] == data


def test_head_opens_nothing_and_conditions_answer_with_typed_facts(objects: ObjectService) -> None:
    etag = _put(objects, "k", b"hello")
    head = objects.read(ROOT_USER, "bkt", "k", ReadSpec(body=False))
    assert head.body is None and head.stream is None and head.length == 5
    with pytest.raises(SealboxError) as info:
        objects.read(ROOT_USER, "bkt", "k", ReadSpec(conditions=Conditions(if_none_match=f'"{etag}"')))
    assert info.value.code is ErrorCode.NOT_MODIFIED and info.value.facts.etag == f'"{etag}"'
    with pytest.raises(SealboxError) as info:
        objects.read(ROOT_USER, "bkt", "k", ReadSpec(conditions=Conditions(if_match='"other"')))
    assert info.value.code is ErrorCode.PRECONDITION_FAILED
    with pytest.raises(SealboxError) as info:
        objects.read(ROOT_USER, "bkt", "k", ReadSpec(part_number=2))
    assert info.value.code is ErrorCode.INVALID_PART
    with pytest.raises(SealboxError) as info:
        objects.read(ROOT_USER, "bkt", "k", ReadSpec(byte_range=ByteRange(first=5)))
    assert info.value.code is ErrorCode.INVALID_RANGE


def test_a_delete_marker_is_reported_as_facts_not_headers(objects: ObjectService) -> None:
    objects.buckets.set_versioning(ROOT_USER, "bkt", Versioning.ENABLED)
    _put(objects, "k", b"v1")
    marker = run_async(objects.delete(ROOT_USER, "bkt", "k", None))
    assert marker.delete_marker and marker.version_id
    with pytest.raises(SealboxError) as info:
        objects.read(ROOT_USER, "bkt", "k", ReadSpec())
    facts = info.value.facts
    assert info.value.code is ErrorCode.NO_SUCH_KEY and facts.delete_marker and facts.version_id == marker.version_id
    with pytest.raises(SealboxError) as info:
        objects.read(ROOT_USER, "bkt", "k", ReadSpec(version_id=marker.version_id))
    facts = info.value.facts
    assert info.value.code is ErrorCode.METHOD_NOT_ALLOWED
    assert facts.allowed_methods == ("DELETE",) and facts.last_modified is not None


@pytest.mark.parametrize("size", [4096, 300_000])  # inline in the metadata store, and a blob file
@pytest.mark.parametrize("sse", [None, "AES256"])
def test_a_read_that_raced_an_overwrite_retries_from_the_store(tmp_path: Path, keyring: Keyring,
                                                               pool: ThreadPoolExecutor, size: int,
                                                               sse: str | None) -> None:
    """Worker A remembers its lookup; worker B overwrites the key, and its commit notice has not reached
    A yet (the token is bumped just after the COMMIT). A's read finds the old bytes gone and must look
    the key up in the store itself, not in its memo (which still names the removed bytes)."""
    a = _service(tmp_path, keyring, pool)
    b = _service(tmp_path, keyring, pool)
    try:
        a.buckets.create(ROOT_USER, "bkt", None)
        old, new = os.urandom(size), os.urandom(size)
        _put(a, "k", old, sse)
        assert _read(a, "k")[0] == old  # A's memo now holds this version
        b_meta = b.meta
        assert isinstance(b_meta, SqliteMetaStore)
        b_meta._tokens.bump = lambda slot: None  # type: ignore[method-assign]  # B's notice is "in flight"
        _put(b, "k", new, sse)
        assert _read(a, "k")[0] == new
    finally:
        a.meta.close()
        b.meta.close()

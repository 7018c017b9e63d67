"""The BlobStore contract: every blob backend must pass this suite unchanged (local files now; a
shared-storage backend for several gateways later). A backend joins by adding a factory to ``BACKENDS``.

What the service layer relies on, one test each: nothing is visible before ``commit()``; a committed
blob reads back exactly, in any range; ``abort()`` leaves nothing, even after a failed commit; an
open handle survives the blob's deletion; missing blobs are ``BlobNotFound``; reads past the end are
``ShortBlob``; deleting twice is harmless; listing, stat and temp blobs give gc and scrub what they
need; small inlinable bodies stay out of the store.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sealbox.storage.data.base import BlobNotFound, BlobStore, NotResident, ShortBlob
from sealbox.storage.data.local import INLINE_MAX, LocalBlobStore

BACKENDS: dict[str, Callable[[Path], BlobStore]] = {
    "local": lambda tmp: LocalBlobStore(tmp),
}
MIB = 1024 * 1024


@pytest.fixture(params=sorted(BACKENDS))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    yield BACKENDS[request.param](tmp_path)


def _write(store: BlobStore, data: bytes, piece: int = 100_000, inline: bool = False) -> str:
    writer = store.new_writer(inline)
    for at in range(0, len(data), piece):
        writer.write(data[at: at + piece])
    writer.commit()
    return writer.blob_id


def test_a_committed_blob_reads_back_exactly_in_any_range(store: BlobStore) -> None:
    data = os.urandom(3 * MIB + 12345)
    blob_id = _write(store, data)
    with store.open(blob_id) as blob:
        assert blob.size == len(data)
        for offset, length in [(0, len(data)), (1, 10), (65535, 300_000), (MIB - 1, 2 * MIB), (len(data) - 1, 1),
                               (len(data), 0)]:
            assert bytes(blob.read(offset, length)) == data[offset: offset + length]
    assert store.read_whole(blob_id, len(data)) == data


def test_read_whole_shows_a_grown_blob_by_one_byte_more(store: BlobStore) -> None:
    blob_id = _write(store, b"0123456789")
    assert store.read_whole(blob_id, 5) == b"012345"  # expected + 1: the caller sees the size is wrong


def test_nothing_is_visible_before_commit(store: BlobStore) -> None:
    writer = store.new_writer()
    writer.write(os.urandom(300_000))  # past any in-memory buffering
    assert writer.blob_id not in set(store.blob_ids())
    assert store.stat(writer.blob_id) is None
    with pytest.raises(BlobNotFound):
        store.open(writer.blob_id)
    assert any(t.size > 0 or t.name for t in store.temp_blobs())  # an upload in flight is a temp blob
    writer.commit()
    assert writer.blob_id in set(store.blob_ids())


def test_abort_leaves_nothing(store: BlobStore) -> None:
    for size in (0, 10, 300_000, 2 * MIB):
        writer = store.new_writer()
        writer.write(os.urandom(size))
        writer.abort()
        assert store.stat(writer.blob_id) is None
    assert list(store.blob_ids()) == []
    assert list(store.temp_blobs()) == []


def test_an_open_handle_survives_the_blobs_deletion(store: BlobStore) -> None:
    data = os.urandom(2 * MIB)
    blob_id = _write(store, data)
    blob = store.open(blob_id)
    try:
        store.delete([blob_id])
        assert store.stat(blob_id) is None
        with pytest.raises(BlobNotFound):
            store.open(blob_id)
        assert bytes(blob.read(MIB, MIB)) == data[MIB:]  # a GET already under way finishes
    finally:
        blob.close()


def test_missing_blobs_are_blob_not_found_and_deletes_are_idempotent(store: BlobStore) -> None:
    blob_id = "0" * 32
    with pytest.raises(BlobNotFound):
        store.open(blob_id)
    with pytest.raises(BlobNotFound):
        store.read_whole(blob_id, 10)
    assert isinstance(BlobNotFound("x"), FileNotFoundError)  # callers that only know the builtin still work
    store.delete([blob_id, blob_id])
    real = _write(store, b"abc")
    store.delete([real])
    store.delete([real])
    assert store.stat(real) is None


def test_a_read_past_the_end_is_a_short_blob(store: BlobStore) -> None:
    blob_id = _write(store, os.urandom(1000))
    with store.open(blob_id) as blob:
        with pytest.raises(ShortBlob):
            blob.read(900, 101)
        with pytest.raises(ShortBlob):
            blob.read(0, 400 * 1024)  # large enough to be mapped by the local backend
        assert len(blob.read(999, 1)) == 1


def test_a_resident_only_read_never_waits_but_always_answers_once_cached(store: BlobStore) -> None:
    data = os.urandom(MIB)
    blob_id = _write(store, data)
    with store.open(blob_id) as blob:
        assert bytes(blob.read(0, MIB)) == data  # now in memory, whatever the backend
        try:
            got = blob.read(4096, 500_000, resident_only=True)
        except NotResident:
            pytest.fail("bytes just read must count as resident")
        assert bytes(got) == data[4096: 4096 + 500_000]


def test_stat_and_listing_give_gc_and_scrub_what_they_need(store: BlobStore) -> None:
    before = time.time()
    ids = {_write(store, os.urandom(n)) for n in (1, 1000, 300_000)}
    assert set(store.blob_ids()) == ids
    for blob_id in ids:
        info = store.stat(blob_id)
        assert info is not None and info.blob_id == blob_id
        assert before - 5 <= info.mtime <= time.time() + 5
        assert info.location and blob_id in info.location
        assert store.location(blob_id) == info.location
    assert sorted(store.stat(i).size for i in ids) == [1, 1000, 300_000]  # type: ignore[union-attr]


def test_remove_temp_clears_an_interrupted_write(store: BlobStore) -> None:
    writer = store.new_writer()
    writer.write(os.urandom(400_000))  # the writer "crashes": never committed nor aborted
    (temp,) = list(store.temp_blobs())
    assert temp.size > 0 and temp.location
    store.remove_temp(temp.name)
    store.remove_temp(temp.name)  # twice: harmless
    assert list(store.temp_blobs()) == []
    with pytest.raises(ValueError):
        store.remove_temp("../blobs")


def test_a_small_inlinable_body_stays_out_of_the_store(store: BlobStore) -> None:
    writer = store.new_writer(inline=True)
    writer.write(b"x" * INLINE_MAX)
    assert writer.inline
    writer.commit()
    assert writer.inline_data == b"x" * INLINE_MAX
    assert store.stat(writer.blob_id) is None and list(store.blob_ids()) == []
    big = store.new_writer(inline=True)
    big.write(b"y" * (INLINE_MAX + 1))
    assert not big.inline
    big.commit()
    assert big.inline_data is None and store.read_whole(big.blob_id, INLINE_MAX + 1) == b"y" * (INLINE_MAX + 1)


def test_abort_after_a_failed_commit_leaves_nothing(store: BlobStore, monkeypatch: pytest.MonkeyPatch) -> None:
    writer = store.new_writer()
    writer.write(os.urandom(400_000))

    def fail(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError):
        writer.commit()
    monkeypatch.undo()
    writer.abort()
    assert store.stat(writer.blob_id) is None
    assert list(store.temp_blobs()) == [] and list(store.blob_ids()) == []

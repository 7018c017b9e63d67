"""Tests of the read side: reused plaintext buffers (sealbox.service.pipeline) and the local blob
store's mapped reads (sealbox.storage.data.mapped)."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest

from sealbox.service.pipeline import ReusableBuffers
from sealbox.storage.data import mapped
from sealbox.storage.data.base import NotResident, ShortBlob
from sealbox.storage.data.mapped import MAP_THRESHOLD
from typing import BinaryIO


def _map_exact(f: BinaryIO, offset: int, length: int, resident_only: bool = False) -> memoryview | None:
    return mapped.map_exact(f.fileno(), offset, length, resident_only)


def test_an_idle_buffer_is_reused() -> None:
    pool = ReusableBuffers()
    first = pool.take(100)
    first_id = id(first)
    del first  # nothing but the pool holds it now
    again = pool.take(80)
    assert id(again) == first_id and len(again) == 100


@pytest.mark.parametrize("hold", ["reference", "memoryview", "slice view"])
def test_a_buffer_someone_still_holds_is_never_handed_out(hold: str) -> None:
    # The socket's write queue keeps either the object or a view of it until the kernel took it all.
    pool = ReusableBuffers()
    buf = pool.take(64)
    held: object
    if hold == "reference":
        held = [buf]
    elif hold == "memoryview":
        held = memoryview(buf)
    else:
        held = memoryview(buf)[10:20]
    buf_id = id(buf)
    del buf
    other = pool.take(64)
    assert id(other) != buf_id
    del held, other
    assert id(pool.take(64)) == buf_id  # released: reusable again


def test_too_small_buffers_are_not_reused_and_the_pool_stays_bounded() -> None:
    pool = ReusableBuffers()
    kept = [pool.take(10) for _ in range(ReusableBuffers.LIMIT + 2)]  # all busy: fresh ones
    assert len({id(b) for b in kept}) == len(kept)
    assert len(pool._buffers) == ReusableBuffers.LIMIT
    del kept
    assert len(pool.take(11)) == 11  # every pooled buffer is idle but too small


def test_a_mapped_read_is_exactly_the_stored_bytes(tmp_path: Path) -> None:
    data = os.urandom(3 * MAP_THRESHOLD + 12345)
    path = tmp_path / "blob"
    path.write_bytes(data)
    with path.open("rb") as f:
        for offset, length in [(0, len(data)), (1, MAP_THRESHOLD), (4097, MAP_THRESHOLD + 3), (len(data) - 5, 5)]:
            assert _map_exact(f, offset, length) == data[offset: offset + length]


def test_a_mapped_read_past_the_end_is_an_integrity_failure(tmp_path: Path) -> None:
    path = tmp_path / "blob"
    path.write_bytes(b"x" * MAP_THRESHOLD)
    with path.open("rb") as f, pytest.raises(ShortBlob, match="short read"):
        _map_exact(f, 100, MAP_THRESHOLD)


def test_without_page_population_reads_fall_back_to_pread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A kernel before 5.14 answers EINVAL: faulting pages in later would block the event loop on
    # the disk, so the reader must copy with pread instead, and keep doing so.
    monkeypatch.setattr(mapped, "_MADV_POPULATE_READ", -1)  # an advice no kernel knows: EINVAL
    monkeypatch.setattr(mapped, "_can_populate", True)
    data = os.urandom(2 * MAP_THRESHOLD)
    path = tmp_path / "blob"
    path.write_bytes(data)
    with path.open("rb") as f:
        assert _map_exact(f, 5, MAP_THRESHOLD) is None
        assert mapped._can_populate is False


def test_a_file_that_cannot_be_mapped_is_read_instead() -> None:
    # /dev/null stands in for a file system without mmap support (ENODEV): no error, the caller preads
    with open("/dev/null", "rb") as f:
        assert _map_exact(f, 0, MAP_THRESHOLD) is None


def test_populating_a_mapping_lets_the_event_loop_thread_run(tmp_path: Path) -> None:
    """The reader thread populates a mapping from the disk; the event loop's thread must keep running
    meanwhile. (mmap.madvise holds the GIL for the whole disk read: the loop stood still.)"""
    size = 256 * 1024 * 1024
    path = tmp_path / "blob"
    with path.open("wb") as f:
        for _ in range(size // (16 << 20)):
            f.write(os.urandom(16 << 20))
        f.flush()
        os.fsync(f.fileno())
        os.posix_fadvise(f.fileno(), 0, size, os.POSIX_FADV_DONTNEED)  # out of the page cache: a disk read
    took: list[float] = []
    finished = threading.Event()

    def populate() -> None:
        with path.open("rb") as f:
            start = time.perf_counter()
            view = _map_exact(f, 0, size)
            took.append(time.perf_counter() - start)
        assert view is not None
        view.release()
        finished.set()

    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)
    try:
        reader = threading.Thread(target=populate)
        last = time.perf_counter()
        longest = 0.0
        reader.start()
        while not finished.is_set():  # the "event loop": how long is it kept from running?
            now = time.perf_counter()
            longest, last = max(longest, now - last), now
        reader.join()
    finally:
        sys.setswitchinterval(interval)
    if took[0] < 0.02:
        pytest.skip(f"populating took only {took[0] * 1000:.1f} ms: too short to tell")
    assert longest < took[0] / 2, f"the main thread stood still {longest * 1000:.0f} of {took[0] * 1000:.0f} ms"


def test_a_range_not_in_the_page_cache_is_refused_to_the_event_loop(tmp_path: Path) -> None:
    """resident_only (the event loop's own read) maps only what the page cache holds, so the loop
    never waits for the disk; the same range is read once it is cached."""
    data = os.urandom(4 * MAP_THRESHOLD)
    path = tmp_path / "blob"
    with path.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
        os.posix_fadvise(f.fileno(), 0, len(data), os.POSIX_FADV_DONTNEED)
    with path.open("rb") as f:
        with pytest.raises(NotResident):
            _map_exact(f, 4097, 2 * MAP_THRESHOLD, resident_only=True)
        assert _map_exact(f, 4097, 2 * MAP_THRESHOLD) == data[4097: 4097 + 2 * MAP_THRESHOLD]  # reads it in
        assert _map_exact(f, 4097, 2 * MAP_THRESHOLD, resident_only=True) == data[4097: 4097 + 2 * MAP_THRESHOLD]

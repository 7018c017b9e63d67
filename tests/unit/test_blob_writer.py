"""Tests of sealbox.storage.data.local.BlobWriter: the bytes written, the writeback it starts, inlining."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sealbox.storage.data import local
from sealbox.storage.data.local import INLINE_MAX, WRITEBACK_STEP, LocalBlobStore


def test_a_large_blob_starts_writeback_for_every_byte_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[tuple[int, int]] = []
    real = local.start_writeback

    def record(fd: int, offset: int, length: int) -> None:
        started.append((offset, length))
        real(fd, offset, length)  # the real system call still runs

    monkeypatch.setattr(local, "start_writeback", record)
    store = LocalBlobStore(tmp_path)
    writer = store.new_writer()
    data = os.urandom(3 * WRITEBACK_STEP + 12345)
    piece = 1024 * 1024 + 7  # pieces that do not divide the step
    for at in range(0, len(data), piece):
        writer.write(data[at: at + piece])
    writer.commit()
    # contiguous ranges from 0, each at least a step, covering all but the tail below one step
    assert started and started[0][0] == 0
    for (offset, length), (next_offset, _) in zip(started, started[1:], strict=False):
        assert next_offset == offset + length
    assert all(length >= WRITEBACK_STEP for _, length in started)
    covered = started[-1][0] + started[-1][1]
    assert len(data) - WRITEBACK_STEP < covered <= len(data)
    assert store.path(writer.blob_id).read_bytes() == data


def test_a_small_blob_starts_no_writeback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[tuple[int, int]] = []
    monkeypatch.setattr(local, "start_writeback", lambda fd, offset, length: started.append((offset, length)))
    store = LocalBlobStore(tmp_path)
    writer = store.new_writer()
    writer.write(b"x" * (WRITEBACK_STEP - 1))
    writer.commit()
    assert started == []
    assert store.path(writer.blob_id).stat().st_size == WRITEBACK_STEP - 1


@pytest.mark.skipif(not os.uname().sysname == "Linux", reason="sync_file_range is Linux's")
def test_sync_file_range_is_found_and_accepts_the_call(tmp_path: Path) -> None:
    assert local._sync_file_range is not None  # otherwise the writeback hint silently does nothing
    path = tmp_path / "f"
    path.write_bytes(b"y" * 65536)
    fd = os.open(path, os.O_RDWR)
    try:
        assert local._sync_file_range(fd, 0, 65536, local._SYNC_FILE_RANGE_WRITE) == 0
    finally:
        os.close(fd)


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


@pytest.mark.parametrize("size", [0, 1, INLINE_MAX])
def test_an_inlining_writer_keeps_a_small_body_out_of_any_file(tmp_path: Path, size: int) -> None:
    store = LocalBlobStore(tmp_path)
    writer = store.new_writer(inline=True)
    data = os.urandom(size)
    writer.write(data[: size // 2])
    writer.write(data[size // 2:])
    assert writer.inline
    writer.commit()
    assert writer.inline_data == data
    assert _files(tmp_path) == []  # neither a blob nor a temp file


def test_an_inlining_writer_writes_a_file_past_the_limit(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    writer = store.new_writer(inline=True)
    data = os.urandom(INLINE_MAX + 1)
    writer.write(data)
    assert not writer.inline
    writer.commit()
    assert writer.inline_data is None and store.path(writer.blob_id).read_bytes() == data


@pytest.mark.parametrize("size", [0, 10])
def test_a_writer_not_allowed_to_inline_always_writes_a_file(tmp_path: Path, size: int) -> None:
    store = LocalBlobStore(tmp_path)
    writer = store.new_writer()
    writer.write(b"z" * size)
    assert not writer.inline
    writer.commit()
    assert writer.inline_data is None and store.path(writer.blob_id).read_bytes() == b"z" * size

"""Disk full: a data directory on a 16 MiB tmpfs, filled by uploads and by a filler file.

A write that runs out of space fails with a 503 ServiceUnavailable S3 error (the message says the
storage is full), leaves no temp file behind, earlier objects stay intact and readable, and once space
is freed the same server accepts writes again. Needs root (mount); skipped with the reason otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.faults.storage import fill_with_uploads, scrub, small_tmpfs, storage_full, temp_files
from tests.support import Server, running_server, signed_request, xml_code

SIZE = "16m"
BUCKET = "full"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    with small_tmpfs(tmp_path / "tmpfs", SIZE) as mount_point:
        yield mount_point


def _earlier_objects(s3: Any) -> dict[str, bytes]:
    bodies = {"plain": os.urandom(100_000), "sealed": os.urandom(100_000)}
    s3.put_object(Bucket=BUCKET, Key="plain", Body=bodies["plain"])
    s3.put_object(Bucket=BUCKET, Key="sealed", Body=bodies["sealed"], ServerSideEncryption="AES256")
    return bodies


def _check_intact(s3: Any, bodies: dict[str, bytes]) -> None:
    for key, body in bodies.items():
        assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == body, key


@pytest.mark.parametrize("sse", [False, True], ids=["plain", "sse"])
def test_put_object_on_full_disk_fails_cleanly_and_recovers(small_disk: Path, sse: bool) -> None:
    data_dir = small_disk / "data"
    with running_server(data_dir) as server:
        s3: Any = server.client()
        s3.create_bucket(Bucket=BUCKET)
        bodies = _earlier_objects(s3)
        stored, failure = fill_with_uploads(s3, BUCKET, "big", sse)
        assert stored >= 5  # the disk really held some before filling up
        storage_full(failure)
        assert temp_files(data_dir) == []  # the cut upload's temp file is gone
        _check_intact(s3, bodies)
        assert s3.list_buckets()["Buckets"]  # still serving
        # Free space: writes work again on the same server.
        for n in range(stored):
            s3.delete_object(Bucket=BUCKET, Key=f"big{n}")
        s3.put_object(Bucket=BUCKET, Key="after", Body=b"room again", **({"ServerSideEncryption": "AES256"} if sse else {}))
        assert s3.get_object(Bucket=BUCKET, Key="after")["Body"].read() == b"room again"
        _check_intact(s3, bodies)
        assert "Traceback" not in server.log(), server.log()
    status, report = scrub(data_dir, "--grace", "0")
    assert status == 0, report


def test_small_writes_on_a_disk_with_no_room_left(small_disk: Path) -> None:
    """Nearly no space: blob and metadata writes alike fail as 503; the metadata database survives."""
    data_dir = small_disk / "data"
    with running_server(data_dir) as server:
        s3: Any = server.client()
        s3.create_bucket(Bucket=BUCKET)
        bodies = _earlier_objects(s3)
        filler = small_disk / "filler"
        _fill_disk(filler)
        codes = [_try_put(server, s3, n) for n in range(20)]
        assert codes and all(code == "ServiceUnavailable" for code in codes), codes
        assert temp_files(data_dir) == []
        _check_intact(s3, bodies)
        filler.unlink()
        s3.put_object(Bucket=BUCKET, Key="after", Body=b"x" * 10_000)
        assert s3.get_object(Bucket=BUCKET, Key="after")["Body"].read() == b"x" * 10_000
        _check_intact(s3, bodies)
        assert "Traceback" not in server.log(), server.log()
    status, report = scrub(data_dir, "--grace", "0")
    assert status == 0, report


def test_metadata_database_full_is_503_and_leaves_no_orphan(small_disk: Path) -> None:
    """Empty objects need no data blocks, only metadata: the SQLite WAL is what runs out of space."""
    data_dir = small_disk / "data"
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * 11 * 1024 * 1024)  # leaves about 5 MiB, less than a full WAL
    with running_server(data_dir) as server:
        s3: Any = server.client()
        s3.create_bucket(Bucket=BUCKET)
        bodies = _earlier_objects(s3)
        failure = None
        for n in range(5000):
            response = signed_request(server, "PUT", f"/{BUCKET}/meta{n}", body=b"",
                                      headers={"x-amz-meta-padding": "p" * 1900})
            if response.status_code != 200:
                failure = response
                break
        assert failure is not None, "5000 metadata rows of 2 KB fitted in 5 MiB"
        assert failure.status_code == 503 and xml_code(failure) == "ServiceUnavailable", failure.text
        assert temp_files(data_dir) == []
        _check_intact(s3, bodies)
        assert s3.head_object(Bucket=BUCKET, Key="meta0")["Metadata"]["padding"] == "p" * 1900
        filler.unlink()
        s3.put_object(Bucket=BUCKET, Key="after", Body=b"fits again")
        assert s3.get_object(Bucket=BUCKET, Key="after")["Body"].read() == b"fits again"
        assert "Traceback" not in server.log(), server.log()
    status, report = scrub(data_dir, "--grace", "0")  # the failed write's blob was removed, not orphaned
    assert status == 0, report


def _fill_disk(filler: Path) -> None:
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for block in (65536, 4096, 1):  # down to the last byte
            try:
                while os.write(fd, b"\0" * block):
                    pass
            except OSError:
                continue
    finally:
        os.close(fd)


def _try_put(server: Server, s3: Any, n: int) -> str | None:
    if n % 2:
        response = signed_request(server, "PUT", f"/{BUCKET}/tiny{n}", body=b"y" * (n * 512))
        return xml_code(response) if response.status_code >= 500 else "ok"
    try:
        s3.put_object(Bucket=BUCKET, Key=f"tiny{n}", Body=b"z" * (n * 512), ServerSideEncryption="AES256")
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return "ok"

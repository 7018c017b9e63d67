"""Small objects are stored inline in the metadata store: no blob file, same S3 behaviour as files.

A PUT whose stored bytes fit in ``INLINE_MAX`` writes no file; its bytes are committed with the
version row. Everything a client can do with an object must behave the same on both sides of the
limit: GET, ranges, HEAD, copy (both ways), UploadPartCopy, overwrite, delete, versions.
"""

from __future__ import annotations

import hashlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sealbox.crypto import stream as aead
from sealbox.storage.data.local import INLINE_MAX
from tests.faults.storage import stored
from tests.meta_support import meta_sql
from tests.support import Server, running_server, unique_bucket


@pytest.fixture(scope="module")
def private(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("inline") / "data") as srv:
        yield srv


def _files(data_dir: Path) -> set[Path]:
    return {p for sub in ("blobs", "tmp") for p in (data_dir / sub).rglob("*") if p.is_file()}


def _inline_rows(data_dir: Path) -> int:
    return int(meta_sql(data_dir, "SELECT count(*) FROM inline_blobs")[0][0])


def _largest_inline(sse: bool) -> int:
    """The largest plaintext that still fits inline (one segment: header + data + tag when sealed)."""
    return INLINE_MAX - aead.HEADER_SIZE - aead.TAG_SIZE if sse else INLINE_MAX


@pytest.mark.parametrize("sse", [False, True])
def test_the_limit_decides_between_inline_and_a_file(private: Server, sse: bool) -> None:
    s3: Any = private.client()
    bucket = unique_bucket()
    s3.create_bucket(Bucket=bucket)
    extra = {"ServerSideEncryption": "AES256"} if sse else {}
    largest = _largest_inline(sse)
    before = _files(private.data_dir)
    bodies = {"at-limit": os.urandom(largest), "empty": b""}
    for key, body in bodies.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body, **extra)
    assert _files(private.data_dir) == before  # no blob file, no temp file left
    s3.put_object(Bucket=bucket, Key="over", Body=os.urandom(largest + 1), **extra)
    assert len(_files(private.data_dir) - before) == 1
    assert stored(private.data_dir, bucket, "at-limit").extent.inline
    assert not stored(private.data_dir, bucket, "over").extent.inline
    for key, body in bodies.items():
        got = s3.get_object(Bucket=bucket, Key=key)
        assert got["Body"].read() == body and got["ETag"].strip('"') == hashlib.md5(body).hexdigest()
        assert got.get("ServerSideEncryption") == ("AES256" if sse else None)
    if sse:
        assert bodies["at-limit"][:64] not in stored(private.data_dir, bucket, "at-limit").read()


@pytest.mark.parametrize("rng,start,end", [("bytes=0-0", 0, 1), ("bytes=100-199", 100, 200), ("bytes=-7", 993, 1000),
                                            ("bytes=990-", 990, 1000)])
def test_ranges_of_an_inline_object(private: Server, rng: str, start: int, end: int) -> None:
    s3: Any = private.client()
    bucket = unique_bucket()
    s3.create_bucket(Bucket=bucket)
    body = os.urandom(1000)
    s3.put_object(Bucket=bucket, Key="k", Body=body, ServerSideEncryption="AES256")
    got = s3.get_object(Bucket=bucket, Key="k", Range=rng)
    assert got["Body"].read() == body[start:end]
    assert got["ContentRange"] == f"bytes {start}-{end - 1}/1000"


def test_copies_between_inline_and_file_objects(private: Server) -> None:
    s3: Any = private.client()
    bucket = unique_bucket()
    s3.create_bucket(Bucket=bucket)
    small, large = os.urandom(3000), os.urandom(INLINE_MAX + 5000)
    s3.put_object(Bucket=bucket, Key="small", Body=small, ServerSideEncryption="AES256")
    s3.put_object(Bucket=bucket, Key="large", Body=large)
    s3.copy_object(Bucket=bucket, Key="small-copy", CopySource={"Bucket": bucket, "Key": "small"})
    s3.copy_object(Bucket=bucket, Key="large-copy", CopySource={"Bucket": bucket, "Key": "large"},
                   ServerSideEncryption="AES256")
    assert stored(private.data_dir, bucket, "small-copy").extent.inline
    assert not stored(private.data_dir, bucket, "large-copy").extent.inline
    got = s3.get_object(Bucket=bucket, Key="small-copy")
    assert got["Body"].read() == small and "ServerSideEncryption" not in got  # the spec: unencrypted unless asked
    assert s3.get_object(Bucket=bucket, Key="large-copy")["Body"].read() == large
    # An inline object as the source of UploadPartCopy: the last (and only) part may be small.
    upload = s3.create_multipart_upload(Bucket=bucket, Key="assembled")["UploadId"]
    part = s3.upload_part_copy(Bucket=bucket, Key="assembled", UploadId=upload, PartNumber=1,
                               CopySource={"Bucket": bucket, "Key": "small"}, CopySourceRange="bytes=10-2009")
    s3.complete_multipart_upload(Bucket=bucket, Key="assembled", UploadId=upload, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": part["CopyPartResult"]["ETag"]}]})
    assert s3.get_object(Bucket=bucket, Key="assembled")["Body"].read() == small[10:2010]


def test_overwrite_and_delete_remove_the_inline_bytes(tmp_path: Path) -> None:
    with running_server(tmp_path / "data") as server:
        s3: Any = server.client()
        s3.create_bucket(Bucket="bkt")
        s3.put_object(Bucket="bkt", Key="k", Body=b"first", ServerSideEncryption="AES256")
        s3.put_object(Bucket="bkt", Key="k", Body=b"second")
        assert _inline_rows(server.data_dir) == 1
        assert s3.get_object(Bucket="bkt", Key="k")["Body"].read() == b"second"
        s3.delete_object(Bucket="bkt", Key="k")
        assert _inline_rows(server.data_dir) == 0
        # With versioning, every version keeps its bytes until that version is deleted.
        s3.put_bucket_versioning(Bucket="bkt", VersioningConfiguration={"Status": "Enabled"})
        v1 = s3.put_object(Bucket="bkt", Key="v", Body=b"one", ServerSideEncryption="AES256")["VersionId"]
        s3.put_object(Bucket="bkt", Key="v", Body=b"two")
        s3.delete_object(Bucket="bkt", Key="v")
        assert _inline_rows(server.data_dir) == 2
        assert s3.get_object(Bucket="bkt", Key="v", VersionId=v1)["Body"].read() == b"one"
        s3.delete_object(Bucket="bkt", Key="v", VersionId=v1)
        assert _inline_rows(server.data_dir) == 1


def test_inline_objects_survive_a_kill_after_the_acknowledgement(tmp_path: Path) -> None:
    """A killed server loses no acknowledged small object: the bytes were committed with the row
    before the 200 (in the database, not a buffer of the process)."""
    data_dir = tmp_path / "data"
    bodies = {f"k{i}": os.urandom(100 * i) for i in range(20)}
    with running_server(data_dir) as server:
        s3: Any = server.client()
        s3.create_bucket(Bucket="bkt")
        for key, body in bodies.items():
            s3.put_object(Bucket="bkt", Key=key, Body=body, ServerSideEncryption="AES256")
        server.stop(signal.SIGKILL)  # no shutdown, no checkpoint
    with running_server(data_dir) as again:
        s3 = again.client()
        for key, body in bodies.items():
            assert s3.get_object(Bucket="bkt", Key=key)["Body"].read() == body

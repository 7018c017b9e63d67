"""DeleteBucket: a bucket whose only content is unfinished multipart uploads is deleted with them, as on
AWS (general purpose buckets; only directory buckets need their uploads aborted first); versions and
delete markers still keep a bucket."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.s3.test_aws_cli import aws
from tests.support import Server, start_server, unique_bucket


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    err = exc.value.response
    return err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Code"], err["Error"].get("Message", "")


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of its own: its blob files are counted."""
    # SQLite whatever $SEALBOX_TEST_META says: a shared store (PostgreSQL) unlinks replaced files after a
    # grace, not at once (tests/cluster/test_freed_blobs.py).
    srv = start_server(tmp_path_factory.mktemp("delete-bucket") / "data", meta="sqlite")
    yield srv
    srv.stop()
    assert "Traceback" not in srv.log(), srv.log()


def _blob_files(server: Server) -> set[Path]:
    return {p for p in (server.data_dir / "blobs").rglob("*") if p.is_file()}


def test_delete_bucket_with_only_unfinished_uploads(own: Server) -> None:
    s3 = own.client()
    bucket = unique_bucket()
    s3.create_bucket(Bucket=bucket)
    before = _blob_files(own)
    for key in ("a", "b/c"):
        upload = s3.create_multipart_upload(Bucket=bucket, Key=key, ServerSideEncryption="AES256")["UploadId"]
        s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=1, Body=os.urandom(64 * 1024))
    assert len(_blob_files(own) - before) == 2
    assert s3.delete_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as exc:
        s3.list_multipart_uploads(Bucket=bucket)
    assert _error(exc)[:2] == (404, "NoSuchBucket")
    assert _blob_files(own) == before  # the parts' files went with them
    s3.create_bucket(Bucket=bucket)  # the name is free again, and the new bucket has no uploads
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_delete_bucket_with_objects_or_delete_markers_is_refused(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(ClientError) as exc:
        s3.delete_bucket(Bucket=bucket)
    assert _error(exc) == (409, "BucketNotEmpty", "The bucket you tried to delete is not empty")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.delete_object(Bucket=bucket, Key="k")  # the null version stays; a delete marker on top
    s3.delete_object(Bucket=bucket, Key="k", VersionId="null")
    with pytest.raises(ClientError) as exc:  # a delete marker alone still keeps it
        s3.delete_bucket(Bucket=bucket)
    assert _error(exc) == (409, "BucketNotEmpty", "The bucket you tried to delete is not empty. You must delete all"
                                                  " versions in the bucket.")


def test_delete_bucket_with_uploads_through_the_aws_cli(server: Server, s3: Any) -> None:
    bucket = unique_bucket()
    s3.create_bucket(Bucket=bucket)
    s3.create_multipart_upload(Bucket=bucket, Key="left/behind")
    aws(server, "s3api", "delete-bucket", "--bucket", bucket)
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]

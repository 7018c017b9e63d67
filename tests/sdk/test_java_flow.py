"""The spec's Java example (SpecifyServerSideEncryption) as a boto3 flow, transfer manager included.

The Java program uploads an object with SSE, uploads an unencrypted one, changes its encryption state by
copying it with SSE, deletes the original and prints each object's encryption status. Here the uploads go
through boto3's ``upload_file`` with ``TransferConfig(multipart_threshold=5 MiB, multipart_chunksize=5 MiB)``,
as the Java TransferManager does: small files are one PutObject, large ones a multipart upload whose
CreateMultipartUpload carries the SSE request. The printed transcript must match the Java program's.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

MIB = 1024 * 1024
TRANSFER = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB, max_concurrency=2)
SSE = {"ServerSideEncryption": "AES256"}


def _status(response: dict[str, Any]) -> str:
    """printEncryptionStatus: the SSE algorithm, or the Java program's words for none."""
    return str(response.get("ServerSideEncryption") or "Not encrypted with SSE")


def _file(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _sha256(s3: Any, bucket: str, key: str) -> str:
    return hashlib.sha256(s3.get_object(Bucket=bucket, Key=key)["Body"].read()).hexdigest()


def upload_object_with_sse(s3: Any, bucket: str, key: str, path: Path, out: list[str]) -> None:
    s3.upload_file(str(path), bucket, key, ExtraArgs=SSE, Config=TRANSFER)
    out.append(f'Object "{key}" uploaded with SSE.')
    out.append(f"Object encryption status is: {_status(s3.head_object(Bucket=bucket, Key=key))}")


def change_sse_status_by_copying(s3: Any, bucket: str, source_key: str, dest_key: str, path: Path,
                                 out: list[str]) -> None:
    s3.upload_file(str(path), bucket, source_key, Config=TRANSFER)  # a new, unencrypted object
    out.append(f'Unencrypted object "{source_key}" uploaded.')
    out.append(f"Object encryption status is: {_status(s3.head_object(Bucket=bucket, Key=source_key))}")
    # The copy asks for SSE (setNewObjectMetadata with AES_256_SERVER_SIDE_ENCRYPTION).
    s3.copy({"Bucket": bucket, "Key": source_key}, bucket, dest_key, ExtraArgs=SSE, Config=TRANSFER)
    out.append(f'Object "{dest_key}" uploaded with SSE.')
    out.append(f"Object encryption status is: {_status(s3.head_object(Bucket=bucket, Key=dest_key))}")
    s3.delete_object(Bucket=bucket, Key=source_key)
    out.append(f'Unencrypted object "{source_key}" deleted.')


@pytest.mark.parametrize("size", [len(b"Test object encrypted with SSE"), 11 * MIB + 3],
                         ids=["single-put", "multipart"])
def test_java_example_flow(s3: Any, bucket: str, tmp_path: Path, size: int) -> None:
    to_encrypt = b"Test object encrypted with SSE" if size < MIB else os.urandom(size)
    to_copy = b"Object example to encrypt by copying" if size < MIB else os.urandom(size)
    out: list[str] = []
    upload_object_with_sse(s3, bucket, "encrypted-on-upload", _file(tmp_path, "a", to_encrypt), out)
    change_sse_status_by_copying(s3, bucket, "to-encrypt", "encrypted-copy", _file(tmp_path, "b", to_copy), out)
    assert out == [
        'Object "encrypted-on-upload" uploaded with SSE.',
        "Object encryption status is: AES256",
        'Unencrypted object "to-encrypt" uploaded.',
        "Object encryption status is: Not encrypted with SSE",
        'Object "encrypted-copy" uploaded with SSE.',
        "Object encryption status is: AES256",
        'Unencrypted object "to-encrypt" deleted.',
    ]
    # Only the encrypted objects remain, with the bytes that were uploaded.
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert keys == {"encrypted-on-upload", "encrypted-copy"}
    assert _sha256(s3, bucket, "encrypted-on-upload") == hashlib.sha256(to_encrypt).hexdigest()
    assert _sha256(s3, bucket, "encrypted-copy") == hashlib.sha256(to_copy).hexdigest()
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="to-encrypt")
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    # A large file went up (and was copied) in 5 MiB parts: the transfer manager's multipart path.
    etag = s3.head_object(Bucket=bucket, Key="encrypted-on-upload")["ETag"].strip('"')
    copy_etag = s3.head_object(Bucket=bucket, Key="encrypted-copy")["ETag"].strip('"')
    if size > 5 * MIB:
        assert etag.endswith("-3") and copy_etag.endswith("-3")
    else:
        assert etag == hashlib.md5(to_encrypt).hexdigest() and "-" not in copy_etag

"""SSE-C multipart uploads, UploadPartCopy and copies between every mode, byte for byte (boto3, raw HTTP)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.s3.test_sse_c import KEY_A, KEY_B, error, sse_c, sse_c_headers
from tests.support import Server, running_server, signed_request, unique_bucket, xml_code

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("ssec-copy") / "data", "--allow-sse-c-over-http",
                        workers=2) as server:
        yield server
        assert "Traceback" not in server.log(), server.log()


@pytest.fixture
def s3(srv: Server) -> Any:
    return srv.client()


@pytest.fixture
def bucket(s3: Any) -> str:
    name = unique_bucket("ssecc")
    s3.create_bucket(Bucket=name)
    return name


def copy_source_sse_c(key: bytes = KEY_A) -> dict[str, Any]:
    return {"CopySourceSSECustomerAlgorithm": "AES256", "CopySourceSSECustomerKey": key}


def test_multipart_upload_every_part_with_the_key(s3: Any, bucket: str) -> None:
    parts_data = [os.urandom(5 * MiB), os.urandom(1234)]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp", ContentType="text/plain", **sse_c())
    assert upload["SSECustomerAlgorithm"] == "AES256" and "ServerSideEncryption" not in upload
    uid = upload["UploadId"]
    parts = []
    for number, data in enumerate(parts_data, start=1):
        r = s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=number, Body=data, **sse_c())
        assert r["SSECustomerKeyMD5"]
        parts.append({"PartNumber": number, "ETag": r["ETag"]})
    done = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid, MultipartUpload={"Parts": parts})
    assert done["ETag"].endswith('-2"')
    whole = b"".join(parts_data)
    got = s3.get_object(Bucket=bucket, Key="mp", **sse_c())
    assert got["Body"].read() == whole and got["ContentType"] == "text/plain"
    assert s3.get_object(Bucket=bucket, Key="mp", PartNumber=2, **sse_c())["Body"].read() == parts_data[1]
    ranged = s3.get_object(Bucket=bucket, Key="mp", Range=f"bytes={5 * MiB - 10}-{5 * MiB + 9}", **sse_c())
    assert ranged["Body"].read() == whole[5 * MiB - 10:5 * MiB + 10]
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="mp", **sse_c(KEY_B))
    assert error(exc)[:2] == (403, "AccessDenied")


def test_a_part_without_the_key_or_with_another_key_is_400(srv: Server, s3: Any, bucket: str) -> None:
    uid = s3.create_multipart_upload(Bucket=bucket, Key="mp", **sse_c())["UploadId"]
    with pytest.raises(ClientError) as exc:
        s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=1, Body=b"x")
    assert error(exc) == (400, "InvalidRequest", "The multipart upload initiate requested encryption. Subsequent"
                          " part requests must include the appropriate encryption parameters.")
    with pytest.raises(ClientError) as exc:
        s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=1, Body=b"x", **sse_c(KEY_B))
    assert error(exc) == (400, "InvalidArgument", "The provided encryption parameters did not match the ones used"
                          " originally.")
    # Complete may carry the headers (s3-tests sends them); another key there is refused too.
    part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=1, Body=b"x", **sse_c())
    body = f"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{part['ETag']}</ETag></Part>" \
           "</CompleteMultipartUpload>"
    r = signed_request(srv, "POST", f"/{bucket}/mp?uploadId={uid}", body=body.encode(), headers=sse_c_headers(KEY_B))
    assert (r.status_code, xml_code(r)) == (400, "InvalidArgument")
    r = signed_request(srv, "POST", f"/{bucket}/mp?uploadId={uid}", body=body.encode(), headers=sse_c_headers())
    assert r.status_code == 200, r.text
    assert s3.get_object(Bucket=bucket, Key="mp", **sse_c())["Body"].read() == b"x"


def test_a_key_on_a_part_of_an_upload_that_is_not_sse_c_is_400(s3: Any, bucket: str) -> None:
    uid = s3.create_multipart_upload(Bucket=bucket, Key="mp", ServerSideEncryption="AES256")["UploadId"]
    with pytest.raises(ClientError) as exc:
        s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=1, Body=b"x", **sse_c())
    assert error(exc)[:2] == (400, "InvalidRequest")


def _put(s3: Any, bucket: str, key: str, mode: str, body: bytes) -> None:
    extra: dict[str, Any] = {"none": {}, "sse-s3": {"ServerSideEncryption": "AES256"},
                             "kms": {"ServerSideEncryption": "aws:kms"}, "sse-c-a": sse_c(KEY_A),
                             "sse-c-b": sse_c(KEY_B)}[mode]
    s3.put_object(Bucket=bucket, Key=key, Body=body, **extra)


def _read_args(mode: str) -> dict[str, Any]:
    return sse_c(KEY_A) if mode == "sse-c-a" else sse_c(KEY_B) if mode == "sse-c-b" else {}


def _source_args(mode: str) -> dict[str, Any]:
    return copy_source_sse_c(KEY_A) if mode == "sse-c-a" else copy_source_sse_c(KEY_B) if mode == "sse-c-b" else {}


_MODES = ["none", "sse-s3", "kms", "sse-c-a", "sse-c-b"]


# Pairs with SSE-C on at least one side; the others are test_copy_object.py's and test_sse_kms.py's.
_PAIRS = [(s, t) for s in ["sse-c-a", "sse-s3", "none"] for t in _MODES if "sse-c" in s + t]


@pytest.mark.parametrize(("source", "target"), _PAIRS)
def test_copy_object_between_modes_byte_for_byte(s3: Any, bucket: str, source: str, target: str) -> None:
    body = os.urandom(70_000)
    _put(s3, bucket, "src", source, body)
    target_args = {"none": {}, "sse-s3": {"ServerSideEncryption": "AES256"},
                   "kms": {"ServerSideEncryption": "aws:kms"}}.get(target, _read_args(target))
    r = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"},
                       **target_args, **_source_args(source))
    if target.startswith("sse-c"):
        assert r["SSECustomerAlgorithm"] == "AES256" and "ServerSideEncryption" not in r
    elif target != "none":
        assert r["ServerSideEncryption"] == target_args["ServerSideEncryption"]
    assert s3.get_object(Bucket=bucket, Key="dst", **_read_args(target))["Body"].read() == body
    if target.startswith("sse-c"):
        with pytest.raises(ClientError) as exc:
            s3.get_object(Bucket=bucket, Key="dst")
        assert error(exc)[:2] == (400, "InvalidRequest")


def test_copy_of_an_sse_c_source_needs_its_key(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"abc", **sse_c())
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert error(exc)[:2] == (400, "InvalidRequest")
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"},
                       **copy_source_sse_c(KEY_B))
    assert error(exc)[:2] == (403, "AccessDenied")


def test_copy_in_place_to_another_key(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"rekey", **sse_c(KEY_A))
    s3.copy_object(Bucket=bucket, Key="k", CopySource={"Bucket": bucket, "Key": "k"}, **copy_source_sse_c(KEY_A),
                   **sse_c(KEY_B))
    assert s3.get_object(Bucket=bucket, Key="k", **sse_c(KEY_B))["Body"].read() == b"rekey"
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="k", **sse_c(KEY_A))
    assert error(exc)[:2] == (403, "AccessDenied")


def test_upload_part_copy_from_and_into_sse_c(s3: Any, bucket: str) -> None:
    source = os.urandom(6 * MiB)
    s3.put_object(Bucket=bucket, Key="src-c", Body=source, **sse_c(KEY_A))
    s3.put_object(Bucket=bucket, Key="src-s3", Body=source, ServerSideEncryption="AES256")
    uid = s3.create_multipart_upload(Bucket=bucket, Key="mp", **sse_c(KEY_B))["UploadId"]
    with pytest.raises(ClientError) as exc:  # the source's key is missing
        s3.upload_part_copy(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=1,
                            CopySource={"Bucket": bucket, "Key": "src-c"}, **sse_c(KEY_B))
    assert error(exc)[:2] == (400, "InvalidRequest")
    p1 = s3.upload_part_copy(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=1,
                             CopySource={"Bucket": bucket, "Key": "src-c"}, CopySourceRange=f"bytes=0-{5 * MiB - 1}",
                             **copy_source_sse_c(KEY_A), **sse_c(KEY_B))
    p2 = s3.upload_part_copy(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=2,
                             CopySource={"Bucket": bucket, "Key": "src-s3"}, CopySourceRange="bytes=100-199",
                             **sse_c(KEY_B))
    parts = [{"PartNumber": 1, "ETag": p1["CopyPartResult"]["ETag"]},
             {"PartNumber": 2, "ETag": p2["CopyPartResult"]["ETag"]}]
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid, MultipartUpload={"Parts": parts})
    got = s3.get_object(Bucket=bucket, Key="mp", **sse_c(KEY_B))["Body"].read()
    assert got == source[:5 * MiB] + source[100:200]
    ranged = s3.get_object(Bucket=bucket, Key="mp", Range=f"bytes={5 * MiB}-{5 * MiB + 49}", **sse_c(KEY_B))
    assert ranged["Body"].read() == source[100:150]

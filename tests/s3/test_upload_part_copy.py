"""UploadPartCopy: parts copied from (ranges of) objects, across every encryption combination, byte for byte."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from tests.support import Server, signed_request, unique_bucket, xml_code

MiB = 1024 * 1024
PART = 5 * MiB


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    err = exc.value.response
    return err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Code"]


def _put_source(s3, bucket: str, key: str, data: bytes, sse: bool, multipart: bool) -> None:  # type: ignore[no-untyped-def]
    extra = {"ServerSideEncryption": "AES256"} if sse else {}
    if not multipart:
        s3.put_object(Bucket=bucket, Key=key, Body=data, **extra)
        return
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, **extra)["UploadId"]
    done = []
    for number, start in enumerate(range(0, len(data), PART), start=1):
        out = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number,
                             Body=data[start:start + PART])
        done.append({"PartNumber": number, "ETag": out["ETag"]})
    s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": done})


@pytest.mark.parametrize(("source_sse", "target_sse", "source_multipart"), [
    (True, False, False),
    (False, True, False),
    (True, True, False),
    (True, False, True),
    (False, True, True),
], ids=["sse-to-plain", "plain-to-sse", "sse-to-sse", "sse-multipart-to-plain", "plain-multipart-to-sse"])
def test_part_copy_ranges_byte_for_byte(s3, bucket: str, source_sse: bool, target_sse: bool,
                                        source_multipart: bool) -> None:
    data = os.urandom(2 * PART + 4321)
    _put_source(s3, bucket, "src", data, source_sse, source_multipart)
    extra = {"ServerSideEncryption": "AES256"} if target_sse else {}
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="dst", **extra)["UploadId"]
    # Ranges that start and end inside the source's parts / segments, not on their boundaries.
    cuts = [(3, PART + 2), (PART + 3, 2 * PART + 99), (2 * PART + 100, len(data) - 1)]
    done = []
    for number, (first, last) in enumerate(cuts, start=1):
        out = s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=upload_id, PartNumber=number,
                                  CopySource={"Bucket": bucket, "Key": "src"}, CopySourceRange=f"bytes={first}-{last}")
        assert out["CopyPartResult"]["ETag"] == f'"{hashlib.md5(data[first:last + 1]).hexdigest()}"'
        assert out.get("ServerSideEncryption") == ("AES256" if target_sse else None)
        done.append({"PartNumber": number, "ETag": out["CopyPartResult"]["ETag"]})
    result = s3.complete_multipart_upload(Bucket=bucket, Key="dst", UploadId=upload_id,
                                          MultipartUpload={"Parts": done})
    assert result.get("ServerSideEncryption") == ("AES256" if target_sse else None)
    got = s3.get_object(Bucket=bucket, Key="dst")
    assert got.get("ServerSideEncryption") == ("AES256" if target_sse else None)
    assert got["Body"].read() == data[3:]
    for number, (first, last) in enumerate(cuts, start=1):
        assert s3.get_object(Bucket=bucket, Key="dst", PartNumber=number)["Body"].read() == data[first:last + 1]


def test_part_copy_whole_object_and_mixed_with_uploaded_parts(s3, bucket: str) -> None:
    head_part = os.urandom(PART)
    s3.put_object(Bucket=bucket, Key="src", Body=head_part, ServerSideEncryption="AES256")
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    copied = s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=upload_id, PartNumber=1, CopySource=f"{bucket}/src")
    uploaded = s3.upload_part(Bucket=bucket, Key="dst", UploadId=upload_id, PartNumber=2, Body=b"uploaded tail")
    s3.complete_multipart_upload(Bucket=bucket, Key="dst", UploadId=upload_id, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": copied["CopyPartResult"]["ETag"]}, {"PartNumber": 2, "ETag": uploaded["ETag"]}]})
    got = s3.get_object(Bucket=bucket, Key="dst")
    assert "ServerSideEncryption" not in got
    assert got["Body"].read() == head_part + b"uploaded tail"


def test_part_copy_from_specific_version_and_other_bucket(s3, bucket: str) -> None:
    source_bucket = unique_bucket()
    s3.create_bucket(Bucket=source_bucket)
    s3.put_bucket_versioning(Bucket=source_bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=source_bucket, Key="src", Body=b"old bytes", ServerSideEncryption="AES256")["VersionId"]
    s3.put_object(Bucket=source_bucket, Key="src", Body=b"new bytes")
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="dst", ServerSideEncryption="AES256")["UploadId"]
    out = s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=upload_id, PartNumber=1,
                              CopySource={"Bucket": source_bucket, "Key": "src", "VersionId": v1})
    assert out["CopySourceVersionId"] == v1
    s3.complete_multipart_upload(Bucket=bucket, Key="dst", UploadId=upload_id, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": out["CopyPartResult"]["ETag"]}]})
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"old bytes"


def test_part_copy_source_conditions(s3, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="src", Body=b"conditional part")["ETag"]
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    with pytest.raises(ClientError) as exc:
        s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=upload_id, PartNumber=1, CopySource=f"{bucket}/src",
                            CopySourceIfNoneMatch=etag)
    assert _error(exc) == (412, "PreconditionFailed")
    with pytest.raises(ClientError) as exc:
        s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=upload_id, PartNumber=1, CopySource=f"{bucket}/src",
                            CopySourceIfModifiedSince=datetime.now(UTC) + timedelta(days=1))
    assert _error(exc) == (412, "PreconditionFailed")
    s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=upload_id, PartNumber=1, CopySource=f"{bucket}/src",
                        CopySourceIfMatch=etag)
    assert [p["Size"] for p in s3.list_parts(Bucket=bucket, Key="dst", UploadId=upload_id)["Parts"]] == [16]


@pytest.mark.parametrize("value", ["bytes=5-2", "bytes=0-", "bytes=-5", "items=0-1", "bytes=a-b"])
def test_raw_malformed_copy_source_range(server: Server, s3, bucket: str, value: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"0123456789")
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    resp = signed_request(server, "PUT", f"/{bucket}/dst", params={"partNumber": "1", "uploadId": upload_id},
                          headers={"x-amz-copy-source": f"/{bucket}/src", "x-amz-copy-source-range": value})
    assert (resp.status_code, xml_code(resp)) == (400, "InvalidArgument"), value


def test_raw_copy_source_range_beyond_the_object(server: Server, s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"0123456789")
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    resp = signed_request(server, "PUT", f"/{bucket}/dst", params={"partNumber": "1", "uploadId": upload_id},
                          headers={"x-amz-copy-source": f"/{bucket}/src", "x-amz-copy-source-range": "bytes=5-10"})
    assert (resp.status_code, xml_code(resp)) == (400, "InvalidArgument")
    assert "Range specified is not valid for source object of size: 10" in resp.text
    resp = signed_request(server, "PUT", f"/{bucket}/dst", params={"partNumber": "1", "uploadId": upload_id},
                          headers={"x-amz-copy-source": f"/{bucket}/src", "x-amz-copy-source-range": "bytes=5-9"})
    assert resp.status_code == 200, resp.text
    assert "<CopyPartResult" in resp.text
    assert f"<ETag>&quot;{hashlib.md5(b'56789').hexdigest()}&quot;</ETag>" in resp.text


def test_raw_sse_header_refused_on_upload_part_copy(server: Server, s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"x")
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="dst", ServerSideEncryption="AES256")["UploadId"]
    resp = signed_request(server, "PUT", f"/{bucket}/dst", params={"partNumber": "1", "uploadId": upload_id},
                          headers={"x-amz-copy-source": f"/{bucket}/src", "x-amz-server-side-encryption": "AES256"})
    assert (resp.status_code, xml_code(resp)) == (400, "InvalidArgument")
    resp = signed_request(server, "PUT", f"/{bucket}/dst", params={"partNumber": "1", "uploadId": upload_id},
                          headers={"x-amz-copy-source": f"/{bucket}/src"})
    assert resp.status_code == 200
    assert resp.headers["x-amz-server-side-encryption"] == "AES256"


def test_part_copy_missing_source_or_upload(s3, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    with pytest.raises(ClientError) as exc:
        s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=upload_id, PartNumber=1, CopySource=f"{bucket}/none")
    assert _error(exc) == (404, "NoSuchKey")
    s3.put_object(Bucket=bucket, Key="src", Body=b"x")
    with pytest.raises(ClientError) as exc:
        s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId="bogus", PartNumber=1, CopySource=f"{bucket}/src")
    assert _error(exc) == (404, "NoSuchUpload")


def test_boto3_managed_copy_uses_part_copies_and_encrypts(s3, bucket: str) -> None:
    data = os.urandom(11 * MiB + 7)
    s3.put_object(Bucket=bucket, Key="src", Body=data)
    config = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    s3.copy({"Bucket": bucket, "Key": "src"}, bucket, "dst", ExtraArgs={"ServerSideEncryption": "AES256"},
            Config=config)
    head = s3.head_object(Bucket=bucket, Key="dst", PartNumber=1)
    assert head["PartsCount"] == 3  # really made of UploadPartCopy parts
    assert head["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == data

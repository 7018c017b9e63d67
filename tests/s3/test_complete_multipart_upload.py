"""CompleteMultipartUpload: a repeat with the same parts right after success answers as the first did
(ceph/s3-tests test_multipart_upload completes twice; a client whose answer was lost retries), anything
else about a finished upload is NoSuchUpload; InvalidPartOrder for parts out of ascending order."""

from __future__ import annotations

import os
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.s3.test_multipart_upload import PART, _multipart_etag, _upload
from tests.support import Server, signed_request, xml_code


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    err = exc.value.response
    return err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Code"]


def _complete(s3: Any, bucket: str, key: str, upload_id: str, parts: list[dict[str, object]]) -> dict[str, Any]:
    out: dict[str, Any] = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id,
                                                       MultipartUpload={"Parts": parts})
    return out


@pytest.mark.parametrize("versioned", [False, True])
def test_repeated_complete_with_the_same_parts_answers_the_same(s3: Any, bucket: str, versioned: bool) -> None:
    if versioned:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    data = [os.urandom(PART), b"tail"]
    upload_id, done = _upload(s3, bucket, "k", data, ServerSideEncryption="AES256")
    first = _complete(s3, bucket, "k", upload_id, done)
    again = _complete(s3, bucket, "k", upload_id, done)
    for field in ("Location", "Bucket", "Key", "ETag", "ServerSideEncryption"):
        assert again[field] == first[field], field
    assert again["ETag"] == _multipart_etag(data)
    assert again.get("VersionId") == first.get("VersionId") and (first.get("VersionId") is not None) == versioned
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [(o["Key"], o["Size"]) for o in listed] == [("k", PART + 4)]  # one object, not two
    if versioned:
        assert len(s3.list_object_versions(Bucket=bucket)["Versions"]) == 1


def test_repeated_complete_that_differs_is_no_such_upload(s3: Any, bucket: str) -> None:
    data = [os.urandom(PART), os.urandom(PART), b"tail"]
    upload_id, done = _upload(s3, bucket, "k", data)
    _complete(s3, bucket, "k", upload_id, done)
    for parts in (done[:2], [done[0], done[2]], [done[0], done[1], {"PartNumber": 3, "ETag": done[0]["ETag"]}]):
        with pytest.raises(ClientError) as exc:
            _complete(s3, bucket, "k", upload_id, parts)
        assert _error(exc) == (404, "NoSuchUpload")
    with pytest.raises(ClientError) as exc:  # the same upload id, another key
        _complete(s3, bucket, "other", upload_id, done)
    assert _error(exc) == (404, "NoSuchUpload")
    # Once the object it made is replaced, the completion is over.
    s3.put_object(Bucket=bucket, Key="k", Body=b"overwritten")
    with pytest.raises(ClientError) as exc:
        _complete(s3, bucket, "k", upload_id, done)
    assert _error(exc) == (404, "NoSuchUpload")


def test_complete_after_abort_is_no_such_upload(s3: Any, bucket: str) -> None:
    upload_id, done = _upload(s3, bucket, "k", [b"only part"])
    s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id)
    with pytest.raises(ClientError) as exc:
        _complete(s3, bucket, "k", upload_id, done)
    assert _error(exc) == (404, "NoSuchUpload")


def test_invalid_part_order(server: Server, s3: Any, bucket: str) -> None:
    upload_id, done = _upload(s3, bucket, "k", [os.urandom(PART), os.urandom(PART), b"end"])
    for parts in ([done[1], done[0], done[2]], [done[0], done[0], done[2]]):  # descending, repeated
        with pytest.raises(ClientError) as exc:
            _complete(s3, bucket, "k", upload_id, parts)
        assert _error(exc) == (400, "InvalidPartOrder")
        assert exc.value.response["Error"]["UploadId"] == upload_id
    # Order is checked before the parts are looked up: a missing part out of order is InvalidPartOrder too.
    body = (f'<CompleteMultipartUpload><Part><PartNumber>9</PartNumber><ETag>{done[0]["ETag"]}</ETag></Part>'
            f'<Part><PartNumber>1</PartNumber><ETag>{done[0]["ETag"]}</ETag></Part></CompleteMultipartUpload>')
    r = signed_request(server, "POST", f"/{bucket}/k", body=body.encode(), params={"uploadId": upload_id})
    assert (r.status_code, xml_code(r)) == (400, "InvalidPartOrder")
    _complete(s3, bucket, "k", upload_id, done)  # the upload survived every refusal

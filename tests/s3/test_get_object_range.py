"""Range GET on plain and SSE-S3 objects: segment boundaries, object ends, suffixes, errors."""

from __future__ import annotations

import os

import pytest
from botocore.exceptions import ClientError

from tests.support import Server, signed_request, xml_code

SEGMENT = 64 * 1024
SIZE = 3 * SEGMENT + 1234  # four segments, the last one short
BODY = os.urandom(SIZE)


@pytest.fixture(params=["plain", "sse"])
def stored(request: pytest.FixtureRequest, s3, bucket: str) -> tuple[str, str]:
    extra = {"ServerSideEncryption": "AES256"} if request.param == "sse" else {}
    s3.put_object(Bucket=bucket, Key="obj", Body=BODY, **extra)
    return bucket, "obj"


CASES = [
    (0, 0), (0, SEGMENT - 1), (SEGMENT - 1, SEGMENT), (SEGMENT - 5, 2 * SEGMENT + 5), (SEGMENT, SEGMENT),
    (2 * SEGMENT - 1, 2 * SEGMENT), (SIZE - 1, SIZE - 1), (100, SIZE - 1), (0, SIZE - 1), (3 * SEGMENT, SIZE - 1),
]


@pytest.mark.parametrize(("start", "end"), CASES)
def test_byte_ranges(s3, stored: tuple[str, str], start: int, end: int) -> None:
    bucket, key = stored
    got = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={start}-{end}")
    assert got["Body"].read() == BODY[start:end + 1]
    assert got["ContentRange"] == f"bytes {start}-{end}/{SIZE}"
    assert got["ContentLength"] == end - start + 1
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206


def test_open_ended_suffix_and_overlong(s3, stored: tuple[str, str]) -> None:
    bucket, key = stored
    assert s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={SIZE - 10}-")["Body"].read() == BODY[-10:]
    suffix = s3.get_object(Bucket=bucket, Key=key, Range="bytes=-70000")
    assert suffix["Body"].read() == BODY[-70000:]
    assert suffix["ContentRange"] == f"bytes {SIZE - 70000}-{SIZE - 1}/{SIZE}"
    whole = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=-{SIZE * 2}")
    assert whole["Body"].read() == BODY
    clipped = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=5-{SIZE * 3}")
    assert clipped["Body"].read() == BODY[5:]


def test_unsatisfiable_range(s3, stored: tuple[str, str]) -> None:
    bucket, key = stored
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={SIZE}-")
    assert exc.value.response["Error"]["Code"] == "InvalidRange"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 416


@pytest.mark.parametrize("header", ["bytes=5-2", "bytes=abc", "items=0-5", "bytes=0-1,4-5", "bytes=--3"])
def test_ignorable_range_headers_return_whole_object(server: Server, stored: tuple[str, str], header: str) -> None:
    bucket, key = stored
    resp = signed_request(server, "GET", f"/{bucket}/{key}", headers={"Range": header})
    assert resp.status_code == 200 and resp.content == BODY


def test_range_on_empty_object(server: Server, s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="empty", Body=b"", ServerSideEncryption="AES256")
    assert s3.get_object(Bucket=bucket, Key="empty")["Body"].read() == b""
    resp = signed_request(server, "GET", f"/{bucket}/empty", headers={"Range": "bytes=0-"})
    assert resp.status_code == 416 and xml_code(resp) == "InvalidRange"


def test_part_number_one_of_simple_object(s3, stored: tuple[str, str]) -> None:
    bucket, key = stored
    got = s3.get_object(Bucket=bucket, Key=key, PartNumber=1)
    assert got["Body"].read() == BODY and got["ResponseMetadata"]["HTTPStatusCode"] == 206

"""PutObject / GetObject / HeadObject: user metadata outside US-ASCII and Content-Encoding, as AWS keeps them.

AWS decodes RFC 2047 encoded-words in ``x-amz-meta-*`` values before storing and returns any value
that is not printable US-ASCII as one UTF-8 encoded-word: "Q" encoding for text, "B" for a value with
control characters (its answers recorded against S3; boto3 refuses non-ASCII metadata itself, so its
users send encoded-words). Content-Encoding is returned as sent, aws-chunked excepted.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
import requests

from tests.support import Server, signed_request


def _b(text: str) -> str:
    return f"=?UTF-8?B?{base64.b64encode(text.encode()).decode()}?="


def test_rfc2047_encoded_user_metadata_is_decoded_then_returned_mail_safe(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Metadata={
        "non-ascii": _b("test_—_file%E2%80%94_é_2?.pdf"),
        "non-ascii-2": "=?UTF-8?Q?=C3=84M=C3=84Z=C3=95=C3=91_S3?=",
        "binary": _b("\x00\x01\x02\x03"),
        "fake-encoded": "=?UTF-8?Q?actually-ascii?=",
        "asciib64-encoded": "=?UTF-8?B?YWJj?=",
        "safe-chars": "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
        "bad-b64-encoded": "=?UTF-8?B?=GGG?=",
    })
    want = {
        "non-ascii": "=?UTF-8?Q?test=5F=E2=80=94=5Ffile%E2%80%94=5F=C3=A9=5F2=3F.pdf?=",
        "non-ascii-2": "=?UTF-8?Q?=C3=84M=C3=84Z=C3=95=C3=91_S3?=",
        "binary": "=?UTF-8?B?AAECAw==?=",
        "fake-encoded": "actually-ascii",
        "asciib64-encoded": "abc",
        "safe-chars": "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
        "bad-b64-encoded": "=?UTF-8?B?=GGG?=",  # kept as sent (AWS returns bytes of its own)
    }
    assert s3.get_object(Bucket=bucket, Key="k")["Metadata"] == want
    assert s3.head_object(Bucket=bucket, Key="k")["Metadata"] == want


def test_raw_non_ascii_metadata_bytes_come_back_encoded(server: Server, bucket: str) -> None:
    """A raw byte outside US-ASCII is read as ISO-8859-1 (é is 0xE9 on the wire), stored as that
    character, and returned as its UTF-8 encoded-word."""
    put = signed_request(server, "PUT", f"/{bucket}/raw", body=b"x", headers={"x-amz-meta-word": "café"})
    assert put.status_code == 200, put.text
    got = signed_request(server, "GET", f"/{bucket}/raw")
    assert got.headers["x-amz-meta-word"] == "=?UTF-8?Q?caf=C3=A9?="


def test_metadata_in_a_presigned_url_is_utf8(server: Server, s3: Any, bucket: str) -> None:
    """Query parameters are percent-encoded UTF-8: the value AWS stores is the text itself."""
    from botocore.handlers import validate_ascii_metadata

    s3.meta.events.unregister("before-parameter-build.s3.PutObject", validate_ascii_metadata)
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "p",
                                                          "Metadata": {"foo": "non-ascii-%E2%80%94_—_é_"}})
    assert requests.put(url, data=b"", timeout=30).status_code == 200
    assert s3.head_object(Bucket=bucket, Key="p")["Metadata"] == {
        "foo": "=?UTF-8?Q?non-ascii-%E2%80%94=5F=E2=80=94=5F=C3=A9=5F?="}


@pytest.mark.parametrize("sent, stored", [("gzip, br", "gzip, br"), ("gzip,deflate", "gzip,deflate"),
                                          ("identity", "identity"), ("GZIP", "GZIP")])
def test_content_encoding_is_returned_as_sent(server: Server, s3: Any, bucket: str, sent: str,
                                              stored: str | None) -> None:
    """(aws-chunked, the framing of a streamed upload, is not stored: tests/s3/test_put_object_streaming.py.)"""
    put = signed_request(server, "PUT", f"/{bucket}/enc", body=b"x", headers={"Content-Encoding": sent})
    assert put.status_code == 200, put.text
    head = s3.head_object(Bucket=bucket, Key="enc")
    assert head.get("ContentEncoding") == stored
    got = signed_request(server, "GET", f"/{bucket}/enc")
    assert got.raw.headers.get("content-encoding") == stored


@pytest.mark.parametrize("sent, stored", [("gzip, aws-chunked", "gzip"), ("aws-chunked", None)])
def test_put_object_aws_chunked_coding_on_a_plain_signed_body(s3: Any, bucket: str, sent: str,
                                                              stored: str | None) -> None:
    """A body whose SHA-256 is signed is not aws-chunked framing, whatever Content-Encoding names (botocore
    sends ``gzip, aws-chunked`` on a plain PUT if told to): stored as sent, the aws-chunked coding dropped."""
    s3.put_object(Bucket=bucket, Key="plain", Body=b"plain bytes", ContentEncoding=sent)
    got = s3.get_object(Bucket=bucket, Key="plain")
    assert got["Body"].read() == b"plain bytes"
    assert got.get("ContentEncoding") == stored
    s3.put_object(Bucket=bucket, Key="empty", ContentEncoding=sent)
    assert s3.head_object(Bucket=bucket, Key="empty")["ContentLength"] == 0

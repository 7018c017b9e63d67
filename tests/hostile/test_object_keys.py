"""Hostile object keys and metadata: dot segments, slash runs, NUL, broken UTF-8, over-long keys and metadata."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from botocore.exceptions import ClientError

from tests.hostile.conftest import assert_serving
from tests.hostile.raw import send_signed
from tests.support import Server, signed_request, xml_code

# Legal S3 keys that look like paths: stored and returned verbatim, never interpreted.
ODD_KEYS = ["..", "../../etc/passwd", "a/../../b", "a//b///c", "/leading", "//", "./x", "x/.", "...",
            "..\\..\\windows", "%2e%2e", "a%2fb", " spaced ", "tab\there", "new\nline", "é/ü/😀", "\u202eevil"]


@pytest.mark.parametrize("key", ODD_KEYS)
def test_put_get_list_delete_odd_keys_verbatim(server: Server, hostile_bucket: str, key: str) -> None:
    s3: Any = server.client()
    body = f"body of {key!r}".encode()
    s3.put_object(Bucket=hostile_bucket, Key=key, Body=body)
    assert s3.get_object(Bucket=hostile_bucket, Key=key)["Body"].read() == body
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=hostile_bucket)["Contents"]]
    assert listed == [key]
    s3.delete_object(Bucket=hostile_bucket, Key=key)
    assert "Contents" not in s3.list_objects_v2(Bucket=hostile_bucket)


@pytest.mark.parametrize("raw_key", ["%00", "a%00b", "%00%00%00", "x/%00/y"])
def test_put_object_with_nul_in_key_is_invalid_argument(server: Server, hostile_bucket: str, raw_key: str) -> None:
    response = signed_request(server, "PUT", f"/{hostile_bucket}/{raw_key}", body=b"x")
    assert (response.status_code, xml_code(response)) == (400, "InvalidArgument"), response.text
    assert_serving(server)


@pytest.mark.parametrize("raw_key", ["%ff", "%ff%fe", "a%c0%afb", "%c0%ae%c0%ae/x", "%ed%a0%80", "%f8%88%80%80%80",
                                     "ok%e2%82"])
@pytest.mark.parametrize("method", ["PUT", "GET", "HEAD", "DELETE"])
def test_invalid_utf8_percent_encoding_is_invalid_uri(server: Server, hostile_bucket: str, raw_key: str,
                                                      method: str) -> None:
    response = send_signed(server, method, f"/{hostile_bucket}/{raw_key}", body=b"x" if method == "PUT" else b"")
    assert response.status == 400, response
    if method != "HEAD":
        assert response.code == "InvalidURI", response.body
    assert "Contents" not in server.client().list_objects_v2(Bucket=hostile_bucket)  # type: ignore[attr-defined]
    assert_serving(server)


def test_invalid_utf8_in_query_string_is_an_s3_error(server: Server, hostile_bucket: str) -> None:
    for query in ["prefix=%ff", "delimiter=%c0", "marker=%fe", "list-type=2&start-after=%ff",
                  "versions&key-marker=%ff", "list-type=2&continuation-token=%ff"]:
        response = send_signed(server, "GET", f"/{hostile_bucket}?{query}")
        assert (response.status, response.code) == (400, "InvalidURI"), (query, response)
    assert_serving(server)


@pytest.mark.parametrize(("key", "ok"), [("k" * 1024, True), ("k" * 1025, False), ("é" * 512, True),
                                         ("é" * 512 + "k", False), ("😀" * 257, False)])
def test_key_length_limit_is_1024_utf8_bytes(server: Server, hostile_bucket: str, key: str, ok: bool) -> None:
    response = signed_request(server, "PUT", f"/{hostile_bucket}/{quote(key)}", body=b"x")
    if ok:
        assert response.status_code == 200, response.text
        assert server.client().get_object(Bucket=hostile_bucket, Key=key)["Body"].read() == b"x"  # type: ignore[attr-defined]
    else:
        assert (response.status_code, xml_code(response)) == (400, "KeyTooLongError"), response.text
        assert "Contents" not in server.client().list_objects_v2(Bucket=hostile_bucket)  # type: ignore[attr-defined]


def test_very_long_key_in_path_is_key_too_long(server: Server, hostile_bucket: str) -> None:
    response = signed_request(server, "PUT", f"/{hostile_bucket}/{'k' * 60_000}", body=b"x")
    assert (response.status_code, xml_code(response)) == (400, "KeyTooLongError"), response.text[:300]
    assert_serving(server)


@pytest.mark.parametrize(("meta", "ok"), [
    ({"a": "v" * 2047}, True),                          # 1 + 2047 = 2048 bytes: the limit
    ({"a": "v" * 2048}, False),
    ({f"k{i:03d}": "v" * 16 for i in range(103)}, False),  # many small ones add up: 103 * 20 > 2048
    ({"n" * 2000: "v" * 49}, False),                    # names count too
])
def test_put_object_metadata_limit(server: Server, hostile_bucket: str, meta: dict[str, str], ok: bool) -> None:
    s3: Any = server.client()
    if ok:
        s3.put_object(Bucket=hostile_bucket, Key="m", Body=b"x", Metadata=meta)
        assert s3.head_object(Bucket=hostile_bucket, Key="m")["Metadata"] == meta
        return
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket=hostile_bucket, Key="m", Body=b"x", Metadata=meta)
    assert caught.value.response["Error"]["Code"] == "MetadataTooLarge"
    assert "Contents" not in s3.list_objects_v2(Bucket=hostile_bucket)
    assert_serving(server)

"""PutObject, GetObject, HeadObject, DeleteObject: metadata, headers, ETag, digests, checksums, keys."""

from __future__ import annotations

import base64
import hashlib
import zlib

import pytest
from botocore.exceptions import ClientError

from tests.support import Server, signed_request, xml_code


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_put_returns_md5_etag_and_get_returns_headers(s3, bucket: str) -> None:
    body = b"The quick brown fox" * 100
    put = s3.put_object(Bucket=bucket, Key="fox.txt", Body=body, ContentType="text/plain",
                        ContentDisposition='attachment; filename="fox.txt"', ContentLanguage="en",
                        CacheControl="max-age=60", ContentEncoding="identity",
                        Metadata={"colour": "brown", "legs": "4"})
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="fox.txt")
    assert got["Body"].read() == body
    assert got["ContentType"] == "text/plain"
    assert got["ContentDisposition"] == 'attachment; filename="fox.txt"'
    assert got["ContentLanguage"] == "en"
    assert got["CacheControl"] == "max-age=60"
    assert got["ContentEncoding"] == "identity"
    assert got["Metadata"] == {"colour": "brown", "legs": "4"}
    assert got["ContentLength"] == len(body)
    assert got["AcceptRanges"] == "bytes"
    head = s3.head_object(Bucket=bucket, Key="fox.txt")
    assert head["ETag"] == put["ETag"] and head["ContentLength"] == len(body)
    assert head["LastModified"] == got["LastModified"]


def test_default_content_type(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert s3.head_object(Bucket=bucket, Key="k")["ContentType"] == "binary/octet-stream"


def test_response_overrides(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ContentType="text/plain")
    got = s3.get_object(Bucket=bucket, Key="k", ResponseContentType="image/png",
                        ResponseContentDisposition="inline", ResponseCacheControl="no-cache",
                        ResponseContentLanguage="fr", ResponseContentEncoding="gzip",
                        ResponseExpires="Wed, 21 Oct 2026 07:28:00 GMT")
    assert got["ContentType"] == "image/png"
    assert got["ContentDisposition"] == "inline"
    assert got["CacheControl"] == "no-cache"
    assert got["ContentLanguage"] == "fr"
    assert got["ContentEncoding"] == "gzip"
    assert got["ResponseMetadata"]["HTTPHeaders"]["expires"] == "Wed, 21 Oct 2026 07:28:00 GMT"


def test_overwrite_replaces_body_and_metadata(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"one", Metadata={"a": "1"})
    s3.put_object(Bucket=bucket, Key="k", Body=b"two-two")
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == b"two-two" and got["Metadata"] == {}


@pytest.mark.parametrize("key", ["plain", "with space", "üñíçødé/ключ/鍵", "a+b=c&d", "~!*'()[]", "dir//double",
                                 "trailing/", "%41literal-percent", "emoji-\U0001f512", "x" * 1024])
def test_unusual_keys_roundtrip(s3, bucket: str, key: str) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode()
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert key in listed


def test_key_too_long(s3, bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="k" * 1025, Body=b"x")
    assert _code(exc) == "KeyTooLongError"
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="é" * 513, Body=b"x")  # 1026 bytes of UTF-8
    assert _code(exc) == "KeyTooLongError"


def test_metadata_too_large(s3, bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", Metadata={"big": "v" * 2100})
    assert _code(exc) == "MetadataTooLarge"
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="k")


def test_content_md5(server: Server, bucket: str) -> None:
    body = b"digest me"
    good = base64.b64encode(hashlib.md5(body).digest()).decode()
    ok = signed_request(server, "PUT", f"/{bucket}/md5", body=body, headers={"Content-MD5": good})
    assert ok.status_code == 200
    bad = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    resp = signed_request(server, "PUT", f"/{bucket}/md5", body=b"changed", headers={"Content-MD5": bad})
    assert resp.status_code == 400 and xml_code(resp) == "BadDigest"
    resp = signed_request(server, "PUT", f"/{bucket}/md5", body=body, headers={"Content-MD5": "not-base64!"})
    assert resp.status_code == 400 and xml_code(resp) == "InvalidDigest"
    # The failed writes left the first object intact.
    assert signed_request(server, "GET", f"/{bucket}/md5").content == body


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"])
def test_flexible_checksums_stored_and_returned(s3, bucket: str, algorithm: str) -> None:
    body = b"checksum body " * 1000
    put = s3.put_object(Bucket=bucket, Key="c", Body=body, ChecksumAlgorithm=algorithm)
    field = f"Checksum{algorithm}"
    assert field in put
    head = s3.head_object(Bucket=bucket, Key="c", ChecksumMode="ENABLED")
    assert head[field] == put[field]
    if algorithm == "CRC32":
        assert put[field] == base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
    if algorithm == "SHA256":
        assert put[field] == base64.b64encode(hashlib.sha256(body).digest()).decode()
    got = s3.get_object(Bucket=bucket, Key="c", ChecksumMode="ENABLED")
    assert got["Body"].read() == body and got[field] == put[field]


def test_wrong_checksum_header_is_bad_digest(server: Server, bucket: str) -> None:
    wrong = base64.b64encode(zlib.crc32(b"other").to_bytes(4, "big")).decode()
    resp = signed_request(server, "PUT", f"/{bucket}/c", body=b"data", headers={"x-amz-checksum-crc32": wrong})
    assert resp.status_code == 400 and xml_code(resp) == "BadDigest"
    resp = signed_request(server, "PUT", f"/{bucket}/c", body=b"data", headers={"x-amz-checksum-crc32": "AAA"})
    assert resp.status_code == 400 and xml_code(resp) == "InvalidRequest"
    assert signed_request(server, "GET", f"/{bucket}/c").status_code == 404


def test_conditional_reads(s3, bucket: str) -> None:
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    etag = put["ETag"]
    assert s3.get_object(Bucket=bucket, Key="k", IfMatch=etag)["Body"].read() == b"x"
    for kwargs, status in [({"IfMatch": '"nope"'}, 412), ({"IfNoneMatch": etag}, 304),
                           ({"IfModifiedSince": "2100-01-01T00:00:00Z"}, 304),
                           ({"IfUnmodifiedSince": "2000-01-01T00:00:00Z"}, 412)]:
        with pytest.raises(ClientError) as exc:
            s3.get_object(Bucket=bucket, Key="k", **kwargs)
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == status, kwargs
        with pytest.raises(ClientError) as exc:
            s3.head_object(Bucket=bucket, Key="k", **kwargs)
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == status, kwargs
    # If-Match that holds beats a failing If-Unmodified-Since (RFC 7232 precedence, as S3).
    got = s3.get_object(Bucket=bucket, Key="k", IfMatch=etag, IfUnmodifiedSince="2000-01-01T00:00:00Z")
    assert got["Body"].read() == b"x"
    got = s3.get_object(Bucket=bucket, Key="k", IfNoneMatch='"other"', IfModifiedSince="2100-01-01T00:00:00Z")
    assert got["Body"].read() == b"x"


def test_conditional_write_if_none_match(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="once", Body=b"first", IfNoneMatch="*")
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="once", Body=b"second", IfNoneMatch="*")
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert s3.get_object(Bucket=bucket, Key="once")["Body"].read() == b"first"


def test_get_missing_key(s3, bucket: str, server: Server) -> None:
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="missing")
    assert _code(exc) == "NoSuchKey"
    resp = signed_request(server, "HEAD", f"/{bucket}/missing")
    assert resp.status_code == 404 and resp.content == b""


def test_delete_object_is_idempotent(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert s3.delete_object(Bucket=bucket, Key="k")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.delete_object(Bucket=bucket, Key="k")["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="k")


def test_delete_objects_quiet_and_verbose(s3, bucket: str) -> None:
    for i in range(5):
        s3.put_object(Bucket=bucket, Key=f"k{i}", Body=b"x")
    verbose = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "k0"}, {"Key": "k1"}, {"Key": "none"}]})
    assert sorted(d["Key"] for d in verbose["Deleted"]) == ["k0", "k1", "none"]
    quiet = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "k2"}, {"Key": "k3"}], "Quiet": True})
    assert "Deleted" not in quiet and "Errors" not in quiet
    left = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert left == ["k4"]


def test_delete_objects_per_key_errors(server: Server, bucket: str) -> None:
    body = (b"<Delete><Object><Key>ok</Key></Object>"
            b"<Object><Key>bad</Key><VersionId>not-a-version</VersionId></Object></Delete>")
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    resp = signed_request(server, "POST", f"/{bucket}", params={"delete": ""}, body=body,
                          headers={"Content-MD5": md5})
    assert resp.status_code == 200
    assert "<Deleted><Key>ok</Key></Deleted>" in resp.text
    assert "<Error><Key>bad</Key><VersionId>not-a-version</VersionId><Code>InvalidArgument</Code>" in resp.text


def test_delete_objects_requires_md5_and_valid_xml(server: Server, bucket: str) -> None:
    body = b"<Delete><Object><Key>k</Key></Object></Delete>"
    resp = signed_request(server, "POST", f"/{bucket}", params={"delete": ""}, body=body)
    assert resp.status_code == 400 and xml_code(resp) == "InvalidRequest"
    bad = b"<Delete><Object><Key>k</Key></Object>"
    md5 = base64.b64encode(hashlib.md5(bad).digest()).decode()
    resp = signed_request(server, "POST", f"/{bucket}", params={"delete": ""}, body=bad, headers={"Content-MD5": md5})
    assert resp.status_code == 400 and xml_code(resp) == "MalformedXML"

"""CopyObject (PUT Object - Copy): encryption per the spec, self-copy rules, metadata, conditions, versions."""

from __future__ import annotations

import base64
import hashlib
import os
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from awscrt.checksums import crc32c
from botocore.exceptions import ClientError

from tests.support import Server, signed_request, unique_bucket, xml_code

SELF_COPY_MESSAGE = ("This copy request is illegal because it is trying to copy an object to itself without changing"
                     " the object's metadata, storage class, website redirect location or encryption attributes.")
MiB = 1024 * 1024


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    err = exc.value.response
    return err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Code"], err["Error"].get("Message", "")


def _body(s3, bucket: str, key: str, **kw: str) -> bytes:  # type: ignore[no-untyped-def]
    return s3.get_object(Bucket=bucket, Key=key, **kw)["Body"].read()  # type: ignore[no-any-return]


# -- encryption follows the copy request (or the destination bucket's default), never the source ----------


def test_copy_plain_to_sse_when_requested(s3, bucket: str) -> None:
    data = os.urandom(3 * MiB + 17)
    s3.put_object(Bucket=bucket, Key="plain", Body=data)
    out = s3.copy_object(Bucket=bucket, Key="sealed", CopySource={"Bucket": bucket, "Key": "plain"},
                         ServerSideEncryption="AES256")
    assert out["ServerSideEncryption"] == "AES256"
    assert out["CopyObjectResult"]["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    head = s3.head_object(Bucket=bucket, Key="sealed")
    assert head["ServerSideEncryption"] == "AES256"
    assert _body(s3, bucket, "sealed") == data
    assert "ServerSideEncryption" not in s3.head_object(Bucket=bucket, Key="plain")


def test_copy_sse_to_plain_when_not_requested(s3, bucket: str) -> None:
    data = os.urandom(200_000)
    s3.put_object(Bucket=bucket, Key="sealed", Body=data, ServerSideEncryption="AES256")
    out = s3.copy_object(Bucket=bucket, Key="copy", CopySource=f"{bucket}/sealed")
    assert "ServerSideEncryption" not in out
    assert "ServerSideEncryption" not in s3.head_object(Bucket=bucket, Key="copy")
    assert _body(s3, bucket, "copy") == data


def test_copy_sse_to_sse(s3, bucket: str) -> None:
    data = b"twice sealed " * 1000
    s3.put_object(Bucket=bucket, Key="a", Body=data, ServerSideEncryption="AES256")
    out = s3.copy_object(Bucket=bucket, Key="b", CopySource=f"{bucket}/a", ServerSideEncryption="AES256")
    assert out["ServerSideEncryption"] == "AES256"
    got = s3.get_object(Bucket=bucket, Key="b")
    assert got["ServerSideEncryption"] == "AES256"
    assert got["Body"].read() == data


def test_destination_bucket_default_encryption_applies(s3, bucket: str) -> None:
    target = unique_bucket()
    s3.create_bucket(Bucket=target)
    s3.put_bucket_encryption(Bucket=target, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    s3.put_object(Bucket=bucket, Key="plain", Body=b"to be sealed by default")
    out = s3.copy_object(Bucket=target, Key="copy", CopySource={"Bucket": bucket, "Key": "plain"})
    assert out["ServerSideEncryption"] == "AES256"
    assert s3.head_object(Bucket=target, Key="copy")["ServerSideEncryption"] == "AES256"
    assert _body(s3, target, "copy") == b"to be sealed by default"


def test_copy_across_buckets_keeps_bytes_and_metadata(s3, bucket: str) -> None:
    other = unique_bucket()
    s3.create_bucket(Bucket=other)
    s3.put_object(Bucket=bucket, Key="src", Body=b"cross", ContentType="text/plain", Metadata={"color": "blue"})
    s3.copy_object(Bucket=other, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    head = s3.head_object(Bucket=other, Key="dst")
    assert head["ContentType"] == "text/plain"
    assert head["Metadata"] == {"color": "blue"}
    assert _body(s3, other, "dst") == b"cross"


def test_copy_of_multipart_object_is_a_single_part_object(s3, bucket: str) -> None:
    parts = [os.urandom(5 * MiB), os.urandom(1000)]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp", ServerSideEncryption="AES256")["UploadId"]
    etags = [s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=i, Body=p)["ETag"]
             for i, p in enumerate(parts, start=1)]
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload={
        "Parts": [{"PartNumber": i, "ETag": e} for i, e in enumerate(etags, start=1)]})
    out = s3.copy_object(Bucket=bucket, Key="flat", CopySource=f"{bucket}/mp")
    whole = b"".join(parts)
    assert out["CopyObjectResult"]["ETag"] == f'"{hashlib.md5(whole).hexdigest()}"'
    assert _body(s3, bucket, "flat") == whole
    head = s3.head_object(Bucket=bucket, Key="flat", PartNumber=1)
    assert head["ContentLength"] == len(whole)
    assert "PartsCount" not in head


# -- copying an object onto itself --------------------------------------------------------------------------


def test_self_copy_without_change_is_illegal(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"same")
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="k", CopySource=f"{bucket}/k")
    assert _error(exc) == (400, "InvalidRequest", SELF_COPY_MESSAGE)


def test_self_copy_with_sse_encrypts_in_place(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"now sealed")
    out = s3.copy_object(Bucket=bucket, Key="k", CopySource=f"{bucket}/k", ServerSideEncryption="AES256")
    assert out["ServerSideEncryption"] == "AES256"
    assert s3.head_object(Bucket=bucket, Key="k")["ServerSideEncryption"] == "AES256"
    assert _body(s3, bucket, "k") == b"now sealed"
    # Sending the SSE header again counts as a change, even though the object is already encrypted.
    again = s3.copy_object(Bucket=bucket, Key="k", CopySource=f"{bucket}/k", ServerSideEncryption="AES256")
    assert again["ServerSideEncryption"] == "AES256"


def test_self_copy_of_sealed_object_without_header_decrypts(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"unseal me", ServerSideEncryption="AES256")
    out = s3.copy_object(Bucket=bucket, Key="k", CopySource=f"{bucket}/k")
    assert "ServerSideEncryption" not in out
    assert "ServerSideEncryption" not in s3.head_object(Bucket=bucket, Key="k")
    assert _body(s3, bucket, "k") == b"unseal me"


def test_self_copy_with_metadata_replace_or_storage_class(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"meta", Metadata={"a": "1"})
    s3.copy_object(Bucket=bucket, Key="k", CopySource=f"{bucket}/k", MetadataDirective="REPLACE",
                   Metadata={"b": "2"}, ContentType="text/csv")
    head = s3.head_object(Bucket=bucket, Key="k")
    assert head["Metadata"] == {"b": "2"}
    assert head["ContentType"] == "text/csv"
    s3.copy_object(Bucket=bucket, Key="k", CopySource=f"{bucket}/k", StorageClass="STANDARD_IA")
    assert s3.head_object(Bucket=bucket, Key="k")["StorageClass"] == "STANDARD_IA"
    assert _body(s3, bucket, "k") == b"meta"


def test_self_copy_in_default_encrypted_bucket(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="old", Body=b"written before the default")
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    # The default would change the encryption of the unencrypted object: a legal in-place copy.
    out = s3.copy_object(Bucket=bucket, Key="old", CopySource=f"{bucket}/old")
    assert out["ServerSideEncryption"] == "AES256"
    # Now nothing would change: illegal.
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="old", CopySource=f"{bucket}/old")
    assert _error(exc) == (400, "InvalidRequest", SELF_COPY_MESSAGE)


# -- metadata directive ---------------------------------------------------------------------------------------


def test_metadata_directive_copy_ignores_request_metadata(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"x", ContentType="image/png", Metadata={"k": "v"},
                  CacheControl="max-age=60")
    s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/src", Metadata={"ignored": "yes"},
                   ContentType="text/plain", MetadataDirective="COPY")
    head = s3.head_object(Bucket=bucket, Key="dst")
    assert head["Metadata"] == {"k": "v"}
    assert head["ContentType"] == "image/png"
    assert head["CacheControl"] == "max-age=60"


def test_metadata_directive_replace(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"x", ContentType="image/png", Metadata={"k": "v"})
    s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/src", Metadata={"new": "meta"},
                   ContentType="text/plain", MetadataDirective="REPLACE")
    head = s3.head_object(Bucket=bucket, Key="dst")
    assert head["Metadata"] == {"new": "meta"}
    assert head["ContentType"] == "text/plain"


def test_invalid_metadata_directive(server: Server, s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"x")
    resp = signed_request(server, "PUT", f"/{bucket}/dst", headers={
        "x-amz-copy-source": f"/{bucket}/src", "x-amz-metadata-directive": "MERGE"})
    assert resp.status_code == 400
    assert xml_code(resp) == "InvalidArgument"
    assert "<ArgumentName>x-amz-metadata-directive</ArgumentName>" in resp.text


# -- conditional copy -----------------------------------------------------------------------------------------


def test_copy_source_if_match_and_none_match(s3, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="src", Body=b"cond")["ETag"]
    s3.copy_object(Bucket=bucket, Key="ok", CopySource=f"{bucket}/src", CopySourceIfMatch=etag)
    assert _body(s3, bucket, "ok") == b"cond"
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="no", CopySource=f"{bucket}/src", CopySourceIfMatch='"0000"')
    assert _error(exc)[:2] == (412, "PreconditionFailed")
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="no", CopySource=f"{bucket}/src", CopySourceIfNoneMatch=etag)
    assert _error(exc)[:2] == (412, "PreconditionFailed")
    s3.copy_object(Bucket=bucket, Key="ok2", CopySource=f"{bucket}/src", CopySourceIfNoneMatch='"0000"')
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="no")


def test_copy_source_if_modified_and_unmodified_since(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"dates")
    future = datetime.now(UTC) + timedelta(days=1)
    past = datetime.now(UTC) - timedelta(days=1)
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="d", CopySource=f"{bucket}/src", CopySourceIfModifiedSince=future)
    assert _error(exc)[:2] == (412, "PreconditionFailed")
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="d", CopySource=f"{bucket}/src", CopySourceIfUnmodifiedSince=past)
    assert _error(exc)[:2] == (412, "PreconditionFailed")
    s3.copy_object(Bucket=bucket, Key="d1", CopySource=f"{bucket}/src", CopySourceIfModifiedSince=past)
    s3.copy_object(Bucket=bucket, Key="d2", CopySource=f"{bucket}/src", CopySourceIfUnmodifiedSince=future)
    assert _body(s3, bucket, "d1") == _body(s3, bucket, "d2") == b"dates"


def test_copy_if_match_true_wins_over_unmodified_since_false(s3, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="src", Body=b"rfc7232")["ETag"]
    past = datetime.now(UTC) - timedelta(days=1)
    s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/src", CopySourceIfMatch=etag,
                   CopySourceIfUnmodifiedSince=past)
    assert _body(s3, bucket, "dst") == b"rfc7232"


# -- versions -------------------------------------------------------------------------------------------------


def _enable_versioning(s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


def test_copy_specific_version(s3, bucket: str) -> None:
    _enable_versioning(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="doc", Body=b"first")["VersionId"]
    s3.put_object(Bucket=bucket, Key="doc", Body=b"second")
    out = s3.copy_object(Bucket=bucket, Key="restored", CopySource={"Bucket": bucket, "Key": "doc", "VersionId": v1})
    assert out["CopySourceVersionId"] == v1
    assert out["VersionId"] and out["VersionId"] != v1
    assert _body(s3, bucket, "restored") == b"first"
    # Restoring an older version over the current one is a legal copy onto the same key.
    restore = s3.copy_object(Bucket=bucket, Key="doc", CopySource={"Bucket": bucket, "Key": "doc", "VersionId": v1})
    assert _body(s3, bucket, "doc") == b"first"
    versions = [v for v in s3.list_object_versions(Bucket=bucket, Prefix="doc")["Versions"] if v["Key"] == "doc"]
    assert len(versions) == 3
    latest = next(v for v in versions if v["IsLatest"])
    assert latest["VersionId"] == restore["VersionId"]


def test_change_encryption_in_place_makes_new_version_old_keeps_its_own(s3, bucket: str) -> None:
    _enable_versioning(s3, bucket)
    old = s3.put_object(Bucket=bucket, Key="k", Body=b"version one")["VersionId"]
    new = s3.copy_object(Bucket=bucket, Key="k", CopySource=f"{bucket}/k", ServerSideEncryption="AES256")
    assert new["VersionId"] != old
    assert new["CopySourceVersionId"] == old
    assert s3.head_object(Bucket=bucket, Key="k")["ServerSideEncryption"] == "AES256"
    old_head = s3.head_object(Bucket=bucket, Key="k", VersionId=old)
    assert "ServerSideEncryption" not in old_head
    assert _body(s3, bucket, "k", VersionId=old) == b"version one"
    assert _body(s3, bucket, "k", VersionId=new["VersionId"]) == b"version one"
    owners = {v["Owner"]["DisplayName"] for v in s3.list_object_versions(Bucket=bucket)["Versions"]}
    assert owners == {"root"}


def test_copy_from_delete_marker(s3, bucket: str) -> None:
    _enable_versioning(s3, bucket)
    s3.put_object(Bucket=bucket, Key="gone", Body=b"x")
    marker = s3.delete_object(Bucket=bucket, Key="gone")["VersionId"]
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/gone")
    assert _error(exc)[:2] == (404, "NoSuchKey")
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "gone", "VersionId": marker})
    assert _error(exc)[:2] == (400, "InvalidRequest")


def test_copy_missing_source(s3, bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/nothing")
    assert _error(exc)[:2] == (404, "NoSuchKey")
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{unique_bucket()}/nothing")
    assert _error(exc)[:2] == (404, "NoSuchBucket")


# -- the spec's Java walkthrough, in boto3 -------------------------------------------------------------------


def test_spec_java_flow_encrypt_by_copying_then_delete_source(s3, bucket: str) -> None:
    put = s3.put_object(Bucket=bucket, Key="encrypt-me-on-upload", Body=b"Test object encrypted with SSE",
                        ServerSideEncryption="AES256")
    assert put["ServerSideEncryption"] == "AES256"
    plain = s3.put_object(Bucket=bucket, Key="source", Body=b"Object example to encrypt by copying")
    assert "ServerSideEncryption" not in plain
    # Java's setNewObjectMetadata(...) sends REPLACE together with the SSE header.
    copied = s3.copy_object(Bucket=bucket, Key="encrypted-copy", CopySource={"Bucket": bucket, "Key": "source"},
                            MetadataDirective="REPLACE", ServerSideEncryption="AES256")
    assert copied["ServerSideEncryption"] == "AES256"
    s3.delete_object(Bucket=bucket, Key="source")
    head = s3.head_object(Bucket=bucket, Key="encrypted-copy")
    assert head["ServerSideEncryption"] == "AES256"
    assert _body(s3, bucket, "encrypted-copy") == b"Object example to encrypt by copying"
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == ["encrypt-me-on-upload", "encrypted-copy"]


# -- raw HTTP: the wire format --------------------------------------------------------------------------------


def test_raw_copy_url_encoded_source_and_response_shape(server: Server, s3, bucket: str) -> None:
    key = "dir/a b+c?d%e.txt"
    s3.put_object(Bucket=bucket, Key=key, Body=b"odd key", ServerSideEncryption="AES256")
    resp = signed_request(server, "PUT", f"/{bucket}/copied", headers={
        "x-amz-copy-source": f"/{bucket}/{quote(key)}", "x-amz-server-side-encryption": "AES256"})
    assert resp.status_code == 200, resp.text
    assert resp.headers["x-amz-server-side-encryption"] == "AES256"
    assert "x-amz-version-id" not in resp.headers  # unversioned bucket: the null version is not named
    assert re.search(r"<CopyObjectResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><ETag>&quot;"
                     r"[0-9a-f]{32}&quot;</ETag><LastModified>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z</LastModified>",
                     resp.text), resp.text
    assert _body(s3, bucket, "copied") == b"odd key"


def test_raw_copy_version_id_in_source_and_headers(server: Server, s3, bucket: str) -> None:
    _enable_versioning(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="src", Body=b"one")["VersionId"]
    s3.put_object(Bucket=bucket, Key="src", Body=b"two")
    resp = signed_request(server, "PUT", f"/{bucket}/dst", headers={
        "x-amz-copy-source": f"{bucket}/src?versionId={v1}"})
    assert resp.status_code == 200, resp.text
    assert resp.headers["x-amz-copy-source-version-id"] == v1
    assert resp.headers["x-amz-version-id"] == s3.head_object(Bucket=bucket, Key="dst")["VersionId"]
    assert "x-amz-server-side-encryption" not in resp.headers
    assert _body(s3, bucket, "dst") == b"one"


@pytest.mark.parametrize("source", ["nobucketkey", "/only-bucket/", "/"])
def test_raw_copy_malformed_source(server: Server, bucket: str, source: str) -> None:
    resp = signed_request(server, "PUT", f"/{bucket}/dst", headers={"x-amz-copy-source": source})
    assert resp.status_code == 400
    assert xml_code(resp) == "InvalidArgument"


def test_raw_copy_refuses_unsupported_sse_value(server: Server, s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"x")
    resp = signed_request(server, "PUT", f"/{bucket}/dst", headers={
        "x-amz-copy-source": f"{bucket}/src", "x-amz-server-side-encryption": "aws:kms:bogus"})
    assert resp.status_code == 400
    assert xml_code(resp) == "InvalidArgument"


def test_copy_keeps_source_checksum_algorithm(s3, bucket: str) -> None:
    data = b"checksummed copy"
    s3.put_object(Bucket=bucket, Key="src", Body=data, ChecksumAlgorithm="SHA256")
    out = s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/src", ServerSideEncryption="AES256")
    expected = base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert out["CopyObjectResult"]["ChecksumSHA256"] == expected
    head = s3.head_object(Bucket=bucket, Key="dst", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == expected


def test_copy_with_requested_checksum_algorithm(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"crc32c please")
    out = s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/src", ChecksumAlgorithm="CRC32C")
    expected = base64.b64encode(crc32c(b"crc32c please").to_bytes(4, "big")).decode()
    assert out["CopyObjectResult"]["ChecksumCRC32C"] == expected
    assert "ChecksumCRC32" not in out["CopyObjectResult"]

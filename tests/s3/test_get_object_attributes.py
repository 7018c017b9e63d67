"""GetObjectAttributes: ETag, Checksum, ObjectParts (max-parts, part-number-marker, part checksums),
StorageClass, ObjectSize; versionId; conditional headers; delete markers and missing versions.

Expectations follow Amazon S3 (AWS-recorded answers of the localstack suite, ceph/s3-tests).
"""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
import zlib
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.s3.test_aws_cli import aws
from tests.s3.test_bucket_policy import add_user, allow, client_of, doc, error_of
from tests.support import Server, signed_request, xml_code

ALL = ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"]
MIB = 1024 * 1024
NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def crc32(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def attributes(s3: Any, bucket: str, key: str, names: list[str] | None = None, **kw: Any) -> dict[str, Any]:
    got: dict[str, Any] = s3.get_object_attributes(Bucket=bucket, Key=key, ObjectAttributes=names or ALL, **kw)
    return got


def test_get_object_attributes(s3: Any, bucket: str) -> None:
    put = s3.put_object(Bucket=bucket, Key="obj", Body=b"69\n420\n", ChecksumAlgorithm="CRC32")
    got = attributes(s3, bucket, "obj")
    assert got["ETag"] == put["ETag"].strip('"')  # unquoted, unlike every other answer
    assert got["Checksum"] == {"ChecksumCRC32": crc32(b"69\n420\n"), "ChecksumType": "FULL_OBJECT"}
    assert got["StorageClass"] == "STANDARD" and got["ObjectSize"] == 7
    assert "ObjectParts" not in got and "VersionId" not in got and "DeleteMarker" not in got
    head = s3.head_object(Bucket=bucket, Key="obj")
    assert got["LastModified"] == head["LastModified"]
    only = attributes(s3, bucket, "obj", ["ObjectSize"])
    assert only["ObjectSize"] == 7 and "ETag" not in only and "Checksum" not in only


def test_get_object_attributes_without_checksum_and_encrypted(s3: Any, bucket: str) -> None:
    # Plain boto3 PutObject sends no checksum header over HTTP when the SDK is told not to.
    s3.put_object(Bucket=bucket, Key="enc", Body=b"secret", ServerSideEncryption="AES256")
    got = attributes(s3, bucket, "enc", ["ETag", "ObjectSize", "StorageClass"])
    assert got["ObjectSize"] == 6 and len(got["ETag"]) == 32


def test_get_object_attributes_versioned(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"69\n420\n")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="k", Body=b"version 2")["VersionId"]
    assert attributes(s3, bucket, "k")["VersionId"] == v2
    old = attributes(s3, bucket, "k", ["ObjectSize", "ETag"], VersionId=v1)
    assert old["VersionId"] == v1 and old["ObjectSize"] == 7
    marker = s3.delete_object(Bucket=bucket, Key="k")["VersionId"]
    with pytest.raises(ClientError) as info:
        attributes(s3, bucket, "k")
    err = info.value.response
    assert (err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]) == ("NoSuchKey", 404)
    assert err["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"
    with pytest.raises(ClientError) as info:
        attributes(s3, bucket, "k", VersionId=marker)
    err = info.value.response
    assert (err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]) == ("MethodNotAllowed", 405)
    assert "last-modified" in err["ResponseMetadata"]["HTTPHeaders"]
    assert error_of(s3.get_object_attributes, Bucket=bucket, Key="k", VersionId="A" * 32,
                    ObjectAttributes=ALL)[::2] == ("NoSuchVersion", 404)
    assert error_of(s3.get_object_attributes, Bucket=bucket, Key="missing", ObjectAttributes=ALL)[::2] == \
        ("NoSuchKey", 404)


def test_get_object_attributes_conditional(server: Server, s3: Any, bucket: str) -> None:
    """The SDKs have no parameters for them, but S3 evaluates conditional headers as for GET: raw HTTP."""
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"x")["ETag"]

    def status(**headers: str) -> int:
        resp = signed_request(server, "GET", f"/{bucket}/k", params={"attributes": ""},
                              headers={"x-amz-object-attributes": "ObjectSize", **headers})
        return resp.status_code

    past, future = "Sat, 01 Jan 2000 00:00:00 GMT", "Fri, 01 Jan 2100 00:00:00 GMT"
    assert status(**{"If-Match": etag}) == 200
    assert status(**{"If-Match": '"0000"'}) == 412
    assert status(**{"If-Unmodified-Since": past}) == 412
    assert status(**{"If-None-Match": etag}) == 304
    assert status(**{"If-Modified-Since": future}) == 304
    # If-Match that holds beats a failing If-Unmodified-Since, as for GET.
    assert status(**{"If-Match": etag, "If-Unmodified-Since": past}) == 200


def _composite_upload(s3: Any, bucket: str, key: str, bodies: list[bytes]) -> tuple[str, list[str]]:
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm="CRC32")["UploadId"]
    parts = []
    for number, body in enumerate(bodies, start=1):
        got = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=number, Body=body,
                             ChecksumAlgorithm="CRC32")
        parts.append({"ETag": got["ETag"], "PartNumber": number, "ChecksumCRC32": got["ChecksumCRC32"]})
    done = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": parts})
    return done["ChecksumCRC32"], [p["ChecksumCRC32"] for p in parts]


def test_get_object_attributes_of_a_composite_multipart_object(s3: Any, bucket: str) -> None:
    bodies = [b"a" * (5 * MIB), b"b" * (5 * MIB), b"c" * 10]
    whole, sums = _composite_upload(s3, bucket, "mp", bodies)
    got = attributes(s3, bucket, "mp")
    assert got["ETag"].endswith("-3")
    assert got["Checksum"] == {"ChecksumCRC32": whole.split("-")[0], "ChecksumType": "COMPOSITE"}  # no "-3"
    parts = got["ObjectParts"]
    assert (parts["TotalPartsCount"], parts["PartNumberMarker"], parts["NextPartNumberMarker"], parts["MaxParts"],
            parts["IsTruncated"]) == (3, 0, 3, 1000, False)
    assert parts["Parts"] == [{"PartNumber": i + 1, "Size": len(b), "ChecksumCRC32": sums[i]}
                              for i, b in enumerate(bodies)]
    assert sums[2] == crc32(b"c" * 10)
    page = attributes(s3, bucket, "mp", ["ObjectParts"], MaxParts=1, PartNumberMarker=1)["ObjectParts"]
    assert (page["PartNumberMarker"], page["NextPartNumberMarker"], page["MaxParts"], page["IsTruncated"]) == \
        (1, 2, 1, True)
    assert [p["PartNumber"] for p in page["Parts"]] == [2]
    rest = attributes(s3, bucket, "mp", ["ObjectParts"], MaxParts=10, PartNumberMarker=2)["ObjectParts"]
    assert [p["PartNumber"] for p in rest["Parts"]] == [3] and rest["IsTruncated"] is False


def test_get_object_attributes_of_multipart_objects(s3: Any, bucket: str) -> None:
    # Without a checksum algorithm: the parts are listed, without checksums.
    upload = s3.create_multipart_upload(Bucket=bucket, Key="plain")["UploadId"]
    etags = [s3.upload_part(Bucket=bucket, Key="plain", UploadId=upload, PartNumber=n, Body=body)["ETag"]
             for n, body in [(1, b"x" * (5 * MIB)), (2, b"tail")]]
    s3.complete_multipart_upload(Bucket=bucket, Key="plain", UploadId=upload, MultipartUpload={
        "Parts": [{"ETag": e, "PartNumber": n} for n, e in enumerate(etags, start=1)]})
    parts = attributes(s3, bucket, "plain")["ObjectParts"]
    assert parts["TotalPartsCount"] == 2 and parts["Parts"] == [{"PartNumber": 1, "Size": 5 * MIB},
                                                                 {"PartNumber": 2, "Size": 4}]
    # With a FULL_OBJECT checksum: only the count (the parts' checksums are not the object's).
    upload = s3.create_multipart_upload(Bucket=bucket, Key="full", ChecksumAlgorithm="CRC64NVME")["UploadId"]
    got = s3.upload_part(Bucket=bucket, Key="full", UploadId=upload, PartNumber=1, Body=b"only part",
                         ChecksumAlgorithm="CRC64NVME")
    s3.complete_multipart_upload(Bucket=bucket, Key="full", UploadId=upload, MultipartUpload={
        "Parts": [{"ETag": got["ETag"], "PartNumber": 1, "ChecksumCRC64NVME": got["ChecksumCRC64NVME"]}]})
    full = attributes(s3, bucket, "full")
    assert full["ObjectParts"] == {"TotalPartsCount": 1}
    assert full["Checksum"]["ChecksumType"] == "FULL_OBJECT"


def test_get_object_attributes_response_order_and_header_forms(server: Server, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"test", ChecksumAlgorithm="SHA256")
    answers = []
    for value in ["ETag,Checksum,ObjectParts,StorageClass,ObjectSize", "ObjectSize, StorageClass , ETag,Checksum"]:
        resp = signed_request(server, "GET", f"/{bucket}/k", params={"attributes": ""},
                              headers={"x-amz-object-attributes": value})
        assert resp.status_code == 200, resp.text
        root = ET.fromstring(resp.content)
        assert root.tag == f"{NS}GetObjectAttributesResponse"
        answers.append([child.tag.removeprefix(NS) for child in root])
    # The order of the answer is AWS's, whatever the order asked (the Java SDK depends on it).
    assert answers == [["ETag", "Checksum", "StorageClass", "ObjectSize"]] * 2


@pytest.mark.parametrize(("value", "code"), [(None, "InvalidRequest"), ("", "InvalidRequest"),
                                              ("ETag,Colour", "InvalidArgument")])
def test_get_object_attributes_refuses_bad_attribute_lists(server: Server, s3: Any, bucket: str, value: str | None,
                                                            code: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    headers = {} if value is None else {"x-amz-object-attributes": value}
    resp = signed_request(server, "GET", f"/{bucket}/k", params={"attributes": ""}, headers=headers)
    assert (resp.status_code, xml_code(resp)) == (400, code)


def test_get_object_attributes_needs_both_permissions(server: Server, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    name, access_key, secret = add_user(server)
    other = client_of(server, access_key, secret)
    resource = f"arn:aws:s3:::{bucket}/*"
    s3.put_bucket_policy(Bucket=bucket, Policy=doc(allow({"AWS": name}, "s3:GetObjectAttributes", resource)))
    assert error_of(other.get_object_attributes, Bucket=bucket, Key="k", ObjectAttributes=ALL)[0] == "AccessDenied"
    s3.put_bucket_policy(Bucket=bucket, Policy=doc(allow({"AWS": name}, ["s3:GetObjectAttributes", "s3:GetObject"],
                                                         resource)))
    assert attributes(other, bucket, "k", ["ObjectSize"])["ObjectSize"] == 1


def test_get_object_attributes_with_the_aws_cli(server: Server, s3: Any, bucket: str) -> None:
    import json

    s3.put_object(Bucket=bucket, Key="k", Body=b"hello")
    out = json.loads(aws(server, "s3api", "get-object-attributes", "--bucket", bucket, "--key", "k",
                         "--object-attributes", "ETag", "ObjectSize").stdout)
    assert out["ObjectSize"] == 5 and out["ETag"] == "5d41402abc4b2a76b9719d911017c592"

"""Conditional deletes: DeleteObject with If-Match, x-amz-if-match-last-modified-time and x-amz-if-match-size;
DeleteObjects entries with ETag, LastModifiedTime and Size.

If-Match follows Amazon S3's general purpose buckets (measured answers published by S3 emulators' authors,
the S3 User Guide's "conditional deletes"): the current version only; no object or a delete marker is 404
NoSuchKey; another ETag 412; with a version id 501. The size and last-modified-time conditions follow the
API reference (directory buckets, the only ones where AWS evaluates them): 412 when they do not hold, and a
version that does not exist satisfies them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.s3.test_aws_cli import aws
from tests.s3.test_bucket_policy import add_user, allow, client_of, doc
from tests.support import Server, signed_request, xml_code

PAST = dt.datetime(2015, 1, 1, tzinfo=dt.UTC)


def error(call: Any, **kwargs: Any) -> tuple[int, str]:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    err = info.value.response
    return err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Code"]


def exists(s3: Any, bucket: str, key: str, **kw: Any) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key, **kw)
    except ClientError:
        return False
    return True


def test_delete_object_if_match(s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"")["ETag"]
    assert error(s3.delete_object, Bucket=bucket, Key="k", IfMatch="badetag") == (412, "PreconditionFailed")
    assert exists(s3, bucket, "k")
    assert s3.delete_object(Bucket=bucket, Key="k", IfMatch=etag)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert not exists(s3, bucket, "k")
    # No object: If-Match fails with 404, whether "*" or an ETag (a delete of nothing is no CAS success).
    assert error(s3.delete_object, Bucket=bucket, Key="k", IfMatch="*") == (404, "NoSuchKey")
    assert error(s3.delete_object, Bucket=bucket, Key="k", IfMatch="badetag") == (404, "NoSuchKey")
    s3.put_object(Bucket=bucket, Key="k", Body=b"again")
    s3.delete_object(Bucket=bucket, Key="k", IfMatch="*")
    assert not exists(s3, bucket, "k")


def test_delete_object_current_if_match(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert error(s3.delete_object, Bucket=bucket, Key="k", IfMatch="*") == (404, "NoSuchKey")
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert error(s3.delete_object, Bucket=bucket, Key="k", IfMatch="badetag") == (412, "PreconditionFailed")
    assert s3.delete_object(Bucket=bucket, Key="k", IfMatch=put["ETag"])["DeleteMarker"] is True
    # A delete marker is no object: If-Match fails, even with the ETag of the version beneath it.
    assert error(s3.delete_object, Bucket=bucket, Key="k", IfMatch=put["ETag"]) == (404, "NoSuchKey")
    assert error(s3.delete_object, Bucket=bucket, Key="k", IfMatch="*") == (404, "NoSuchKey")
    assert len(s3.list_object_versions(Bucket=bucket).get("DeleteMarkers", [])) == 1  # no second marker
    # With a version id, If-Match is refused as AWS refuses it.
    assert error(s3.delete_object, Bucket=bucket, Key="k", VersionId=put["VersionId"], IfMatch=put["ETag"]) == \
        (501, "NotImplemented")


def test_delete_object_if_match_last_modified_time(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"")
    mtime = s3.head_object(Bucket=bucket, Key="k")["LastModified"]
    assert error(s3.delete_object, Bucket=bucket, Key="k", IfMatchLastModifiedTime=PAST) == \
        (412, "PreconditionFailed")
    s3.delete_object(Bucket=bucket, Key="k", IfMatchLastModifiedTime=mtime)
    assert not exists(s3, bucket, "k")
    # Nothing to delete satisfies it (the API reference: "or if the object doesn't exist").
    s3.delete_object(Bucket=bucket, Key="k", IfMatchLastModifiedTime=PAST)


def test_delete_object_current_if_match_last_modified_time(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="k", Body=b"")
    mtime = s3.head_object(Bucket=bucket, Key="k")["LastModified"]
    assert error(s3.delete_object, Bucket=bucket, Key="k", IfMatchLastModifiedTime=PAST)[0] == 412
    assert s3.delete_object(Bucket=bucket, Key="k", IfMatchLastModifiedTime=mtime)["DeleteMarker"]
    assert error(s3.delete_object, Bucket=bucket, Key="k", IfMatchLastModifiedTime=PAST)[0] == 412  # a marker


def test_delete_object_version_if_match_last_modified_time(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    version = s3.put_object(Bucket=bucket, Key="k", Body=b"")["VersionId"]
    mtime = s3.head_object(Bucket=bucket, Key="k", VersionId=version)["LastModified"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"newer")  # conditions concern the version named, not the current
    assert error(s3.delete_object, Bucket=bucket, Key="k", VersionId=version, IfMatchLastModifiedTime=PAST)[0] == 412
    gone = s3.delete_object(Bucket=bucket, Key="k", VersionId=version, IfMatchLastModifiedTime=mtime)
    assert "DeleteMarker" not in gone and not exists(s3, bucket, "k", VersionId=version)
    s3.delete_object(Bucket=bucket, Key="k", VersionId=version, IfMatchLastModifiedTime=PAST)


def test_delete_object_if_match_size(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    version = s3.put_object(Bucket=bucket, Key="k", Body=b"")["VersionId"]
    assert error(s3.delete_object, Bucket=bucket, Key="k", IfMatchSize=9999)[0] == 412
    assert error(s3.delete_object, Bucket=bucket, Key="k", VersionId=version, IfMatchSize=9999)[0] == 412
    assert "DeleteMarker" in s3.delete_object(Bucket=bucket, Key="k", IfMatchSize=0)
    assert error(s3.delete_object, Bucket=bucket, Key="k", IfMatchSize=9999)[0] == 412  # a marker has no size
    assert "DeleteMarker" not in s3.delete_object(Bucket=bucket, Key="k", VersionId=version, IfMatchSize=0)
    s3.delete_object(Bucket=bucket, Key="k", VersionId=version, IfMatchSize=9999)  # no such version: holds


def test_delete_object_all_conditions_at_once(s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"hello")["ETag"]
    mtime = s3.head_object(Bucket=bucket, Key="k")["LastModified"]
    assert error(s3.delete_object, Bucket=bucket, Key="k", IfMatch=etag, IfMatchSize=5,
                 IfMatchLastModifiedTime=PAST)[0] == 412
    assert error(s3.delete_object, Bucket=bucket, Key="k", IfMatch=etag, IfMatchSize=4,
                 IfMatchLastModifiedTime=mtime)[0] == 412
    s3.delete_object(Bucket=bucket, Key="k", IfMatch=etag, IfMatchSize=5, IfMatchLastModifiedTime=mtime)
    assert not exists(s3, bucket, "k")


@pytest.mark.parametrize(("header", "value"), [("x-amz-if-match-size", "ten"), ("x-amz-if-match-size", "-1"),
                                                ("x-amz-if-match-last-modified-time", "yesterday")])
def test_delete_object_refuses_malformed_conditions(server: Server, s3: Any, bucket: str, header: str,
                                                     value: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    resp = signed_request(server, "DELETE", f"/{bucket}/k", headers={header: value})
    assert (resp.status_code, xml_code(resp)) == (400, "InvalidArgument")
    assert exists(s3, bucket, "k")  # a condition that cannot be read never becomes an unconditional delete


def test_delete_object_if_match_needs_get_object(server: Server, s3: Any, bucket: str) -> None:
    """AWS: a delete conditional on an ETag needs s3:GetObject besides s3:DeleteObject."""
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"x")["ETag"]
    name, access_key, secret = add_user(server)
    other = client_of(server, access_key, secret)
    resource = f"arn:aws:s3:::{bucket}/*"
    s3.put_bucket_policy(Bucket=bucket, Policy=doc(allow({"AWS": name}, "s3:DeleteObject", resource)))
    assert error(other.delete_object, Bucket=bucket, Key="k", IfMatch=etag) == (403, "AccessDenied")
    other.delete_object(Bucket=bucket, Key="k", IfMatch="*")  # "*" reveals nothing


def test_policy_can_require_conditional_deletes(server: Server, s3: Any, bucket: str) -> None:
    """The S3 User Guide's "enforce conditional deletes": allow DeleteObject only with an If-Match header."""
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    name, access_key, secret = add_user(server)
    other = client_of(server, access_key, secret)
    resource = f"arn:aws:s3:::{bucket}/*"
    s3.put_bucket_policy(Bucket=bucket, Policy=doc(
        allow({"AWS": name}, ["s3:DeleteObject", "s3:GetObject"], resource,
              Condition={"Null": {"s3:if-match": "false"}})))
    assert error(other.delete_object, Bucket=bucket, Key="k") == (403, "AccessDenied")
    other.delete_object(Bucket=bucket, Key="k", IfMatch="*")


# -- DeleteObjects ------------------------------------------------------------------------------------------


def _delete(s3: Any, bucket: str, *objects: dict[str, Any]) -> dict[str, Any]:
    got: dict[str, Any] = s3.delete_objects(Bucket=bucket, Delete={"Objects": list(objects)})
    return got


def test_delete_objects_if_match(s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"")["ETag"]
    s3.put_object(Bucket=bucket, Key="other", Body=b"")
    got = _delete(s3, bucket, {"Key": "k", "ETag": "badetag"}, {"Key": "other"})
    assert [(e["Key"], e["Code"]) for e in got["Errors"]] == [("k", "PreconditionFailed")]
    assert [d["Key"] for d in got["Deleted"]] == ["other"]  # each entry on its own
    got = _delete(s3, bucket, {"Key": "k", "ETag": etag})
    assert [d["Key"] for d in got["Deleted"]] == ["k"] and not exists(s3, bucket, "k")
    got = _delete(s3, bucket, {"Key": "k", "ETag": "badetag"})
    assert [(e["Key"], e["Code"]) for e in got["Errors"]] == [("k", "NoSuchKey")]


def test_delete_objects_current_if_match(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"")
    assert _delete(s3, bucket, {"Key": "k", "ETag": "badetag"})["Errors"][0]["Code"] == "PreconditionFailed"
    got = _delete(s3, bucket, {"Key": "k", "ETag": put["ETag"]})
    assert got["Deleted"][0]["Key"] == "k" and got["Deleted"][0]["DeleteMarker"] is True
    assert _delete(s3, bucket, {"Key": "k", "ETag": put["ETag"]})["Errors"][0]["Code"] == "NoSuchKey"
    got = _delete(s3, bucket, {"Key": "k", "VersionId": put["VersionId"], "ETag": put["ETag"]})
    assert got["Errors"][0]["Code"] == "NotImplemented"


def test_delete_objects_if_match_last_modified_time(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    version = s3.put_object(Bucket=bucket, Key="k", Body=b"")["VersionId"]
    mtime = s3.head_object(Bucket=bucket, Key="k", VersionId=version)["LastModified"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"current")
    got = _delete(s3, bucket, {"Key": "k", "VersionId": version, "LastModifiedTime": PAST})
    assert got["Errors"][0]["Code"] == "PreconditionFailed"
    got = _delete(s3, bucket, {"Key": "k", "VersionId": version, "LastModifiedTime": mtime})
    assert got["Deleted"][0]["VersionId"] == version
    assert "Errors" not in _delete(s3, bucket, {"Key": "k", "VersionId": version, "LastModifiedTime": PAST})


def test_delete_objects_if_match_size(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="k", Body=b"")
    assert _delete(s3, bucket, {"Key": "k", "Size": 9999})["Errors"][0]["Code"] == "PreconditionFailed"
    got = _delete(s3, bucket, {"Key": "k", "Size": 0})
    assert got["Deleted"][0]["DeleteMarker"] is True
    assert _delete(s3, bucket, {"Key": "k", "Size": 9999})["Errors"][0]["Code"] == "PreconditionFailed"


def test_delete_object_if_match_with_the_aws_cli(server: Server, s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"x")["ETag"]
    failed = aws(server, "s3api", "delete-object", "--bucket", bucket, "--key", "k", "--if-match", '"0000"',
                 check=False)
    assert failed.returncode != 0 and "PreconditionFailed" in failed.stderr
    aws(server, "s3api", "delete-object", "--bucket", bucket, "--key", "k", "--if-match", etag)
    assert not exists(s3, bucket, "k")


def test_delete_objects_refuses_malformed_conditions(server: Server, s3: Any, bucket: str) -> None:
    import base64
    import hashlib

    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    body = b"<Delete><Object><Key>k</Key><Size>big</Size></Object></Delete>"
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    resp = signed_request(server, "POST", f"/{bucket}", body=body, params={"delete": ""},
                          headers={"Content-MD5": md5})
    assert (resp.status_code, xml_code(resp)) == (400, "MalformedXML")
    assert exists(s3, bucket, "k")

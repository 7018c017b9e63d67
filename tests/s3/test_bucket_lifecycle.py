"""Put/Get/DeleteBucketLifecycleConfiguration, x-amz-expiration, and the lifecycle worker (issue 17).

A server started with ``--lifecycle-day-seconds 2`` makes a rule's day last 2 s, so objects expire in
seconds; ``sealbox lifecycle run`` runs a pass on demand (the server's own worker runs them too).
AWS behaviour checked: the round trip returns what was put; Transition is refused (one storage
class); Days must be positive; overlapping prefixes with the same action are InvalidRequest;
expiration adds a delete marker in versioned and suspended buckets and deletes in unversioned
ones; NoncurrentVersionExpiration honours NewerNoncurrentVersions; expired delete markers go;
stale multipart uploads are aborted; Object Lock protected versions are never expired.
"""

from __future__ import annotations

import datetime
import json
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support import SEALBOX, Server, running_server, unique_bucket

DAY = 2.0


@pytest.fixture(scope="module")
def fast(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("life") / "data", "--lifecycle-day-seconds", str(DAY),
                        workers=2) as srv:
        yield srv


def _err(call: Any, **kw: Any) -> tuple[int, str]:
    with pytest.raises(ClientError) as exc:
        call(**kw)
    r = exc.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"]


def _run_pass(server: Server) -> dict[str, Any]:
    out = subprocess.run([str(SEALBOX), "lifecycle", "run", "--data-dir", str(server.data_dir),
                          "--lifecycle-day-seconds", str(DAY)], capture_output=True, text=True, timeout=120)
    if out.returncode == 1:  # the server's worker holds the lock: wait for it, once
        time.sleep(1.0)
        return _run_pass(server)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def _until_due(days: int = 1) -> None:
    time.sleep(days * DAY * 2 + 0.5)  # past the next day boundary after the age, whatever the phase


def test_lifecycle_round_trip(s3: Any, bucket: str) -> None:
    assert _err(s3.get_bucket_lifecycle_configuration, Bucket=bucket) == (404, "NoSuchLifecycleConfiguration")
    rules = [
        {"ID": "logs", "Filter": {"Prefix": "logs/"}, "Status": "Enabled", "Expiration": {"Days": 30}},
        {"ID": "tmp", "Filter": {"And": {"Prefix": "tmp/", "Tags": [{"Key": "a", "Value": "b"}],
                                         "ObjectSizeGreaterThan": 10, "ObjectSizeLessThan": 100}},
         "Status": "Disabled", "NoncurrentVersionExpiration": {"NoncurrentDays": 3, "NewerNoncurrentVersions": 2}},
        {"ID": "mp", "Filter": {}, "Status": "Enabled", "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}},
        {"ID": "dm", "Filter": {"Prefix": "x/"}, "Status": "Enabled",
         "Expiration": {"ExpiredObjectDeleteMarker": True}},
        {"ID": "date", "Filter": {"Tag": {"Key": "k", "Value": "v"}}, "Status": "Enabled",
         "Expiration": {"Date": datetime.datetime(2040, 1, 1, tzinfo=datetime.timezone.utc)}},
    ]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"] == rules
    s3.delete_bucket_lifecycle(Bucket=bucket)
    assert _err(s3.get_bucket_lifecycle_configuration, Bucket=bucket) == (404, "NoSuchLifecycleConfiguration")


def test_transition_default_minimum_object_size_round_trip(s3: Any, bucket: str) -> None:
    """The header Terraform sends on every put and compares on every read (issue 17)."""
    rule = {"ID": "r", "Filter": {}, "Status": "Enabled", "Expiration": {"Days": 1}}
    put = s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [rule]})
    assert put["TransitionDefaultMinimumObjectSize"] == "all_storage_classes_128K"  # AWS's default
    got = s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert got["TransitionDefaultMinimumObjectSize"] == "all_storage_classes_128K"
    put = s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [rule]},
                                                TransitionDefaultMinimumObjectSize="varies_by_storage_class")
    assert put["TransitionDefaultMinimumObjectSize"] == "varies_by_storage_class"
    got = s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert got["TransitionDefaultMinimumObjectSize"] == "varies_by_storage_class" and got["Rules"] == [rule]
    assert _err(s3.put_bucket_lifecycle_configuration, Bucket=bucket, LifecycleConfiguration={"Rules": [rule]},
                TransitionDefaultMinimumObjectSize="tiny") == (400, "InvalidArgument")


@pytest.mark.parametrize("rule, code", [
    ({"ID": "t", "Filter": {}, "Status": "Enabled", "Transitions": [{"Days": 1, "StorageClass": "GLACIER"}]},
     "InvalidRequest"),
    ({"ID": "d", "Filter": {}, "Status": "Enabled", "Expiration": {"Days": 0}}, "InvalidArgument"),
    ({"ID": "n", "Filter": {}, "Status": "Enabled"}, "InvalidRequest"),
    ({"ID": "x" * 256, "Filter": {}, "Status": "Enabled", "Expiration": {"Days": 1}}, "InvalidArgument"),
    ({"ID": "dt", "Filter": {}, "Status": "Enabled",
      "Expiration": {"Date": datetime.datetime(2040, 1, 1, 12, tzinfo=datetime.timezone.utc)}}, "InvalidArgument"),
    ({"ID": "nc", "Filter": {}, "Status": "Enabled", "NoncurrentVersionExpiration": {"NoncurrentDays": 0}},
     "InvalidArgument"),
])
def test_lifecycle_validation(s3: Any, bucket: str, rule: dict[str, Any], code: str) -> None:
    assert _err(s3.put_bucket_lifecycle_configuration, Bucket=bucket,
                LifecycleConfiguration={"Rules": [rule]}) == (400, code)


def test_overlapping_prefixes_and_duplicate_ids(s3: Any, bucket: str) -> None:
    a = {"ID": "a", "Filter": {"Prefix": "logs/"}, "Status": "Enabled", "Expiration": {"Days": 1}}
    b = {"ID": "b", "Filter": {"Prefix": "logs/old/"}, "Status": "Enabled", "Expiration": {"Days": 2}}
    assert _err(s3.put_bucket_lifecycle_configuration, Bucket=bucket,
                LifecycleConfiguration={"Rules": [a, b]}) == (400, "InvalidRequest")
    assert _err(s3.put_bucket_lifecycle_configuration, Bucket=bucket,
                LifecycleConfiguration={"Rules": [a, {**b, "ID": "a", "Filter": {"Prefix": "z"}}]}) == \
        (400, "InvalidArgument")


def test_x_amz_expiration_on_put_get_head(s3: Any, bucket: str) -> None:
    rules = [{"ID": "thirty", "Filter": {"Prefix": "e/"}, "Status": "Enabled", "Expiration": {"Days": 30}}]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    put = s3.put_object(Bucket=bucket, Key="e/1", Body=b"x")
    head = s3.head_object(Bucket=bucket, Key="e/1")
    get = s3.get_object(Bucket=bucket, Key="e/1")
    for answer in (put, head, get):
        header = answer["ResponseMetadata"]["HTTPHeaders"]["x-amz-expiration"]
        assert header.endswith('rule-id="thirty"'), header
        expiry = datetime.datetime.strptime(header.split('"')[1], "%a, %d %b %Y %H:%M:%S GMT")
        assert (expiry.hour, expiry.minute, expiry.second) == (0, 0, 0)  # the next midnight UTC
        assert 30 <= (expiry - datetime.datetime.utcnow()).total_seconds() / 86400 <= 31
    s3.put_object(Bucket=bucket, Key="other", Body=b"x")
    assert "x-amz-expiration" not in s3.head_object(Bucket=bucket, Key="other")["ResponseMetadata"]["HTTPHeaders"]


def _keys(s3: Any, bucket: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


@pytest.mark.parametrize("versioning", ["", "Enabled", "Suspended"])
def test_expiration_of_current_versions(fast: Server, versioning: str) -> None:
    s3: Any = fast.client()
    name = unique_bucket("exp")
    s3.create_bucket(Bucket=name)
    if versioning:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": versioning})
    rules = [{"ID": "r", "Filter": {"Prefix": "old/"}, "Status": "Enabled", "Expiration": {"Days": 1}}]
    s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": rules})
    s3.put_object(Bucket=name, Key="old/a", Body=b"a")
    s3.put_object(Bucket=name, Key="keep/b", Body=b"b")
    _until_due()
    _run_pass(fast)
    assert _keys(s3, name) == ["keep/b"]
    versions = s3.list_object_versions(Bucket=name)
    markers = [m["Key"] for m in versions.get("DeleteMarkers", [])]
    kept = [v["Key"] for v in versions.get("Versions", [])]
    if versioning == "Enabled":
        assert markers == ["old/a"] and sorted(kept) == ["keep/b", "old/a"]
    elif versioning == "Suspended":
        # the null version was replaced by the marker; a later pass (the server's) may have removed the
        # marker too, as the only version left (AWS: Expiration Days also cleans up expired markers)
        assert markers in ([], ["old/a"]) and kept == ["keep/b"]
    else:
        assert markers == [] and kept == ["keep/b"]


def test_noncurrent_versions_markers_and_uploads(fast: Server) -> None:
    s3: Any = fast.client()
    name = unique_bucket("nc")
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    for i in range(4):
        s3.put_object(Bucket=name, Key="k", Body=f"v{i}".encode())
    s3.put_object(Bucket=name, Key="gone", Body=b"x")
    gone = s3.list_object_versions(Bucket=name, Prefix="gone")["Versions"][0]["VersionId"]
    s3.delete_object(Bucket=name, Key="gone")
    s3.delete_object(Bucket=name, Key="gone", VersionId=gone)  # only the delete marker is left
    upload = s3.create_multipart_upload(Bucket=name, Key="mp")["UploadId"]
    s3.upload_part(Bucket=name, Key="mp", UploadId=upload, PartNumber=1, Body=b"p")
    rules = [{"ID": "nc", "Filter": {}, "Status": "Enabled",
              "NoncurrentVersionExpiration": {"NoncurrentDays": 1, "NewerNoncurrentVersions": 1},
              "Expiration": {"ExpiredObjectDeleteMarker": True},
              "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}]
    s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": rules})
    _until_due()
    _run_pass(fast)
    versions = s3.list_object_versions(Bucket=name)
    bodies = [s3.get_object(Bucket=name, Key="k", VersionId=v["VersionId"])["Body"].read()
              for v in versions["Versions"] if v["Key"] == "k"]
    assert bodies == [b"v3", b"v2"]  # the current one and one newer noncurrent version kept
    assert not versions.get("DeleteMarkers")
    assert not s3.list_multipart_uploads(Bucket=name).get("Uploads")
    status = subprocess.run([str(SEALBOX), "lifecycle", "status", "--data-dir", str(fast.data_dir)],
                            capture_output=True, text=True, timeout=60)
    assert json.loads(status.stdout)["last"] is not None


def test_expiration_never_touches_locked_versions(fast: Server) -> None:
    s3: Any = fast.client()
    name = unique_bucket("lk")
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    until = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    first = s3.put_object(Bucket=name, Key="k", Body=b"old", ObjectLockMode="COMPLIANCE",
                          ObjectLockRetainUntilDate=until, ChecksumAlgorithm="CRC32")["VersionId"]
    s3.put_object(Bucket=name, Key="k", Body=b"new")
    rules = [{"ID": "all", "Filter": {}, "Status": "Enabled", "NoncurrentVersionExpiration": {"NoncurrentDays": 1}}]
    s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": rules})
    _until_due()
    summary = _run_pass(fast)
    assert s3.get_object(Bucket=name, Key="k", VersionId=first)["Body"].read() == b"old"
    assert summary["kept_locked"] >= 0  # the server's worker may have been the one that kept it


def test_server_worker_applies_rules(fast: Server) -> None:
    s3: Any = fast.client()
    name = unique_bucket("auto")
    s3.create_bucket(Bucket=name)
    s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": [
        {"ID": "r", "Filter": {}, "Status": "Enabled", "Expiration": {"Days": 1}}]})
    s3.put_object(Bucket=name, Key="a", Body=b"a")
    deadline = time.monotonic() + 30
    while _keys(s3, name) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _keys(s3, name) == []


def test_tag_filters_expire_tagged_objects_only(fast: Server) -> None:
    """Issue 16: a rule's Tag filter (and an And of prefix and tags) matches the objects that have those tags,
    encrypted ones included (their tags are sealed metadata, opened as the worker lists them)."""
    s3: Any = fast.client()
    name = unique_bucket("tagexp")
    s3.create_bucket(Bucket=name)
    rules = [{"ID": "tag", "Filter": {"Tag": {"Key": "tom", "Value": "sawyer"}}, "Status": "Enabled",
              "Expiration": {"Days": 1}},
             {"ID": "and", "Filter": {"And": {"Prefix": "logs/", "Tags": [{"Key": "a", "Value": "1"},
                                                                        {"Key": "b", "Value": "2"}]}},
              "Status": "Enabled", "Expiration": {"Days": 1}}]
    s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": rules})
    s3.put_object(Bucket=name, Key="tom", Body=b"x", Tagging="tom=sawyer")
    s3.put_object(Bucket=name, Key="tom-sse", Body=b"x", Tagging="tom=sawyer", ServerSideEncryption="AES256")
    s3.put_object(Bucket=name, Key="huck", Body=b"x", Tagging="tom=finn")
    s3.put_object(Bucket=name, Key="retagged", Body=b"x")
    s3.put_object_tagging(Bucket=name, Key="retagged", Tagging={"TagSet": [{"Key": "tom", "Value": "sawyer"}]})
    s3.put_object(Bucket=name, Key="logs/both", Body=b"x", Tagging="a=1&b=2&c=3")
    s3.put_object(Bucket=name, Key="logs/one", Body=b"x", Tagging="a=1")
    s3.put_object(Bucket=name, Key="other/both", Body=b"x", Tagging="a=1&b=2")
    head = s3.head_object(Bucket=name, Key="tom")["ResponseMetadata"]["HTTPHeaders"]
    assert head["x-amz-expiration"].endswith('rule-id="tag"')
    assert "x-amz-expiration" not in s3.head_object(Bucket=name, Key="huck")["ResponseMetadata"]["HTTPHeaders"]
    _until_due()
    _run_pass(fast)
    assert _keys(s3, name) == ["huck", "logs/one", "other/both"]

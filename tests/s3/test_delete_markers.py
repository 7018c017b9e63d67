"""x-amz-delete-marker (and DeleteMarker in DeleteObjects) wherever AWS sends it; HeadObject of a missing
key: 404 for a caller who may list the bucket, 403 otherwise (nobody else learns what is missing)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from tests.s3.test_bucket_policy import add_user, client_of
from tests.support import Server, signed_request


@pytest.fixture
def versioned(s3: Any, bucket: str) -> str:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return bucket


def test_delete_object_makes_and_removes_markers(server: Server, s3: Any, versioned: str) -> None:
    put = s3.put_object(Bucket=versioned, Key="k", Body=b"x")
    made = signed_request(server, "DELETE", f"/{versioned}/k")
    assert made.status_code == 204 and made.headers["x-amz-delete-marker"] == "true"
    marker = made.headers["x-amz-version-id"]
    never = signed_request(server, "DELETE", f"/{versioned}/never-existed")  # a marker all the same
    assert never.headers["x-amz-delete-marker"] == "true" and never.headers["x-amz-version-id"]
    gone = signed_request(server, "DELETE", f"/{versioned}/k", params={"versionId": marker})
    assert gone.status_code == 204
    assert (gone.headers["x-amz-delete-marker"], gone.headers["x-amz-version-id"]) == ("true", marker)
    version = signed_request(server, "DELETE", f"/{versioned}/k", params={"versionId": put["VersionId"]})
    assert version.headers["x-amz-version-id"] == put["VersionId"] and "x-amz-delete-marker" not in version.headers


def test_reads_of_a_deleted_key_say_it_is_a_delete_marker(server: Server, s3: Any, versioned: str) -> None:
    s3.put_object(Bucket=versioned, Key="k", Body=b"x")
    marker = s3.delete_object(Bucket=versioned, Key="k")["VersionId"]
    for method in ("GET", "HEAD"):
        r = signed_request(server, method, f"/{versioned}/k")
        assert r.status_code == 404
        assert (r.headers["x-amz-delete-marker"], r.headers["x-amz-version-id"]) == ("true", marker)
        r = signed_request(server, method, f"/{versioned}/k", params={"versionId": marker})
        assert r.status_code == 405 and r.headers["x-amz-delete-marker"] == "true"
        assert r.headers["x-amz-version-id"] == marker and "last-modified" in r.headers
    plain = signed_request(server, "GET", f"/{versioned}/never-existed")
    assert plain.status_code == 404 and "x-amz-delete-marker" not in plain.headers


def test_delete_objects_reports_delete_markers(s3: Any, versioned: str) -> None:
    s3.put_object(Bucket=versioned, Key="a", Body=b"x")
    made = s3.delete_objects(Bucket=versioned, Delete={"Objects": [{"Key": "a"}]})["Deleted"][0]
    assert made["DeleteMarker"] is True and made["DeleteMarkerVersionId"]
    marker = made["DeleteMarkerVersionId"]
    removed = s3.delete_objects(Bucket=versioned, Delete={"Objects": [{"Key": "a", "VersionId": marker}]})
    assert removed["Deleted"] == [{"Key": "a", "VersionId": marker, "DeleteMarker": True,
                                   "DeleteMarkerVersionId": marker}]


def test_delete_in_a_suspended_bucket_makes_a_null_marker(server: Server, s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    r = signed_request(server, "DELETE", f"/{bucket}/k")
    assert (r.headers["x-amz-delete-marker"], r.headers["x-amz-version-id"]) == ("true", "null")


def test_unversioned_delete_says_nothing_of_markers(server: Server, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    r = signed_request(server, "DELETE", f"/{bucket}/k")
    assert r.status_code == 204 and "x-amz-delete-marker" not in r.headers and "x-amz-version-id" not in r.headers


def _head_status(call: Any) -> int:
    with pytest.raises(ClientError) as exc:
        call()
    return int(exc.value.response["ResponseMetadata"]["HTTPStatusCode"])


def test_head_of_a_missing_key_is_404_only_for_who_may_list(server: Server, s3: Any, bucket: str) -> None:
    _, access_key, secret = add_user(server)
    bob = client_of(server, access_key, secret)
    url = f"{server.endpoint}/{bucket}/public/missing"
    read = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [read]}))
    assert _head_status(lambda: s3.head_object(Bucket=bucket, Key="public/missing")) == 404  # the owner may list
    assert _head_status(lambda: bob.head_object(Bucket=bucket, Key="public/missing")) == 403
    assert requests.head(url, timeout=30).status_code == 403
    lister = {"Effect": "Allow", "Principal": "*", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [read, lister]}))
    assert _head_status(lambda: bob.head_object(Bucket=bucket, Key="public/missing")) == 404
    assert requests.head(url, timeout=30).status_code == 404

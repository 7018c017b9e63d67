"""PutBucketTagging, GetBucketTagging, DeleteBucketTagging: boto3, raw HTTP and the AWS CLI."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.s3.test_aws_cli import aws
from tests.s3.test_bucket_policy import add_user, allow, client_of, doc, error_of
from tests.support import Server, signed_request, xml_code


def tag_set(*pairs: tuple[str, str]) -> dict[str, Any]:
    return {"TagSet": [{"Key": k, "Value": v} for k, v in pairs]}


def test_put_get_delete_bucket_tagging(s3: Any, bucket: str) -> None:
    code, message, status = error_of(s3.get_bucket_tagging, Bucket=bucket)
    assert (code, message, status) == ("NoSuchTagSet", "The TagSet does not exist", 404)
    put = s3.put_bucket_tagging(Bucket=bucket, Tagging=tag_set(("tag1", "tag1"), ("tag2", "")))
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == tag_set(("tag1", "tag1"), ("tag2", ""))["TagSet"]
    s3.put_bucket_tagging(Bucket=bucket, Tagging=tag_set(("tag3", "tag3")))  # replaces the set
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "tag3", "Value": "tag3"}]
    assert s3.delete_bucket_tagging(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    s3.delete_bucket_tagging(Bucket=bucket)  # idempotent
    assert error_of(s3.get_bucket_tagging, Bucket=bucket)[0] == "NoSuchTagSet"
    # An empty TagSet removes the tags, as on AWS.
    s3.put_bucket_tagging(Bucket=bucket, Tagging=tag_set(("a", "b")))
    s3.put_bucket_tagging(Bucket=bucket, Tagging=tag_set())
    assert error_of(s3.get_bucket_tagging, Bucket=bucket)[0] == "NoSuchTagSet"


def test_bucket_tagging_limits(s3: Any, bucket: str) -> None:
    fifty = [(f"k{i}", f"v{i}") for i in range(50)]
    s3.put_bucket_tagging(Bucket=bucket, Tagging=tag_set(*fifty))
    assert len(s3.get_bucket_tagging(Bucket=bucket)["TagSet"]) == 50
    cases = [
        (tag_set(*[(f"k{i}", "v") for i in range(51)]), "BadRequest", "Bucket tag count cannot be greater than 50"),
        (tag_set(("Key1", "Val1"), ("Key1", "Val1")), "InvalidTag", "Cannot provide multiple Tags with the same key"),
        (tag_set(("Key1,Key2", "Val1")), "InvalidTag", "The TagKey you have provided is invalid"),
        (tag_set(("Key1", "Val1,Val2")), "InvalidTag", "The TagValue you have provided is invalid"),
        (tag_set(("aws:prefixed", "Val1")), "InvalidTag", "System tags cannot be added/updated by requester"),
    ]
    for tagging, code, message in cases:
        assert error_of(s3.put_bucket_tagging, Bucket=bucket, Tagging=tagging)[:2] == (code, message)
    assert len(s3.get_bucket_tagging(Bucket=bucket)["TagSet"]) == 50


def test_bucket_tagging_of_a_missing_bucket(s3: Any, bucket: str) -> None:
    other = "no-such-" + bucket
    for call, kw in [(s3.get_bucket_tagging, {}), (s3.delete_bucket_tagging, {}),
                     (s3.put_bucket_tagging, {"Tagging": tag_set()})]:
        assert error_of(call, Bucket=other, **kw)[::2] == ("NoSuchBucket", 404)


@pytest.mark.parametrize(("body", "code"), [
    (b"<Tagging><TagSet><Tag><Key>k</Key></Tag></TagSet></Tagging>", "MalformedXML"),
    (b"<Tagging><TagSet><Tag><Key></Key><Value>v</Value></Tag></TagSet></Tagging>", "InvalidTag"),
    (b"<Tagging xmlns='http://s3.amazonaws.com/doc/2006-03-01/'><TagSet><Tag><Key>k</Key><Value>v</Value></Tag>"
     b"</TagSet></Tagging>", None),
])
def test_put_bucket_tagging_raw(server: Server, s3: Any, bucket: str, body: bytes, code: str | None) -> None:
    resp = signed_request(server, "PUT", f"/{bucket}", body=body, params={"tagging": ""})
    if code is None:
        assert resp.status_code == 204, resp.text
        assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "k", "Value": "v"}]
    else:
        assert (resp.status_code, xml_code(resp)) == (400, code)


def test_bucket_tagging_permissions(server: Server, s3: Any, bucket: str) -> None:
    name, access_key, secret = add_user(server)
    other = client_of(server, access_key, secret)
    assert error_of(other.get_bucket_tagging, Bucket=bucket)[0] == "AccessDenied"
    # DeleteBucketTagging is authorized as s3:PutBucketTagging (AWS has no delete action).
    s3.put_bucket_policy(Bucket=bucket, Policy=doc(allow({"AWS": name}, ["s3:GetBucketTagging", "s3:PutBucketTagging"],
                                                         f"arn:aws:s3:::{bucket}")))
    other.put_bucket_tagging(Bucket=bucket, Tagging=tag_set(("a", "1")))
    assert other.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "a", "Value": "1"}]
    other.delete_bucket_tagging(Bucket=bucket)


def test_bucket_tagging_with_the_aws_cli(server: Server, bucket: str) -> None:
    aws(server, "s3api", "put-bucket-tagging", "--bucket", bucket, "--tagging",
        json.dumps(tag_set(("env", "prod"), ("team", "storage"))))
    out = json.loads(aws(server, "s3api", "get-bucket-tagging", "--bucket", bucket).stdout)
    assert out["TagSet"] == tag_set(("env", "prod"), ("team", "storage"))["TagSet"]
    aws(server, "s3api", "delete-bucket-tagging", "--bucket", bucket)
    failed = aws(server, "s3api", "get-bucket-tagging", "--bucket", bucket, check=False)
    assert failed.returncode != 0 and "NoSuchTagSet" in failed.stderr

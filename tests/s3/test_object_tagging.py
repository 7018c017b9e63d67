"""PutObjectTagging, GetObjectTagging, DeleteObjectTagging (with versionId), and the tags that PutObject,
CreateMultipartUpload, CopyObject (x-amz-tagging-directive) and POST Object set; x-amz-tagging-count;
the limits and errors of a tag set; s3:ExistingObjectTag, s3:RequestObjectTag and s3:RequestObjectTagKeys
in bucket policies.

Expectations follow Amazon S3 (AWS-recorded answers of the localstack suite and the S3 API reference).
"""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from tests.s3.test_bucket_policy import add_user, allow, client_of, deny, doc, error_of
from tests.support import Server, signed_request, xml_code


def tags_of(s3: Any, bucket: str, key: str, **kw: Any) -> list[tuple[str, str]]:
    return [(t["Key"], t["Value"]) for t in s3.get_object_tagging(Bucket=bucket, Key=key, **kw)["TagSet"]]


def tag_set(*pairs: tuple[str, str]) -> dict[str, Any]:
    return {"TagSet": [{"Key": k, "Value": v} for k, v in pairs]}


def test_put_get_delete_object_tagging(s3: Any, bucket: str) -> None:
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"tagged")
    assert tags_of(s3, bucket, "k") == []
    before = s3.head_object(Bucket=bucket, Key="k")
    answer = s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tag_set(("tag1", "tag1"), ("tag2", "")))
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert "VersionId" not in answer  # a never-versioned bucket's objects carry no version id
    assert tags_of(s3, bucket, "k") == [("tag1", "tag1"), ("tag2", "")]  # in the order put
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tag_set(("tag3", "tag3")))  # replaces the whole set
    assert tags_of(s3, bucket, "k") == [("tag3", "tag3")]
    after = s3.head_object(Bucket=bucket, Key="k")
    # Tagging is no write of the object: same ETag, same Last-Modified, no new version.
    assert after["ETag"] == put["ETag"] and after["LastModified"] == before["LastModified"]
    assert after["TagCount"] == 1 and "TagCount" not in before
    deleted = s3.delete_object_tagging(Bucket=bucket, Key="k")
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert tags_of(s3, bucket, "k") == []
    assert "TagCount" not in s3.get_object(Bucket=bucket, Key="k")


def test_put_object_with_tagging_header(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="tag1=tag1&tag2=tag2&tag=")
    assert tags_of(s3, bucket, "k") == [("tag", ""), ("tag1", "tag1"), ("tag2", "tag2")]
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["TagCount"] == 3
    assert got["ResponseMetadata"]["HTTPHeaders"]["x-amz-tagging-count"] == "3"
    assert s3.head_object(Bucket=bucket, Key="k")["TagCount"] == 3
    # Names without "=" are tags with empty values; empty names between "&" are skipped.
    s3.put_object(Bucket=bucket, Key="k", Body=b"", Tagging="wrongquery&wrongagain")
    assert tags_of(s3, bucket, "k") == [("wrongagain", ""), ("wrongquery", "")]
    s3.put_object(Bucket=bucket, Key="k", Body=b"", Tagging="key1&&&key2")
    assert tags_of(s3, bucket, "k") == [("key1", ""), ("key2", "")]
    # URL-encoded UTF-8 and the allowed punctuation
    text = urllib.parse.urlencode({"Projekt ü": "a+b=c/d:e@f.g_h-i", "名前": "値"})
    s3.put_object(Bucket=bucket, Key="k", Body=b"", Tagging=text)
    assert dict(tags_of(s3, bucket, "k")) == {"Projekt ü": "a+b=c/d:e@f.g_h-i", "名前": "値"}


@pytest.mark.parametrize(("tagging", "code"), [
    ("key1=val1&key1=val2", "InvalidArgument"),  # a duplicate name
    ("key1=val1,key2=val2", "InvalidArgument"),  # "," is no tag character
    ("a=%FF", "InvalidArgument"),  # not UTF-8
    ("&".join(f"k{i}=v" for i in range(11)), "BadRequest"),  # more than 10
    ("aws:reserved=1", "InvalidTag"),
    ("k=" + "v" * 257, "InvalidTag"),
    ("k" * 129 + "=v", "InvalidTag"),
])
def test_tagging_header_is_refused(s3: Any, bucket: str, tagging: str, code: str) -> None:
    got, message, status = error_of(s3.put_object, Bucket=bucket, Key="k", Body=b"x", Tagging=tagging)
    assert (got, status) == (code, 400), message
    assert error_of(s3.head_object, Bucket=bucket, Key="k")[2] == 404  # nothing was written


def test_put_object_tagging_limits(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    ten = [(f"{i}", f"{i}") for i in range(10)]
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tag_set(*ten))
    assert tags_of(s3, bucket, "k") == ten
    widest = [("k" * 127 + str(i % 10), "v" * 256) for i in range(10)]
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tag_set(*widest))
    assert tags_of(s3, bucket, "k") == widest
    # 128 and 256 are Unicode characters, not bytes
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tag_set(("ключ" * 32, "値" * 256)))
    cases = [
        (tag_set(*[(f"{i}", "v") for i in range(11)]), "BadRequest", "Object tags cannot be greater than 10"),
        (tag_set(("k" * 129, "v")), "InvalidTag", "The TagKey you have provided is invalid"),
        (tag_set(("k", "v" * 257)), "InvalidTag", "The TagValue you have provided is invalid"),
        (tag_set(("Key1", "a"), ("Key1", "b")), "InvalidTag", "Cannot provide multiple Tags with the same key"),
        (tag_set(("Key1,Key2", "Val1")), "InvalidTag", "The TagKey you have provided is invalid"),
        (tag_set(("Key1", "Val1,Val2")), "InvalidTag", "The TagValue you have provided is invalid"),
        (tag_set(("aws:prefixed", "Val1")), "InvalidTag", "Your TagKey cannot be prefixed with aws:"),
    ]
    for tagging, code, message in cases:
        assert error_of(s3.put_object_tagging, Bucket=bucket, Key="k", Tagging=tagging)[:2] == (code, message)
    assert tags_of(s3, bucket, "k") == [("ключ" * 32, "値" * 256)]  # a refused put changes nothing


@pytest.mark.parametrize("body", [
    b"<Tagging><TagSet><Tag><Key>k</Key></Tag></TagSet></Tagging>",  # no Value
    b"<Tagging><TagSet><Tag><Value>v</Value></Tag></TagSet></Tagging>",  # no Key
    b"<Tagging><TagSet><Other/></TagSet></Tagging>",
    b"<NotTagging/>",
    b"<Tagging><TagSet>",  # not well-formed
])
def test_put_object_tagging_malformed_xml(server: Server, s3: Any, bucket: str, body: bytes) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    resp = signed_request(server, "PUT", f"/{bucket}/k", body=body, params={"tagging": ""})
    assert (resp.status_code, xml_code(resp)) == (400, "MalformedXML")


def test_put_object_tagging_without_tag_set_empties_it(server: Server, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="a=1")
    resp = signed_request(server, "PUT", f"/{bucket}/k", body=b"<Tagging/>", params={"tagging": ""})
    assert resp.status_code == 200, resp.text
    assert tags_of(s3, bucket, "k") == []


def test_object_tagging_of_missing_objects(s3: Any, bucket: str) -> None:
    for call, kw in [(s3.get_object_tagging, {}), (s3.delete_object_tagging, {}),
                     (s3.put_object_tagging, {"Tagging": tag_set()})]:
        assert error_of(call, Bucket=bucket, Key="missing", **kw)[::2] == ("NoSuchKey", 404)
        assert error_of(call, Bucket="no-such-bucket-" + bucket, Key="k", **kw)[::2] == ("NoSuchBucket", 404)


def test_object_tagging_versioned(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"one", Tagging="test_tag=tagv1")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="k", Body=b"two")["VersionId"]
    answer = s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tag_set(("tag3", "tag3")))
    assert answer["VersionId"] == v2  # without a version id: the current version
    got = s3.get_object_tagging(Bucket=bucket, Key="k")
    assert got["VersionId"] == v2 and got["TagSet"] == [{"Key": "tag3", "Value": "tag3"}]
    assert tags_of(s3, bucket, "k", VersionId=v1) == [("test_tag", "tagv1")]
    assert s3.put_object_tagging(Bucket=bucket, Key="k", VersionId=v1,
                                 Tagging=tag_set(("tag1", "tag1")))["VersionId"] == v1
    assert tags_of(s3, bucket, "k", VersionId=v1) == [("tag1", "tag1")]
    assert tags_of(s3, bucket, "k") == [("tag3", "tag3")]
    assert s3.delete_object_tagging(Bucket=bucket, Key="k", VersionId=v1)["VersionId"] == v1
    assert tags_of(s3, bucket, "k", VersionId=v1) == [] and tags_of(s3, bucket, "k") == [("tag3", "tag3")]
    missing = "A" * 32
    assert error_of(s3.get_object_tagging, Bucket=bucket, Key="k", VersionId=missing)[::2] == ("NoSuchVersion", 404)
    marker = s3.delete_object(Bucket=bucket, Key="k")["VersionId"]
    # Every tagging operation on a delete marker — named or current — is 405.
    for version in ({"VersionId": marker}, {}):
        for call, kw, method in [(s3.get_object_tagging, {}, "GET"), (s3.delete_object_tagging, {}, "DELETE"),
                                 (s3.put_object_tagging, {"Tagging": tag_set(("a", "b"))}, "PUT")]:
            with pytest.raises(ClientError) as info:
                call(Bucket=bucket, Key="k", **version, **kw)
            err = info.value.response
            assert (err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]) == ("MethodNotAllowed", 405)
            assert err["Error"]["Method"] == method and err["Error"]["ResourceType"] == "DeleteMarker"
            assert err["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"


def test_tags_belong_to_a_version(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"create", Tagging="tag1=val1")
    s3.put_object(Bucket=bucket, Key="k", Body=b"overwrite")
    assert tags_of(s3, bucket, "k") == []
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tag_set(("tag3", "tag3")))
    s3.delete_object(Bucket=bucket, Key="k")
    s3.put_object(Bucket=bucket, Key="k", Body=b"recreate")
    assert tags_of(s3, bucket, "k") == []


def test_encrypted_object_tagging(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"secret", ServerSideEncryption="AES256", Tagging="a=1")
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tag_set(("b", "2")))
    assert tags_of(s3, bucket, "k") == [("b", "2")]
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == b"secret" and got["TagCount"] == 1


def test_create_multipart_upload_with_tagging(s3: Any, bucket: str) -> None:
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp", Tagging="Hello=World&foo=bar")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, Body=b"part")["ETag"]
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload,
                                 MultipartUpload={"Parts": [{"ETag": etag, "PartNumber": 1}]})
    assert tags_of(s3, bucket, "mp") == [("Hello", "World"), ("foo", "bar")]
    assert error_of(s3.create_multipart_upload, Bucket=bucket, Key="mp2", Tagging="a=1&a=2")[0] == "InvalidArgument"


@pytest.mark.parametrize("directive", ["COPY", "REPLACE", None])
def test_copy_object_tagging_directive(s3: Any, bucket: str, directive: str | None) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"test", Tagging="key1=value1")
    kwargs = {"TaggingDirective": directive} if directive else {}
    s3.copy_object(Bucket=bucket, Key="copy", CopySource=f"{bucket}/src", Tagging="key2=value2", **kwargs)
    s3.copy_object(Bucket=bucket, Key="copy-untagged", CopySource=f"{bucket}/src", **kwargs)
    if directive == "REPLACE":
        assert tags_of(s3, bucket, "copy") == [("key2", "value2")]
        assert tags_of(s3, bucket, "copy-untagged") == []
    else:  # COPY, the default: the source's tags, whatever x-amz-tagging says
        assert tags_of(s3, bucket, "copy") == [("key1", "value1")]
        assert tags_of(s3, bucket, "copy-untagged") == [("key1", "value1")]


def test_copy_object_tagging_directive_refused(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"test")
    code, _, status = error_of(s3.copy_object, Bucket=bucket, Key="dst", CopySource=f"{bucket}/src",
                               TaggingDirective="MERGE")
    assert (code, status) == ("InvalidArgument", 400)


def test_copy_of_an_older_version_takes_its_tags(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="src", Body=b"1", Tagging="key1=value1")["VersionId"]
    s3.put_object(Bucket=bucket, Key="src", Body=b"2", Tagging="key1=value1-v2")
    s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src", "VersionId": v1})
    assert tags_of(s3, bucket, "dst") == [("key1", "value1")]


def test_post_object_tagging_field(server: Server, s3: Any, bucket: str) -> None:
    s3.put_bucket_policy(Bucket=bucket, Policy=doc(allow("*", "s3:PutObject", f"arn:aws:s3:::{bucket}/*")))
    tagging = "<Tagging><TagSet><Tag><Key>0</Key><Value>0</Value></Tag><Tag><Key>1</Key><Value>1</Value></Tag>" \
              "</TagSet></Tagging>"
    files: dict[str, tuple[str | None, str | bytes]] = {"key": (None, "foo.txt"), "tagging": (None, tagging),
                                                        "file": ("foo.txt", b"bar")}
    resp = requests.post(f"{server.endpoint}/{bucket}", files=files, timeout=30)
    assert resp.status_code == 204, resp.text
    assert tags_of(s3, bucket, "foo.txt") == [("0", "0"), ("1", "1")]
    bad = "<Tagging><TagSet><Tag><Key>aws:x</Key><Value>0</Value></Tag></TagSet></Tagging>"
    files = {"key": (None, "bad.txt"), "tagging": (None, bad), "file": ("bad.txt", b"bar")}
    resp = requests.post(f"{server.endpoint}/{bucket}", files=files, timeout=30)
    assert (resp.status_code, xml_code(resp)) == (400, "InvalidTag")


# -- policies ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def carol(server: Server) -> tuple[str, Any]:
    name, access_key, secret = add_user(server)
    return name, client_of(server, access_key, secret)


def test_existing_object_tag_in_a_policy(s3: Any, bucket: str, carol: tuple[str, Any]) -> None:
    name, other = carol
    s3.put_object(Bucket=bucket, Key="public.txt", Body=b"p", Tagging="Classification=public")
    s3.put_object(Bucket=bucket, Key="secret.txt", Body=b"s", Tagging="classification=secret")
    s3.put_bucket_policy(Bucket=bucket, Policy=doc(
        allow({"AWS": name}, ["s3:GetObject", "s3:GetObjectTagging"], f"arn:aws:s3:::{bucket}/*",
              Condition={"StringEquals": {"s3:ExistingObjectTag/classification": "public"}})))
    # The condition key's tag part matches without regard to case, as IAM condition keys do.
    assert other.get_object(Bucket=bucket, Key="public.txt")["Body"].read() == b"p"
    assert other.head_object(Bucket=bucket, Key="public.txt")["TagCount"] == 1
    assert tags_of(other, bucket, "public.txt") == [("Classification", "public")]
    assert error_of(other.get_object, Bucket=bucket, Key="secret.txt")[::2] == ("AccessDenied", 403)
    assert error_of(other.get_object_tagging, Bucket=bucket, Key="secret.txt")[::2] == ("AccessDenied", 403)
    # Retag: the decision follows the tags the object has now.
    s3.put_object_tagging(Bucket=bucket, Key="secret.txt", Tagging=tag_set(("classification", "public")))
    assert other.get_object(Bucket=bucket, Key="secret.txt")["Body"].read() == b"s"


def test_tag_count_needs_permission_to_read_tags(s3: Any, bucket: str, carol: tuple[str, Any]) -> None:
    name, other = carol
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="a=1")
    s3.put_bucket_policy(Bucket=bucket, Policy=doc(allow({"AWS": name}, "s3:GetObject", f"arn:aws:s3:::{bucket}/*")))
    assert "TagCount" not in other.head_object(Bucket=bucket, Key="k")
    assert s3.head_object(Bucket=bucket, Key="k")["TagCount"] == 1


def test_request_object_tag_in_a_policy(s3: Any, bucket: str, carol: tuple[str, Any]) -> None:
    name, other = carol
    s3.put_bucket_policy(Bucket=bucket, Policy=doc(
        allow({"AWS": name}, ["s3:PutObject", "s3:PutObjectTagging"], f"arn:aws:s3:::{bucket}/*",
              Condition={"StringEquals": {"s3:RequestObjectTag/team": "blue"},
                         "ForAllValues:StringEquals": {"s3:RequestObjectTagKeys": ["team", "cost"]}})))
    other.put_object(Bucket=bucket, Key="ok", Body=b"x", Tagging="team=blue&cost=1")
    assert error_of(other.put_object, Bucket=bucket, Key="no", Body=b"x", Tagging="team=red")[::2] == \
        ("AccessDenied", 403)
    assert error_of(other.put_object, Bucket=bucket, Key="no", Body=b"x")[::2] == ("AccessDenied", 403)
    assert error_of(other.put_object, Bucket=bucket, Key="no", Body=b"x", Tagging="team=blue&owner=me")[::2] == \
        ("AccessDenied", 403)
    other.put_object_tagging(Bucket=bucket, Key="ok", Tagging=tag_set(("team", "blue")))
    assert error_of(other.put_object_tagging, Bucket=bucket, Key="ok",
                    Tagging=tag_set(("team", "green")))[::2] == ("AccessDenied", 403)
    # CreateMultipartUpload and CopyObject (REPLACE) are s3:PutObject requests with tags too
    other.create_multipart_upload(Bucket=bucket, Key="mp", Tagging="team=blue")
    assert error_of(other.create_multipart_upload, Bucket=bucket, Key="mp", Tagging="team=red")[0] == "AccessDenied"


def test_deny_by_existing_tag_covers_tag_changes(s3: Any, bucket: str, carol: tuple[str, Any]) -> None:
    name, other = carol
    s3.put_object(Bucket=bucket, Key="locked", Body=b"x", Tagging="lock=yes")
    s3.put_object(Bucket=bucket, Key="open", Body=b"x")
    s3.put_bucket_policy(Bucket=bucket, Policy=doc(
        allow({"AWS": name}, ["s3:PutObjectTagging", "s3:DeleteObjectTagging"], f"arn:aws:s3:::{bucket}/*"),
        deny("*", ["s3:PutObjectTagging", "s3:DeleteObjectTagging"], f"arn:aws:s3:::{bucket}/*",
             Condition={"StringEquals": {"s3:ExistingObjectTag/lock": "yes"}})))
    other.put_object_tagging(Bucket=bucket, Key="open", Tagging=tag_set(("lock", "no")))
    assert error_of(other.delete_object_tagging, Bucket=bucket, Key="locked")[0] == "AccessDenied"
    # An explicit Deny binds the owner too.
    assert error_of(s3.put_object_tagging, Bucket=bucket, Key="locked", Tagging=tag_set())[0] == "AccessDenied"


@pytest.mark.parametrize("key", ["s3:ExistingObjectTag/", "s3:ExistingObjectTag", "s3:RequestObjectTagz"])
def test_malformed_tag_condition_keys(s3: Any, bucket: str, key: str) -> None:
    policy = doc(allow("*", "s3:GetObject", f"arn:aws:s3:::{bucket}/*", Condition={"StringEquals": {key: "x"}}))
    code, message, _ = error_of(s3.put_bucket_policy, Bucket=bucket, Policy=policy)
    assert (code, message) == ("MalformedPolicy", "Policy has an invalid condition key")

"""PutBucketPolicy / GetBucketPolicy / DeleteBucketPolicy, and what policies allow and deny.

Black-box against the real server: a second user is made with ``sealbox users add`` on the running
server's data directory; anonymous requests are raw unsigned HTTP; aws:SecureTransport is tested on
the server's HTTPS listener.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.support import REGION, SEALBOX, Server, unique_bucket, xml_code

# -- helpers ----------------------------------------------------------------------------------------------


def add_user(server: Server, name: str | None = None) -> tuple[str, str, str]:
    """(name, access key, secret) of a new user, made with the CLI while the server runs."""
    name = name or f"u{uuid.uuid4().hex[:10]}"
    out = subprocess.run([str(SEALBOX), "users", "add", name, "--data-dir", str(server.data_dir), "--json"],
                         capture_output=True, text=True, timeout=60, check=True)
    made = json.loads(out.stdout)
    return name, made["access_key"], made["secret_key"]


def client_of(server: Server, access_key: str, secret: str, tls: bool = False) -> Any:
    return boto3.client("s3", endpoint_url=server.tls_endpoint if tls else server.endpoint,
                        region_name=REGION, aws_access_key_id=access_key, aws_secret_access_key=secret,
                        verify=str(server.cert) if tls else None,
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))


def error_of(call: Any, **kwargs: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    err = info.value.response
    return err["Error"]["Code"], err["Error"].get("Message", ""), err["ResponseMetadata"]["HTTPStatusCode"]


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(principal: Any, action: Any, resource: Any, **more: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": principal, "Action": action, "Resource": resource, **more}


def deny(principal: Any, action: Any, resource: Any, **more: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Principal": principal, "Action": action, "Resource": resource, **more}


@pytest.fixture(scope="module")
def bob(server: Server) -> tuple[str, Any]:
    name, access_key, secret = add_user(server)
    return name, client_of(server, access_key, secret)


# -- Put / Get / Delete ------------------------------------------------------------------------------------


def test_put_get_delete_bucket_policy(s3: Any, bucket: str) -> None:
    code, _, status = error_of(s3.get_bucket_policy, Bucket=bucket)
    assert (code, status) == ("NoSuchBucketPolicy", 404)
    text = doc(allow("*", "s3:GetObject", f"arn:aws:s3:::{bucket}/public/*"))
    put = s3.put_bucket_policy(Bucket=bucket, Policy=text)
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.get_bucket_policy(Bucket=bucket)["Policy"] == text  # returned as put, byte for byte
    assert s3.delete_bucket_policy(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert error_of(s3.get_bucket_policy, Bucket=bucket)[0] == "NoSuchBucketPolicy"
    # Deleting a policy that is not there succeeds, as on AWS.
    assert s3.delete_bucket_policy(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_bucket_policy_of_missing_bucket(s3: Any) -> None:
    name = unique_bucket()
    text = doc(allow("*", "s3:GetObject", f"arn:aws:s3:::{name}/*"))
    for call, kwargs in [(s3.get_bucket_policy, {}), (s3.delete_bucket_policy, {}),
                         (s3.put_bucket_policy, {"Policy": text})]:
        assert error_of(call, Bucket=name, **kwargs)[:3:2] == ("NoSuchBucket", 404)


@pytest.mark.parametrize(("policy", "message"), [
    ("not json", "Policies must be valid JSON and the first byte must be '{'"),
    ("{nope", "This policy contains invalid Json"),
    ("{}", "Missing required field Statement"),
    ('{"Statement": []}', "Could not parse the policy: Statement is empty!"),
    (doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::{b}/*"}),
     "Missing required field Principal"),
    (doc(allow("*", "s3:Fly", "arn:aws:s3:::{b}/*")), "Policy has invalid action"),
    (doc(allow("*", "s3:GetObject", "arn:aws:s3:::another-bucket/*")), "Policy has invalid resource"),
    (doc(allow("*", "s3:GetObject", "arn:aws:s3:::{b}")),
     "Action does not apply to any resource(s) in statement"),
    (doc({"Effect": "Maybe", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::{b}/*"}),
     "Invalid effect: Maybe"),
    (doc(allow({"AWS": "nobody-by-this-name"}, "s3:GetObject", "arn:aws:s3:::{b}/*")),
     "Invalid principal in policy"),
    (doc(allow("*", "s3:GetObject", "arn:aws:s3:::{b}/*", Condition={"StringEquals": {"s3:bogus": "x"}})),
     "Policy has an invalid condition key"),
    (doc(allow("*", "s3:GetObject", "arn:aws:s3:::{b}/*",
               Condition={"Whenever": {"aws:SourceIp": "1.2.3.4"}})),
     "Invalid Condition type : Whenever"),
])
def test_malformed_policy(s3: Any, bucket: str, policy: str, message: str) -> None:
    code, got, status = error_of(s3.put_bucket_policy, Bucket=bucket, Policy=policy.replace("{b}", bucket))
    assert (code, status, got) == ("MalformedPolicy", 400, message)
    assert error_of(s3.get_bucket_policy, Bucket=bucket)[0] == "NoSuchBucketPolicy"  # nothing was stored


def test_policy_size_limit(s3: Any, bucket: str) -> None:
    statement = allow("*", "s3:GetObject", f"arn:aws:s3:::{bucket}/*")
    fits = doc(*[dict(statement, Sid=f"s{i}") for i in range(150)])
    assert len(fits) < 20 * 1024
    s3.put_bucket_policy(Bucket=bucket, Policy=fits)
    too_big = doc(*[dict(statement, Sid=f"s{i}") for i in range(300)])
    assert len(too_big) > 20 * 1024
    code, message, _ = error_of(s3.put_bucket_policy, Bucket=bucket, Policy=too_big)
    assert (code, message) == ("MalformedPolicy", "Policy exceeds the maximum allowed document size.")
    assert s3.get_bucket_policy(Bucket=bucket)["Policy"] == fits


# -- ownership ----------------------------------------------------------------------------------------------


def test_other_users_buckets_are_denied(s3: Any, bucket: str, bob: tuple[str, Any]) -> None:
    _, b = bob
    s3.put_object(Bucket=bucket, Key="k", Body=b"root's")
    calls: list[tuple[Any, dict[str, Any]]] = [(b.get_object, {"Key": "k"}), (b.put_object, {"Key": "k", "Body": b"x"}),
                         (b.delete_object, {"Key": "k"}), (b.list_objects_v2, {}), (b.head_bucket, {}),
                         (b.get_bucket_policy, {}), (b.delete_bucket, {}),
                         (b.put_bucket_policy,
                          {"Policy": doc(allow("*", "s3:*", f"arn:aws:s3:::{bucket}/*"))})]
    for call, kwargs in calls:
        code, _, status = error_of(call, Bucket=bucket, **kwargs)
        expected = "403" if call.__name__ == "head_bucket" else "AccessDenied"  # HEAD has no error body
        assert (code, status) == (expected, 403), call.__name__
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"root's"


def test_list_buckets_shows_own_buckets_root_sees_all(server: Server, s3: Any) -> None:
    _, access_key, secret = add_user(server)
    carol = client_of(server, access_key, secret)
    mine = unique_bucket("carol")
    carol.create_bucket(Bucket=mine)
    roots = unique_bucket("root")
    s3.create_bucket(Bucket=roots)
    carol_sees = {b["Name"] for b in carol.list_buckets()["Buckets"]}
    root_sees = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert carol_sees == {mine}
    assert {mine, roots} <= root_sees
    carol.put_object(Bucket=mine, Key="x", Body=b"carol's")  # the creator owns it
    assert s3.get_object(Bucket=mine, Key="x")["Body"].read() == b"carol's"  # root may do anything


# -- grants -----------------------------------------------------------------------------------------------


def test_policy_grants_another_user_a_prefix(s3: Any, bucket: str, bob: tuple[str, Any]) -> None:
    name, b = bob
    s3.put_object(Bucket=bucket, Key="shared/a.txt", Body=b"shared")
    s3.put_object(Bucket=bucket, Key="secret/b.txt", Body=b"secret")
    s3.put_bucket_policy(Bucket=bucket, Policy=doc(
        allow({"AWS": f"arn:aws:iam::sealbox:user/{name}"}, ["s3:GetObject", "s3:PutObject"],
              f"arn:aws:s3:::{bucket}/shared/*"),
        allow({"AWS": [name]}, "s3:ListBucket", f"arn:aws:s3:::{bucket}",
              Condition={"StringLike": {"s3:prefix": "shared/*"}}),
    ))
    assert b.get_object(Bucket=bucket, Key="shared/a.txt")["Body"].read() == b"shared"
    b.put_object(Bucket=bucket, Key="shared/from-bob.txt", Body=b"hi")
    assert s3.get_object(Bucket=bucket, Key="shared/from-bob.txt")["Body"].read() == b"hi"
    assert error_of(b.get_object, Bucket=bucket, Key="secret/b.txt")[0] == "AccessDenied"
    assert error_of(b.put_object, Bucket=bucket, Key="secret/x", Body=b"x")[0] == "AccessDenied"
    assert error_of(b.delete_object, Bucket=bucket, Key="shared/a.txt")[0] == "AccessDenied"
    listed = b.list_objects_v2(Bucket=bucket, Prefix="shared/")
    assert [o["Key"] for o in listed["Contents"]] == ["shared/a.txt", "shared/from-bob.txt"]
    assert error_of(b.list_objects_v2, Bucket=bucket, Prefix="secret/")[0] == "AccessDenied"
    assert error_of(b.list_objects_v2, Bucket=bucket)[0] == "AccessDenied"  # no prefix: s3:prefix absent
    # Bucket-policy operations stay the owner's even when a policy allows them: 405, as across accounts.
    s3.put_bucket_policy(Bucket=bucket, Policy=doc(allow({"AWS": name}, "s3:GetBucketPolicy",
                                                         f"arn:aws:s3:::{bucket}")))
    assert error_of(b.get_bucket_policy, Bucket=bucket)[::2] == ("MethodNotAllowed", 405)


def test_explicit_deny_wins_even_for_the_owner(s3: Any, bucket: str, bob: tuple[str, Any]) -> None:
    name, b = bob
    s3.put_object(Bucket=bucket, Key="locked/x", Body=b"x")
    s3.put_object(Bucket=bucket, Key="open/y", Body=b"y")
    s3.put_bucket_policy(Bucket=bucket, Policy=doc(
        allow({"AWS": name}, "s3:*", f"arn:aws:s3:::{bucket}/*"),
        deny("*", ["s3:GetObject", "s3:DeleteObject"], f"arn:aws:s3:::{bucket}/locked/*"),
    ))
    assert b.get_object(Bucket=bucket, Key="open/y")["Body"].read() == b"y"
    assert error_of(b.get_object, Bucket=bucket, Key="locked/x")[0] == "AccessDenied"
    assert error_of(s3.get_object, Bucket=bucket, Key="locked/x")[0] == "AccessDenied"  # root, denied
    assert error_of(s3.delete_object, Bucket=bucket, Key="locked/x")[0] == "AccessDenied"
    # The owner can always manage the policy itself, even under a Deny of everything (no lockout).
    s3.put_bucket_policy(Bucket=bucket, Policy=doc(deny("*", "s3:*", [f"arn:aws:s3:::{bucket}",
                                                                     f"arn:aws:s3:::{bucket}/*"])))
    assert error_of(s3.list_objects_v2, Bucket=bucket)[0] == "AccessDenied"
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"][0]["Effect"] == "Deny"
    s3.delete_bucket_policy(Bucket=bucket)
    assert s3.get_object(Bucket=bucket, Key="locked/x")["Body"].read() == b"x"


def test_delete_objects_is_authorized_per_key(s3: Any, bucket: str, bob: tuple[str, Any]) -> None:
    name, b = bob
    for key in ("tmp/1", "keep/2"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"d")
    s3.put_bucket_policy(Bucket=bucket, Policy=doc(allow({"AWS": name}, "s3:DeleteObject",
                                                         f"arn:aws:s3:::{bucket}/tmp/*")))
    result = b.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "tmp/1"}, {"Key": "keep/2"}]})
    assert [d["Key"] for d in result.get("Deleted", [])] == ["tmp/1"]
    assert [(e["Key"], e["Code"]) for e in result.get("Errors", [])] == [("keep/2", "AccessDenied")]
    remaining = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert remaining == ["keep/2"]


# -- the classic SSE policy --------------------------------------------------------------------------------


def sse_policy(bucket: str) -> str:
    return doc(
        deny("*", "s3:PutObject", f"arn:aws:s3:::{bucket}/*", Sid="DenyIncorrectEncryptionHeader",
             Condition={"StringNotEquals": {"s3:x-amz-server-side-encryption": "AES256"}}),
        deny("*", "s3:PutObject", f"arn:aws:s3:::{bucket}/*", Sid="DenyUnEncryptedObjectUploads",
             Condition={"Null": {"s3:x-amz-server-side-encryption": "true"}}),
    )


def test_deny_unencrypted_uploads(s3: Any, bucket: str) -> None:
    s3.put_bucket_policy(Bucket=bucket, Policy=sse_policy(bucket))
    assert error_of(s3.put_object, Bucket=bucket, Key="plain", Body=b"x")[::2] == ("AccessDenied", 403)
    # Bucket default encryption does not help: the condition tests the request header, as on AWS.
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    assert error_of(s3.put_object, Bucket=bucket, Key="plain", Body=b"x")[0] == "AccessDenied"
    put = s3.put_object(Bucket=bucket, Key="sealed", Body=b"secret", ServerSideEncryption="AES256")
    assert put["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket=bucket, Key="sealed")["Body"].read() == b"secret"
    assert "Contents" in s3.list_objects_v2(Bucket=bucket)  # other actions are untouched
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert listed == ["sealed"]


def test_deny_unencrypted_multipart_uploads(s3: Any, bucket: str) -> None:
    """UploadPart and Complete carry no SSE header: the upload's own encryption is what the policy sees."""
    s3.put_bucket_policy(Bucket=bucket, Policy=sse_policy(bucket))
    assert error_of(s3.create_multipart_upload, Bucket=bucket, Key="mp")[0] == "AccessDenied"
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp", ServerSideEncryption="AES256")
    part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload["UploadId"], PartNumber=1,
                          Body=b"z" * 1000)
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload["UploadId"],
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    got = s3.get_object(Bucket=bucket, Key="mp")
    assert (got["Body"].read(), got["ServerSideEncryption"]) == (b"z" * 1000, "AES256")


# -- anonymous access -------------------------------------------------------------------------------------


def test_anonymous_access_only_where_a_policy_allows(server: Server, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="public/x", Body=b"for everyone")
    s3.put_object(Bucket=bucket, Key="private/y", Body=b"not for you")
    url = f"{server.endpoint}/{bucket}"
    assert xml_code(requests.get(f"{url}/public/x", timeout=10)) == "AccessDenied"  # no policy yet
    public_read = doc(allow("*", "s3:GetObject", f"arn:aws:s3:::{bucket}/public/*"))
    s3.put_bucket_policy(Bucket=bucket, Policy=public_read)
    got = requests.get(f"{url}/public/x", timeout=10)
    assert (got.status_code, got.content) == (200, b"for everyone")
    assert requests.head(f"{url}/public/x", timeout=10).status_code == 200
    denied = requests.get(f"{url}/private/y", timeout=10)
    assert (denied.status_code, xml_code(denied)) == (403, "AccessDenied")
    assert xml_code(requests.get(url, timeout=10)) == "AccessDenied"  # listing was not granted
    assert xml_code(requests.put(f"{url}/public/new", data=b"x", timeout=10)) == "AccessDenied"
    assert xml_code(requests.delete(f"{url}/public/x", timeout=10)) == "AccessDenied"
    assert xml_code(requests.get(f"{url}?policy", timeout=10)) == "AccessDenied"
    assert xml_code(requests.get(f"{server.endpoint}/", timeout=10)) == "AccessDenied"  # ListBuckets
    assert s3.get_object(Bucket=bucket, Key="public/x")["Body"].read() == b"for everyone"


def test_missing_key_is_403_without_list_permission(server: Server, s3: Any, bucket: str) -> None:
    """As on AWS: only a requester allowed s3:ListBucket may learn that a key does not exist."""
    url = f"{server.endpoint}/{bucket}/public/missing"
    read = allow("*", "s3:GetObject", f"arn:aws:s3:::{bucket}/public/*")
    s3.put_bucket_policy(Bucket=bucket, Policy=doc(read))
    missing = requests.get(url, timeout=10)
    assert (missing.status_code, xml_code(missing)) == (403, "AccessDenied")
    owner = error_of(s3.get_object, Bucket=bucket, Key="public/missing")[0]
    assert owner == "NoSuchKey"  # the owner may list
    s3.put_bucket_policy(Bucket=bucket, Policy=doc(read, allow("*", "s3:ListBucket", f"arn:aws:s3:::{bucket}")))
    missing = requests.get(url, timeout=10)
    assert (missing.status_code, xml_code(missing)) == (404, "NoSuchKey")


def test_anonymous_write_when_a_policy_allows_it(server: Server, s3: Any, bucket: str) -> None:
    s3.put_bucket_policy(Bucket=bucket, Policy=doc(allow({"AWS": "*"}, "s3:PutObject",
                                                         f"arn:aws:s3:::{bucket}/dropbox/*")))
    put = requests.put(f"{server.endpoint}/{bucket}/dropbox/note", data=b"anonymous note", timeout=10)
    assert put.status_code == 200, put.text
    assert s3.get_object(Bucket=bucket, Key="dropbox/note")["Body"].read() == b"anonymous note"
    outside = requests.put(f"{server.endpoint}/{bucket}/other", data=b"x", timeout=10)
    assert xml_code(outside) == "AccessDenied"


# -- request conditions -----------------------------------------------------------------------------------


def test_secure_transport(server: Server, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"tls only")
    s3.put_bucket_policy(Bucket=bucket, Policy=doc(
        deny("*", "s3:*", [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
             Condition={"Bool": {"aws:SecureTransport": "false"}})))
    assert error_of(s3.get_object, Bucket=bucket, Key="k")[0] == "AccessDenied"
    over_tls = server.client(tls=True)
    assert over_tls.get_object(Bucket=bucket, Key="k")["Body"].read() == b"tls only"
    over_tls.delete_bucket_policy(Bucket=bucket)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"tls only"


def test_source_ip(server: Server, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"ip")
    s3.put_bucket_policy(Bucket=bucket, Policy=doc(allow(
        "*", "s3:GetObject", f"arn:aws:s3:::{bucket}/*",
        Condition={"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}})))
    assert requests.get(f"{server.endpoint}/{bucket}/k", timeout=10).content == b"ip"
    s3.put_bucket_policy(Bucket=bucket, Policy=doc(allow(
        "*", "s3:GetObject", f"arn:aws:s3:::{bucket}/*",
        Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})))
    assert xml_code(requests.get(f"{server.endpoint}/{bucket}/k", timeout=10)) == "AccessDenied"


def test_anonymous_multipart_and_copy_when_a_policy_allows_them(server: Server, s3: Any, bucket: str) -> None:
    """A policy that lets anyone write (and read) under a prefix covers every way of writing there."""
    s3.put_bucket_policy(Bucket=bucket, Policy=doc(
        allow("*", ["s3:PutObject", "s3:GetObject"], f"arn:aws:s3:::{bucket}/public/*")))
    s3.put_object(Bucket=bucket, Key="public/src", Body=b"copy me")
    base = f"{server.endpoint}/{bucket}"
    created = requests.post(f"{base}/public/big?uploads", timeout=10)
    assert created.status_code == 200, created.text
    upload_id = created.text.split("<UploadId>")[1].split("</UploadId>")[0]
    part = requests.put(f"{base}/public/big", params={"partNumber": "1", "uploadId": upload_id},
                        data=b"one part", timeout=10)
    assert part.status_code == 200, part.text
    body = (f"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{part.headers['etag']}</ETag>"
            "</Part></CompleteMultipartUpload>")
    done = requests.post(f"{base}/public/big", params={"uploadId": upload_id}, data=body, timeout=10)
    assert done.status_code == 200, done.text
    assert s3.get_object(Bucket=bucket, Key="public/big")["Body"].read() == b"one part"
    copied = requests.put(f"{base}/public/copy", headers={"x-amz-copy-source": f"{bucket}/public/src"}, timeout=10)
    assert copied.status_code == 200, copied.text
    assert s3.get_object(Bucket=bucket, Key="public/copy")["Body"].read() == b"copy me"
    # Outside the prefix the same requests stay refused.
    refused = requests.post(f"{base}/private/big?uploads", timeout=10)
    assert refused.status_code == 403 and xml_code(refused) == "AccessDenied"
    refused = requests.put(f"{base}/private/copy", headers={"x-amz-copy-source": f"{bucket}/public/src"}, timeout=10)
    assert refused.status_code == 403 and xml_code(refused) == "AccessDenied"

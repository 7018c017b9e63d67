"""ACLs, Object Ownership, Block Public Access and GetBucketPolicyStatus, black-box (issue 15).

Buckets that test ACLs are made with ObjectOwnership=ObjectWriter (ACLs enabled); new buckets
default to BucketOwnerEnforced, as on AWS since 2023. Anonymous requests are unsigned boto3 calls or
raw HTTP; "bob" is a second principal made with ``sealbox users add``.
"""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
import uuid
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from sealbox.service.identity import canonical_id
from tests.support import REGION, SEALBOX, Server, unique_bucket

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTH_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"


def _user(server: Server) -> tuple[str, Any]:
    name = f"acl{uuid.uuid4().hex[:8]}"
    out = subprocess.run([str(SEALBOX), "users", "add", name, "--data-dir", str(server.data_dir), "--json"],
                         capture_output=True, text=True, timeout=60, check=True)
    made = json.loads(out.stdout)
    return name, boto3.client("s3", endpoint_url=server.endpoint, region_name=REGION,
                              aws_access_key_id=made["access_key"], aws_secret_access_key=made["secret_key"],
                              config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))


@pytest.fixture(scope="module")
def bob(server: Server) -> tuple[str, Any]:
    return _user(server)


@pytest.fixture
def anon(server: Server) -> Any:
    return boto3.client("s3", endpoint_url=server.endpoint, region_name=REGION,
                        config=Config(signature_version=UNSIGNED, s3={"addressing_style": "path"},
                                      retries={"max_attempts": 1}))


@pytest.fixture
def acl_bucket(s3: Any) -> str:
    name = unique_bucket("acl")
    s3.create_bucket(Bucket=name, ObjectOwnership="ObjectWriter")
    return name


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def _raw_get(server: Server, path: str) -> int:
    try:
        with urllib.request.urlopen(f"{server.endpoint}{path}", timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def _grants(acl: dict[str, Any]) -> set[tuple[str, str]]:
    return {(g["Grantee"].get("ID") or g["Grantee"].get("URI"), g["Permission"]) for g in acl["Grants"]}


# -- canned ACLs on objects, anonymous and cross-user ------------------------------------------------------


def test_put_object_public_read_is_readable_anonymously(server: Server, s3: Any, anon: Any, acl_bucket: str) -> None:
    s3.put_object(Bucket=acl_bucket, Key="pub", Body=b"hello", ACL="public-read")
    s3.put_object(Bucket=acl_bucket, Key="priv", Body=b"secret")
    assert anon.get_object(Bucket=acl_bucket, Key="pub")["Body"].read() == b"hello"
    assert _raw_get(server, f"/{acl_bucket}/pub") == 200
    assert _raw_get(server, f"/{acl_bucket}/priv") == 403
    acl = s3.get_object_acl(Bucket=acl_bucket, Key="pub")
    assert _grants(acl) == {(canonical_id("root"), "FULL_CONTROL"), (ALL_USERS, "READ")}
    assert acl["Owner"] == {"ID": canonical_id("root"), "DisplayName": "root"}


def test_authenticated_read_is_any_principal_not_anonymous(s3: Any, anon: Any, bob: tuple[str, Any],
                                                           acl_bucket: str) -> None:
    s3.put_object(Bucket=acl_bucket, Key="k", Body=b"x", ACL="authenticated-read")
    assert bob[1].get_object(Bucket=acl_bucket, Key="k")["Body"].read() == b"x"
    with pytest.raises(ClientError) as exc:
        anon.get_object(Bucket=acl_bucket, Key="k")
    assert _code(exc) == "AccessDenied"


def test_private_object_is_not_readable_by_others(s3: Any, bob: tuple[str, Any], acl_bucket: str) -> None:
    s3.put_object(Bucket=acl_bucket, Key="k", Body=b"x", ACL="private")
    with pytest.raises(ClientError) as exc:
        bob[1].get_object(Bucket=acl_bucket, Key="k")
    assert _code(exc) == "AccessDenied"


def test_public_read_write_bucket_lets_anyone_write_and_list(s3: Any, anon: Any, acl_bucket: str) -> None:
    s3.put_bucket_acl(Bucket=acl_bucket, ACL="public-read-write")
    anon.put_object(Bucket=acl_bucket, Key="anon-wrote", Body=b"a")
    assert [o["Key"] for o in anon.list_objects_v2(Bucket=acl_bucket)["Contents"]] == ["anon-wrote"]
    s3.put_bucket_acl(Bucket=acl_bucket, ACL="public-read")
    with pytest.raises(ClientError) as exc:
        anon.put_object(Bucket=acl_bucket, Key="again", Body=b"a")
    assert _code(exc) == "AccessDenied"
    assert anon.list_objects_v2(Bucket=acl_bucket)["KeyCount"] == 1


def test_canned_acl_on_create_bucket_is_in_force(s3: Any, anon: Any) -> None:
    name = unique_bucket("acl")
    s3.create_bucket(Bucket=name, ACL="public-read", ObjectOwnership="ObjectWriter")
    assert (ALL_USERS, "READ") in _grants(s3.get_bucket_acl(Bucket=name))
    assert anon.list_objects_v2(Bucket=name)["KeyCount"] == 0


def test_grant_headers_and_cross_user_read(s3: Any, bob: tuple[str, Any], acl_bucket: str) -> None:
    bob_id = canonical_id(bob[0])
    s3.put_object(Bucket=acl_bucket, Key="k", Body=b"x", GrantRead=f'id="{bob_id}"')
    assert bob[1].get_object(Bucket=acl_bucket, Key="k")["Body"].read() == b"x"
    with pytest.raises(ClientError) as exc:
        bob[1].get_object_acl(Bucket=acl_bucket, Key="k")  # READ is not READ_ACP
    assert _code(exc) == "AccessDenied"
    with pytest.raises(ClientError) as exc:  # nor WRITE_ACP
        bob[1].put_object_acl(Bucket=acl_bucket, Key="k", ACL="public-read")
    assert _code(exc) == "AccessDenied"
    acl = s3.get_object_acl(Bucket=acl_bucket, Key="k")
    assert {"ID": bob_id, "DisplayName": bob[0], "Type": "CanonicalUser"} in [g["Grantee"] for g in acl["Grants"]]


def test_put_object_acl_document_and_version_id(s3: Any, anon: Any, acl_bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=acl_bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=acl_bucket, Key="k", Body=b"1")["VersionId"]
    s3.put_object(Bucket=acl_bucket, Key="k", Body=b"2")
    owner = {"ID": canonical_id("root"), "DisplayName": "root"}
    s3.put_object_acl(Bucket=acl_bucket, Key="k", VersionId=v1, AccessControlPolicy={
        "Owner": owner, "Grants": [{"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"}]})
    assert anon.get_object(Bucket=acl_bucket, Key="k", VersionId=v1)["Body"].read() == b"1"
    with pytest.raises(ClientError):
        anon.get_object(Bucket=acl_bucket, Key="k")  # the latest version stays private
    assert _grants(s3.get_object_acl(Bucket=acl_bucket, Key="k", VersionId=v1)) == {(ALL_USERS, "READ")}


def test_acl_errors(s3: Any, acl_bucket: str) -> None:
    s3.put_object(Bucket=acl_bucket, Key="k", Body=b"x")
    with pytest.raises(ClientError) as exc:
        s3.put_object_acl(Bucket=acl_bucket, Key="k", GrantRead=f'id="{"0" * 64}"')
    assert _code(exc) == "InvalidArgument"
    with pytest.raises(ClientError) as exc:
        s3.put_object_acl(Bucket=acl_bucket, Key="k", GrantRead='emailAddress="nobody@example.com"')
    assert _code(exc) == "UnresolvableGrantByEmailAddress"
    with pytest.raises(ClientError) as exc:
        s3.put_object_acl(Bucket=acl_bucket, Key="k", AccessControlPolicy={
            "Owner": {"ID": canonical_id("root")},
            "Grants": [{"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "EVERYTHING"}]})
    assert _code(exc) in ("MalformedACLError", "InvalidArgument")  # botocore may refuse the enum first
    with pytest.raises(ClientError) as exc:
        s3.put_object_acl(Bucket=acl_bucket, Key="k", GrantRead='uri="http://example.com/nope"')
    assert _code(exc) == "InvalidArgument"


# -- Object Ownership ----------------------------------------------------------------------------------


def test_new_buckets_default_to_bucket_owner_enforced(s3: Any, bucket: str) -> None:
    rules = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="public-read")
    assert _code(exc) == "AccessControlListNotSupported"
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="bucket-owner-full-control")
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="private")
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    assert _code(exc) == "AccessControlListNotSupported"
    assert _grants(s3.get_bucket_acl(Bucket=bucket)) == {(canonical_id("root"), "FULL_CONTROL")}


def test_create_bucket_public_acl_with_enforced_is_refused(s3: Any) -> None:
    with pytest.raises(ClientError) as exc:
        s3.create_bucket(Bucket=unique_bucket("acl"), ACL="public-read")
    assert _code(exc) == "InvalidBucketAclWithObjectOwnership"


def test_delete_ownership_controls_then_not_found(s3: Any, bucket: str) -> None:
    s3.delete_bucket_ownership_controls(Bucket=bucket)
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_ownership_controls(Bucket=bucket)
    assert _code(exc) == "OwnershipControlsNotFoundError"
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="public-read")  # ACLs enabled again


def test_bucket_owner_preferred(s3: Any, bob: tuple[str, Any]) -> None:
    name, as_bob = bob
    b = unique_bucket("pref")
    as_bob.create_bucket(Bucket=b, ObjectOwnership="BucketOwnerPreferred")
    s3.put_object(Bucket=b, Key="full", Body=b"x", ACL="bucket-owner-full-control")
    s3.put_object(Bucket=b, Key="plain", Body=b"x")
    owners = {o["Key"]: o["Owner"]["ID"] for o in as_bob.list_objects_v2(Bucket=b, FetchOwner=True)["Contents"]}
    assert owners == {"full": canonical_id(name), "plain": canonical_id("root")}


# -- Block Public Access -------------------------------------------------------------------------------------


def _block(s3: Any, bucket: str, **flags: bool) -> None:
    config = {k: flags.get(k, False) for k in
              ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")}
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=config)


PUBLIC_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::{b}/*"}]}


def _policy(bucket: str) -> str:
    return json.dumps(PUBLIC_POLICY).replace("{b}", bucket)


def test_public_access_block_round_trip(s3: Any, acl_bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.get_public_access_block(Bucket=acl_bucket)
    assert _code(exc) == "NoSuchPublicAccessBlockConfiguration"
    _block(s3, acl_bucket, BlockPublicAcls=True, RestrictPublicBuckets=True)
    got = s3.get_public_access_block(Bucket=acl_bucket)["PublicAccessBlockConfiguration"]
    assert got == {"BlockPublicAcls": True, "IgnorePublicAcls": False, "BlockPublicPolicy": False,
                   "RestrictPublicBuckets": True}
    s3.delete_public_access_block(Bucket=acl_bucket)
    with pytest.raises(ClientError):
        s3.get_public_access_block(Bucket=acl_bucket)


def test_block_public_acls(s3: Any, acl_bucket: str) -> None:
    _block(s3, acl_bucket, BlockPublicAcls=True)
    for call in (lambda: s3.put_object(Bucket=acl_bucket, Key="k", Body=b"x", ACL="public-read"),
                 lambda: s3.put_bucket_acl(Bucket=acl_bucket, ACL="authenticated-read"),
                 lambda: s3.create_multipart_upload(Bucket=acl_bucket, Key="m", ACL="public-read")):
        with pytest.raises(ClientError) as exc:
            call()
        assert _code(exc) == "AccessDenied"
    s3.put_object(Bucket=acl_bucket, Key="k", Body=b"x", ACL="private")


def test_ignore_public_acls(s3: Any, anon: Any, acl_bucket: str) -> None:
    s3.put_object(Bucket=acl_bucket, Key="k", Body=b"x", ACL="public-read")
    assert anon.get_object(Bucket=acl_bucket, Key="k")["Body"].read() == b"x"
    _block(s3, acl_bucket, IgnorePublicAcls=True)
    with pytest.raises(ClientError) as exc:
        anon.get_object(Bucket=acl_bucket, Key="k")
    assert _code(exc) == "AccessDenied"
    s3.put_object(Bucket=acl_bucket, Key="k2", Body=b"x", ACL="public-read")  # stored, but not in force


def test_block_public_policy_and_policy_status(s3: Any, acl_bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_policy_status(Bucket=acl_bucket)
    assert _code(exc) == "NoSuchBucketPolicy"
    _block(s3, acl_bucket, BlockPublicPolicy=True)
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_policy(Bucket=acl_bucket, Policy=_policy(acl_bucket))
    assert _code(exc) == "AccessDenied"
    fixed = json.loads(_policy(acl_bucket))
    fixed["Statement"][0]["Condition"] = {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}
    s3.put_bucket_policy(Bucket=acl_bucket, Policy=json.dumps(fixed))
    assert s3.get_bucket_policy_status(Bucket=acl_bucket)["PolicyStatus"]["IsPublic"] is False
    s3.delete_public_access_block(Bucket=acl_bucket)
    s3.put_bucket_policy(Bucket=acl_bucket, Policy=_policy(acl_bucket))
    assert s3.get_bucket_policy_status(Bucket=acl_bucket)["PolicyStatus"]["IsPublic"] is True


def test_restrict_public_buckets(s3: Any, anon: Any, acl_bucket: str) -> None:
    s3.put_object(Bucket=acl_bucket, Key="k", Body=b"x")
    s3.put_bucket_policy(Bucket=acl_bucket, Policy=_policy(acl_bucket))
    assert anon.get_object(Bucket=acl_bucket, Key="k")["Body"].read() == b"x"
    _block(s3, acl_bucket, RestrictPublicBuckets=True)
    with pytest.raises(ClientError) as exc:
        anon.get_object(Bucket=acl_bucket, Key="k")
    assert _code(exc) == "AccessDenied"
    assert s3.get_object(Bucket=acl_bucket, Key="k")["Body"].read() == b"x"


# -- policy Deny over ACL Allow; the s3cmd flow --------------------------------------------------------------


def test_explicit_deny_beats_public_acl(s3: Any, anon: Any, acl_bucket: str) -> None:
    s3.put_object(Bucket=acl_bucket, Key="k", Body=b"x", ACL="public-read")
    deny = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
                                                    "Resource": f"arn:aws:s3:::{acl_bucket}/*"}]}
    s3.put_bucket_policy(Bucket=acl_bucket, Policy=json.dumps(deny))
    with pytest.raises(ClientError) as exc:
        anon.get_object(Bucket=acl_bucket, Key="k")
    assert _code(exc) == "AccessDenied"


def test_copy_then_put_acl_like_s3cmd(s3: Any, anon: Any, acl_bucket: str) -> None:
    """s3cmd cp: CopyObject, then GET ?acl and PUT ?acl with the document it read (plus a grant)."""
    s3.put_object(Bucket=acl_bucket, Key="src", Body=b"x", ACL="public-read")
    s3.copy_object(Bucket=acl_bucket, Key="dst", CopySource={"Bucket": acl_bucket, "Key": "src"})
    assert _grants(s3.get_object_acl(Bucket=acl_bucket, Key="dst")) == {(canonical_id("root"), "FULL_CONTROL")}
    acl = s3.get_object_acl(Bucket=acl_bucket, Key="dst")
    grants = acl["Grants"] + [{"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"}]
    s3.put_object_acl(Bucket=acl_bucket, Key="dst", AccessControlPolicy={"Owner": acl["Owner"], "Grants": grants})
    assert anon.get_object(Bucket=acl_bucket, Key="dst")["Body"].read() == b"x"
    s3.copy_object(Bucket=acl_bucket, Key="dst2", CopySource={"Bucket": acl_bucket, "Key": "src"}, ACL="public-read")
    assert anon.get_object(Bucket=acl_bucket, Key="dst2")["Body"].read() == b"x"


def test_multipart_upload_keeps_its_acl(s3: Any, anon: Any, acl_bucket: str) -> None:
    up = s3.create_multipart_upload(Bucket=acl_bucket, Key="mp", ACL="public-read")["UploadId"]
    etag = s3.upload_part(Bucket=acl_bucket, Key="mp", UploadId=up, PartNumber=1, Body=b"p")["ETag"]
    s3.complete_multipart_upload(Bucket=acl_bucket, Key="mp", UploadId=up,
                                 MultipartUpload={"Parts": [{"ETag": etag, "PartNumber": 1}]})
    assert anon.get_object(Bucket=acl_bucket, Key="mp")["Body"].read() == b"p"


def test_post_object_acl_field(server: Server, s3: Any, acl_bucket: str) -> None:
    import requests

    post = s3.generate_presigned_post(acl_bucket, "posted", Fields={"acl": "public-read"},
                                      Conditions=[{"acl": "public-read"}])
    resp = requests.post(post["url"], data=post["fields"], files={"file": b"form"}, timeout=10)
    assert resp.status_code in (200, 204), resp.text
    assert _raw_get(server, f"/{acl_bucket}/posted") == 200


def test_write_acp_needed_for_put_bucket_acl(bob: tuple[str, Any], acl_bucket: str, s3: Any) -> None:
    with pytest.raises(ClientError) as exc:
        bob[1].put_bucket_acl(Bucket=acl_bucket, ACL="public-read")
    assert _code(exc) == "AccessDenied"
    s3.put_bucket_acl(Bucket=acl_bucket, GrantWriteACP=f'id="{canonical_id(bob[0])}"',
                      GrantFullControl=f'id="{canonical_id("root")}"')
    bob[1].put_bucket_acl(Bucket=acl_bucket, ACL="private")

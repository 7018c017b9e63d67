"""Object ownership: the owner of an object (version) is the principal who wrote it.

What is checked, black-box, with a second and third principal made by ``sealbox users add`` on the
running server's data directory:
- the writer, not the bucket's owner, owns what it writes (PUT, CopyObject, multipart, delete markers);
- Owner (canonical ID + DisplayName) appears in ListObjectsV2 with ``fetch-owner=true`` (and not
  without), in ListObjects (v1) and in every ListObjectVersions entry, and GetObjectAcl names it;
- rewriting an object — changing its encryption by copying it onto itself — makes the rewriter the
  owner of the new object, or of the new version under versioning, while older versions keep
  their owner (the spec: "The role that changes the property also becomes the owner of the new
  object (or object version)").
"""

from __future__ import annotations

import json
import subprocess
import uuid
import xml.etree.ElementTree as ET
from typing import Any

import boto3
import pytest
from botocore.config import Config

from sealbox.service.identity import canonical_id
from tests.support import REGION, SEALBOX, Server, signed_request, unique_bucket

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def _new_user(server: Server) -> tuple[str, Any]:
    """A new principal (made with the CLI while the server runs) and a boto3 client signed as it."""
    name = f"owner{uuid.uuid4().hex[:8]}"
    out = subprocess.run([str(SEALBOX), "users", "add", name, "--data-dir", str(server.data_dir), "--json"],
                         capture_output=True, text=True, timeout=60, check=True)
    made = json.loads(out.stdout)
    client = boto3.client("s3", endpoint_url=server.endpoint, region_name=REGION,
                          aws_access_key_id=made["access_key"], aws_secret_access_key=made["secret_key"],
                          config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
    return name, client


@pytest.fixture(scope="module")
def alice(server: Server) -> tuple[str, Any]:
    return _new_user(server)


@pytest.fixture(scope="module")
def bob(server: Server) -> tuple[str, Any]:
    return _new_user(server)


@pytest.fixture
def alices_bucket(alice: tuple[str, Any]) -> str:
    """A bucket alice owns; root may write into it (root can do anything), others only by policy.

    ObjectWriter: the rule "the writer owns what it writes" is AWS's under ObjectWriter (and
    BucketOwnerPreferred without bucket-owner-full-control); under BucketOwnerEnforced, the default
    of new buckets since issue 15 as on AWS, the bucket owner owns every object
    (``test_bucket_owner_enforced_makes_the_bucket_owner_the_owner`` below)."""
    name = unique_bucket("own")
    alice[1].create_bucket(Bucket=name, ObjectOwnership="ObjectWriter")
    return name


def _owner(entry: dict[str, Any]) -> tuple[str, str]:
    return entry["Owner"]["DisplayName"], entry["Owner"]["ID"]


def _who(name: str) -> tuple[str, str]:
    return name, canonical_id(name)


def _version_owners(server: Server, bucket: str) -> list[tuple[str, str, bool, str | None]]:
    """(key, version id, is delete marker, owner display name) in ListObjectVersions order, from raw XML."""
    resp = signed_request(server, "GET", f"/{bucket}", params={"versions": ""})
    assert resp.status_code == 200, resp.text
    out = []
    for node in ET.fromstring(resp.content):
        tag = node.tag.removeprefix(NS)
        if tag in ("Version", "DeleteMarker"):
            out.append((node.findtext(f"{NS}Key") or "", node.findtext(f"{NS}VersionId") or "",
                        tag == "DeleteMarker", node.findtext(f"{NS}Owner/{NS}DisplayName")))
    return out


def test_the_writer_owns_the_object_in_every_listing(server: Server, s3: Any, alice: tuple[str, Any],
                                                     alices_bucket: str) -> None:
    name, as_alice = alice
    as_alice.put_object(Bucket=alices_bucket, Key="by-alice", Body=b"a")
    s3.put_object(Bucket=alices_bucket, Key="by-root", Body=b"r")  # root writes into alice's bucket
    v2 = as_alice.list_objects_v2(Bucket=alices_bucket, FetchOwner=True)["Contents"]
    assert {o["Key"]: _owner(o) for o in v2} == {"by-alice": _who(name), "by-root": _who("root")}
    v1 = as_alice.list_objects(Bucket=alices_bucket)["Contents"]
    assert {o["Key"]: _owner(o) for o in v1} == {"by-alice": _who(name), "by-root": _who("root")}
    versions = as_alice.list_object_versions(Bucket=alices_bucket)["Versions"]
    assert {o["Key"]: _owner(o) for o in versions} == {"by-alice": _who(name), "by-root": _who("root")}
    assert _who(name)[1] != _who("root")[1]


def test_fetch_owner_false_omits_owner(server: Server, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert "Owner" not in s3.list_objects_v2(Bucket=bucket)["Contents"][0]
    raw = signed_request(server, "GET", f"/{bucket}", params={"list-type": "2"})
    assert "<Owner>" not in raw.text
    raw = signed_request(server, "GET", f"/{bucket}", params={"list-type": "2", "fetch-owner": "true"})
    assert f"<Owner><ID>{canonical_id('root')}</ID><DisplayName>root</DisplayName></Owner>" in raw.text


def test_object_acl_names_the_writer(s3: Any, alice: tuple[str, Any], alices_bucket: str) -> None:
    name, as_alice = alice
    s3.put_object(Bucket=alices_bucket, Key="by-root", Body=b"r")
    acl = as_alice.get_object_acl(Bucket=alices_bucket, Key="by-root")
    assert acl["Owner"]["ID"] == canonical_id("root")
    assert as_alice.get_bucket_acl(Bucket=alices_bucket)["Owner"]["ID"] == canonical_id(name)


def test_a_user_allowed_by_policy_owns_what_it_writes(s3: Any, alice: tuple[str, Any], bob: tuple[str, Any],
                                                      alices_bucket: str) -> None:
    alice_name, as_alice = alice
    bob_name, as_bob = bob
    policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": [bob_name]}, "Action": ["s3:PutObject", "s3:GetObject"],
        "Resource": f"arn:aws:s3:::{alices_bucket}/*"}]}
    as_alice.put_bucket_policy(Bucket=alices_bucket, Policy=json.dumps(policy))
    as_bob.put_object(Bucket=alices_bucket, Key="by-bob", Body=b"b")
    contents = as_alice.list_objects_v2(Bucket=alices_bucket, FetchOwner=True)["Contents"]
    assert [_owner(o) for o in contents] == [_who(bob_name)]
    assert s3.list_buckets()["Owner"]["DisplayName"] == "root"
    assert as_alice.list_buckets()["Owner"] == {"DisplayName": alice_name, "ID": canonical_id(alice_name)}


def test_changing_encryption_by_copy_makes_the_rewriter_owner(s3: Any, alice: tuple[str, Any],
                                                              alices_bucket: str) -> None:
    name, as_alice = alice
    as_alice.put_object(Bucket=alices_bucket, Key="doc", Body=b"plain at first")
    # Root encrypts alice's object in place: a new object, owned by root.
    out = s3.copy_object(Bucket=alices_bucket, Key="doc", CopySource={"Bucket": alices_bucket, "Key": "doc"},
                         ServerSideEncryption="AES256")
    assert out["ServerSideEncryption"] == "AES256"
    (entry,) = as_alice.list_objects_v2(Bucket=alices_bucket, FetchOwner=True)["Contents"]
    assert _owner(entry) == _who("root")
    got = as_alice.get_object(Bucket=alices_bucket, Key="doc")
    assert got["ServerSideEncryption"] == "AES256" and got["Body"].read() == b"plain at first"
    # And alice decrypting it again takes it back.
    as_alice.copy_object(Bucket=alices_bucket, Key="doc", CopySource={"Bucket": alices_bucket, "Key": "doc"},
                         MetadataDirective="REPLACE")
    (entry,) = as_alice.list_objects_v2(Bucket=alices_bucket, FetchOwner=True)["Contents"]
    assert _owner(entry) == _who(name)
    assert "ServerSideEncryption" not in as_alice.head_object(Bucket=alices_bucket, Key="doc")


def test_under_versioning_each_version_keeps_its_writer(server: Server, s3: Any, alice: tuple[str, Any],
                                                        alices_bucket: str) -> None:
    name, as_alice = alice
    as_alice.put_bucket_versioning(Bucket=alices_bucket, VersioningConfiguration={"Status": "Enabled"})
    first = as_alice.put_object(Bucket=alices_bucket, Key="doc", Body=b"v1")["VersionId"]
    encrypted = s3.copy_object(Bucket=alices_bucket, Key="doc", CopySource={"Bucket": alices_bucket, "Key": "doc"},
                               ServerSideEncryption="AES256")["VersionId"]
    marker = s3.delete_object(Bucket=alices_bucket, Key="doc")["VersionId"]
    assert _version_owners(server, alices_bucket) == [
        ("doc", marker, True, "root"), ("doc", encrypted, False, "root"), ("doc", first, False, name)]
    # The old version is still alice's, still unencrypted, still readable.
    old = as_alice.get_object(Bucket=alices_bucket, Key="doc", VersionId=first)
    assert "ServerSideEncryption" not in old and old["Body"].read() == b"v1"
    markers = as_alice.list_object_versions(Bucket=alices_bucket)["DeleteMarkers"]
    assert [_owner(m) for m in markers] == [_who("root")]


def test_multipart_upload_is_owned_by_the_completer(s3: Any, alice: tuple[str, Any], alices_bucket: str) -> None:
    _, as_alice = alice
    upload = s3.create_multipart_upload(Bucket=alices_bucket, Key="mp", ServerSideEncryption="AES256")["UploadId"]
    part = s3.upload_part(Bucket=alices_bucket, Key="mp", UploadId=upload, PartNumber=1, Body=b"only part")
    s3.complete_multipart_upload(Bucket=alices_bucket, Key="mp", UploadId=upload,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    (entry,) = as_alice.list_objects_v2(Bucket=alices_bucket, FetchOwner=True)["Contents"]
    assert _owner(entry) == _who("root")


def test_copy_to_another_key_is_owned_by_the_copier(s3: Any, alice: tuple[str, Any], alices_bucket: str) -> None:
    name, as_alice = alice
    s3.put_object(Bucket=alices_bucket, Key="src", Body=b"root's")
    as_alice.copy_object(Bucket=alices_bucket, Key="dst", CopySource={"Bucket": alices_bucket, "Key": "src"},
                         ServerSideEncryption="AES256")
    owners = {o["Key"]: _owner(o) for o in
              as_alice.list_objects_v2(Bucket=alices_bucket, FetchOwner=True)["Contents"]}
    assert owners == {"src": _who("root"), "dst": _who(name)}


def test_bucket_owner_enforced_makes_the_bucket_owner_the_owner(server: Server, s3: Any,
                                                                alice: tuple[str, Any]) -> None:
    """AWS: with BucketOwnerEnforced "the bucket owner automatically owns and has full control over
    every object in the bucket" — whoever wrote it, objects written before the switch included."""
    name, as_alice = alice
    bucket = unique_bucket("enf")
    as_alice.create_bucket(Bucket=bucket, ObjectOwnership="ObjectWriter")
    s3.put_object(Bucket=bucket, Key="before", Body=b"r")  # root writes: root owns it under ObjectWriter
    assert s3.get_object_acl(Bucket=bucket, Key="before")["Owner"]["ID"] == canonical_id("root")
    as_alice.put_bucket_ownership_controls(
        Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    s3.put_object(Bucket=bucket, Key="after", Body=b"r")
    for key in ("before", "after"):
        acl = as_alice.get_object_acl(Bucket=bucket, Key=key)
        assert acl["Owner"]["ID"] == canonical_id(name)
        assert [g["Grantee"]["ID"] for g in acl["Grants"]] == [canonical_id(name)]
    listed = as_alice.list_objects_v2(Bucket=bucket, FetchOwner=True)["Contents"]
    assert {o["Key"]: o["Owner"]["ID"] for o in listed}["after"] == canonical_id(name)

"""Object Lock (issue 17): Put/GetObjectLockConfiguration, Put/GetObjectRetention, Put/GetObjectLegalHold,
the x-amz-object-lock-* headers of writes and reads, and enforcement on every path that removes data.

AWS behaviour checked here (user guide "Locking objects with Object Lock", the API reference, and
ceph/s3-tests' test_object_lock_*): a bucket created with ``x-amz-bucket-object-lock-enabled`` has
versioning Enabled, which cannot be suspended (409 InvalidBucketState); an existing bucket may get
Object Lock once versioning is Enabled; a COMPLIANCE version cannot be deleted nor its retention
shortened by anyone; GOVERNANCE only with ``x-amz-bypass-governance-retention: true`` and
s3:BypassGovernanceRetention; a legal hold blocks deletion; a DELETE without a version id still adds
a delete marker; locked deletes answer 403 AccessDenied (per key in DeleteObjects).
"""

from __future__ import annotations

import datetime
import json
import subprocess
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.s3.test_bucket_policy import add_user, client_of
from tests.support import SEALBOX, Server, unique_bucket

FUTURE = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) + datetime.timedelta(days=30)


def _err(call: Any, **kw: Any) -> tuple[int, str]:
    with pytest.raises(ClientError) as exc:
        call(**kw)
    r = exc.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"]


@pytest.fixture
def lock_bucket(s3: Any) -> str:
    name = unique_bucket("lock")
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return name


def _put(s3: Any, bucket: str, key: str, mode: str | None = "COMPLIANCE", body: bytes = b"data", **kw: Any) -> str:
    if mode:
        kw.update(ObjectLockMode=mode, ObjectLockRetainUntilDate=FUTURE)
    return str(s3.put_object(Bucket=bucket, Key=key, Body=body, ChecksumAlgorithm="CRC32", **kw)["VersionId"])


def test_create_bucket_with_object_lock(s3: Any, lock_bucket: str) -> None:
    assert s3.get_bucket_versioning(Bucket=lock_bucket)["Status"] == "Enabled"
    conf = s3.get_object_lock_configuration(Bucket=lock_bucket)["ObjectLockConfiguration"]
    assert conf == {"ObjectLockEnabled": "Enabled"}
    assert _err(s3.put_bucket_versioning, Bucket=lock_bucket,
                VersioningConfiguration={"Status": "Suspended"}) == (409, "InvalidBucketState")


def test_object_lock_configuration_round_trip_and_validation(s3: Any, lock_bucket: str) -> None:
    for rule in ({"Mode": "GOVERNANCE", "Days": 1}, {"Mode": "COMPLIANCE", "Years": 1}):
        conf = {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": rule}}
        s3.put_object_lock_configuration(Bucket=lock_bucket, ObjectLockConfiguration=conf)
        assert s3.get_object_lock_configuration(Bucket=lock_bucket)["ObjectLockConfiguration"] == conf
    bad = [({"Mode": "GOVERNANCE", "Days": 1, "Years": 1}, "MalformedXML"),
           ({"Mode": "GOVERNANCE", "Days": 0}, "InvalidRetentionPeriod"),
           ({"Mode": "GOVERNANCE", "Years": -1}, "InvalidRetentionPeriod"),
           ({"Mode": "governance", "Years": 1}, "MalformedXML")]
    for rule, code in bad:
        conf = {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": rule}}
        assert _err(s3.put_object_lock_configuration, Bucket=lock_bucket, ObjectLockConfiguration=conf) == (400, code)


def test_enable_object_lock_on_existing_bucket(s3: Any, bucket: str) -> None:
    conf = {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}}
    assert _err(s3.get_object_lock_configuration, Bucket=bucket) == (404, "ObjectLockConfigurationNotFoundError")
    assert _err(s3.put_object_lock_configuration, Bucket=bucket,
                ObjectLockConfiguration=conf) == (409, "InvalidBucketState")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration=conf)
    # the default retention applies to new writes
    vid = s3.put_object(Bucket=bucket, Key="k", Body=b"x")["VersionId"]
    assert s3.get_object_retention(Bucket=bucket, Key="k", VersionId=vid)["Retention"]["Mode"] == "GOVERNANCE"
    assert _err(s3.delete_object, Bucket=bucket, Key="k", VersionId=vid) == (403, "AccessDenied")
    s3.delete_object(Bucket=bucket, Key="k", VersionId=vid, BypassGovernanceRetention=True)


def test_lock_requests_on_a_bucket_without_object_lock(s3: Any, bucket: str) -> None:
    assert _err(s3.put_object_legal_hold, Bucket=bucket, Key="k", LegalHold={"Status": "ON"}) == \
        (400, "InvalidRequest")
    assert _err(s3.get_object_retention, Bucket=bucket, Key="k") == (400, "InvalidRequest")
    assert _err(s3.put_object, Bucket=bucket, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE",
                ObjectLockRetainUntilDate=FUTURE, ChecksumAlgorithm="CRC32") == (400, "InvalidRequest")


def test_retention_and_legal_hold_headers_on_get_and_head(s3: Any, lock_bucket: str) -> None:
    vid = _put(s3, lock_bucket, "k", "GOVERNANCE", ObjectLockLegalHoldStatus="ON")
    for call in (s3.head_object, s3.get_object):
        got = call(Bucket=lock_bucket, Key="k")
        assert got["ObjectLockMode"] == "GOVERNANCE"
        assert got["ObjectLockRetainUntilDate"] == FUTURE
        assert got["ObjectLockLegalHoldStatus"] == "ON"
    assert s3.get_object_legal_hold(Bucket=lock_bucket, Key="k")["LegalHold"] == {"Status": "ON"}
    assert s3.get_object_retention(Bucket=lock_bucket, Key="k", VersionId=vid)["Retention"] == \
        {"Mode": "GOVERNANCE", "RetainUntilDate": FUTURE}
    # legal hold blocks even with bypass; off again, bypass works
    assert _err(s3.delete_object, Bucket=lock_bucket, Key="k", VersionId=vid,
                BypassGovernanceRetention=True) == (403, "AccessDenied")
    s3.put_object_legal_hold(Bucket=lock_bucket, Key="k", VersionId=vid, LegalHold={"Status": "OFF"})
    s3.delete_object(Bucket=lock_bucket, Key="k", VersionId=vid, BypassGovernanceRetention=True)


def test_legal_hold_header_only_once_a_hold_was_put(s3: Any, lock_bucket: str) -> None:
    """AWS: x-amz-object-lock-legal-hold "is not returned if the specified version of this object has
    never had a legal hold applied" (Terraform's aws_s3_object read an "OFF" as a change to undo)."""
    vid = _put(s3, lock_bucket, "never", "GOVERNANCE")
    for call in (s3.head_object, s3.get_object):
        got = call(Bucket=lock_bucket, Key="never")
        assert "ObjectLockLegalHoldStatus" not in got and got["ObjectLockMode"] == "GOVERNANCE"
    s3.put_object_legal_hold(Bucket=lock_bucket, Key="never", VersionId=vid, LegalHold={"Status": "ON"})
    s3.put_object_legal_hold(Bucket=lock_bucket, Key="never", VersionId=vid, LegalHold={"Status": "OFF"})
    assert s3.head_object(Bucket=lock_bucket, Key="never")["ObjectLockLegalHoldStatus"] == "OFF"
    plain = s3.put_object(Bucket=lock_bucket, Key="off", Body=b"x", ObjectLockLegalHoldStatus="OFF",
                          ChecksumAlgorithm="CRC32")
    assert s3.head_object(Bucket=lock_bucket, Key="off", VersionId=plain["VersionId"])[
        "ObjectLockLegalHoldStatus"] == "OFF"


def test_invalid_lock_headers(s3: Any, lock_bucket: str) -> None:
    assert _err(s3.put_object, Bucket=lock_bucket, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE",
                ChecksumAlgorithm="CRC32")[1] == "InvalidArgument"
    past = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
    assert _err(s3.put_object, Bucket=lock_bucket, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE",
                ObjectLockRetainUntilDate=past, ChecksumAlgorithm="CRC32")[1] == "InvalidArgument"
    assert _err(s3.put_object_legal_hold, Bucket=lock_bucket, Key="k",
                LegalHold={"Status": "abc"}) == (400, "MalformedXML")


def test_lock_headers_need_an_integrity_header(server: Server, lock_bucket: str) -> None:
    from tests.support import signed_request

    until = FUTURE.strftime("%Y-%m-%dT%H:%M:%SZ")
    r = signed_request(server, "PUT", f"/{lock_bucket}/k", body=b"x",
                       headers={"x-amz-object-lock-mode": "GOVERNANCE", "x-amz-object-lock-retain-until-date": until})
    assert r.status_code == 400 and b"InvalidRequest" in r.content


def test_compliance_blocks_every_delete_by_root(s3: Any, lock_bucket: str) -> None:
    vid = _put(s3, lock_bucket, "k")
    for bypass in (False, True):
        assert _err(s3.delete_object, Bucket=lock_bucket, Key="k", VersionId=vid,
                    BypassGovernanceRetention=bypass) == (403, "AccessDenied")
        out = s3.delete_objects(Bucket=lock_bucket, BypassGovernanceRetention=bypass,
                                Delete={"Objects": [{"Key": "k", "VersionId": vid}]})
        assert [(e["Key"], e["VersionId"], e["Code"]) for e in out["Errors"]] == [("k", vid, "AccessDenied")]
    # shorten, remove, or weaken the retention: refused, bypass or not
    sooner = FUTURE - datetime.timedelta(days=1)
    for retention in ({"Mode": "COMPLIANCE", "RetainUntilDate": sooner},
                      {"Mode": "GOVERNANCE", "RetainUntilDate": FUTURE}):
        for bypass in (False, True):
            assert _err(s3.put_object_retention, Bucket=lock_bucket, Key="k", VersionId=vid, Retention=retention,
                        BypassGovernanceRetention=bypass) == (403, "AccessDenied")
    # extending is allowed
    later = FUTURE + datetime.timedelta(days=1)
    s3.put_object_retention(Bucket=lock_bucket, Key="k", VersionId=vid,
                            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": later})
    # a delete without a version id adds a marker, as on AWS; the version stays
    marker = s3.delete_object(Bucket=lock_bucket, Key="k")
    assert marker["DeleteMarker"] is True
    s3.delete_object(Bucket=lock_bucket, Key="k", VersionId=marker["VersionId"])
    assert s3.get_object(Bucket=lock_bucket, Key="k", VersionId=vid)["Body"].read() == b"data"


def test_governance_needs_header_and_permission(server: Server, s3: Any, lock_bucket: str) -> None:
    name, access_key, secret = add_user(server)
    bob = client_of(server, access_key, secret)
    grant = ["s3:DeleteObjectVersion", "s3:PutObjectRetention", "s3:GetObject", "s3:GetObjectVersion"]
    policy: dict[str, Any] = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": name},
              "Action": grant, "Resource": f"arn:aws:s3:::{lock_bucket}/*"}]}
    s3.put_bucket_policy(Bucket=lock_bucket, Policy=json.dumps(policy))
    vid = _put(s3, lock_bucket, "g", "GOVERNANCE")
    # bob without s3:BypassGovernanceRetention: the header alone does nothing
    assert _err(bob.delete_object, Bucket=lock_bucket, Key="g", VersionId=vid,
                BypassGovernanceRetention=True) == (403, "AccessDenied")
    out = bob.delete_objects(Bucket=lock_bucket, BypassGovernanceRetention=True,
                             Delete={"Objects": [{"Key": "g", "VersionId": vid}]})
    assert out["Errors"][0]["Code"] == "AccessDenied"
    assert _err(bob.put_object_retention, Bucket=lock_bucket, Key="g", VersionId=vid, Retention={},
                BypassGovernanceRetention=True) == (403, "AccessDenied")
    # root without the header: refused; with it: allowed
    assert _err(s3.delete_object, Bucket=lock_bucket, Key="g", VersionId=vid) == (403, "AccessDenied")
    policy["Statement"][0]["Action"] = [*grant, "s3:BypassGovernanceRetention"]
    s3.put_bucket_policy(Bucket=lock_bucket, Policy=json.dumps(policy))
    assert _err(bob.delete_object, Bucket=lock_bucket, Key="g", VersionId=vid) == (403, "AccessDenied")
    bob.delete_object(Bucket=lock_bucket, Key="g", VersionId=vid, BypassGovernanceRetention=True)


def test_multipart_and_copy_carry_lock(s3: Any, lock_bucket: str) -> None:
    up = s3.create_multipart_upload(Bucket=lock_bucket, Key="mp", ObjectLockMode="COMPLIANCE",
                                    ObjectLockRetainUntilDate=FUTURE)
    part = s3.upload_part(Bucket=lock_bucket, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=b"p" * 10)
    done = s3.complete_multipart_upload(Bucket=lock_bucket, Key="mp", UploadId=up["UploadId"],
                                        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    assert _err(s3.delete_object, Bucket=lock_bucket, Key="mp", VersionId=done["VersionId"]) == (403, "AccessDenied")
    copied = s3.copy_object(Bucket=lock_bucket, Key="cp", CopySource={"Bucket": lock_bucket, "Key": "mp"},
                            ObjectLockLegalHoldStatus="ON")
    assert s3.head_object(Bucket=lock_bucket, Key="cp")["ObjectLockLegalHoldStatus"] == "ON"
    assert "ObjectLockMode" not in s3.head_object(Bucket=lock_bucket, Key="cp")  # not copied from the source
    assert _err(s3.delete_object, Bucket=lock_bucket, Key="cp", VersionId=copied["VersionId"]) == \
        (403, "AccessDenied")


def test_maintenance_commands_keep_locked_versions(server: Server, s3: Any, lock_bucket: str) -> None:
    vid = _put(s3, lock_bucket, "m", body=b"z" * 200_000)  # a blob file, not inline
    out = subprocess.run([str(SEALBOX), "gc", "--data-dir", str(server.data_dir), "--grace", "0"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert s3.get_object(Bucket=lock_bucket, Key="m", VersionId=vid)["Body"].read() == b"z" * 200_000


def _policy(s3: Any, bucket: str, user: str, actions: list[str], deny: list[str] | None = None) -> None:
    statements: list[dict[str, Any]] = [
        {"Effect": "Allow", "Principal": {"AWS": user}, "Action": actions,
         "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}]
    if deny:
        statements.append({"Effect": "Deny", "Principal": {"AWS": user}, "Action": deny,
                           "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]})
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": statements}))


@pytest.mark.parametrize("with_bypass", [False, True], ids=["no-bypass-permission", "bypass-permission"])
def test_compliance_and_legal_hold_hold_against_a_user_with_every_permission(
        server: Server, s3: Any, lock_bucket: str, with_bypass: bool) -> None:
    """A non-root user allowed s3:* on the bucket (with or without s3:BypassGovernanceRetention) removes
    neither a COMPLIANCE version nor one under legal hold, by any delete path, and cannot weaken them."""
    name, access_key, secret = add_user(server)
    bob = client_of(server, access_key, secret)
    _policy(s3, lock_bucket, name, ["s3:*"], None if with_bypass else ["s3:BypassGovernanceRetention"])
    comp = _put(bob, lock_bucket, "c", body=b"compliance")
    held = _put(bob, lock_bucket, "h", None, body=b"held", ObjectLockLegalHoldStatus="ON")
    gov_held = _put(bob, lock_bucket, "gh", "GOVERNANCE", body=b"gov+held", ObjectLockLegalHoldStatus="ON")
    versions = {"c": (comp, b"compliance"), "h": (held, b"held"), "gh": (gov_held, b"gov+held")}
    for key, (vid, _) in versions.items():
        for bypass in (False, True):
            assert _err(bob.delete_object, Bucket=lock_bucket, Key=key, VersionId=vid,
                        BypassGovernanceRetention=bypass) == (403, "AccessDenied")
    for bypass in (False, True):
        out = bob.delete_objects(Bucket=lock_bucket, BypassGovernanceRetention=bypass,
                                 Delete={"Objects": [{"Key": k, "VersionId": v} for k, (v, _) in versions.items()]})
        assert sorted((e["Key"], e["Code"]) for e in out["Errors"]) == \
            [("c", "AccessDenied"), ("gh", "AccessDenied"), ("h", "AccessDenied")]
        assert out.get("Deleted", []) == []
    sooner = FUTURE - datetime.timedelta(days=1)
    for retention in ({"Mode": "COMPLIANCE", "RetainUntilDate": sooner},
                      {"Mode": "GOVERNANCE", "RetainUntilDate": FUTURE}, {}):
        for bypass in (False, True):
            assert _err(bob.put_object_retention, Bucket=lock_bucket, Key="c", VersionId=comp, Retention=retention,
                        BypassGovernanceRetention=bypass) == (403, "AccessDenied")
    # overwriting and deleting without a version id only add versions / markers
    bob.put_object(Bucket=lock_bucket, Key="c", Body=b"other", ChecksumAlgorithm="CRC32")
    bob.delete_object(Bucket=lock_bucket, Key="h")
    # GOVERNANCE under legal hold: bypass (when allowed) lifts the retention but the hold still blocks
    if with_bypass:
        bob.put_object_retention(Bucket=lock_bucket, Key="gh", VersionId=gov_held, Retention={},
                                 BypassGovernanceRetention=True)
    else:
        assert _err(bob.put_object_retention, Bucket=lock_bucket, Key="gh", VersionId=gov_held, Retention={},
                    BypassGovernanceRetention=True) == (403, "AccessDenied")
    assert _err(bob.delete_object, Bucket=lock_bucket, Key="gh", VersionId=gov_held,
                BypassGovernanceRetention=True) == (403, "AccessDenied")
    for key, (vid, body) in versions.items():
        assert bob.get_object(Bucket=lock_bucket, Key=key, VersionId=vid)["Body"].read() == body
    assert s3.get_object_retention(Bucket=lock_bucket, Key="c", VersionId=comp)["Retention"] == \
        {"Mode": "COMPLIANCE", "RetainUntilDate": FUTURE}
    # the legal hold is lifted only by s3:PutObjectLegalHold, which bob has; then the version goes
    bob.put_object_legal_hold(Bucket=lock_bucket, Key="h", VersionId=held, LegalHold={"Status": "OFF"})
    bob.delete_object(Bucket=lock_bucket, Key="h", VersionId=held)


def test_lock_headers_only_with_the_read_permissions(server: Server, s3: Any, lock_bucket: str) -> None:
    """AWS returns x-amz-object-lock-mode/-retain-until-date only to a caller with s3:GetObjectRetention,
    x-amz-object-lock-legal-hold only to one with s3:GetObjectLegalHold."""
    name, access_key, secret = add_user(server)
    bob = client_of(server, access_key, secret)
    _put(s3, lock_bucket, "k", "GOVERNANCE", ObjectLockLegalHoldStatus="ON")
    lock_fields = ("ObjectLockMode", "ObjectLockRetainUntilDate", "ObjectLockLegalHoldStatus")
    cases = [([], ()), (["s3:GetObjectRetention"], ("ObjectLockMode", "ObjectLockRetainUntilDate")),
             (["s3:GetObjectLegalHold"], ("ObjectLockLegalHoldStatus",)),
             (["s3:GetObjectRetention", "s3:GetObjectLegalHold"], lock_fields)]
    for extra, expected in cases:
        _policy(s3, lock_bucket, name, ["s3:GetObject", *extra])
        for call in (bob.head_object, bob.get_object):
            got = call(Bucket=lock_bucket, Key="k")
            assert tuple(f for f in lock_fields if f in got) == expected, (extra, call)
    # the owner sees all of it
    assert all(f in s3.head_object(Bucket=lock_bucket, Key="k") for f in lock_fields)


def test_default_retention_needs_an_integrity_header(server: Server, s3: Any, lock_bucket: str) -> None:
    """AWS: PutObject to a bucket whose default retention will lock the version needs Content-MD5 or a
    checksum, as with explicit lock headers (aws-sdk-php#1694, kopia#711)."""
    import base64
    import hashlib

    from tests.support import signed_request

    r = signed_request(server, "PUT", f"/{lock_bucket}/plain", body=b"x")
    assert r.status_code == 200  # no default retention yet: no header needed
    conf = {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}}
    s3.put_object_lock_configuration(Bucket=lock_bucket, ObjectLockConfiguration=conf)
    r = signed_request(server, "PUT", f"/{lock_bucket}/k", body=b"x")
    assert r.status_code == 400 and b"InvalidRequest" in r.content
    md5 = base64.b64encode(hashlib.md5(b"x").digest()).decode()
    r = signed_request(server, "PUT", f"/{lock_bucket}/k", body=b"x", headers={"content-md5": md5})
    assert r.status_code == 200, r.content
    assert s3.get_object_retention(Bucket=lock_bucket, Key="k")["Retention"]["Mode"] == "GOVERNANCE"

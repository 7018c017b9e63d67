"""ACLs, Object Ownership and Block Public Access through the tools people use (issue 15's proof):
s3cmd (from PyPI, the test extra) with its ``cp`` + ``PUT ?acl`` flow and ``setacl``, and the AWS CLI's
``s3api put/get-bucket-acl``, ``put/get-object-acl``, ``put-public-access-block``,
``put-bucket-ownership-controls`` and ``s3 cp --acl public-read``, against the real server."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from sealbox.service.identity import canonical_id
from tests.s3.test_aws_cli import aws
from tests.support import REGION, Server, unique_bucket

S3CMD = Path(sys.executable).parent / "s3cmd"
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


def anonymous_get(server: Server, path: str) -> int:
    try:
        with urllib.request.urlopen(f"{server.endpoint}{path}", timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


@pytest.fixture
def s3cmd(server: Server, tmp_path: Path) -> Any:
    if not S3CMD.exists():
        pytest.fail(f"s3cmd is part of the test dependencies (pyproject's test extra) but {S3CMD} is missing")
    import subprocess

    config = tmp_path / "s3cfg"
    host = f"127.0.0.1:{server.port}"
    # host_bucket without %(bucket)s: path-style requests to the loopback server; SigV4, plain HTTP
    config.write_text(f"[default]\naccess_key = {server.access_key}\nsecret_key = {server.secret_key}\n"
                      f"host_base = {host}\nhost_bucket = {host}\nuse_https = False\nsignature_v2 = False\n"
                      f"bucket_location = {REGION}\ncheck_ssl_certificate = False\nprogress_meter = False\n")

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([str(S3CMD), "-c", str(config), *args], capture_output=True, text=True, timeout=60,
                                env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
        if check and result.returncode != 0:
            raise AssertionError(f"s3cmd {' '.join(args)}: {result.returncode}\n{result.stdout}\n{result.stderr}")
        return result
    return run


def test_s3cmd_cp_keeps_the_acl_in_an_enforced_bucket(server: Server, s3cmd: Any, tmp_path: Path) -> None:
    """New buckets are BucketOwnerEnforced: s3cmd's PUT ?acl after cp carries the owner-only ACL it
    read, which AWS accepts with ACLs disabled; an ACL that grants others is refused as AWS does."""
    bucket = unique_bucket("s3cmd")
    src = tmp_path / "f.txt"
    src.write_bytes(b"from s3cmd\n")
    s3cmd("mb", f"s3://{bucket}")
    s3cmd("put", str(src), f"s3://{bucket}/src.txt")
    s3cmd("cp", f"s3://{bucket}/src.txt", f"s3://{bucket}/dst.txt")
    info = s3cmd("info", f"s3://{bucket}/dst.txt").stdout
    assert "root: FULL_CONTROL" in info and "MD5 sum:   " in info
    refused = s3cmd("setacl", "--acl-public", f"s3://{bucket}/dst.txt", check=False)
    assert refused.returncode != 0 and "AccessControlListNotSupported" in refused.stderr
    assert anonymous_get(server, f"/{bucket}/dst.txt") == 403
    s3cmd("get", f"s3://{bucket}/dst.txt", str(tmp_path / "back.txt"))
    assert (tmp_path / "back.txt").read_bytes() == b"from s3cmd\n"


def test_s3cmd_public_upload_copy_and_setacl(server: Server, s3cmd: Any, tmp_path: Path) -> None:
    bucket = unique_bucket("s3cmd")
    s3 = server.client()
    s3.create_bucket(Bucket=bucket, ObjectOwnership="ObjectWriter")
    src = tmp_path / "f.txt"
    src.write_bytes(b"public\n")
    s3cmd("put", "--acl-public", str(src), f"s3://{bucket}/pub.txt")
    assert anonymous_get(server, f"/{bucket}/pub.txt") == 200
    # cp: GET ?acl of the source, CopyObject, PUT ?acl of the copy with that document
    s3cmd("cp", f"s3://{bucket}/pub.txt", f"s3://{bucket}/copy.txt")
    assert anonymous_get(server, f"/{bucket}/copy.txt") == 200
    assert "*anon*: READ" in s3cmd("info", f"s3://{bucket}/copy.txt").stdout
    s3cmd("setacl", "--acl-private", f"s3://{bucket}/copy.txt")
    assert anonymous_get(server, f"/{bucket}/copy.txt") == 403
    s3cmd("setacl", f"--acl-grant=read:{canonical_id('root')}", f"s3://{bucket}/copy.txt")
    s3cmd("setacl", "--acl-public", "--recursive", f"s3://{bucket}")
    assert anonymous_get(server, f"/{bucket}/copy.txt") == 200
    unknown = s3cmd("setacl", "--acl-grant=read:nobody@example.com", f"s3://{bucket}/copy.txt", check=False)
    assert unknown.returncode != 0 and "UnresolvableGrantByEmailAddress" in unknown.stderr


def _json(server: Server, *args: str) -> Any:
    out = aws(server, *args).stdout
    return json.loads(out) if out.strip() else None


def test_aws_cli_acls_ownership_and_public_access_block(server: Server, tmp_path: Path) -> None:
    bucket = unique_bucket("cliacl")
    aws(server, "s3api", "create-bucket", "--bucket", bucket, "--object-ownership", "ObjectWriter")
    aws(server, "s3api", "put-public-access-block", "--bucket", bucket, "--public-access-block-configuration",
        "BlockPublicAcls=false,IgnorePublicAcls=false,BlockPublicPolicy=false,RestrictPublicBuckets=false")
    assert _json(server, "s3api", "get-public-access-block", "--bucket", bucket)[
        "PublicAccessBlockConfiguration"] == {"BlockPublicAcls": False, "IgnorePublicAcls": False,
                                              "BlockPublicPolicy": False, "RestrictPublicBuckets": False}
    aws(server, "s3api", "put-bucket-ownership-controls", "--bucket", bucket, "--ownership-controls",
        "Rules=[{ObjectOwnership=BucketOwnerPreferred}]")
    assert _json(server, "s3api", "get-bucket-ownership-controls", "--bucket", bucket)["OwnershipControls"] == {
        "Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]}

    src = tmp_path / "doc.txt"
    src.write_text("readable by all")
    aws(server, "s3", "cp", str(src), f"s3://{bucket}/doc.txt", "--acl", "public-read")
    assert anonymous_get(server, f"/{bucket}/doc.txt") == 200
    acl = _json(server, "s3api", "get-object-acl", "--bucket", bucket, "--key", "doc.txt")
    assert {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"} in acl["Grants"]
    aws(server, "s3api", "put-object-acl", "--bucket", bucket, "--key", "doc.txt", "--acl", "private")
    assert anonymous_get(server, f"/{bucket}/doc.txt") == 403
    # a whole AccessControlPolicy document, as read back, plus a grant to everyone
    acl = _json(server, "s3api", "get-object-acl", "--bucket", bucket, "--key", "doc.txt")
    acl["Grants"].append({"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"})
    policy = tmp_path / "acl.json"
    policy.write_text(json.dumps({"Owner": acl["Owner"], "Grants": acl["Grants"]}))
    aws(server, "s3api", "put-object-acl", "--bucket", bucket, "--key", "doc.txt", "--access-control-policy",
        f"file://{policy}")
    assert anonymous_get(server, f"/{bucket}/doc.txt") == 200

    aws(server, "s3api", "put-bucket-acl", "--bucket", bucket, "--acl", "public-read")
    assert anonymous_get(server, f"/{bucket}?list-type=2") == 200
    bucket_acl = _json(server, "s3api", "get-bucket-acl", "--bucket", bucket)
    assert {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"} in bucket_acl["Grants"]
    assert bucket_acl["Owner"]["ID"] == canonical_id("root")
    aws(server, "s3api", "put-bucket-acl", "--bucket", bucket, "--grant-full-control",
        f"id={canonical_id('root')}")
    assert anonymous_get(server, f"/{bucket}?list-type=2") == 403

    # Block Public Access: a public ACL is refused from now on
    aws(server, "s3api", "put-public-access-block", "--bucket", bucket, "--public-access-block-configuration",
        "BlockPublicAcls=true,IgnorePublicAcls=false,BlockPublicPolicy=false,RestrictPublicBuckets=false")
    refused = aws(server, "s3", "cp", str(src), f"s3://{bucket}/again.txt", "--acl", "public-read", check=False)
    assert refused.returncode != 0 and "AccessDenied" in refused.stderr
    # ACLs disabled: public ACL writes answer AccessControlListNotSupported
    aws(server, "s3api", "put-bucket-ownership-controls", "--bucket", bucket, "--ownership-controls",
        "Rules=[{ObjectOwnership=BucketOwnerEnforced}]")
    refused = aws(server, "s3api", "put-object-acl", "--bucket", bucket, "--key", "doc.txt", "--acl", "public-read",
                  check=False)
    assert refused.returncode != 0 and "AccessControlListNotSupported" in refused.stderr
    aws(server, "s3api", "delete-public-access-block", "--bucket", bucket)
    aws(server, "s3api", "delete-bucket-ownership-controls", "--bucket", bucket)
    missing = aws(server, "s3api", "get-bucket-ownership-controls", "--bucket", bucket, check=False)
    assert missing.returncode != 0 and "OwnershipControlsNotFoundError" in missing.stderr


def test_s3cmd_bucket_info_reads_the_unconfigured_features(server: Server, s3cmd: Any) -> None:
    """s3cmd info on a bucket reads ?location, ?requestPayment, ?versioning, ?lifecycle, ?policy, ?cors, ?acl;
    Requester Pays is not built, so GetBucketRequestPayment answers AWS's default (it used to be 501)."""
    bucket = unique_bucket()
    server.client().create_bucket(Bucket=bucket)
    info = s3cmd("info", f"s3://{bucket}").stdout
    assert "Payer:     BucketOwner" in info, info
    assert "ERROR" not in info

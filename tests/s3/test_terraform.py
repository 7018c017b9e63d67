"""Terraform's AWS provider against sealbox (issues 14, 15 and 17): apply, plan with no changes, destroy.

Terraform compares what it reads back with what it put, so ``terraform plan -detailed-exitcode``
answering 0 after ``apply`` proves every resource below round-trips exactly: bucket tags,
versioning (Enabled and Suspended), SSE-S3 and SSE-KMS default encryption (KMS keys, one rotating,
and an alias through sealbox's KMS API), a lifecycle configuration of five rules, Object Lock,
Block Public Access, Object Ownership, a canned ACL and a grant-by-grant one, a bucket policy, CORS,
and objects with tags, one SSE-KMS with a bucket key under GOVERNANCE retention (``force_destroy``:
destroy deletes its versions with the bypass header). The provider comes from the local
filesystem mirror (no network), and the whole test takes ~2 minutes: the provider waits until ten
reads of a lifecycle configuration 5 s apart agree (~55 s), and each terraform command starts the
provider again (~5-10 s each).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.support import Server, unique_bucket

TERRAFORM = Path("/usr/local/bin/terraform")
MIRROR = Path("/opt/tf-plugins")
PROVIDER = MIRROR / "registry.terraform.io/hashicorp/aws/5.100.0/linux_amd64"
CONFIG = Path(__file__).parent / "terraform" / "main.tf"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not TERRAFORM.exists(), reason=f"Terraform is not installed at {TERRAFORM}"),
    pytest.mark.skipif(not PROVIDER.is_dir(), reason=f"the AWS provider 5.100.0 is not in the mirror {MIRROR}"),
]


def _terraform(workdir: Path, env: dict[str, str], *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(TERRAFORM), *args, "-no-color"], cwd=workdir, env=env, capture_output=True,
                          text=True, timeout=timeout)


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"{result.args}: {result.stdout[-6000:]}\n{result.stderr[-6000:]}"
    return result.stdout


def test_terraform_apply_plan_destroy(server: Server, tmp_path: Path) -> None:
    workdir = tmp_path / "tf"
    workdir.mkdir()
    shutil.copy(CONFIG, workdir / "main.tf")
    cli_config = tmp_path / "cli.tfrc"
    cli_config.write_text('provider_installation {\n  filesystem_mirror {\n    path = "%s"\n  }\n}\n' % MIRROR)
    bucket = unique_bucket("tf")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
           "TF_CLI_CONFIG_FILE": str(cli_config), "TF_IN_AUTOMATION": "1", "TF_INPUT": "0",
           "CHECKPOINT_DISABLE": "1", "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
           "AWS_EC2_METADATA_DISABLED": "true",
           "TF_VAR_endpoint": server.endpoint, "TF_VAR_bucket": bucket,
           "TF_VAR_access_key": server.access_key, "TF_VAR_secret_key": server.secret_key}

    _ok(_terraform(workdir, env, "init", timeout=60))
    _ok(_terraform(workdir, env, "apply", "-auto-approve", timeout=180))

    s3 = server.client()
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert sorted(r["ID"] for r in rules) == ["logs", "markers", "tagged", "tmp-tagged", "uploads"]
    sse = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert sse["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]["Rule"] == {
        "DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}
    assert s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerPreferred"}]
    assert {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]} == {"team": "ops",
                                                                                             "env": "test"}
    plain = f"{bucket}-sse-s3"
    got = s3.get_object(Bucket=plain, Key="hello.txt")
    assert got["Body"].read() == b"hello from terraform\n" and got["ServerSideEncryption"] == "AES256"
    assert s3.get_object_tagging(Bucket=plain, Key="hello.txt")["TagSet"] == [{"Key": "made", "Value": "tf"}]
    grants = s3.get_bucket_acl(Bucket=plain)["Grants"]
    assert {"Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"},
            "Permission": "READ"} in grants
    locked = s3.head_object(Bucket=bucket, Key="backups/locked.bin")
    assert locked["ObjectLockMode"] == "GOVERNANCE" and locked["ServerSideEncryption"] == "aws:kms"
    assert locked["BucketKeyEnabled"] is True

    plan = _terraform(workdir, env, "plan", "-detailed-exitcode", timeout=120)
    assert plan.returncode == 0, f"terraform sees a difference after apply:\n{plan.stdout[-8000:]}\n{plan.stderr}"

    _ok(_terraform(workdir, env, "destroy", "-auto-approve", timeout=120))
    for name in (bucket, plain):
        with pytest.raises(ClientError) as e:
            s3.head_bucket(Bucket=name)
        assert e.value.response["Error"]["Code"] == "404"

"""The AWS CLI against sealbox: aws s3 cp/ls/rm and aws s3api with --server-side-encryption."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import REGION, Server

AWS = Path(sys.executable).parent / "aws"


def aws(server: Server, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": server.access_key, "AWS_SECRET_ACCESS_KEY": server.secret_key,
           "AWS_DEFAULT_REGION": REGION, "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    result = subprocess.run([str(AWS), "--endpoint-url", server.endpoint, *args], capture_output=True, text=True,
                            env=env, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"aws {' '.join(args)} failed: {result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="module", autouse=True)
def _has_cli() -> None:
    if not AWS.exists():
        pytest.fail(f"the AWS CLI is part of the test dependencies but {AWS} is missing")


def test_s3_cp_ls_rm(server: Server, bucket: str, tmp_path: Path) -> None:
    src = tmp_path / "hello.txt"
    src.write_bytes(b"hello from the aws cli\n" * 1000)
    aws(server, "s3", "cp", str(src), f"s3://{bucket}/dir/hello.txt")
    listing = aws(server, "s3", "ls", f"s3://{bucket}/dir/").stdout
    assert "hello.txt" in listing and str(src.stat().st_size) in listing
    dst = tmp_path / "back.txt"
    aws(server, "s3", "cp", f"s3://{bucket}/dir/hello.txt", str(dst))
    assert dst.read_bytes() == src.read_bytes()
    aws(server, "s3", "rm", f"s3://{bucket}/dir/hello.txt")
    assert "hello.txt" not in aws(server, "s3", "ls", f"s3://{bucket}/dir/", check=False).stdout


def test_s3_cp_large_file_multipart_with_sse(server: Server, bucket: str, tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(12 * 1024 * 1024))
    aws(server, "s3", "cp", str(src), f"s3://{bucket}/big.bin", "--sse", "AES256")
    head = json.loads(aws(server, "s3api", "head-object", "--bucket", bucket, "--key", "big.bin").stdout)
    assert head["ServerSideEncryption"] == "AES256"
    assert head["ContentLength"] == src.stat().st_size
    dst = tmp_path / "big.out"
    aws(server, "s3", "cp", f"s3://{bucket}/big.bin", str(dst))
    assert dst.read_bytes() == src.read_bytes()


def test_s3api_put_object_with_sse_and_head(server: Server, bucket: str, tmp_path: Path) -> None:
    src = tmp_path / "doc.txt"
    src.write_text("encrypted by request")
    out = json.loads(aws(server, "s3api", "put-object", "--bucket", bucket, "--key", "doc.txt", "--body", str(src),
                         "--server-side-encryption", "AES256").stdout)
    assert out["ServerSideEncryption"] == "AES256"
    head = json.loads(aws(server, "s3api", "head-object", "--bucket", bucket, "--key", "doc.txt").stdout)
    assert head["ServerSideEncryption"] == "AES256"
    plain = json.loads(aws(server, "s3api", "put-object", "--bucket", bucket, "--key", "plain.txt", "--body",
                           str(src)).stdout)
    assert "ServerSideEncryption" not in plain


def test_s3api_error_is_reported(server: Server, bucket: str) -> None:
    result = aws(server, "s3api", "head-object", "--bucket", bucket, "--key", "missing", check=False)
    assert result.returncode != 0 and "404" in result.stderr
    result = aws(server, "s3api", "put-object", "--bucket", bucket, "--key", "k", "--server-side-encryption",
                 "aws:kms", "--ssekms-key-id", "alias/no-such-key", check=False)
    assert result.returncode != 0 and "KMS.NotFoundException" in result.stderr


def test_s3_sync(server: Server, bucket: str, tmp_path: Path) -> None:
    src = tmp_path / "tree"
    (src / "a" / "b").mkdir(parents=True)
    for name in ("one.txt", "a/two.txt", "a/b/three.txt"):
        (src / name).write_text(name)
    aws(server, "s3", "sync", str(src), f"s3://{bucket}/tree")
    listing = aws(server, "s3", "ls", "--recursive", f"s3://{bucket}/tree/").stdout
    for name in ("tree/one.txt", "tree/a/two.txt", "tree/a/b/three.txt"):
        assert name in listing

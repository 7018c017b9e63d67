"""SSE-C with the tools people have: the AWS CLI (``--sse-c``, ``--sse-c-copy-source``), the Ruby SDK and the
JavaScript SDK v3 (both compute the key MD5 themselves); what each stored is then read back with boto3."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support import REGION, Server, running_server, unique_bucket

HERE = Path(__file__).resolve().parent
AWS = Path(sys.executable).parent / "aws"
KEY_A, KEY_B = os.urandom(32), os.urandom(32)
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("ssec-sdk") / "data", "--allow-sse-c-over-http") as server:
        yield server
        assert "Traceback" not in server.log(), server.log()


@pytest.fixture
def bucket(srv: Server) -> str:
    name = unique_bucket("sdk")
    srv.client().create_bucket(Bucket=name)
    return name


def _env(srv: Server) -> dict[str, str]:
    env = {**os.environ, "SEALBOX_ENDPOINT": srv.endpoint, "AWS_ACCESS_KEY_ID": srv.access_key,
           "AWS_SECRET_ACCESS_KEY": srv.secret_key, "AWS_DEFAULT_REGION": REGION, "AWS_CONFIG_FILE": "/dev/null",
           "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    env.pop("AWS_PROFILE", None)
    return env


def aws(srv: Server, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(AWS), "--endpoint-url", srv.endpoint, *args], capture_output=True, text=True,
                          env=_env(srv), timeout=180, check=False)
    assert done.returncode == 0, f"aws {' '.join(args)}: {done.stdout}\n{done.stderr}"
    return done


def sse_c(key: bytes) -> dict[str, Any]:
    return {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}


def test_aws_cli_cp_and_copy_with_sse_c(srv: Server, bucket: str, tmp_path: Path) -> None:
    if not AWS.exists():
        pytest.fail(f"the AWS CLI is part of the test dependencies but {AWS} is missing")
    key_a, key_b = tmp_path / "a.key", tmp_path / "b.key"
    key_a.write_bytes(KEY_A)
    key_b.write_bytes(KEY_B)
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(12 * MIB))  # multipart in the CLI's 8 MiB parts, each with the key
    aws(srv, "s3", "cp", str(src), f"s3://{bucket}/big.bin", "--sse-c", "AES256", "--sse-c-key", f"fileb://{key_a}")
    s3 = srv.client()
    assert s3.get_object(Bucket=bucket, Key="big.bin", **sse_c(KEY_A))["Body"].read() == src.read_bytes()
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="big.bin")
    back = tmp_path / "back.bin"
    aws(srv, "s3", "cp", f"s3://{bucket}/big.bin", str(back), "--sse-c", "AES256", "--sse-c-key", f"fileb://{key_a}")
    assert back.read_bytes() == src.read_bytes()
    # s3 cp between objects: from key A to key B (the CLI copies 12 MiB with UploadPartCopy)
    aws(srv, "s3", "cp", f"s3://{bucket}/big.bin", f"s3://{bucket}/big-b.bin", "--sse-c-copy-source", "AES256",
        "--sse-c-copy-source-key", f"fileb://{key_a}", "--sse-c", "AES256", "--sse-c-key", f"fileb://{key_b}")
    assert s3.get_object(Bucket=bucket, Key="big-b.bin", **sse_c(KEY_B))["Body"].read() == src.read_bytes()
    # and out of SSE-C to SSE-S3
    aws(srv, "s3", "cp", f"s3://{bucket}/big-b.bin", f"s3://{bucket}/s3.bin", "--sse-c-copy-source", "AES256",
        "--sse-c-copy-source-key", f"fileb://{key_b}", "--sse", "AES256")
    head = s3.head_object(Bucket=bucket, Key="s3.bin")
    assert head["ServerSideEncryption"] == "AES256" and head["ContentLength"] == 12 * MIB
    got = json.loads(aws(srv, "s3api", "head-object", "--bucket", bucket, "--key", "big.bin", "--sse-customer-algorithm",
                         "AES256", "--sse-customer-key", f"fileb://{key_a}").stdout)
    assert got["SSECustomerAlgorithm"] == "AES256" and got["ContentLength"] == 12 * MIB


def _ruby_sdk() -> bool:
    return shutil.which("ruby") is not None and subprocess.run(
        ["ruby", "-e", "require 'aws-sdk-s3'"], capture_output=True, timeout=60, check=False).returncode == 0


@pytest.mark.skipif(not _ruby_sdk(), reason="ruby with aws-sdk-s3 is missing: run scripts/install-test-deps.sh")
def test_ruby_sdk_sse_c(server: Server) -> None:
    """Over the shared server's HTTPS listener: the Ruby SDK refuses to send a customer key over HTTP."""
    srv = server
    bucket = unique_bucket("sdk")
    srv.client().create_bucket(Bucket=bucket)
    env = {**_env(srv), "SEALBOX_ENDPOINT": srv.tls_endpoint, "SEALBOX_CA": str(srv.cert)}
    run = subprocess.run(["ruby", str(HERE / "ruby" / "sse_c_flows.rb"), bucket, base64.b64encode(KEY_A).decode(),
                          base64.b64encode(KEY_B).decode()], capture_output=True, text=True, env=env,
                         timeout=180, check=False)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["put"]["algorithm"] == "AES256" and out["put"]["md5"]
    assert (out["get"], out["head"], out["wrong"]) == ("hello from ruby", 15, 403)
    assert out["copy"] == "hello from ruby" and out["multipart_tail"] == "atail"
    s3 = srv.client(tls=True)
    assert s3.get_object(Bucket=bucket, Key="rb-b.txt", **sse_c(KEY_B))["Body"].read() == b"hello from ruby"
    assert s3.head_object(Bucket=bucket, Key="rb-mp.bin", **sse_c(KEY_A))["ContentLength"] == 5 * MIB + 4


@pytest.mark.skipif(shutil.which("node") is None or not (HERE / "js" / "node_modules" / "@aws-sdk" / "client-s3").is_dir(),
                    reason="node or the JS SDK is missing: run scripts/install-test-deps.sh")
def test_js_sdk_sse_c(srv: Server, bucket: str) -> None:
    run = subprocess.run(["node", str(HERE / "js" / "sse_c_flows.mjs"), bucket, base64.b64encode(KEY_A).decode(),
                          base64.b64encode(KEY_B).decode()], capture_output=True, text=True, env=_env(srv),
                         cwd=HERE / "js", timeout=180, check=False)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["put"]["algorithm"] == "AES256" and out["put"]["md5"]
    assert (out["get"], out["range"], out["head"], out["wrong"]) == ("hello from node", "from", 15, 403)
    assert out["copy"] == "hello from node" and out["multipart_tail"] == "AAhello from node"
    s3 = srv.client()
    assert s3.get_object(Bucket=bucket, Key="js-mp.bin", **sse_c(KEY_A))["ContentLength"] == 5 * MIB + 15

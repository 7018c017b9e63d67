"""The spec's SDK walkthroughs with the AWS SDK for JavaScript v3 under Node.

tests/sdk/js/spec_flows.mjs (installed with ``npm ci`` by scripts/install-test-deps.d/js-sdk.sh from the
committed package-lock.json) runs the flows against the session server: upload with SSE, the encryption
state from HeadObject and GetObject, copy-to-encrypt then delete the source, copy in place, copy across
buckets, and a multipart upload with ServerSideEncryption through @aws-sdk/lib-storage. This test checks
what the SDK saw, then the stored objects through boto3.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support import Server, unique_bucket

HERE = Path(__file__).resolve().parent / "js"
MIB = 1024 * 1024

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (HERE / "node_modules" / "@aws-sdk" / "lib-storage").is_dir(),
    reason="node or the JS SDK is missing: run scripts/install-test-deps.sh")


def test_js_sdk_flows_against_sealbox(server: Server, s3: Any) -> None:
    source, target = unique_bucket("js"), unique_bucket("js")
    s3.create_bucket(Bucket=source)
    s3.create_bucket(Bucket=target)
    env = {**os.environ, "SEALBOX_ENDPOINT": server.endpoint, "AWS_ACCESS_KEY_ID": server.access_key,
           "AWS_SECRET_ACCESS_KEY": server.secret_key}
    env.pop("AWS_PROFILE", None)
    run = subprocess.run(["node", str(HERE / "spec_flows.mjs"), source, target], capture_output=True, text=True,
                         env=env, cwd=HERE, timeout=180, check=False)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])

    assert (out["put_sse"], out["head_sse"]) == ("AES256", "AES256")
    assert out["get_sse"] == {"sse": "AES256", "text": "Test object encrypted with SSE"}
    assert out["put_plain"] == "not set"
    assert out["copy_sse"] == "AES256" and out["copy_has_result"] is True
    assert out["copy_body"] == {"sse": "AES256", "text": "Object example to encrypt by copying"}
    assert (out["in_place_sse"], out["in_place_state"]) == ("AES256", "AES256")
    assert out["across_sse"] == "not set"
    multipart = out["multipart"]
    assert multipart["sse"] == "AES256" and multipart["state"] == "AES256"
    assert multipart["etag"].strip('"').endswith("-3")  # 12 MiB in 5 MiB parts
    assert out["kms"] == "accepted"  # SSE-KMS exists now (issue 14): the copy is encrypted under aws/s3

    # Through boto3: bytes and encryption as the flows left them.
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=source)["Contents"]}
    assert keys == {"encrypted-on-upload.txt", "encrypted-copy.txt", "in-place.txt"}
    assert "ServerSideEncryption" not in s3.head_object(Bucket=target, Key="copied.txt")
    head = s3.head_object(Bucket=target, Key="multipart.bin", PartNumber=1)
    assert head["ServerSideEncryption"] == "AES256" and head["PartsCount"] == 3
    got = s3.get_object(Bucket=target, Key="multipart.bin")
    expected = hashlib.sha256(b"".join(bytes([65 + i]) * MIB for i in range(12))).hexdigest()
    assert got["ContentLength"] == 12 * MIB
    assert hashlib.sha256(got["Body"].read()).hexdigest() == expected
    assert s3.head_object(Bucket=target, Key="kms.txt")["ServerSideEncryption"] == "aws:kms"

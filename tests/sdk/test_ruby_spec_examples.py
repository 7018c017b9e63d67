"""The spec's Ruby examples, run unchanged (but for the endpoint) with the Ruby SDK (ruby-aws-sdk-s3).

tests/sdk/ruby/spec_examples.rb holds the three code blocks of the spec's Ruby section verbatim;
run_spec_examples.rb calls them against the session server. This test checks what they return and
print, then checks through boto3 that the objects really are (or are not) encrypted.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support import Server, unique_bucket

HERE = Path(__file__).resolve().parent / "ruby"


def _ruby_sdk_available() -> bool:
    if shutil.which("ruby") is None:
        return False
    return subprocess.run(["ruby", "-e", "require 'aws-sdk-s3'"], capture_output=True, timeout=60, check=False).returncode == 0


pytestmark = pytest.mark.skipif(not _ruby_sdk_available(),
                                reason="ruby with aws-sdk-s3 is missing: run scripts/install-test-deps.sh")


def test_spec_examples_file_is_the_spec_verbatim() -> None:
    """Guard against 'fixing' the examples: every line of each spec code block is in the .rb file, in order."""
    spec = (Path(__file__).resolve().parents[3] / "shared" / "spec" / "specifying-amazon-s3-encryption.md")
    if not spec.exists():
        pytest.skip(f"the spec is not at {spec}")
    text = spec.read_text()
    ruby_section = text[text.index("#### [ Ruby ]"):]
    blocks = ruby_section.split("```\n")[1::2]
    assert len(blocks) == 3
    assert "\n".join(b.rstrip("\n") + "\n" for b in blocks) in (HERE / "spec_examples.rb").read_text()


def test_ruby_examples_against_sealbox(server: Server, s3: Any) -> None:
    source, target, missing = unique_bucket("rb"), unique_bucket("rb"), unique_bucket("rb-missing")
    s3.create_bucket(Bucket=source)
    s3.create_bucket(Bucket=target)
    env = {**os.environ, "SEALBOX_ENDPOINT": server.endpoint, "AWS_ACCESS_KEY_ID": server.access_key,
           "AWS_SECRET_ACCESS_KEY": server.secret_key}
    env.pop("AWS_PROFILE", None)
    run = subprocess.run(["ruby", str(HERE / "run_spec_examples.rb"), source, target, missing],
                         capture_output=True, text=True, env=env, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])

    # upload_file_encrypted_aes256_at_rest? succeeded; get_server_side_encryption_state reads AES256.
    assert out["upload"] == {"value": True, "printed": ""}
    assert out["state_uploaded"] == "AES256"
    # An object uploaded without SSE: the example's 'not set'.
    assert out["state_plain"] == "not set"
    # object_copied_with_encryption? returned true (copy_object_result present) and the copy is encrypted.
    assert out["copy"] == {"value": True, "printed": ""}
    assert out["state_copy"] == "AES256"
    assert out["copy_body"] == "This is my-source-file.txt."
    assert out["state_source_after_delete"].startswith("unknown or error: ")
    assert out["copy_in_place"] == {"value": True, "printed": ""}
    assert out["state_in_place"] == "AES256"
    # The error paths print the service's message and return false / nil.
    assert out["upload_missing_bucket"]["value"] is False
    assert out["upload_missing_bucket"]["printed"].startswith("Error uploading object: ")
    # SSE-KMS exists now (issue 14): the example's copy with aws:kms succeeds, under aws/s3.
    assert out["copy_kms"] == {"value": True, "printed": ""}

    # What boto3 sees: the objects really are encrypted, or not, and hold the right bytes.
    head = s3.head_object(Bucket=source, Key="my-file.txt")
    assert head["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket=source, Key="my-file.txt")["Body"].read() == b"This is the content of my-file.txt."
    assert s3.head_object(Bucket=target, Key="my-target-file.txt")["ServerSideEncryption"] == "AES256"
    assert s3.head_object(Bucket=source, Key="in-place.txt")["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket=source, Key="in-place.txt")["Body"].read() == b"encrypt me where I am"
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=source).get("Contents", [])}
    assert keys == {"my-file.txt", "in-place.txt"}  # the unencrypted source was deleted
    assert s3.head_object(Bucket=target, Key="kms.txt")["ServerSideEncryption"] == "aws:kms"

"""A large part of the S3 black-box suite (tests/s3/) against two gateways on one PostgreSQL
database and one data directory, each boto3 request going to the next gateway in turn
(``SEALBOX_TEST_GATEWAYS=2``: see the ``server`` fixture in tests/conftest.py).

It runs as a pytest of its own, in a subprocess, so that its session-wide ``server`` is the pair of
gateways and not the single server of this session. The files chosen use the shared server (not
servers of their own) and cover objects, listings, versions, conditional writes, multipart, copy,
tagging, policies, ACLs, SSE-S3, SSE-KMS and Object Lock: 514 tests, 2 to 4 minutes on the shared
2-core machine. Left out: the tests that read a server's SQLite file directly (white-box checks of
what is at rest), and the files that start servers of their own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FILES = [
    "test_objects.py", "test_list_objects.py", "test_list_objects_encoding.py", "test_list_object_versions.py",
    "test_bucket_versioning.py", "test_delete_markers.py", "test_conditional_writes.py",
    "test_conditional_deletes.py", "test_multipart_upload.py", "test_complete_multipart_upload.py",
    "test_copy_object.py", "test_upload_part_copy.py", "test_object_tagging.py", "test_bucket_tagging.py",
    "test_object_metadata.py", "test_get_object_range.py", "test_get_object_attributes.py",
    "test_server_side_encryption.py", "test_bucket_encryption.py", "test_bucket_policy.py", "test_acl.py",
    "test_buckets.py", "test_delete_bucket.py", "test_sse_kms.py", "test_object_lock.py",
]
# White-box: reads the data directory's SQLite file, which gateways on PostgreSQL do not have.
DESELECT = ["tests/s3/test_bucket_encryption.py::test_default_applies_to_put"]
SUITE_TIMEOUT = 600  # seconds: a hung run fails instead of holding CI


@pytest.mark.slow
def test_s3_black_box_suite_against_two_gateways() -> None:
    env = {**os.environ, "SEALBOX_TEST_GATEWAYS": "2", "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", "-m", "not slow",
            *(str(ROOT / "tests" / "s3" / name) for name in FILES), *(f"--deselect={d}" for d in DESELECT)]
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=SUITE_TIMEOUT)
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-4000:]
    assert " passed" in done.stdout

"""Issue 17's restic-style proof with the AWS CLI: write objects under COMPLIANCE retention, try to delete
and overwrite them in every way the API allows (delete-object with and without --version-id,
delete-objects, put-object-retention shortening / removing / weakening, --bypass-governance-retention,
put-object over the key, aws s3 rm --recursive, lifecycle expiration with accelerated days), then read
every locked version back byte for byte (SHA-256)."""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.s3.test_aws_cli import AWS, aws
from tests.s3.test_bucket_lifecycle import DAY, _run_pass, _until_due
from tests.support import Server, running_server, unique_bucket


@pytest.fixture(scope="module")
def fast(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if not AWS.exists():
        pytest.fail(f"the AWS CLI is part of the test dependencies but {AWS} is missing")
    with running_server(tmp_path_factory.mktemp("cli-lock") / "data", "--lifecycle-day-seconds", str(DAY)) as srv:
        yield srv
    assert "Traceback" not in srv.log(), srv.log()


def _json(server: Server, *args: str) -> Any:
    out = aws(server, *args).stdout
    return json.loads(out) if out.strip() else {}


def _denied(server: Server, *args: str) -> None:
    result = aws(server, *args, check=False)
    assert result.returncode != 0 and "AccessDenied" in result.stderr, (args, result.stdout, result.stderr)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.slow  # ~35 AWS CLI runs at ~2 s each, and two accelerated lifecycle days
def test_compliance_versions_survive_every_delete_and_overwrite(fast: Server, tmp_path: Path) -> None:
    bucket = unique_bucket("restic")
    aws(fast, "s3api", "create-bucket", "--bucket", bucket, "--object-lock-enabled-for-bucket")
    until = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) + datetime.timedelta(days=7)
    until_text = until.strftime("%Y-%m-%dT%H:%M:%SZ")
    sooner_text = (until - datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")

    # restic-like pack files: small (inline in the metadata) and large (a blob file), Content-MD5 or a checksum
    locked: dict[tuple[str, str], str] = {}  # (key, version id) -> sha256
    for i, size in enumerate((100, 5000, 300_000, 1_500_000)):
        key = f"data/{i:02x}/pack{i}"
        body = os.urandom(size)
        src = tmp_path / f"pack{i}"
        src.write_bytes(body)
        integrity = ["--content-md5", base64.b64encode(hashlib.md5(body).digest()).decode()] if i % 2 == 0 \
            else ["--checksum-algorithm", "SHA256"]
        out = _json(fast, "s3api", "put-object", "--bucket", bucket, "--key", key, "--body", str(src),
                    "--object-lock-mode", "COMPLIANCE", "--object-lock-retain-until-date", until_text, *integrity)
        locked[(key, out["VersionId"])] = _sha(body)
    head = _json(fast, "s3api", "head-object", "--bucket", bucket, "--key", "data/00/pack0")
    assert head["ObjectLockMode"] == "COMPLIANCE" and head["ObjectLockRetainUntilDate"].startswith(until_text[:19])
    # a version without a lock, in the same bucket, is deleted by the same calls: the refusals below are the lock's
    scratch = tmp_path / "scratch"
    scratch.write_bytes(b"unlocked")
    free = _json(fast, "s3api", "put-object", "--bucket", bucket, "--key", "scratch", "--body", str(scratch))
    aws(fast, "s3api", "delete-object", "--bucket", bucket, "--key", "scratch", f"--version-id={free['VersionId']}")

    # each AWS CLI call costs ~2 s of start-up: the full matrix on an inline and a blob-file version,
    # delete-objects (below) on all of them
    (key0, vid0), (key3, vid3) = list(locked)[0], list(locked)[-1]
    for key, vid in ((key0, vid0), (key3, vid3)):
        for bypass in ([], ["--bypass-governance-retention"]):
            _denied(fast, "s3api", "delete-object", "--bucket", bucket, "--key", key, f"--version-id={vid}", *bypass)
    # shorten, remove, or weaken the retention, with and without bypass
    for retention in ({"Mode": "COMPLIANCE", "RetainUntilDate": sooner_text},
                      {"Mode": "GOVERNANCE", "RetainUntilDate": until_text}, {}):
        for bypass in ([], ["--bypass-governance-retention"]):
            _denied(fast, "s3api", "put-object-retention", "--bucket", bucket, "--key", key3, f"--version-id={vid3}",
                    "--retention", json.dumps(retention), *bypass)
    # the legal hold can be switched on and off: that never loosens the retention
    for status in ("ON", "OFF"):
        aws(fast, "s3api", "put-object-legal-hold", "--bucket", bucket, "--key", key0, f"--version-id={vid0}",
            "--legal-hold", f"Status={status}")
    _denied(fast, "s3api", "delete-object", "--bucket", bucket, "--key", key0, f"--version-id={vid0}",
            "--bypass-governance-retention")

    # delete-objects for all of them, with and without bypass: one AccessDenied per key, nothing deleted
    spec = json.dumps({"Objects": [{"Key": k, "VersionId": v} for k, v in locked], "Quiet": False})
    for bypass in ([], ["--bypass-governance-retention"]):
        out = _json(fast, "s3api", "delete-objects", "--bucket", bucket, "--delete", spec, *bypass)
        assert sorted((e["Key"], e["VersionId"], e["Code"]) for e in out["Errors"]) == \
            sorted((k, v, "AccessDenied") for k, v in locked)
        assert not out.get("Deleted")

    # deletes without a version id and overwrites only add delete markers / versions
    marker = _json(fast, "s3api", "delete-object", "--bucket", bucket, "--key", key0)
    assert marker["DeleteMarker"] is True
    aws(fast, "s3", "rm", "--recursive", f"s3://{bucket}/data/")
    overwritten: dict[str, str] = {}
    for key, _ in locked:
        body = os.urandom(1000)
        src = tmp_path / "over"
        src.write_bytes(body)
        out = _json(fast, "s3api", "put-object", "--bucket", bucket, "--key", key, "--body", str(src))
        overwritten[key] = out["VersionId"]

    # lifecycle with accelerated days: expire current versions, noncurrent versions and markers
    rules = {"Rules": [{"ID": "all", "Filter": {"Prefix": ""}, "Status": "Enabled", "Expiration": {"Days": 1},
                        "NoncurrentVersionExpiration": {"NoncurrentDays": 1}}]}
    aws(fast, "s3api", "put-bucket-lifecycle-configuration", "--bucket", bucket,
        "--lifecycle-configuration", json.dumps(rules))
    for _ in range(2):  # the first pass adds markers over the overwrites; the second expires those
        _until_due()
        _run_pass(fast)
    versions = _json(fast, "s3api", "list-object-versions", "--bucket", bucket)
    left = {(v["Key"], v["VersionId"]) for v in versions.get("Versions", [])}
    assert left == set(locked), "lifecycle must expire every unlocked version and keep every locked one"
    assert not any(k == "scratch" for k, _ in left)

    # every locked version reads back byte for byte, and still carries its COMPLIANCE retention
    for (key, vid), digest in locked.items():
        dst = tmp_path / "out"
        aws(fast, "s3api", "get-object", "--bucket", bucket, "--key", key, f"--version-id={vid}", str(dst))
        assert _sha(dst.read_bytes()) == digest, key
    retention = _json(fast, "s3api", "get-object-retention", "--bucket", bucket, "--key", key3, f"--version-id={vid3}")
    assert retention["Retention"] == {"Mode": "COMPLIANCE", "RetainUntilDate": retention["Retention"]["RetainUntilDate"]}
    assert retention["Retention"]["RetainUntilDate"].startswith(until_text[:19])

"""``sealbox backup`` of a server under a concurrent write load, ``sealbox restore``, then scrub and
read back every object acknowledged before the backup started, byte for byte."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import threading
from pathlib import Path

from tests.support import ACCESS_KEY, SEALBOX, SECRET_KEY, running_server, unique_bucket

ENV = {**os.environ, "SEALBOX_ACCESS_KEY": ACCESS_KEY, "SEALBOX_SECRET_KEY": SECRET_KEY}


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SEALBOX), *args], capture_output=True, text=True, timeout=300, env=ENV)


def test_backup_under_write_load_restores_every_acknowledged_object(tmp_path: Path) -> None:
    data, saved, restored = tmp_path / "data", tmp_path / "backup", tmp_path / "restored"
    bucket = unique_bucket()
    before: dict[str, str] = {}
    with running_server(data, workers=2) as server:
        s3 = server.client()
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        for i in range(40):  # small (inline in SQLite) and large (blob files), plain and SSE-S3
            body = os.urandom(100 + i * 7) if i % 2 else os.urandom(40_000 + i * 1000)
            extra = {"ServerSideEncryption": "AES256"} if i % 3 == 0 else {}
            s3.put_object(Bucket=bucket, Key=f"before/{i}", Body=body, **extra)  # type: ignore[arg-type]
            before[f"before/{i}"] = hashlib.sha256(body).hexdigest()

        stop = threading.Event()
        written = [0]

        def load() -> None:
            client = server.client()
            n = 0
            while not stop.is_set() and n < 2000:
                key = f"before/{n % 40}" if n % 2 else f"during/{n}"
                client.put_object(Bucket=bucket, Key=key, Body=os.urandom(50_000 if n % 3 else 300))
                if n % 5 == 0:
                    client.delete_object(Bucket=bucket, Key=f"during/{n - 4}")
                n += 1
            written[0] = n

        writer = threading.Thread(target=load)
        writer.start()
        try:
            done = _run("backup", "--data-dir", str(data), "--to", str(saved), "--include-keys")
        finally:
            stop.set()
            writer.join(timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "backed up to" in done.stdout and "master keys included" in done.stdout
        assert written[0] > 0
    manifest = json.loads((saved / "manifest.json").read_text())
    assert manifest["keys_included"] is True and manifest["missing_blobs"] == []
    assert oct((saved / "keys" / "master-keys.json").stat().st_mode & 0o777) == "0o600"

    done = _run("restore", "--from", str(saved), "--data-dir", str(restored))
    assert done.returncode == 0, done.stdout + done.stderr
    scrub = _run("scrub", "--data-dir", str(restored), "--grace", "0", "--json")
    assert scrub.returncode == 0, scrub.stdout + scrub.stderr

    with running_server(restored) as server:
        s3 = server.client()
        versions = s3.list_object_versions(Bucket=bucket, Prefix="before/")["Versions"]
        by_key: dict[str, set[str]] = {}
        for v in versions:
            body = s3.get_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])["Body"].read()
            by_key.setdefault(v["Key"], set()).add(hashlib.sha256(body).hexdigest())
        for key, digest in before.items():
            assert digest in by_key.get(key, set()), key


def test_backup_leaves_keys_out_unless_asked_and_restore_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    data, saved = tmp_path / "data", tmp_path / "backup"
    with running_server(data) as server:
        server.client().create_bucket(Bucket=unique_bucket())
    done = _run("backup", "--data-dir", str(data), "--to", str(saved))
    assert done.returncode == 0, done.stderr
    assert not (saved / "keys").exists() and "NOT included" in done.stdout
    again = _run("backup", "--data-dir", str(data), "--to", str(saved))
    assert again.returncode == 2 and "not empty" in again.stderr
    refused = _run("restore", "--from", str(saved), "--data-dir", str(data))
    assert refused.returncode == 2 and "not empty" in refused.stderr

"""The access log (one JSON line per request, reopened on SIGHUP), the audit stream, health checks,
metrics summed over workers, and the serve lock: against a real server process."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import requests

from tests.support import ACCESS_KEY, SEALBOX, free_port, running_server, unique_bucket


def _lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


FIELDS = ["time", "request_id", "principal", "access_key", "remote", "tls", "method", "operation", "bucket",
          "key", "version_id", "status", "error", "bytes_in", "bytes_out", "duration_ms", "user_agent"]


def test_access_log_one_json_line_per_request_and_reopened_on_sighup(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    with running_server(tmp_path / "data", "--access-log", str(log), workers=2) as server:
        s3 = server.client()
        bucket = unique_bucket()
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="a/b.txt", Body=b"x" * 4096)
        got = s3.get_object(Bucket=bucket, Key="a/b.txt")["Body"].read()
        assert len(got) == 4096
        try:
            s3.get_object(Bucket=bucket, Key="missing")
        except s3.exceptions.NoSuchKey:
            pass
        _wait_for(lambda: len(_lines(log)) >= 4)
        records = _lines(log)
        assert all(list(r) == FIELDS for r in records)
        put = next(r for r in records if r["operation"] == "PutObject")
        assert put["bytes_in"] >= 4096 and put["status"] == 200 and put["key"] == "a/b.txt"
        assert put["principal"] == "root" and put["access_key"] == ACCESS_KEY and put["tls"] is False
        assert put["remote"] == "127.0.0.1" and "Boto3" in put["user_agent"]
        get = next(r for r in records if r["operation"] == "GetObject" and r["status"] == 200)
        assert get["bytes_out"] == 4096 and get["bucket"] == bucket
        missing = next(r for r in records if r["key"] == "missing")
        assert missing["status"] == 404 and missing["error"] == "NoSuchKey" and missing["bytes_out"] > 0

        # Rotation: move the file away, SIGHUP the supervisor, and the next lines go to a new file.
        rotated = tmp_path / "access.log.1"
        log.rename(rotated)
        os.kill(server.proc.pid, signal.SIGHUP)
        time.sleep(0.5)
        deadline = time.monotonic() + 10
        while not log.exists() or not _lines(log):
            assert time.monotonic() < deadline, "no new access log after SIGHUP"
            s3.head_bucket(Bucket=bucket)
            time.sleep(0.1)
        assert server.alive()
        assert any(r["operation"] == "HeadBucket" for r in _lines(log))


def test_failed_authentication_is_audited(tmp_path: Path) -> None:
    with running_server(tmp_path / "data") as server:
        bad = dataclasses.replace(server, secret_key="wrong-secret-wrong-secret-wrong-secret00").client()
        try:
            bad.list_buckets()
        except Exception:  # noqa: BLE001 - SignatureDoesNotMatch expected
            pass
        _wait_for(lambda: '"auth.failure"' in server.log())
    line = next(x for x in server.log().splitlines() if '"auth.failure"' in x)
    record = json.loads(line)
    assert record["logger"] == "sealbox.audit" and record["error"] == "SignatureDoesNotMatch"
    assert record["access_key"] == ACCESS_KEY and record["client"] == "127.0.0.1"
    assert "wrong-secret" not in server.log()


def test_policy_change_and_delete_are_audited(tmp_path: Path) -> None:
    with running_server(tmp_path / "data") as server:
        s3 = server.client()
        bucket = unique_bucket()
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="k", Body=b"1")
        s3.delete_object(Bucket=bucket, Key="k")
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*",
                  "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/*",
                  "Condition": {"Null": {"s3:x-amz-server-side-encryption": "true"}}}]}
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={"BlockPublicAcls": True})
        _wait_for(lambda: '"bucket.public_access_block.put"' in server.log())
    events = [json.loads(x) for x in server.log().splitlines() if x.startswith("{")]
    names = {e.get("event") for e in events}
    assert {"bucket.create", "object.delete", "bucket.policy.put", "bucket.public_access_block.put"} <= names
    delete = next(e for e in events if e.get("event") == "object.delete")
    assert delete["principal"] == "root" and delete["key"] == "k" and delete["bucket"] == bucket


def test_health_live_and_ready_unauthenticated_on_both_ports(tmp_path: Path) -> None:
    console = free_port()
    with running_server(tmp_path / "data", "--console-port", str(console)) as server:
        for base in (server.endpoint, f"http://127.0.0.1:{console}"):
            live = requests.get(f"{base}/_sealbox/health/live", timeout=5)
            assert live.status_code == 200 and live.json() == {"status": "ok"}
            ready = requests.get(f"{base}/_sealbox/health/ready", timeout=5)
            assert ready.status_code == 200, ready.text
            assert ready.json()["checks"] == {"metadata": "ok", "data_dir": "ok", "keyring": "ok"}
        assert requests.get(f"{server.endpoint}/_sealbox/nothing", timeout=5).status_code == 404
        assert requests.post(f"{server.endpoint}/_sealbox/health/live", timeout=5).status_code == 405


def test_ready_fails_when_the_data_directory_is_not_writable(tmp_path: Path) -> None:
    # (root writes through file modes: the probe's directory is replaced by a file instead)
    with running_server(tmp_path / "data") as server:
        tmp = server.data_dir / "tmp"
        saved = tmp.with_name("tmp.saved")
        tmp.rename(saved)
        tmp.write_bytes(b"not a directory")
        try:
            ready = requests.get(f"{server.endpoint}/_sealbox/health/ready", timeout=5)
            assert ready.status_code == 503
            assert ready.json()["checks"]["data_dir"] != "ok"
            assert requests.get(f"{server.endpoint}/_sealbox/health/live", timeout=5).status_code == 200
        finally:
            tmp.unlink()
            saved.rename(tmp)


def _sample(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_metrics_add_up_over_workers(tmp_path: Path) -> None:
    with running_server(tmp_path / "data", workers=2) as server:
        s3 = server.client()
        bucket = unique_bucket()
        s3.create_bucket(Bucket=bucket)
        for i in range(20):  # new connections each: spread over both workers
            s3.put_object(Bucket=bucket, Key=f"k{i}", Body=b"y" * 100, ServerSideEncryption="AES256")
        for i in range(5):
            s3.put_object(Bucket=bucket, Key=f"plain{i}", Body=b"z")
        # Each worker hands its sums to the shared files every second (and the scraped one at once).
        deadline = time.monotonic() + 10
        while True:
            text = requests.get(f"{server.endpoint}/_sealbox/metrics", timeout=5).text
            if _sample(text, "sealbox_s3_requests_total", operation="PutObject", status="200") == 25 or \
                    time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert _sample(text, "sealbox_s3_requests_total", operation="PutObject", status="200") == 25
        assert _sample(text, "sealbox_objects_written_total", encryption="AES256") == 20
        assert _sample(text, "sealbox_objects_written_total", encryption="none") == 5
        assert _sample(text, "sealbox_s3_received_bytes_total", operation="PutObject") >= 2005
        assert _sample(text, "sealbox_s3_request_duration_seconds_count", operation="PutObject") == 25
        assert _sample(text, "sealbox_meta_commit_seconds_count") >= 1
        assert "sealbox_s3_requests_in_flight" in text and "sealbox_open_connections" in text
        pids = {line.split('pid="')[1].split('"')[0] for line in text.splitlines() if 'pid="' in line}
        assert not pids  # summed, not per process


def test_second_serve_on_the_same_data_directory_refuses_naming_the_pid(tmp_path: Path) -> None:
    with running_server(tmp_path / "data") as server:
        second = subprocess.run([str(SEALBOX), "serve", "--data-dir", str(server.data_dir), "--port", "0",
                                 "--no-console"], capture_output=True, text=True, timeout=30,
                                env={**os.environ, "SEALBOX_ACCESS_KEY": ACCESS_KEY})
        assert second.returncode != 0
        assert f"already served by PID {server.proc.pid}" in second.stderr, second.stderr
        assert server.alive()


def test_banner_does_not_claim_a_secret_was_shown_when_it_came_from_the_environment(tmp_path: Path) -> None:
    with running_server(tmp_path / "data") as server:
        pass
    assert "secret was shown" not in server.log()
    assert "secret from $SEALBOX_SECRET_KEY" in server.log()

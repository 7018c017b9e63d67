"""Gateways on one PostgreSQL: a gateway SIGKILLed during writes, key rotation while another gateway
serves, the lifecycle pass and gc run once across gateways, and the serve lock."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from sealbox.storage.locks import PgRunOnce
from tests.cluster.support import running_gateways
from tests.support import SEALBOX, running_server, start_server, unique_bucket

_CLI_TIMEOUT = 120
ROOT = Path(__file__).resolve().parents[2]


def _cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SEALBOX), *argv], capture_output=True, text=True, timeout=_CLI_TIMEOUT)


def test_sigkill_of_a_gateway_during_writes_keeps_every_acknowledged_write(fresh_pg_url: str,
                                                                          tmp_path: Path) -> None:
    with running_gateways(tmp_path / "data", fresh_pg_url, 2, workers=2) as (a, b):
        on_a = a.client(max_pool_connections=8, connect_timeout=5, read_timeout=20)
        on_b = b.client(max_pool_connections=8, connect_timeout=5, read_timeout=20)
        bucket = unique_bucket("kill")
        on_a.create_bucket(Bucket=bucket)
        acked: dict[str, bytes] = {}
        lock = threading.Lock()
        dead = threading.Event()

        def writer(n: int) -> None:
            for i in range(10_000):  # bounded; the kill ends it much sooner
                key = f"w{n}/{i}"
                body = os.urandom(1024 * (1 + i % 200))  # up to 200 KiB: some are mid-body at the kill
                try:
                    on_a.put_object(Bucket=bucket, Key=key, Body=body, ServerSideEncryption="AES256")
                except (ClientError, BotoCoreError):
                    return  # the gateway died under this request: not acknowledged
                with lock:
                    acked[key] = hashlib.sha256(body).digest()
                if dead.is_set():
                    return

        with ThreadPoolExecutor(6) as pool:
            futures = [pool.submit(writer, n) for n in range(6)]
            deadline = time.monotonic() + 60
            while len(acked) < 60 and time.monotonic() < deadline:
                time.sleep(0.05)
            os.killpg(a.proc.pid, signal.SIGKILL)  # supervisor and workers at once, mid-writes
            dead.set()
            a.proc.wait(timeout=30)
            for f in futures:
                f.result()
        assert len(acked) >= 60
        listed = {o["Key"] for page in on_b.get_paginator("list_objects_v2").paginate(Bucket=bucket)
                  for o in page.get("Contents", [])}
        assert set(acked) <= listed  # every acknowledged write is there on B
        for key in sorted(listed):  # and every listed object is whole: none half-visible
            body = on_b.get_object(Bucket=bucket, Key=key)["Body"].read()
            if key in acked:
                assert hashlib.sha256(body).digest() == acked[key], key
        assert len(listed) <= len(acked) + 6  # at most one unacknowledged commit per writer
        # A restarted gateway on the same directory and database serves them too.
        again = start_server(a.data_dir, "--meta-url", fresh_pg_url, workers=1)
        try:
            c = again.client()
            for key in list(acked)[:20]:
                assert hashlib.sha256(c.get_object(Bucket=bucket, Key=key)["Body"].read()).digest() == acked[key]
        finally:
            again.stop()


def test_key_rotation_on_one_gateway_while_the_other_serves(fresh_pg_url: str, tmp_path: Path) -> None:
    with running_gateways(tmp_path / "data", fresh_pg_url, 2, workers=2) as (a, b):
        on_a, on_b = a.client(), b.client()
        bucket = unique_bucket("rot")
        on_a.create_bucket(Bucket=bucket)
        bodies = {f"before/{i}": os.urandom(2000 + i) for i in range(60)}
        for key, body in bodies.items():
            on_a.put_object(Bucket=bucket, Key=key, Body=body, ServerSideEncryption="AES256")
        stop = threading.Event()
        errors: list[str] = []

        def serve_on_b() -> None:
            i = 0
            while not stop.is_set() and i < 5000:
                key = f"before/{i % 60}"
                try:
                    if on_b.get_object(Bucket=bucket, Key=key)["Body"].read() != bodies[key]:
                        errors.append(f"GET {key} on B: wrong body")
                    on_b.put_object(Bucket=bucket, Key=f"during/{i}", Body=b"d%d" % i, ServerSideEncryption="AES256")
                except ClientError as exc:
                    errors.append(f"{key}: {exc}")
                i += 1

        thread = threading.Thread(target=serve_on_b)
        thread.start()
        try:
            time.sleep(0.5)
            rotated = _cli("keys", "rotate", "--data-dir", str(a.data_dir), "--meta-url", fresh_pg_url,
                           "--batch", "10")
        finally:
            stop.set()
            thread.join(timeout=60)
        assert rotated.returncode == 0, rotated.stderr
        assert not errors, errors[:5]
        # a second pass catches values sealed under the old key while the first ran
        again = _cli("keys", "rotate", "--data-dir", str(a.data_dir), "--meta-url", fresh_pg_url)
        assert again.returncode == 0, again.stderr
        status = _cli("keys", "status", "--json", "--data-dir", str(a.data_dir), "--meta-url", fresh_pg_url)
        assert status.returncode == 0, status.stderr
        keys = json.loads(status.stdout)["keys"]
        active = [k for k in keys if k["active"]]
        assert len(active) == 1 and all(not k["objects"] for k in keys if not k["active"]), keys
        for client in (on_a, on_b):  # both gateways open everything, old and new, under the new key
            for key, body in list(bodies.items())[:20]:
                assert client.get_object(Bucket=bucket, Key=key)["Body"].read() == body
            assert client.get_object(Bucket=bucket, Key="during/0")["Body"].read() == b"d0"


def test_rotation_scrub_gc_and_lifecycle_are_refused_while_another_gateway_runs_them(fresh_pg_url: str,
                                                                                      tmp_path: Path) -> None:
    """The run-once locks span the cluster: with the lock held elsewhere (as by a pass on another
    host), the command on this host does nothing and says so."""
    with running_gateways(tmp_path / "data", fresh_pg_url, 1, workers=1) as (a,):
        data = str(a.data_dir)
        locks = PgRunOnce(fresh_pg_url)
        for name, argv, code in [("gc", ["gc", "--grace", "0"], 3), ("scrub", ["scrub"], 3),
                                 ("lifecycle", ["lifecycle", "run"], 1), ("key-rotation", ["keys", "rotate"], 1)]:
            with locks.hold(name) as held:
                assert held is not None
                busy = _cli(*argv, "--data-dir", data, "--meta-url", fresh_pg_url)
            assert busy.returncode == code, (name, busy.stdout, busy.stderr)
            assert "running" in busy.stderr, busy.stderr
            free = _cli(*argv, "--data-dir", data, "--meta-url", fresh_pg_url)
            assert free.returncode == 0, (name, free.stdout, free.stderr)


def test_lifecycle_expires_once_with_two_gateways_running_passes(fresh_pg_url: str, tmp_path: Path) -> None:
    day = 2.0
    with running_gateways(tmp_path / "data", fresh_pg_url, 2, "--lifecycle-day-seconds", str(day),
                          workers=2) as (a, b):
        on_a, on_b = a.client(), b.client()
        bucket = unique_bucket("life")
        on_a.create_bucket(Bucket=bucket)
        on_a.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        for i in range(30):
            on_a.put_object(Bucket=bucket, Key=f"old/{i}", Body=b"x")
        on_b.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
            {"ID": "expire", "Status": "Enabled", "Filter": {"Prefix": "old/"}, "Expiration": {"Days": 1}}]})
        deadline = time.monotonic() + 90
        markers: list[dict[str, object]] = []
        while time.monotonic() < deadline:
            markers = on_b.list_object_versions(Bucket=bucket).get("DeleteMarkers", [])  # type: ignore[assignment]
            if len(markers) >= 30:
                break
            time.sleep(0.5)
        time.sleep(3 * day)  # more passes on both gateways: none may expire a key twice
        markers = on_a.list_object_versions(Bucket=bucket).get("DeleteMarkers", [])  # type: ignore[assignment]
        assert len(markers) == 30, markers  # one delete marker per key: each expired exactly once


def test_a_sqlite_server_and_gateways_on_postgresql_do_not_share_a_data_directory(fresh_pg_url: str,
                                                                                  tmp_path: Path) -> None:
    """Two gateways hold the serve lock shared; a SQLite server's exclusive hold is refused beside them
    (a plain ``sealbox serve`` on their directory joins them instead: the directory records its
    --meta-url), and a gateway is refused beside a SQLite server."""
    with running_gateways(tmp_path / "pg", fresh_pg_url, 2, workers=1) as (a, _b):
        probe = subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path;"
                                " from sealbox.ops.lock import hold; hold(Path(sys.argv[1]))", str(a.data_dir)],
                               capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert probe.returncode == 1
        assert "already served by gateways on PostgreSQL" in probe.stderr, probe.stderr
    with running_server(tmp_path / "lite", workers=1, meta="sqlite") as lite:
        refused = subprocess.run([str(SEALBOX), "serve", "--data-dir", str(lite.data_dir), "--port", "0",
                                  "--meta-url", fresh_pg_url], capture_output=True, text=True, timeout=60)
        assert refused.returncode == 1
        assert f"already served by PID {lite.proc.pid}" in refused.stderr, refused.stderr

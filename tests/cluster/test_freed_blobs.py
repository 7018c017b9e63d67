"""Gateways on one PostgreSQL and one data directory: a blob replaced or deleted on gateway A stays on
disk while gateway B may still stream it (on NFS an unlinked file is cut short for other clients), and
is unlinked after the freed grace by a sweep (``sealbox gc``, or the gateways' own sweep); a blob still
referenced is never unlinked (sealbox.service.freed)."""

from __future__ import annotations

import hashlib
import os
import socket
import time
from pathlib import Path
from typing import Any

from sealbox.storage.data.local import LocalBlobStore
from tests.cluster.support import running_gateways
from tests.hostile.raw import request_bytes, sign
from tests.faults.storage import gc
from tests.support import Server, unique_bucket

SIZE = 32 * 1024 * 1024  # far more than the socket buffers and the read pipeline hold


def _gc(data_dir: Path, *args: str) -> dict[str, Any]:
    status, report = gc(data_dir, "--grace", "0", *args)
    assert status == 0, report
    return report


def _files(data_dir: Path) -> set[str]:
    return set(LocalBlobStore(data_dir).blob_ids())


def test_a_slow_get_on_b_gets_the_whole_old_body_while_a_overwrites_and_deletes(gateways: list[Server]) -> None:
    a, b = gateways
    on_a, on_b = a.client(), b.client()
    bucket = unique_bucket("freed")
    on_a.create_bucket(Bucket=bucket)
    # Others that stay: one never touched, one overwritten (its new data must survive every sweep).
    keep = os.urandom(2 * 1024 * 1024)
    on_a.put_object(Bucket=bucket, Key="keep", Body=keep, ServerSideEncryption="AES256")
    on_a.put_object(Bucket=bucket, Key="again", Body=os.urandom(1024 * 1024))
    again = os.urandom(1024 * 1024)
    on_b.put_object(Bucket=bucket, Key="again", Body=again)
    before = _files(a.data_dir)
    old = os.urandom(SIZE)
    on_a.put_object(Bucket=bucket, Key="big", Body=old, ServerSideEncryption="AES256")
    old_files = _files(a.data_dir) - before
    assert old_files
    path = f"/{bucket}/big"
    received = bytearray()
    with socket.create_connection(("127.0.0.1", b.port), timeout=30) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.sendall(request_bytes("GET", path, sign(b, "GET", path)))
        received += sock.recv(65536)  # the head and the first bytes: B has the blob open
        on_a.put_object(Bucket=bucket, Key="big", Body=os.urandom(1024 * 1024))
        on_a.delete_object(Bucket=bucket, Key="big")
        assert old_files <= _files(a.data_dir)  # not unlinked: recorded as freed
        report = _gc(a.data_dir)  # the default freed grace (a day) has not passed: gc keeps them
        assert isinstance(report["kept_freed"], int) and report["kept_freed"] >= len(old_files) + 2
        assert old_files <= _files(a.data_dir)
        expected: int | None = None
        for _ in range(100_000):  # bounded; a slow reader: small reads with pauses
            if expected is not None and len(received) >= expected:
                break
            chunk = sock.recv(128 * 1024)
            if not chunk:
                break
            received += chunk
            if expected is None and b"\r\n\r\n" in received:
                expected = received.index(b"\r\n\r\n") + 4 + SIZE
            time.sleep(0.002)
    head, _, body = bytes(received).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head[:200]
    assert len(body) == SIZE and hashlib.sha256(body).digest() == hashlib.sha256(old).digest()
    # After the grace (0 here) a sweep unlinks every freed file, and only those.
    report = _gc(a.data_dir, "--freed-grace", "0")
    assert report["errors"] == []
    assert old_files.isdisjoint(_files(a.data_dir))
    assert on_b.get_object(Bucket=bucket, Key="keep")["Body"].read() == keep
    assert on_a.get_object(Bucket=bucket, Key="again")["Body"].read() == again
    assert _gc(a.data_dir, "--freed-grace", "0")["kept_freed"] == 0


def test_the_gateways_sweep_unlinks_freed_blobs_after_the_grace(fresh_pg_url: str, tmp_path: Path) -> None:
    # A lifecycle "day" of 10 s: the gateways' worker thread runs a round (and the sweep) every second.
    with running_gateways(tmp_path / "data", fresh_pg_url, 2, "--freed-grace", "1",
                          "--lifecycle-day-seconds", "10") as (a, b):
        on_a, on_b = a.client(), b.client()
        bucket = unique_bucket("sweep")
        on_a.create_bucket(Bucket=bucket)
        on_a.put_object(Bucket=bucket, Key="k", Body=os.urandom(1024 * 1024))
        old_files = _files(a.data_dir)
        new = os.urandom(1024 * 1024)
        on_b.put_object(Bucket=bucket, Key="k", Body=new)
        deadline = time.monotonic() + 60
        while not old_files.isdisjoint(_files(a.data_dir)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert old_files.isdisjoint(_files(a.data_dir))
        assert _files(a.data_dir)  # the new version's file stays
        assert on_a.get_object(Bucket=bucket, Key="k")["Body"].read() == new

#!/usr/bin/env python3
"""Bounded soak test: a fresh sealbox server under a mixed PUT/GET/HEAD/DELETE/LIST load, every read verified.

    .venv/bin/python scripts/soak.py                 # 2 minutes, 8 client threads, 2 server workers
    .venv/bin/python scripts/soak.py --minutes 10 --clients 16 --max-size 8388608
    .venv/bin/python scripts/soak.py --requests 5000 # stop after 5000 operations (or the time limit)

Each client thread owns its own key prefix, so the expected content of every key is known exactly:
a GET must return the body of the last acknowledged PUT byte for byte (or 404 after a DELETE), a
listing of the thread's prefix must show exactly its live keys with their sizes. Bodies are random,
0 B to ``--max-size``, half of them SSE-S3. At the end the server is stopped and ``sealbox scrub``
checks the whole data directory.

Prints ops/s, per-operation counts and latencies, errors, verification failures, and the server's
resident memory (all processes) at the start and the end. Exits 1 on any error or failed check.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

from tests.support import SEALBOX, Server, start_server  # noqa: E402

SIZES = [0, 1, 1000, 64 * 1024, 200_000, 1024 * 1024, 3 * 1024 * 1024]
BUCKET = "soak"


@dataclass
class Stats:
    ops: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    bytes_up: int = 0
    bytes_down: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, op: str, seconds: float, up: int = 0, down: int = 0) -> None:
        with self.lock:
            self.ops[op] += 1
            self.latency[op].append(seconds)
            self.bytes_up += up
            self.bytes_down += down

    @property
    def total(self) -> int:
        return sum(self.ops.values())


class Client:
    def __init__(self, server: Server, index: int, seed: int, stats: Stats, max_size: int) -> None:
        self.s3: Any = server.client(connect_timeout=10, read_timeout=120)
        self.prefix = f"c{index}/"
        self.rng = random.Random(seed)
        self.stats = stats
        self.sizes = [s for s in SIZES if s <= max_size] + [max_size]
        self.model: dict[str, tuple[str, int]] = {}  # key -> (sha256, size) of the acknowledged body

    def step(self) -> None:
        roll = self.rng.random()
        key = f"{self.prefix}k{self.rng.randrange(12)}"
        try:
            if roll < 0.35:
                self.put(key)
            elif roll < 0.70:
                self.get(key)
            elif roll < 0.78:
                self.head(key)
            elif roll < 0.90:
                self.delete(key)
            else:
                self.list()
        except Exception as exc:  # noqa: BLE001 - every failure is counted and reported
            with self.stats.lock:
                self.stats.errors.append(f"{key}: {exc!r}"[:300])

    def _timed(self, op: str, call: Any, up: int = 0) -> Any:
        started = time.perf_counter()
        result = call()
        self.stats.record(op, time.perf_counter() - started, up=up)
        return result

    def put(self, key: str) -> None:
        body = os.urandom(self.rng.choice(self.sizes))
        sse = {"ServerSideEncryption": "AES256"} if self.rng.random() < 0.5 else {}
        self._timed("put", lambda: self.s3.put_object(Bucket=BUCKET, Key=key, Body=body, **sse), up=len(body))
        self.model[key] = (hashlib.sha256(body).hexdigest(), len(body))

    def get(self, key: str) -> None:
        started = time.perf_counter()
        try:
            data = self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "NoSuchKey":
                raise
            data = None
        self.stats.record("get", time.perf_counter() - started, down=len(data or b""))
        expected = self.model.get(key)
        got = (hashlib.sha256(data).hexdigest(), len(data)) if data is not None else None
        if got != expected:
            with self.stats.lock:
                self.stats.mismatches.append(f"GET {key}: got {got}, expected {expected}")

    def head(self, key: str) -> None:
        try:
            size = self._timed("head", lambda: self.s3.head_object(Bucket=BUCKET, Key=key))["ContentLength"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("404", "NoSuchKey"):
                raise
            size = None
        expected = self.model.get(key)
        if (expected[1] if expected else None) != size:
            with self.stats.lock:
                self.stats.mismatches.append(f"HEAD {key}: size {size}, expected {expected}")

    def delete(self, key: str) -> None:
        self._timed("delete", lambda: self.s3.delete_object(Bucket=BUCKET, Key=key))
        self.model.pop(key, None)

    def list(self) -> None:
        page = self._timed("list", lambda: self.s3.list_objects_v2(Bucket=BUCKET, Prefix=self.prefix))
        listed = {o["Key"]: o["Size"] for o in page.get("Contents", [])}
        expected = {k: size for k, (_, size) in self.model.items()}
        if listed != expected:
            with self.stats.lock:
                self.stats.mismatches.append(f"LIST {self.prefix}: {sorted(listed)} != {sorted(expected)}")


def server_rss(server: Server) -> int:
    parent = psutil.Process(server.proc.pid)
    return sum(p.memory_info().rss for p in [parent, *parent.children(recursive=True)])


def run(args: argparse.Namespace) -> int:
    base = Path(args.data_dir) if args.data_dir else Path(tempfile.mkdtemp(prefix="sealbox-soak-"))
    data_dir = base / "data"
    server = start_server(data_dir, workers=args.workers)
    stats = Stats()
    try:
        s3: Any = server.client()
        s3.create_bucket(Bucket=BUCKET)
        rng = random.Random(args.seed)
        clients = [Client(server, i, rng.randrange(2**32), stats, args.max_size) for i in range(args.clients)]
        for client in clients:  # warm up: every worker has loaded its app and pools before RSS is sampled
            client.put(f"{client.prefix}warm")
        rss_start = server_rss(server)
        deadline = time.monotonic() + args.minutes * 60
        budget = args.requests

        def drive(client: Client) -> None:
            while time.monotonic() < deadline and (budget is None or stats.total < budget):
                client.step()

        started = time.monotonic()
        threads = [threading.Thread(target=drive, args=(c,)) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
        for client in clients:  # a final full read-back of everything the model says exists
            for key in sorted(client.model):
                client.get(key)
        rss_end = server_rss(server)
        alive = server.alive()
    finally:
        server.stop()
    scrub = subprocess.run([str(SEALBOX), "scrub", "--data-dir", str(data_dir)], capture_output=True, text=True,
                           check=False)
    report(stats, elapsed, rss_start, rss_end, args, scrub)
    ok = not stats.errors and not stats.mismatches and alive and scrub.returncode == 0
    if ok and not args.data_dir:
        shutil.rmtree(base, ignore_errors=True)
        print("soak: PASS")
    else:
        print(f"soak: {'PASS' if ok else 'FAIL'} (data kept in {data_dir})")
    return 0 if ok else 1


def report(stats: Stats, elapsed: float, rss_start: int, rss_end: int, args: argparse.Namespace,
           scrub: subprocess.CompletedProcess[str]) -> None:
    print(f"soak: {args.clients} clients, {args.workers} server workers, sizes up to {args.max_size} bytes,"
          f" {elapsed:.1f}s")
    print(f"ops: {stats.total} in total, {stats.total / elapsed:.1f} ops/s;"
          f" {stats.bytes_up / 1e6:.1f} MB up, {stats.bytes_down / 1e6:.1f} MB down")
    for op in sorted(stats.ops):
        lat = sorted(stats.latency[op])
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        print(f"  {op:7s} {stats.ops[op]:7d}  median {statistics.median(lat) * 1000:7.1f} ms  p99 {p99 * 1000:7.1f} ms")
    print(f"errors: {len(stats.errors)}; verification failures: {len(stats.mismatches)}")
    for line in (stats.errors + stats.mismatches)[:10]:
        print(f"  {line}")
    print(f"server RSS: {rss_start / 2**20:.1f} MiB at start, {rss_end / 2**20:.1f} MiB at end")
    print(f"scrub (exit {scrub.returncode}): {scrub.stdout.strip().splitlines()[-1] if scrub.stdout.strip() else ''}"
          f"{scrub.stderr.strip()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=2.0, help="how long to run (default 2)")
    parser.add_argument("--requests", type=int, default=None, help="stop after this many operations")
    parser.add_argument("--clients", type=int, default=8, help="client threads (default 8)")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes (default 2)")
    parser.add_argument("--max-size", type=int, default=4 * 1024 * 1024, help="largest object (default 4 MiB)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    parser.add_argument("--data-dir", default=None, help="parent folder for the server's data (default: a temp dir)")
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())

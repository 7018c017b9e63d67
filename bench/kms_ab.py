"""SSE-KMS and SSE-C against SSE-S3, A/B in one run: server CPU per request, rounds interleaved.

`make bench`'s throughput figures need a quiet machine; on a shared one other processes change them by
more than the effect. This measures what the encryption mode itself costs the server: the CPU time of
sealbox's process tree per request, for 4 KiB and 64 MiB PUTs and GETs, alternating SSE-S3 and SSE-KMS
(the account's aws/s3 key, no bucket key) and SSE-C (one customer key) round after round so drift hits
all alike, and reports each mode's ratio to SSE-S3 of the medians (and of throughput, for what it is
worth here). The server runs with --allow-sse-c-over-http (loopback, no TLS).

    .venv/bin/python bench/kms_ab.py [--rounds 5] [--small 400] [--large 3] [--workers 2] [--modes ...]

``--in-process`` measures the object service itself instead, without HTTP or processes: the CPU time
(``time.process_time``) of GETs through ``ObjectService.read`` on services built as the server builds
them, plus for SSE-C the parsing and checking of its three headers (``http.sse_c.customer_key``), so
the ratio is what the mode adds on the request path (the HTTP layer, signatures and logging, the same
in every mode, are left out: the ratio of a whole request is closer to 1).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support import start_server  # noqa: E402

MODES = ("AES256", "aws:kms", "SSE-C")
NAMES = {"AES256": "SSE-S3", "aws:kms": "SSE-KMS", "SSE-C": "SSE-C"}
CUSTOMER_KEY = bytes(range(32))


def write_args(mode: str) -> dict[str, Any]:
    if mode == "SSE-C":
        return {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": CUSTOMER_KEY}
    return {"ServerSideEncryption": mode}


def read_args(mode: str) -> dict[str, Any]:
    return {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": CUSTOMER_KEY} if mode == "SSE-C" else {}


def tree_cpu(pid: int) -> float:
    root = psutil.Process(pid)
    total = 0.0
    for p in [root, *root.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def measure(pid: int, jobs: list[Any], threads: int) -> tuple[float, float]:
    """(server CPU seconds per job, wall seconds per job) of running ``jobs`` on ``threads`` threads."""
    before, started = tree_cpu(pid), time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda job: job(), jobs))
    return (tree_cpu(pid) - before) / len(jobs), (time.perf_counter() - started) / len(jobs)


def in_process(args: argparse.Namespace, modes: tuple[str, ...]) -> int:
    import asyncio
    import base64
    import hashlib

    from sealbox.app import build_services
    from sealbox.bootstrap import initialize
    from sealbox.config import Settings
    from sealbox.http.sse_c import customer_key
    from sealbox.service.copy import SourcePayload
    from sealbox.service.identity import Principal
    from sealbox.service.objects import ReadSpec, WriteParams
    from sealbox.service.sse_c import CustomerKey

    headers = {"x-amz-server-side-encryption-customer-algorithm": "AES256",
               "x-amz-server-side-encryption-customer-key": base64.b64encode(CUSTOMER_KEY).decode(),
               "x-amz-server-side-encryption-customer-key-md5": base64.b64encode(hashlib.md5(CUSTOMER_KEY).digest()).decode()}
    root = Principal("root", "bench")
    with tempfile.TemporaryDirectory(prefix="kms-ab-") as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", allow_sse_c_over_http=True)
        initialize(settings)
        s = build_services(settings)
        s.buckets.create(root, "kms-ab", None)
        loop = asyncio.new_event_loop()
        customer = CustomerKey(CUSTOMER_KEY, headers["x-amz-server-side-encryption-customer-key-md5"])

        async def one(data: bytes) -> Any:
            yield data

        def params(mode: str) -> WriteParams:
            if mode == "SSE-C":
                return WriteParams(customer=customer)
            return WriteParams(sse=mode)

        sizes = {"4KiB": (os.urandom(4096), args.small * 5), "64MiB": (os.urandom(64 * 1024 * 1024), args.large)}
        for mode in modes:
            for size, (body, count) in sizes.items():
                for i in range(min(count, 200) if size == "4KiB" else count):
                    loop.run_until_complete(s.objects.put(root, "kms-ab", f"{mode}/{size}/{i}", SourcePayload(one(body), ()),
                                                          params(mode)))

        def get(mode: str, key: str) -> int:
            key_arg = customer_key(headers, secure=True, allow_http=False) if mode == "SSE-C" else None
            read = s.objects.read(root, "kms-ab", key, ReadSpec(customer=key_arg))
            if read.body is not None:
                return len(read.body)

            async def drain() -> int:
                assert read.stream is not None
                return sum([len(chunk) async for chunk in read.stream])

            return loop.run_until_complete(drain())

        results: dict[tuple[str, str], list[float]] = {}
        for rnd in range(args.rounds):
            for mode in (modes if rnd % 2 == 0 else modes[::-1]):
                for size, (body, count) in sizes.items():
                    n = min(count, 200) if size == "4KiB" else count
                    reps = count // n
                    started = time.process_time()
                    for _ in range(reps):
                        for i in range(n):
                            assert get(mode, f"{mode}/{size}/{i}") == len(body)
                    results.setdefault((mode, size), []).append((time.process_time() - started) / (reps * n))
        loop.close()
    print(f"\nin-process GET CPU per request (median of {args.rounds} interleaved rounds; ObjectService.read,"
          " SSE-C headers parsed too)")
    for size in ("4KiB", "64MiB"):
        base = statistics.median(results[("AES256", size)])
        unit, scale = ("us", 1e6) if size == "4KiB" else ("ms", 1e3)
        for mode in modes[1:]:
            cpu = statistics.median(results[(mode, size)])
            print(f"  GET {size:>5}: SSE-S3 {base * scale:8.1f} {unit}, {NAMES[mode]:>7} {cpu * scale:8.1f} {unit}"
                  f" = {cpu / base:.3f}x")
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--small", type=int, default=400, help="4 KiB requests per mode, op and round")
    p.add_argument("--large", type=int, default=3, help="64 MiB requests per mode, op and round")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=8, help="client threads for 4 KiB requests")
    p.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES, help="AES256 (the baseline) and others")
    p.add_argument("--in-process", action="store_true", help="time ObjectService.read in this process instead")
    args = p.parse_args()
    modes = tuple(dict.fromkeys(["AES256", *args.modes]))
    if args.in_process:
        return in_process(args, modes)
    with tempfile.TemporaryDirectory(prefix="kms-ab-") as tmp:
        server = start_server(Path(tmp) / "data", "--allow-sse-c-over-http", workers=args.workers)
        try:
            s3 = server.client(max_pool_connections=args.threads)
            s3.create_bucket(Bucket="kms-ab")
            small, large = os.urandom(4096), os.urandom(64 * 1024 * 1024)
            results: dict[tuple[str, str, str], list[tuple[float, float]]] = {}
            for mode in modes:  # warm up: the aws/s3 key and the SSE-C share are made on first use, caches fill
                for i in range(20):
                    s3.put_object(Bucket="kms-ab", Key=f"warm-{mode}-{i}", Body=small, **write_args(mode))
            for rnd in range(args.rounds):
                for mode in (modes if rnd % 2 == 0 else modes[::-1]):
                    def put(key: str, body: bytes, mode: str = mode) -> Any:
                        return lambda: s3.put_object(Bucket="kms-ab", Key=key, Body=body, **write_args(mode))

                    def get(key: str, mode: str = mode) -> Any:
                        return lambda: s3.get_object(Bucket="kms-ab", Key=key, **read_args(mode))["Body"].read()

                    keys = [f"{mode}/{rnd}/s{i}" for i in range(args.small)]
                    results.setdefault((mode, "PUT", "4KiB"), []).append(
                        measure(server.proc.pid, [put(k, small) for k in keys], args.threads))
                    results.setdefault((mode, "GET", "4KiB"), []).append(
                        measure(server.proc.pid, [get(k) for k in keys], args.threads))
                    big = [f"{mode}/{rnd}/l{i}" for i in range(args.large)]
                    results.setdefault((mode, "PUT", "64MiB"), []).append(
                        measure(server.proc.pid, [put(k, large) for k in big], 1))
                    results.setdefault((mode, "GET", "64MiB"), []).append(
                        measure(server.proc.pid, [get(k) for k in big], 1))
                print(f"round {rnd + 1}/{args.rounds} done", flush=True)
        finally:
            server.stop()
    print(f"\nserver CPU per request (median of {args.rounds} interleaved rounds; {args.workers} workers) and"
          " wall time per request")
    for mode in modes[1:]:
        for op in ("PUT", "GET"):
            for size in ("4KiB", "64MiB"):
                s3_cpu = statistics.median(c for c, _ in results[("AES256", op, size)])
                cpu = statistics.median(c for c, _ in results[(mode, op, size)])
                s3_wall = statistics.median(w for _, w in results[("AES256", op, size)])
                wall = statistics.median(w for _, w in results[(mode, op, size)])
                unit, scale = ("us", 1e6) if size == "4KiB" else ("ms", 1e3)
                print(f"  {op} {size:>5}: CPU SSE-S3 {s3_cpu * scale:8.1f} {unit}, {NAMES[mode]:>7} {cpu * scale:8.1f}"
                      f" {unit} = {cpu / s3_cpu:.3f}x;  wall {s3_wall * scale:8.1f} / {wall * scale:8.1f} {unit}"
                      f" = {wall / s3_wall:.3f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

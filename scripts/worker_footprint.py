#!/usr/bin/env python3
"""Threads, resident memory and open descriptors of each sealbox process after a mixed S3 + console load.

    .venv/bin/python scripts/worker_footprint.py             # 2 workers, 3 rounds of 32 S3 and 32 console clients
    .venv/bin/python scripts/worker_footprint.py --rounds 0  # right after start

Each S3 client PUTs a 4 MiB SSE object and a 4 KiB one and GETs the large one back; each console
client signs in, lists the bucket, uploads 4 MiB through the console and downloads an object. The
figures are read from /proc/<pid>/status and /proc/<pid>/fd (reading a worker's fd directory takes
root: workers are not dumpable). Used to measure one service set per worker (docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from tests.support import free_port, start_server  # noqa: E402

BUCKET = "footprint"


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in os.listdir(f"/proc/{pid}/task"):
        found += [int(x) for x in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
    return found


def footprint(pid: int) -> str:
    status = Path(f"/proc/{pid}/status").read_text()
    rss = re.search(r"VmRSS:\s+(\d+) kB", status)
    threads = re.search(r"Threads:\s+(\d+)", status)
    try:
        fds = str(len(os.listdir(f"/proc/{pid}/fd")))
    except PermissionError:
        fds = "?"
    return f"threads={threads.group(1) if threads else '?'} rss_kib={rss.group(1) if rss else '?'} fds={fds}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    srv = start_server(Path(tempfile.mkdtemp(prefix="sealbox-footprint-")) / "data", "--console-port",
                       str(free_port()), workers=args.workers)
    try:
        console = f"http://127.0.0.1:{srv.extra['ports']['console']}"  # type: ignore[index]
        srv.client().create_bucket(Bucket=BUCKET)
        big, small = os.urandom(4 * 1024 * 1024), os.urandom(4096)

        def s3_work(i: int) -> None:
            c = srv.client()
            c.put_object(Bucket=BUCKET, Key=f"big-{i}", Body=big, ServerSideEncryption="AES256")
            c.put_object(Bucket=BUCKET, Key=f"small-{i}", Body=small)
            c.get_object(Bucket=BUCKET, Key=f"big-{i}")["Body"].read()

        def console_work(i: int) -> None:
            s = requests.Session()
            token = re.search(r'name="csrf" value="([^"]+)"', s.get(console + "/signin", timeout=30).text)
            assert token is not None
            r = s.post(console + "/signin", allow_redirects=False, timeout=30, data={
                "csrf": token.group(1), "access_key": srv.access_key, "secret_key": srv.secret_key})
            assert r.status_code == 303, r.text
            csrf = re.search(r'name="csrf" value="([^"]+)"', s.get(console + f"/buckets/{BUCKET}", timeout=30).text)
            assert csrf is not None
            r = s.put(console + f"/buckets/{BUCKET}/upload?key=c-{i}", data=big, timeout=60,
                      headers={"X-CSRF-Token": csrf.group(1)})
            assert r.status_code == 200, r.text
            assert len(s.get(console + f"/buckets/{BUCKET}/download?key=big-{i}", timeout=60).content) == len(big)

        with ThreadPoolExecutor(32) as pool:
            for n in range(args.rounds):
                list(pool.map(s3_work, range(n * 32, n * 32 + 32)))
                list(pool.map(console_work, range(n * 32, n * 32 + 32)))
        time.sleep(1)
        supervisor = srv.proc.pid
        for pid in [supervisor, *children(supervisor)]:
            print(pid, footprint(pid), "(supervisor)" if pid == supervisor else "(worker)")
    finally:
        srv.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

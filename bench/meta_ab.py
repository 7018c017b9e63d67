"""SQLite against PostgreSQL metadata (issue 19), A/B in one run: 4 KiB PUT and GET, rounds interleaved.

Two sealbox servers at once, one on SQLite in its data directory and one with ``--meta-url`` on a
PostgreSQL server of its own (tests/pg_support.py: Debian's package, initdb into a temporary directory,
durability settings at their defaults: fsync on, synchronous_commit on). Per request it reports the CPU
time of sealbox's process tree, of PostgreSQL's (its backends are children of the postmaster), and
the throughput, alternating the backends round after round so drift on a shared machine hits both.
It also reports PostgreSQL's write rate: PUTs per second, each one transaction and one WAL flush.

    .venv/bin/python bench/meta_ab.py [--rounds 3] [--small 300] [--workers 2] [--threads 8]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from kms_ab import measure, tree_cpu  # noqa: E402
from tests.pg_support import PgServer  # noqa: E402
from tests.support import start_server  # noqa: E402

BACKENDS = ("sqlite", "postgres")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--small", type=int, default=300, help="4 KiB requests per backend, op and round")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=8, help="client threads")
    p.add_argument("--sse", action="store_true", help="SSE-S3 on every PUT")
    args = p.parse_args()
    pg = PgServer()
    servers: dict[str, Any] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="meta-ab-") as tmp:
            servers["sqlite"] = start_server(Path(tmp) / "sqlite" / "data", workers=args.workers, meta="sqlite")
            url = pg.database("meta_ab", migrated=False)
            servers["postgres"] = start_server(Path(tmp) / "pg" / "data", "--meta-url", url, workers=args.workers)
            body = os.urandom(4096)
            extra = {"ServerSideEncryption": "AES256"} if args.sse else {}
            clients = {name: srv.client(max_pool_connections=args.threads) for name, srv in servers.items()}
            for s3 in clients.values():
                s3.create_bucket(Bucket="meta-ab")
                for i in range(30):  # warm up: connections, prepared statements, caches
                    s3.put_object(Bucket="meta-ab", Key=f"warm-{i}", Body=body, **extra)
            results: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
            for rnd in range(args.rounds):
                for name in (BACKENDS if rnd % 2 == 0 else BACKENDS[::-1]):
                    s3, srv = clients[name], servers[name]
                    keys = [f"{rnd}/k{i}" for i in range(args.small)]

                    def put(key: str, s3: Any = s3) -> Any:
                        return lambda: s3.put_object(Bucket="meta-ab", Key=key, Body=body, **extra)

                    def get(key: str, s3: Any = s3) -> Any:
                        return lambda: s3.get_object(Bucket="meta-ab", Key=key)["Body"].read()

                    for op, jobs in (("PUT", [put(k) for k in keys]), ("GET", [get(k) for k in keys])):
                        pg_before = tree_cpu(pg.proc.pid) if pg.proc else 0.0
                        cpu, wall = measure(srv.proc.pid, jobs, args.threads)
                        pg_cpu = ((tree_cpu(pg.proc.pid) if pg.proc else 0.0) - pg_before) / len(jobs)
                        results.setdefault((name, op), []).append((cpu, pg_cpu if name == "postgres" else 0.0, wall))
        print(f"4 KiB {'SSE-S3 ' if args.sse else ''}requests, {args.threads} client threads, {args.workers} workers,"
              f" {args.rounds} rounds x {args.small}; medians (ms of CPU per request; ops/s)")
        print(f"{'backend':9} {'op':4} {'sealbox CPU':>12} {'postgres CPU':>13} {'ops/s':>8}")
        for op in ("PUT", "GET"):
            for name in BACKENDS:
                rows = results[(name, op)]
                cpu = statistics.median(r[0] for r in rows) * 1000
                pgc = statistics.median(r[1] for r in rows) * 1000
                rate = 1 / statistics.median(r[2] for r in rows)
                print(f"{name:9} {op:4} {cpu:12.2f} {pgc:13.2f} {rate:8.0f}")
        return 0
    finally:
        for srv in servers.values():
            srv.stop()
        pg.close()


if __name__ == "__main__":
    sys.exit(main())

"""What the change feed's check costs (docs/ARCHITECTURE.md, "Change feed"): one ``current(slot)``
on SQLite's memory-mapped tokens and on PostgreSQL's sequences (a real server from
tests/pg_support.py on 127.0.0.1, through the store's own pool), beside the primary-key row read the
check saves, in µs per call (wall and CPU of this thread). ``python bench/change_feed.py``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sealbox.core.types import Bucket  # noqa: E402
from sealbox.storage.meta.generation import BUCKETS, ChangeTokens  # noqa: E402
from sealbox.storage.meta.pg_changes import PgChangeFeed  # noqa: E402
from sealbox.storage.meta.postgres import PostgresMetaStore  # noqa: E402
from tests import pg_support  # noqa: E402

N = 5000


def per_call(fn: Callable[[], object], n: int = N) -> tuple[float, float]:
    for _ in range(min(n, 200)):
        fn()
    wall, cpu = time.perf_counter(), time.thread_time()
    for _ in range(n):
        fn()
    return (time.perf_counter() - wall) / n * 1e6, (time.thread_time() - cpu) / n * 1e6


def main() -> None:
    tokens = ChangeTokens(Path(tempfile.mkdtemp()) / "tokens")
    rows = [("sqlite mmap token check", per_call(lambda: tokens.current(BUCKETS), 100_000))]
    server = pg_support.PgServer()
    try:
        meta = PostgresMetaStore(server.database("feed"))
        meta.create_bucket(Bucket("b", "alice", time.time(), "us-east-1"))
        feed = PgChangeFeed(meta.database.connection)
        rows.append(("postgresql sequence check", per_call(lambda: feed.current(BUCKETS))))
        rows.append(("postgresql bump (nextval)", per_call(lambda: feed.bump(BUCKETS))))
        rows.append(("postgresql bucket row read", per_call(
            lambda: meta.database.reader.execute("SELECT * FROM buckets WHERE name=?", ("b",)).fetchone())))
        rows.append(("get_bucket, kept row (check only)", per_call(lambda: meta.get_bucket("b"))))
        meta.close()
    finally:
        server.close()
    for name, (wall, cpu) in rows:
        print(f"{name:<36} {wall:8.1f} µs wall {cpu:8.1f} µs CPU per call")


if __name__ == "__main__":
    main()

"""What sealed metadata (issue 13) costs, in process: a 1,000-key listing page, 4 KiB SSE PUT/GET, secure_delete.

    PYTHONPATH=. .venv/bin/python bench/metadata_sealing.py [--keys 1000] [--rounds 30] [--dir D]

Runs on code from before sealed metadata too (the store then takes no cipher), so the "before" and
"after" rows are measured by the same script: check out the older commit, run it, compare. All figures
are the best (``--stat min``, default) or median of ``--rounds`` rounds of CPU time (this thread's; the process's for PUTs, whose commit runs in a
worker thread), as the machine may be shared; the data directory is on the disk (``--dir``, default a temp dir under
the current directory), since a PUT's commit is an fsync.

Rows:
- list page: ``MetaStore.list_objects`` of ``--keys`` SSE objects (each with an ETag, a CRC32, one user
  metadata entry and a content type), SQLite's page cache warm. "cold" = a fresh Sealer and metadata
  cipher each round (a new worker: every data key and every blob opened); "warm" = the worker's caches.
- seal / open: the metadata cipher alone, per row.
- PUT 4 KiB SSE: ``ObjectService.put`` of a new key (inline, one commit), wall time and CPU time of the
  process per PUT; GET 4 KiB SSE: lookup + read, the lookup memo emptied before each (as after any
  write by anyone), with warm or cold worker caches.
- overwrite 4 KiB SSE: PUT onto one key (each drops the previous version and its inline bytes), with
  ``PRAGMA secure_delete`` ON and OFF.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import tempfile
import time
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sealbox.core.types import ObjectVersion
from sealbox.crypto.keyring import Keyring, generate_master_key
from sealbox.service.buckets import BucketService
from sealbox.service.copy import SourcePayload
from sealbox.service.identity import Principal
from sealbox.service.objects import ObjectService, WriteParams
from sealbox.service.sealing import Sealer
from sealbox.storage.data.local import LocalBlobStore
from sealbox.storage.meta.sqlite import SqliteMetaStore

try:
    from sealbox.service.metadata import MetadataSealer
    from sealbox.storage.meta.base import MetadataOwner
except ImportError:  # code from before sealed metadata
    MetadataSealer = None  # type: ignore[assignment,misc]

ROOT = Principal("root", "bench")


PICK: Callable[[list[float]], float] = min  # --stat


def median_us(fn: Callable[[], object], rounds: int, per: int = 1) -> float:
    """CPU time of this thread per call (the machine is shared: wall time would count the others)."""
    times = []
    for _ in range(rounds):
        start = time.thread_time()
        fn()
        times.append((time.thread_time() - start) / per)
    return PICK(times) * 1e6


def open_store(path: Path, sealer: Sealer) -> SqliteMetaStore:
    if MetadataSealer is None:
        return SqliteMetaStore(path)
    return SqliteMetaStore(path, metadata=MetadataSealer(sealer))


def fresh_caches(store: SqliteMetaStore, keyring: Keyring) -> Sealer:
    """A new worker's caches: no data key and no sealed blob opened yet (one Sealer, as in a worker)."""
    sealer = Sealer(keyring)
    if MetadataSealer is not None:
        store._cipher = MetadataSealer(sealer)
    return sealer


def versions(sealer: Sealer, bucket: str, count: int) -> list[ObjectVersion]:
    out = []
    for i in range(count):
        uid = sealer.new_object_uid()
        key = f"photos/2026/{i:06d}.jpg"
        _, sealed = sealer.new_data_key(bucket, key, uid)
        out.append(ObjectVersion(bucket=bucket, key=key, version_id=secrets.token_urlsafe(24), object_uid=uid,
                                 size=4096, etag=secrets.token_hex(16), last_modified=time.time(), owner="root",
                                 content_headers={"content-type": "image/jpeg"}, user_meta={"camera": "x100"},
                                 checksums={"CRC32": "AAAAAA=="}, checksum_type="FULL_OBJECT", sse="AES256",
                                 sealed_key=sealed))
    return out


def bench_listing(root: Path, keys: int, rounds: int) -> None:
    key = generate_master_key()
    keyring = Keyring([key], key.key_id)
    sealer = Sealer(keyring)
    store = open_store(root / "list.sqlite3", sealer)
    from sealbox.core.types import Bucket

    store.create_bucket(Bucket("bench", "root", time.time(), "us-east-1"))
    rows = versions(sealer, "bench", keys)
    for v in rows:
        store.put_version(v)
    page = store.list_objects("bench", "", "", "", keys)
    assert len(page.entries) == keys and page.entries[0].etag, "listing lost the ETags"

    def listing() -> None:
        store.list_objects("bench", "", "", "", keys)

    def cold() -> None:
        fresh_caches(store, keyring)
        store.list_objects("bench", "", "", "", keys)

    warm_us = median_us(listing, rounds)
    cold_us = median_us(cold, rounds)
    print(f"list page of {keys} SSE keys, warm caches: {warm_us / 1000:8.2f} ms  ({warm_us / keys:6.2f} µs/key)")
    print(f"list page of {keys} SSE keys, cold caches: {cold_us / 1000:8.2f} ms  ({cold_us / keys:6.2f} µs/key)")
    if MetadataSealer is not None:
        v = rows[0]
        owner = MetadataOwner("version", v.bucket, v.key, v.object_uid, v.sealed_key or "")
        cipher = MetadataSealer(Sealer(keyring))
        blob = cipher.seal(owner, v.metadata)
        n = 2000
        seal_us = median_us(lambda: [cipher.seal(owner, v.metadata) for _ in range(n)], rounds, n)
        cached_us = median_us(lambda: [cipher.open(owner, blob) for _ in range(n)], rounds, n)

        def open_cold() -> None:
            for _ in range(200):
                MetadataSealer(Sealer(keyring)).open(owner, blob)

        cold_open_us = median_us(open_cold, rounds, 200)
        print(f"seal one row (data key cached): {seal_us:6.2f} µs; open one row: {cold_open_us:6.2f} µs cold"
              f" (data key unsealed too), {cached_us:6.2f} µs cached")
    store.close()


async def _body(data: bytes) -> AsyncGenerator[bytes, None]:
    yield data


def bench_put_get(root: Path, rounds: int) -> None:
    key = generate_master_key()
    keyring = Keyring([key], key.key_id)
    sealer = Sealer(keyring)
    (root / "data").mkdir()
    store = open_store(root / "data" / "meta.sqlite3", sealer)
    blobs = LocalBlobStore(root / "data")
    buckets = BucketService(store, "us-east-1", None)
    pool = ThreadPoolExecutor(max_workers=4)
    objects = ObjectService(store, blobs, sealer, buckets, pool)
    buckets.create(ROOT, "bench", None)
    body = os.urandom(4096)
    params = WriteParams(sse="AES256", user_meta={"camera": "x100"}, content_headers={"content-type": "image/jpeg"})
    loop = asyncio.new_event_loop()

    def put(key: str) -> ObjectVersion:
        return loop.run_until_complete(objects.put(ROOT, "bench", key, SourcePayload(_body(body), ("CRC32",)), params))

    for i in range(50):  # warm up
        put(f"warm-{i}")
    n = 40
    walls, cpus = [], []
    for r in range(rounds):
        w, c = time.perf_counter(), time.process_time()
        for i in range(n):
            put(f"k-{r}-{i}")
        walls.append((time.perf_counter() - w) / n)
        cpus.append((time.process_time() - c) / n)
    print(f"PUT 4 KiB SSE (new key): {PICK(walls) * 1e6:8.1f} µs wall,"
          f" {PICK(cpus) * 1e6:7.1f} µs CPU per PUT")

    def get(key: str) -> None:
        store._versions = (b"", {})  # as after a write anywhere: the lookup memo is empty
        version = objects.lookup(ROOT, "bench", key, None)
        data = objects.read_small(version, 0, version.size)
        assert data is not None and len(data) == 4096

    keys = [f"k-0-{i}" for i in range(n)]
    def warm_gets() -> None:
        for k in keys:
            get(k)

    warm = median_us(warm_gets, rounds, n)

    def cold() -> None:
        for k in keys:
            objects.sealer = fresh_caches(store, keyring)
            get(k)

    cold_us = median_us(cold, rounds, n)
    print(f"GET 4 KiB SSE, lookup memo empty: {warm:7.1f} µs warm caches, {cold_us:7.1f} µs cold caches")

    def overwrite(label: str) -> None:
        for _ in range(20):
            put("same")
        walls, cpus = [], []
        for _ in range(rounds):
            w, c = time.perf_counter(), time.process_time()
            for _ in range(n):
                put("same")
            walls.append((time.perf_counter() - w) / n)
            cpus.append((time.process_time() - c) / n)
        print(f"overwrite 4 KiB SSE, secure_delete {label}: {PICK(walls) * 1e6:8.1f} µs wall,"
              f" {PICK(cpus) * 1e6:7.1f} µs CPU per PUT")

    db: Any = store._group._db
    for label in ("ON", "OFF", "ON"):
        db.execute(f"PRAGMA secure_delete={label}")
        overwrite(label)
    loop.close()
    pool.shutdown()
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--dir", type=Path, default=None, help="where the temp data directories go")
    parser.add_argument("--stat", choices=("min", "median"), default="min",
                        help="per row, the best round (default: the least disturbed by other processes) or the median")
    args = parser.parse_args()
    global PICK
    PICK = min if args.stat == "min" else statistics.median
    print("sealed metadata:", "yes" if MetadataSealer is not None else "no (code before issue 13)")
    with tempfile.TemporaryDirectory(dir=args.dir or Path.cwd()) as tmp:
        bench_listing(Path(tmp), args.keys, args.rounds)
        bench_put_get(Path(tmp), args.rounds)


if __name__ == "__main__":
    main()

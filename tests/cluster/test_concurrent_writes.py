"""Concurrent writers on one key across gateways: every read is one complete version, and
conditional writes are atomic across gateways."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

from tests.support import Server, unique_bucket

SOAK_SECONDS = float(os.environ.get("SEALBOX_CLUSTER_SOAK_SECONDS", "30"))
WRITERS_PER_GATEWAY = 8


@pytest.mark.slow
@pytest.mark.parametrize("size", [1000, 300_000], ids=["small", "300k"])
def test_writers_on_both_gateways_readers_see_only_whole_versions(gateways: list[Server], size: int) -> None:
    """2 gateways × 8 writers overwrite one key for a bounded time (30 s in all, split between the
    two sizes) while a reader per gateway checks every body it gets against the hashes written."""
    clients = [g.client(max_pool_connections=WRITERS_PER_GATEWAY + 2) for g in gateways]
    bucket = unique_bucket("soak")
    clients[0].create_bucket(Bucket=bucket)
    written: set[bytes] = set()
    acked: list[bytes] = []
    lock = threading.Lock()
    stop = time.monotonic() + SOAK_SECONDS / 2
    errors: list[str] = []
    reads = [0]

    def writer(n: int) -> None:
        client, i = clients[n % 2], 0
        while time.monotonic() < stop:
            body = f"{n}:{i}:".encode() + os.urandom(16) * (size // 16)
            digest = hashlib.sha256(body).digest()
            with lock:
                written.add(digest)  # before the request: a reader may see it before the reply
            client.put_object(Bucket=bucket, Key="hot", Body=body, ServerSideEncryption="AES256")
            with lock:
                acked.append(digest)
            i += 1

    def reader(n: int) -> None:
        client = clients[n % 2]
        while time.monotonic() < stop:
            try:
                body = client.get_object(Bucket=bucket, Key="hot")["Body"].read()
            except ClientError as exc:
                if exc.response["Error"]["Code"] == "NoSuchKey":
                    continue  # before the first write
                raise
            with lock:
                if hashlib.sha256(body).digest() not in written:
                    errors.append(f"a read of {len(body)} bytes matches no version written")
                reads[0] += 1

    with ThreadPoolExecutor(2 * WRITERS_PER_GATEWAY + 2) as pool:
        futures = [pool.submit(writer, n) for n in range(2 * WRITERS_PER_GATEWAY)]
        futures += [pool.submit(reader, n) for n in range(2)]
        for f in futures:
            f.result()
    assert not errors, errors[:5]
    assert acked and reads[0] > 0
    last = [hashlib.sha256(c.get_object(Bucket=bucket, Key="hot")["Body"].read()).digest() for c in clients]
    assert last[0] == last[1] and last[0] in acked  # both gateways agree on one committed version


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "sse"])
def test_if_none_match_star_racing_on_both_gateways_lets_exactly_one_win(gateways: list[Server],
                                                                        encrypted: bool) -> None:
    clients = [g.client(max_pool_connections=8) for g in gateways]
    bucket = unique_bucket("race")
    clients[0].create_bucket(Bucket=bucket)
    sse = {"ServerSideEncryption": "AES256"} if encrypted else {}
    barrier = threading.Barrier(8)

    def attempt(n: int, key: str) -> tuple[int, bytes]:
        body = f"writer {n}".encode()
        barrier.wait(timeout=30)
        try:
            clients[n % 2].put_object(Bucket=bucket, Key=key, Body=body, IfNoneMatch="*", **sse)  # type: ignore[arg-type]
            return 200, body
        except ClientError as exc:
            return int(exc.response["ResponseMetadata"]["HTTPStatusCode"]), body

    with ThreadPoolExecutor(8) as pool:
        for round_ in range(20):
            key = f"once-{round_}"
            results = list(pool.map(lambda n, k=key: attempt(n, k), range(8)))  # type: ignore[misc]
            winners = [body for status, body in results if status == 200]
            assert len(winners) == 1, results
            assert all(status in (412, 409) for status, _ in results if status != 200), results
            for client in clients:
                assert client.get_object(Bucket=bucket, Key=key)["Body"].read() == winners[0]


def test_if_match_racing_on_both_gateways_lets_one_writer_per_etag_win(gateways: list[Server]) -> None:
    clients = [g.client() for g in gateways]
    bucket = unique_bucket("ifm")
    clients[0].create_bucket(Bucket=bucket)
    etag = clients[0].put_object(Bucket=bucket, Key="k", Body=b"base")["ETag"]
    barrier = threading.Barrier(6)

    def attempt(n: int) -> int:
        barrier.wait(timeout=30)
        try:
            clients[n % 2].put_object(Bucket=bucket, Key="k", Body=f"w{n}".encode(), IfMatch=etag)
            return 200
        except ClientError as exc:
            return int(exc.response["ResponseMetadata"]["HTTPStatusCode"])

    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(attempt, range(6)))
    assert statuses.count(200) == 1, statuses
    assert set(statuses) <= {200, 409, 412}, statuses

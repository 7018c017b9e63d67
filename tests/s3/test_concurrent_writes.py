"""Concurrent PUTs to one key across worker processes: last writer wins, readers never see a mix."""

from __future__ import annotations

import hashlib
import threading

from tests.support import Server, sse_args


def test_concurrent_puts_and_reads_same_key(server: Server, bucket: str) -> None:
    size = 300_000  # several AES-GCM segments and more than one read buffer in places
    writers, rounds = 6, 8
    errors: list[str] = []
    stop = threading.Event()
    observed: set[bytes] = set()

    def write(tag: int) -> None:
        s3 = server.client()
        for r in range(rounds):
            marker = bytes([tag * 16 + r])
            s3.put_object(Bucket=bucket, Key="hot", Body=marker * size, **sse_args((tag + r) % 2 == 1))

    def read() -> None:
        s3 = server.client()
        while not stop.is_set():
            try:
                got = s3.get_object(Bucket=bucket, Key="hot")
            except s3.exceptions.NoSuchKey:
                continue
            body = got["Body"].read()
            if len(body) != size or body.count(body[:1]) != size:
                errors.append(f"mixed body of {len(body)} bytes")
            elif got["ETag"] != f'"{hashlib.md5(body).hexdigest()}"':
                errors.append("etag does not match body")
            observed.add(body[:1])

    readers = [threading.Thread(target=read) for _ in range(3)]
    threads = [threading.Thread(target=write, args=(t,)) for t in range(writers)]
    for t in readers + threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    stop.set()
    for t in readers:
        t.join(timeout=60)
    assert not errors, errors[:5]
    assert len(observed) > 1  # the readers really did see the key change under them
    s3 = server.client()
    final = s3.get_object(Bucket=bucket, Key="hot")["Body"].read()
    assert final[0] // 16 < writers and final[0] % 16 < rounds and final.count(final[:1]) == size
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 1

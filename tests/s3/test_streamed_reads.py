"""Large objects are streamed from mapped extent files into reused plaintext buffers
(sealbox.service.pipeline): what clients receive must be exactly what was stored, whatever the
range, however many streams run at once, and however often a client walks away mid-body."""

from __future__ import annotations

import hashlib
import os
import random
import socket
import struct
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from sealbox.storage.data.mapped import MAP_THRESHOLD
from tests.hostile.raw import request_bytes, sign
from tests.support import Server, unique_bucket

SIZE = 9 * 1024 * 1024 + 12345  # several 1 MiB read buffers, a ragged last segment


BUCKET = unique_bucket("streamed")


@pytest.fixture(scope="module")
def stored(server: Server) -> dict[str, bytes]:
    s3: Any = server.client()
    s3.create_bucket(Bucket=BUCKET)
    bodies = {"sealed": os.urandom(SIZE), "plain": os.urandom(SIZE)}
    s3.put_object(Bucket=BUCKET, Key="sealed", Body=bodies["sealed"], ServerSideEncryption="AES256")
    s3.put_object(Bucket=BUCKET, Key="plain", Body=bodies["plain"])
    return bodies


@pytest.mark.parametrize("key", ["sealed", "plain"])
def test_unaligned_ranges_large_enough_to_be_mapped(server: Server, stored: dict[str, bytes], key: str) -> None:
    # Starts that are not page-aligned (the mapping is aligned down and sliced) and lengths above the
    # mapping threshold, across segment and buffer boundaries and up to the last byte.
    s3: Any = server.client()
    body = stored[key]
    ranges = [(1, MAP_THRESHOLD + 1), (4097, 3 * 1024 * 1024), (65536 + 15, 2 * MAP_THRESHOLD),
              (SIZE - MAP_THRESHOLD - 3, SIZE - 1), (1024 * 1024 - 1, SIZE - 1)]
    for start, end in ranges:
        got = s3.get_object(Bucket=BUCKET, Key=key, Range=f"bytes={start}-{end}")["Body"].read()
        assert got == body[start:end + 1], (key, start, end)


def test_objects_no_longer_in_the_page_cache_are_read_from_the_disk(server: Server, stored: dict[str, bytes]) -> None:
    # Cached bytes are read on the event loop; evicted ones in a worker thread, one buffer ahead.
    for folder, _, files in os.walk(server.data_dir / "blobs"):
        for name in files:
            fd = os.open(os.path.join(folder, name), os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)
    s3: Any = server.client()
    for key, body in stored.items():
        assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == body, key
        got = s3.get_object(Bucket=BUCKET, Key=key, Range=f"bytes=4097-{SIZE - 2}")["Body"].read()
        assert got == body[4097:SIZE - 1], key


def test_parallel_streams_each_get_their_own_bytes(server: Server, stored: dict[str, bytes]) -> None:
    s3: Any = server.client()
    want = {key: hashlib.sha256(body).hexdigest() for key, body in stored.items()}

    def fetch(i: int) -> tuple[str, str]:
        key = "sealed" if i % 2 else "plain"
        return key, hashlib.sha256(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()).hexdigest()

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(fetch, range(16)))
    assert all(digest == want[key] for key, digest in results)


def test_clients_walking_away_mid_body_leave_the_server_serving(server: Server, stored: dict[str, bytes]) -> None:
    # Each abort ends a stream with a read (and its mapping) in flight and buffers in the socket's
    # queue; the session fixture also checks the log holds no traceback at the end.
    rng = random.Random(7)
    for n in range(24):
        key = "sealed" if n % 3 else "plain"
        path = f"/{BUCKET}/{key}"
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            sock.sendall(request_bytes("GET", path, sign(server, "GET", path)))
            wanted = rng.randrange(1, 4 * 1024 * 1024)
            first = sock.recv(256 * 1024)
            assert first.startswith(b"HTTP/1.1 200 "), first[:200]  # a real body stream, not an error
            received = len(first)
            while received < wanted and (chunk := sock.recv(256 * 1024)):
                received += len(chunk)
            if n % 2:  # half of them reset the connection instead of closing it
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s3: Any = server.client()
    assert s3.get_object(Bucket=BUCKET, Key="sealed")["Body"].read() == stored["sealed"]
    assert "never retrieved" not in server.log()

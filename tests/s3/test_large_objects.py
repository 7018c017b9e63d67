"""Bodies stream end to end: a 2 GiB PUT and GET keep the server's memory flat."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests

from tests.support import Server, running_server, unique_bucket

GIB = 1024**3
BLOCK = 1024 * 1024


def _pattern_blocks(total: int) -> Iterator[bytes]:
    """Deterministic, incompressible-enough data generated on the fly (the client holds no 2 GiB either)."""
    seed = hashlib.sha256(b"sealbox").digest() * (BLOCK // 32)
    for i in range(total // BLOCK):
        yield i.to_bytes(8, "big") + seed[8:]


class _PatternReader:
    """A file-like body of known length, so the client streams it with a Content-Length."""

    def __init__(self, size: int) -> None:
        self._blocks = _pattern_blocks(size)
        self._size = size
        self._pending = b""
        self.md5 = hashlib.md5()

    def __len__(self) -> int:
        return self._size

    def read(self, n: int = -1) -> bytes:
        if not self._pending:
            self._pending = next(self._blocks, b"")
            self.md5.update(self._pending)
        if n < 0 or n >= len(self._pending):
            out, self._pending = self._pending, b""
        else:
            out, self._pending = self._pending[:n], self._pending[n:]
        return out


class RssSampler:
    """Peak resident memory of the server's whole process tree, sampled every 50 ms."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            total = 0
            for proc in [self.root, *self.root.children(recursive=True)]:
                try:
                    total += proc.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.mark.parametrize("sse", [True])
def test_two_gib_put_and_get_with_flat_memory(tmp_path: Path, sse: bool) -> None:
    with running_server(tmp_path / "data", workers=2) as srv:
        _roundtrip(srv, 2 * GIB, sse)


def _roundtrip(srv: Server, size: int, sse: bool) -> None:
    s3 = srv.client(signature_version="s3v4")
    bucket = unique_bucket()
    s3.create_bucket(Bucket=bucket)
    params = {"Bucket": bucket, "Key": "huge"}
    headers = {"Content-Length": str(size)}
    if sse:
        params["ServerSideEncryption"] = "AES256"
        headers["x-amz-server-side-encryption"] = "AES256"
    put_url = s3.generate_presigned_url("put_object", Params=params, ExpiresIn=3600)
    body = _PatternReader(size)
    expected = body.md5

    with RssSampler(srv.proc.pid) as sampler:
        resp = requests.put(put_url, data=body, headers=headers, timeout=600)
        assert resp.status_code == 200, resp.text
        assert resp.headers["etag"] == f'"{expected.hexdigest()}"'
        get_url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "huge"}, ExpiresIn=3600)
        got = hashlib.md5()
        received = 0
        with requests.get(get_url, stream=True, timeout=600) as stream:
            assert stream.status_code == 200
            for chunk in stream.iter_content(BLOCK):
                got.update(chunk)
                received += len(chunk)
    assert received == size and got.hexdigest() == expected.hexdigest()
    print(f"server peak RSS during 2 GiB PUT+GET: {sampler.peak / 1e6:.0f} MB")
    assert sampler.peak < 200 * 1024 * 1024, f"peak RSS {sampler.peak / 1e6:.0f} MB"

"""A worker's caps on open connections and on request-body memory (issue 13, item 9): beyond them
a request gets 503 SlowDown and its connection closes; pipelining does not get around them; a
client is served again as soon as the load drops.

A private server with one worker, ``SEALBOX_MAX_CONNECTIONS=4`` and ``SEALBOX_MAX_BODY_MEMORY=4``
(MiB: two stalled large uploads reserve it all). Socket timeouts bound every wait.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.hostile.raw import Reply, pipelined_replies, read_reply, request_bytes, sign
from tests.support import REGION, Server, start_server

CAP = 4
WAIT = 30


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("capped") / "data", workers=1,
                          env={"SEALBOX_MAX_CONNECTIONS": str(CAP), "SEALBOX_MAX_BODY_MEMORY": "4"})
    s3: Any = server.client()
    s3.create_bucket(Bucket="capped")
    s3.put_object(Bucket="capped", Key="k", Body=b"hello")
    s3.close()  # its pooled keep-alive connection would count against the cap
    yield server
    server.stop()
    assert "Traceback" not in server.log(), server.log()


def _connect(server: Server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)


def _get(server: Server, path: str = "/capped/k") -> bytes:
    return request_bytes("GET", path, sign(server, "GET", path))


def _put(server: Server, path: str, body: bytes, content_length: int | None = None) -> bytes:
    return request_bytes("PUT", path, sign(server, "PUT", path, payload_hash="UNSIGNED-PAYLOAD"), body,
                         content_length)


def _served(server: Server, data: bytes, method: str = "GET") -> Reply:
    with _connect(server) as sock:
        sock.sendall(data)
        return read_reply(sock, method)


def _eventually(attempt: Callable[[], Reply], seconds: float = 3.0) -> Reply:
    """The first answer that is not 503 within ``seconds`` (the server learns of a close at once,
    but asynchronously)."""
    deadline = time.monotonic() + seconds
    while True:
        reply = attempt()
        if reply.status != 503 or time.monotonic() > deadline:
            return reply
        time.sleep(0.05)


def _assert_slow_down(sock: socket.socket, method: str = "GET") -> None:
    reply = read_reply(sock, method)
    assert (reply.status, reply.code) == (503, "SlowDown"), reply
    assert reply.headers.get("connection") == "close"
    assert sock.recv(1) == b""  # and the connection is closed


def test_connections_beyond_the_cap_get_slow_down_until_one_closes(capped: Server) -> None:
    held = [_connect(capped) for _ in range(CAP)]
    try:
        for sock in held:  # each is served: a keep-alive connection the server counts
            sock.sendall(_get(capped))
            assert read_reply(sock).status == 200
        with _connect(capped) as extra:
            extra.sendall(_get(capped) + _get(capped))  # pipelining gets no more than one answer
            _assert_slow_down(extra)
        with _connect(capped) as extra:  # an upload sent at once also reads its 503
            extra.sendall(_put(capped, "/capped/over", b"u" * 200_000))
            _assert_slow_down(extra, "PUT")
        for sock in held:
            sock.sendall(_get(capped))  # those already served still are
            assert read_reply(sock).status == 200
        held.pop().close()
        assert _eventually(lambda: _served(capped, _get(capped))).status == 200
    finally:
        for sock in held:
            sock.close()


def test_an_sdk_client_retrying_slow_down_gets_through_when_load_drops(capped: Server) -> None:
    held = [_connect(capped) for _ in range(CAP)]
    for sock in held:
        sock.sendall(_get(capped))
        assert read_reply(sock).status == 200
    def close_all() -> None:
        for sock in held:
            sock.close()

    release = threading.Timer(0.5, close_all)
    release.start()
    try:
        s3: Any = boto3.client("s3", endpoint_url=capped.endpoint, region_name=REGION,
                               aws_access_key_id=capped.access_key, aws_secret_access_key=capped.secret_key,
                               config=Config(s3={"addressing_style": "path"},
                                             retries={"max_attempts": 8, "mode": "standard"}))
        assert s3.get_object(Bucket="capped", Key="k")["Body"].read() == b"hello"
        s3.close()
    finally:
        release.join()
    assert "overloaded: refused" in capped.log()  # one rate-limited line for the operator


def test_bodies_beyond_the_memory_cap_get_slow_down_until_one_ends(capped: Server) -> None:
    stalled = [_connect(capped) for _ in range(2)]  # two large uploads that stop sending: 2 MiB each
    try:
        for n, sock in enumerate(stalled):
            sock.sendall(_put(capped, f"/capped/stalled{n}", b"s" * 1000, content_length=64 * 1024 * 1024))
        time.sleep(0.2)
        reply = _served(capped, _put(capped, "/capped/small", b"tiny"), "PUT")
        assert (reply.status, reply.code) == (503, "SlowDown"), reply
        assert _served(capped, _get(capped)).status == 200  # reads need no body memory
        stalled.pop().close()  # one client gives up: its reservation is returned
        assert _eventually(lambda: _served(capped, _put(capped, "/capped/small", b"tiny"), "PUT")).status == 200
    finally:
        for sock in stalled:
            sock.close()


def test_pipelined_bodies_count_against_the_memory_cap(capped: Server) -> None:
    """Bodies behind the request being answered are buffered too: they reserve their share, and the
    one that does not fit is refused in its turn."""
    with _connect(capped) as stall:
        stall.sendall(_put(capped, "/capped/stalled", b"s" * 1000, content_length=64 * 1024 * 1024))
        time.sleep(0.2)
        small = 1024 * 1024 + 512 * 1024  # 2 MiB stalled + 1.5 MiB fits 4 MiB; a second 1.5 MiB does not
        with _connect(capped) as piped:
            piped.sendall(_put(capped, "/capped/p1", b"a" * small) + _put(capped, "/capped/p2", b"b" * small))
            first, second = pipelined_replies(piped, ["PUT", "PUT"], expect_close=True)
            assert first.status == 200, first
            assert (second.status, second.code, second.headers.get("connection")) == (503, "SlowDown", "close")

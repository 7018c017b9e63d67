"""Slow and stalled clients are cut off after the request timeout; everyone else is served meanwhile.

A private server with ``--request-timeout 2`` and one worker (one event loop: a stalled client that
blocked it would block everybody). Socket timeouts bound every wait; nothing asserts a duration.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.hostile.raw import Reply, read_reply, request_bytes, sign
from tests.support import Server, start_server

TIMEOUT = 2
WAIT = 30  # far beyond the server's timeout: a socket still open after this means no timeout happened


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("slow") / "data", "--request-timeout", str(TIMEOUT), workers=1)
    s3: Any = server.client()
    s3.create_bucket(Bucket="slow")
    yield server
    server.stop()
    assert "Traceback" not in server.log(), server.log()


def _connect(server: Server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)


def _outcome(sock: socket.socket, method: str = "PUT") -> Reply | None:
    """The server's answer, or None if it closed the connection without one."""
    try:
        return read_reply(sock, method)
    except OSError:
        return None
    except Exception:  # noqa: BLE001 - http.client's "remote end closed connection without response"
        return None


def _others_are_served(server: Server, n: int) -> None:
    s3: Any = server.client()
    s3.put_object(Bucket="slow", Key=f"other{n}", Body=b"meanwhile")
    assert s3.get_object(Bucket="slow", Key=f"other{n}")["Body"].read() == b"meanwhile"


def test_stalled_body_is_timed_out_and_leaves_nothing(slow_server: Server) -> None:
    path = "/slow/stalled"
    signed = sign(slow_server, "PUT", path, payload_hash="UNSIGNED-PAYLOAD")
    with _connect(slow_server) as sock:
        sock.sendall(request_bytes("PUT", path, signed, os.urandom(1000), content_length=100_000))
        _others_are_served(slow_server, 1)  # while this client stalls
        reply = _outcome(sock)
        assert reply is not None and (reply.status, reply.code) == (400, "RequestTimeout"), reply
        assert reply.headers.get("connection") == "close"
        assert sock.recv(1) == b""  # and the connection is closed
    assert os.listdir(slow_server.data_dir / "tmp") == []  # the temp file of the cut upload is gone
    s3: Any = slow_server.client()
    assert "stalled" not in [o["Key"] for o in s3.list_objects_v2(Bucket="slow").get("Contents", [])]


def test_stalled_request_head_is_timed_out(slow_server: Server) -> None:
    with _connect(slow_server) as sock:
        sock.sendall(b"PUT /slow/k HTTP/1.1\r\nHost: x\r\nX-Amz-Date: 2")
        _others_are_served(slow_server, 2)
        reply = _outcome(sock)
        assert reply is not None and (reply.status, reply.code) == (400, "RequestTimeout"), reply
        assert sock.recv(1) == b""


def test_silent_connection_is_closed(slow_server: Server) -> None:
    with _connect(slow_server) as sock:
        _others_are_served(slow_server, 3)
        assert sock.recv(1) == b""  # closed without a word: nothing was asked


def test_many_stalled_clients_do_not_block_others(slow_server: Server) -> None:
    socks = [_connect(slow_server) for _ in range(100)]
    try:
        for i, sock in enumerate(socks):
            sock.sendall(b"GET /slow/k HTTP/1.1\r\nHost: x\r\n" if i % 2 else b"")
        for n in range(5):
            _others_are_served(slow_server, 10 + n)
        for sock in socks:
            _outcome(sock, "GET")
            assert sock.recv(1) == b""  # every one of them was eventually dropped
    finally:
        for sock in socks:
            sock.close()


def test_slow_but_steady_body_is_not_cut_off(slow_server: Server) -> None:
    """The timeout measures silence, not total time: a body trickling in faster than that completes."""
    body = os.urandom(6000)
    path = "/slow/trickle"
    signed = sign(slow_server, "PUT", path, body=body)
    with _connect(slow_server) as sock:
        head = request_bytes("PUT", path, signed, content_length=len(body))
        sock.sendall(head)
        for i in range(0, len(body), 1000):  # 6 pieces, half the timeout apart: 3 s in total > 2 s timeout
            time.sleep(TIMEOUT / 4)
            sock.sendall(body[i:i + 1000])
        reply = _outcome(sock)
    assert reply is not None and reply.status == 200, reply
    s3: Any = slow_server.client()
    assert s3.get_object(Bucket="slow", Key="trickle")["Body"].read() == body


def test_keep_alive_connection_survives_between_requests(slow_server: Server) -> None:
    """The head timer runs from the first byte of a request: an idle keep-alive gap shorter than the
    keep-alive timeout does not count against the next request."""
    path = "/slow/"
    with _connect(slow_server) as sock:
        for n in range(2):
            if n:
                time.sleep(TIMEOUT * 1.5)  # longer than the head timeout, shorter than keep-alive (30 s)
            sock.sendall(request_bytes("GET", path, sign(slow_server, "GET", path)))
            reply = read_reply(sock, "GET")
            assert reply.status == 200, reply


def test_client_that_stops_reading_a_response_is_dropped(slow_server: Server) -> None:
    """A GET whose client never reads: once nothing drains for the timeout, the connection is aborted."""
    size = 64 * 1024 * 1024  # far more than socket buffers hold
    s3: Any = slow_server.client()
    s3.put_object(Bucket="slow", Key="big", Body=os.urandom(size), ServerSideEncryption="AES256")
    path = "/slow/big"
    with _connect(slow_server) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.sendall(request_bytes("GET", path, sign(slow_server, "GET", path)))
        _others_are_served(slow_server, 20)  # while this one does not read
        time.sleep(TIMEOUT * 2)  # stop reading for longer than the timeout
        received = 0
        try:
            while chunk := sock.recv(1024 * 1024):
                received += len(chunk)
        except ConnectionResetError:
            pass
    assert received < size  # the connection ended before the whole object was sent
    _others_are_served(slow_server, 21)


def test_pipelined_head_does_not_time_out_a_long_response(slow_server: Server) -> None:
    """A client that starts its next request while a long response is still coming: the head timer
    of that request must not cut the response off (it counts from when the connection is free)."""
    size = 16 * 1024 * 1024
    body = os.urandom(size)
    s3: Any = slow_server.client()
    s3.put_object(Bucket="slow", Key="long", Body=body)
    path = "/slow/long"
    with _connect(slow_server) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.sendall(request_bytes("GET", path, sign(slow_server, "GET", path)))
        sock.sendall(b"GET /slow/ HTTP/1.1\r\nHo")  # the next request's head, not finished yet
        received = bytearray()
        expected: int | None = None  # head and body
        while (expected is None or len(received) < expected) and (chunk := sock.recv(256 * 1024)):
            received += chunk
            if expected is None and b"\r\n\r\n" in received:
                expected = received.index(b"\r\n\r\n") + 4 + size
            time.sleep(0.05)  # a slow reader: the response takes several head timeouts to arrive
        head, _, got = received.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head[:200]
        assert got[:size] == body

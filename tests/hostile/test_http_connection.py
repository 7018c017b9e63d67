"""The HTTP/1.1 layer (sealbox.http.connection) as raw clients see it: pipelining, half-close,
HTTP/1.0, upgrade requests, response headers that cannot be written, and a graceful stop."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path
from typing import Any

import pytest

from tests.hostile.conftest import assert_serving
from tests.hostile.raw import pipelined_replies as _replies
from tests.hostile.raw import request_bytes, send_signed, sign
from tests.support import Server, start_server


def _get(server: Server, path: str, headers: dict[str, str] | None = None) -> bytes:
    return request_bytes("GET", path, sign(server, "GET", path, headers))


def test_pipelined_requests_are_answered_in_order(server: Server, hostile_bucket: str) -> None:
    s3: Any = server.client()
    bodies = {"a": os.urandom(3000), "b": os.urandom(70_000)}
    for key, body in bodies.items():
        s3.put_object(Bucket=hostile_bucket, Key=key, Body=body, ServerSideEncryption="AES256")
    order = ["a", "b", "a", "b", "b"]
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(b"".join(_get(server, f"/{hostile_bucket}/{key}") for key in order))  # one write
        replies = _replies(sock, ["GET"] * len(order))
    assert [r.status for r in replies] == [200] * len(order)
    assert [r.body for r in replies] == [bodies[key] for key in order]


def test_pipelined_put_then_get_of_the_same_key(server: Server, hostile_bucket: str) -> None:
    """The body of the first request goes to the first request, and the GET runs after the PUT."""
    body = os.urandom(200_000)
    path = f"/{hostile_bucket}/piped"
    put = request_bytes("PUT", path, sign(server, "PUT", path, body=body), body)
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(put + _get(server, path))
        put_reply, get_reply = _replies(sock, ["PUT", "GET"])
    assert put_reply.status == 200, put_reply
    assert (get_reply.status, get_reply.body) == (200, body)


def test_upgrade_request_is_answered_as_http_1_1(server: Server, hostile_bucket: str) -> None:
    """curl --http2 on http:// asks for an upgrade to h2c; sealbox answers plain HTTP/1.1, and a
    request pipelined behind it is still read."""
    path = f"/{hostile_bucket}"
    upgrade = {"Connection": "Upgrade, HTTP2-Settings", "Upgrade": "h2c", "HTTP2-Settings": "AAMAAABkAAQAoAAAAAIAAAAA"}
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(_get(server, path, upgrade) + _get(server, path))
        first, second = _replies(sock, ["GET", "GET"])
    assert (first.status, second.status) == (200, 200), (first, second)
    assert b"<ListBucketResult" in second.body


def test_http_1_0_request_is_answered_then_closed(server: Server, hostile_bucket: str) -> None:
    path = f"/{hostile_bucket}"
    raw = _get(server, path).replace(b" HTTP/1.1\r\n", b" HTTP/1.0\r\n", 1)
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(raw)
        (reply,) = _replies(sock, ["GET"])
        assert reply.status == 200, reply
        assert sock.recv(1) == b""  # closed by the server, not left to time out


def test_body_cut_short_by_a_half_close_is_answered(server: Server, hostile_bucket: str) -> None:
    """The client sends part of the body and shuts its side: it still gets the S3 error, not a reset."""
    body = os.urandom(5000)
    reply = send_signed(server, "PUT", f"/{hostile_bucket}/half", body[:2000], content_length=len(body),
                        payload_hash="UNSIGNED-PAYLOAD", shutdown_write=True)
    assert (reply.status, reply.code) == (400, "IncompleteBody"), reply
    assert os.listdir(server.data_dir / "tmp") == []


@pytest.mark.parametrize("value", ["text/plain%0D%0AX-Injected:%201", "a%00b", "a%0Ab"])
def test_response_override_with_a_control_character_is_refused(server: Server, hostile_bucket: str,
                                                               value: str) -> None:
    """response-content-type is copied into a response header: a CR, LF or NUL in it must not split
    or corrupt the response head."""
    s3: Any = server.client()
    s3.put_object(Bucket=hostile_bucket, Key="o", Body=b"x")
    path = f"/{hostile_bucket}/o?response-content-type={value}"
    reply = send_signed(server, "GET", path)
    assert (reply.status, reply.code) == (400, "InvalidArgument"), reply
    assert "x-injected" not in reply.headers
    assert_serving(server)


def test_stopping_lets_a_response_in_progress_finish(tmp_path: Path) -> None:
    """SIGTERM stops accepting and closes idle connections; a GET being sent completes first."""
    server = start_server(tmp_path / "data", workers=1)
    try:
        s3: Any = server.client()
        s3.create_bucket(Bucket="stop")
        body = os.urandom(48 * 1024 * 1024)
        s3.put_object(Bucket="stop", Key="big", Body=body, ServerSideEncryption="AES256")
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as busy, \
                socket.create_connection(("127.0.0.1", server.port), timeout=30) as idle:
            busy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            busy.sendall(_get(server, "/stop/big"))
            first = busy.recv(4096)  # the response has started
            assert first.startswith(b"HTTP/1.1 200"), first[:100]
            os.killpg(server.proc.pid, signal.SIGTERM)
            assert idle.recv(1) == b""  # the idle connection is closed
            # A bytearray: bytes += bytes re-copies everything received so far (~14 GB of copying for
            # 48 MiB in 64 KiB reads), which made this client slower than the server's 10 s grace.
            received = bytearray(first)
            while chunk := busy.recv(1024 * 1024):
                received += chunk
        head, _, got = bytes(received).partition(b"\r\n\r\n")
        assert got == body
        assert server.proc.wait(timeout=30) == 0
    finally:
        server.stop()


@pytest.mark.parametrize("host_lines", [b"", b"Host: 127.0.0.1\r\nHost: 127.0.0.2\r\n"], ids=["none", "two"])
def test_http_1_1_request_needs_exactly_one_host(server: Server, host_lines: bytes) -> None:
    """RFC 9112 3.2: 400, and the connection closes (the request never reaches authentication)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\n" + host_lines + b"X-Amz-Date: 20261127T000000Z\r\n\r\n")
        (reply,) = _replies(sock, ["GET"])
        assert (reply.status, reply.code) == (400, "InvalidRequest"), reply
        assert b"Host header" in reply.body
        assert sock.recv(1) == b""
    assert_serving(server)


def test_an_unknown_expectation_gets_417(server: Server, hostile_bucket: str) -> None:
    """RFC 9110 10.1.1: only 100-continue is an expectation sealbox can meet; nothing is stored."""
    body = b"never stored"
    path = f"/{hostile_bucket}/expect"
    reply = send_signed(server, "PUT", path, body, {"Expect": "100-continue, x-teapot"},
                        payload_hash="UNSIGNED-PAYLOAD")
    assert (reply.status, reply.code) == (417, "ExpectationFailed"), reply
    assert reply.headers.get("connection") == "close"
    s3: Any = server.client()
    assert s3.list_objects_v2(Bucket=hostile_bucket, Prefix="expect").get("KeyCount") == 0


def test_204_and_304_carry_no_content_length(server: Server, hostile_bucket: str) -> None:
    """RFC 9110 8.6: a 204 never carries Content-Length; sealbox sends none with a 304 either."""
    s3: Any = server.client()
    etag = s3.put_object(Bucket=hostile_bucket, Key="o", Body=b"x")["ETag"]
    path = f"/{hostile_bucket}/o"
    not_modified = send_signed(server, "GET", path, headers={"If-None-Match": etag})
    deleted = send_signed(server, "DELETE", path)
    assert (not_modified.status, deleted.status) == (304, 204)
    assert "content-length" not in not_modified.headers and "content-length" not in deleted.headers
    assert "transfer-encoding" not in deleted.headers

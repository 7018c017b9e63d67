"""Raw HTTP abuse: truncated bodies, Content-Length lies, smuggling attempts, huge request heads."""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
import socket
from typing import Any

import psutil
import pytest

from tests.hostile.conftest import assert_serving
from tests.hostile.raw import Reply, exchange, read_reply, request_bytes, send_signed, sign
from tests.support import Server

UNSIGNED = "UNSIGNED-PAYLOAD"


def _absent(server: Server, bucket: str, key: str) -> bool:
    s3: Any = server.client()
    listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return key not in [o["Key"] for o in listed]


def _reply_or_closed(sock: socket.socket, method: str = "PUT") -> Reply | None:
    """The response, or None when the server closed the connection without one."""
    try:
        return read_reply(sock, method)
    except (OSError, http.client.HTTPException):
        return None


@pytest.mark.parametrize("payload", [UNSIGNED, "signed"])
def test_put_object_body_shorter_than_content_length_then_eof(server: Server, hostile_bucket: str,
                                                              payload: str) -> None:
    body = os.urandom(5000)
    path = f"/{hostile_bucket}/short"
    signed = sign(server, "PUT", path, payload_hash=UNSIGNED if payload == UNSIGNED else None, body=body)
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(request_bytes("PUT", path, signed, body[:2000], content_length=len(body)))
        sock.shutdown(socket.SHUT_WR)  # the client goes away mid-body
        reply = _reply_or_closed(sock)
    assert reply is None or (reply.status, reply.code) == (400, "IncompleteBody"), reply
    assert _absent(server, hostile_bucket, "short")
    assert os.listdir(server.data_dir / "tmp") == []
    assert_serving(server)


def test_put_object_body_differs_from_signed_payload_hash(server: Server, hostile_bucket: str) -> None:
    """The signature covers 5000 bytes; 3000 of them arrive, framed as a complete body: the hash cannot match."""
    body = os.urandom(5000)
    path = f"/{hostile_bucket}/lie"
    signed = sign(server, "PUT", path, body=body)
    reply = exchange(server, request_bytes("PUT", path, signed, body[:3000]), method="PUT")
    assert (reply.status, reply.code) == (400, "XAmzContentSHA256Mismatch"), reply
    assert _absent(server, hostile_bucket, "lie")
    assert_serving(server)


def test_put_object_body_differs_from_content_md5(server: Server, hostile_bucket: str) -> None:
    body = os.urandom(5000)
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    path = f"/{hostile_bucket}/lie"
    signed = sign(server, "PUT", path, {"Content-MD5": md5}, UNSIGNED)
    reply = exchange(server, request_bytes("PUT", path, signed, body[:3000]), method="PUT")
    assert (reply.status, reply.code) == (400, "BadDigest"), reply
    assert _absent(server, hostile_bucket, "lie")
    assert_serving(server)


def test_put_object_content_length_shorter_than_what_is_sent(server: Server, hostile_bucket: str) -> None:
    """HTTP framing is Content-Length: the first 3000 bytes are the body, the rest a (garbage) next request.

    The connection is then refused as a whole (400, closed); the PUT may or may not have completed, but
    the key never holds anything but exactly those 3000 bytes.
    """
    body = os.urandom(5000)
    reply = send_signed(server, "PUT", f"/{hostile_bucket}/framed", body, content_length=3000, payload_hash=UNSIGNED)
    assert reply.status in (200, 400), reply
    s3: Any = server.client()
    if not _absent(server, hostile_bucket, "framed"):
        assert s3.get_object(Bucket=hostile_bucket, Key="framed")["Body"].read() == body[:3000]
    assert_serving(server)


@pytest.mark.parametrize("headers", [
    {"Content-Length": "abc"},
    {"Content-Length": "-5"},
    {"Content-Length": "99999999999999999999999999"},
    {"Content-Length": "5", "Transfer-Encoding": "chunked"},
    {"Transfer-Encoding": "chunked, identity"},
    {"Transfer-Encoding": "gzip"},
], ids=["non-numeric", "negative", "overflow", "cl-and-te", "te-list", "te-gzip"])
def test_put_object_with_broken_framing_headers(server: Server, hostile_bucket: str, headers: dict[str, str]) -> None:
    path = f"/{hostile_bucket}/framing"
    signed = sign(server, "PUT", path, payload_hash=UNSIGNED)
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(request_bytes("PUT", path, {**signed, **headers}) + b"5\r\nhello\r\n0\r\n\r\n")
        reply = _reply_or_closed(sock)
    assert reply is None or 400 <= reply.status < 500, reply
    assert _absent(server, hostile_bucket, "framing")
    assert_serving(server)


def test_duplicate_conflicting_content_length(server: Server, hostile_bucket: str) -> None:
    path = f"/{hostile_bucket}/dup"
    signed = sign(server, "PUT", path, payload_hash=UNSIGNED)
    raw = request_bytes("PUT", path, signed)[:-2] + b"Content-Length: 5\r\nContent-Length: 10\r\n\r\nhellohello"
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(raw)
        reply = _reply_or_closed(sock)
    assert reply is None or reply.status == 400, reply
    assert _absent(server, hostile_bucket, "dup")
    assert_serving(server)


def test_garbage_request_lines(server: Server) -> None:
    for raw in [b"\x00\x01\x02\r\n\r\n", b"GET\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
                b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\n\r\n",
                b"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
                b"\r\n" * 1000, os.urandom(4096)]:
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            sock.sendall(raw)
            sock.shutdown(socket.SHUT_WR)  # nothing more is coming (else blank lines wait for the head timeout)
            reply = _reply_or_closed(sock, "GET")
        assert reply is None or 400 <= reply.status < 600 and reply.status != 500, (raw[:40], reply)
    assert_serving(server)


def _server_rss(server: Server) -> int:
    parent = psutil.Process(server.proc.pid)
    return sum(p.memory_info().rss for p in [parent, *parent.children(recursive=True)])


@pytest.mark.parametrize("size", [100_000, 1_000_000])
def test_huge_header_is_refused(server: Server, size: int) -> None:
    reply = exchange(server, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * size + b"\r\n\r\n")
    assert (reply.status, reply.code) == (400, "RequestHeaderSectionTooLarge"), reply
    assert_serving(server)


def test_many_small_headers_are_refused(server: Server) -> None:
    head = b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(20_000)) + b"\r\n"
    reply = exchange(server, head)
    assert (reply.status, reply.code) == (400, "RequestHeaderSectionTooLarge"), reply
    assert_serving(server)


def test_header_just_under_the_limit_is_served(server: Server, hostile_bucket: str) -> None:
    reply = send_signed(server, "GET", f"/{hostile_bucket}", headers={"X-Padding": "p" * 50_000})
    assert reply.status == 200, reply


def test_endless_header_is_cut_off_without_buffering_it(server: Server) -> None:
    """50 MB of one header line: the server must stop reading long before, not buffer it all."""
    before = _server_rss(server)
    sent = 0
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Endless: ")
        try:
            while sent < 50_000_000:
                sock.sendall(b"a" * 65536)
                sent += 65536
        except OSError:
            pass  # reset by the server: what we want
    assert sent < 50_000_000, "the server swallowed a 50 MB header"
    assert _server_rss(server) - before < 30_000_000
    assert_serving(server)

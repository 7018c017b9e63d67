"""Raw HTTP for hostile tests: requests signed by botocore but sent byte for byte as we choose."""

from __future__ import annotations

import hashlib
import http.client
import io
import re
import socket
from dataclasses import dataclass
from typing import Any

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from sealbox.http.sigv4 import chunk_string_to_sign, derive_signing_key, hmac_sha256_hex
from tests.support import REGION, Server

STREAMING = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def code(self) -> str | None:
        m = re.search(rb"<Code>([^<]*)</Code>", self.body)
        return m.group(1).decode() if m else None


class _Signer(S3SigV4Auth):
    """botocore's S3 signer, with the x-amz-content-sha256 we choose (it would otherwise recompute it)."""

    def __init__(self, credentials: Credentials, service: str, region: str, payload_hash: str) -> None:
        super().__init__(credentials, service, region)
        self._payload_hash = payload_hash

    def payload(self, request: AWSRequest) -> str:
        return self._payload_hash


def sign(server: Server, method: str, path: str, headers: dict[str, str] | None = None,
         payload_hash: str | None = None, body: bytes = b"") -> dict[str, str]:
    """The headers (Host, X-Amz-Date, X-Amz-Content-SHA256, Authorization) botocore signs ``path`` with.

    ``path`` is used as given (already percent-encoded); botocore does not normalize S3 paths.
    """
    req = AWSRequest(method=method, url=server.endpoint + path, data=body, headers=dict(headers or {}))
    _Signer(Credentials(server.access_key, server.secret_key), "s3", REGION,
            payload_hash or hashlib.sha256(body).hexdigest()).add_auth(req)
    signed = {k: v for k, v in req.headers.items()}
    signed["Host"] = f"127.0.0.1:{server.port}"
    return signed


def request_bytes(method: str, path: str, headers: dict[str, str], body: bytes = b"",
                  content_length: int | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1"]
    headers = dict(headers)
    if content_length is not None or body:
        headers["Content-Length"] = str(len(body) if content_length is None else content_length)
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def read_reply(sock: socket.socket, method: str = "GET") -> Reply:
    response = http.client.HTTPResponse(sock, method=method)
    response.begin()
    body = response.read()
    return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, body)


def exchange(server: Server, data: bytes, *, method: str = "GET", timeout: float = 30,
             shutdown_write: bool = False) -> Reply:
    """Send ``data`` on a new connection and read one response."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        sock.sendall(data)
        if shutdown_write:
            sock.shutdown(socket.SHUT_WR)
        return read_reply(sock, method)


def send_signed(server: Server, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
                *, send_path: str | None = None, content_length: int | None = None, payload_hash: str | None = None,
                timeout: float = 30, shutdown_write: bool = False) -> Reply:
    """Sign for ``path`` and send ``send_path`` (default the same) with ``body`` and a chosen Content-Length."""
    signed = sign(server, method, path, headers, payload_hash, body)
    return exchange(server, request_bytes(method, send_path or path, signed, body, content_length), method=method,
                    timeout=timeout, shutdown_write=shutdown_write)


@dataclass
class StreamingSigner:
    """Chained chunk signatures of an aws-chunked STREAMING-AWS4-HMAC-SHA256-PAYLOAD body."""

    key: bytes
    amz_date: str
    scope: str
    previous: str

    @classmethod
    def for_headers(cls, server: Server, headers: dict[str, str]) -> StreamingSigner:
        amz_date = headers["X-Amz-Date"]
        seed = re.search(r"Signature=([0-9a-f]{64})", headers["Authorization"])
        assert seed is not None
        key = derive_signing_key(server.secret_key, amz_date[:8], REGION)
        return cls(key, amz_date, f"{amz_date[:8]}/{REGION}/s3/aws4_request", seed.group(1))

    def chunk(self, data: bytes, signature: str | None = None) -> bytes:
        string_to_sign = chunk_string_to_sign(self.amz_date, self.scope, self.previous,
                                              hashlib.sha256(data).hexdigest())
        self.previous = hmac_sha256_hex(self.key, string_to_sign)
        head = b"%x;chunk-signature=%s\r\n" % (len(data), (signature or self.previous).encode())
        return head + data + b"\r\n" if data else head

    def body(self, data: bytes, chunk_size: int) -> bytes:
        out = io.BytesIO()
        for i in range(0, len(data), chunk_size):
            out.write(self.chunk(data[i:i + chunk_size]))
        out.write(self.chunk(b""))
        out.write(b"\r\n")
        return out.getvalue()


def streaming_put(server: Server, path: str, data: bytes, encode: Any = None, chunk_size: int = 65536) -> Reply:
    """PUT ``data`` as a signed aws-chunked body; ``encode(signer)`` may build a broken body instead."""
    headers = {"Content-Encoding": "aws-chunked", "X-Amz-Decoded-Content-Length": str(len(data))}
    signed = sign(server, "PUT", path, headers, STREAMING)
    signer = StreamingSigner.for_headers(server, signed)
    body = encode(signer) if encode is not None else signer.body(data, chunk_size)
    return exchange(server, request_bytes("PUT", path, signed, body), method="PUT")


class _SharedFile:
    """Lets several http.client responses read one after another from one buffered socket file
    (each response would buffer ahead on a file of its own, and closes its file when its body is
    read; this one stays open)."""

    def __init__(self, sock: socket.socket) -> None:
        self.file = sock.makefile("rb")

    def makefile(self, *_args: Any, **_kwargs: Any) -> Any:
        return self

    def __getattr__(self, name: str) -> Any:
        return getattr(self.file, name)

    def close(self) -> None:
        pass


def pipelined_replies(sock: socket.socket, methods: list[str], *, expect_close: bool = False) -> list[Reply]:
    """Read one response per request method, in order, from one connection; ``expect_close``: then
    the server must have closed it."""
    shared = _SharedFile(sock)
    replies = []
    for method in methods:
        response = http.client.HTTPResponse(shared, method=method)  # type: ignore[arg-type]
        response.begin()
        replies.append(Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()))
    if expect_close:
        assert shared.read(1) == b""  # then the server closed the connection
    return replies

"""Small, fast S3 client for the benchmark: SigV4 signing (UNSIGNED-PAYLOAD) plus two HTTP/1.1 clients.

* ``RawConnection`` is a lean asyncio ``Protocol`` HTTP/1.1 client (one keep-alive connection, one request
  in flight). It is the default because it costs the client far less CPU per request than aiohttp, which
  matters on a 2-core machine where client and server share the CPUs.
* ``AiohttpConnection`` does the same through aiohttp, for cross-checking the raw client.

Both hand back a ``Response`` holding the status, the body length, an optional SHA-256 of the body (only
when asked for, to verify a sample) and, for non-2xx answers, the first bytes of the body.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from dataclasses import dataclass, field
from typing import Any, Protocol, cast
from urllib.parse import quote

UNSIGNED = "UNSIGNED-PAYLOAD"
ERROR_BODY_KEEP = 2048
WRITE_SLICE = 1 << 20
MAX_HEAD = 64 * 1024


# --------------------------------------------------------------------------------------------- SigV4


class SigV4Signer:
    """Signs S3 requests with AWS Signature V4 and an unsigned payload. The derived key is cached per day."""

    def __init__(self, access_key: str, secret_key: str, region: str = "us-east-1", service: str = "s3"):
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region
        self.service = service
        self._key_day = ""
        self._key = b""
        self._stamp_second = -1
        self._amz_date = ""

    def _derived_key(self, day: str) -> bytes:
        if day != self._key_day:
            k = hmac.digest(("AWS4" + self.secret_key).encode(), day.encode(), "sha256")
            for part in (self.region, self.service, "aws4_request"):
                k = hmac.digest(k, part.encode(), "sha256")
            self._key_day, self._key = day, k
        return self._key

    def _now(self) -> str:
        second = int(time.time())
        if second != self._stamp_second:
            self._stamp_second = second
            self._amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(second))
        return self._amz_date

    def sign(self, method: str, path: str, host: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        """Return the headers to send (host excluded): x-amz-*, the extra headers and Authorization.

        ``path`` must already be URI-encoded (see ``s3_path``); no query string is supported (none needed).
        """
        amz_date = self._now()
        day = amz_date[:8]
        headers = {"host": host, "x-amz-content-sha256": UNSIGNED, "x-amz-date": amz_date}
        if extra:
            headers.update({k.lower(): v.strip() for k, v in extra.items()})
        names = sorted(headers)
        canonical_headers = "".join(f"{n}:{headers[n]}\n" for n in names)
        signed_headers = ";".join(names)
        canonical = f"{method}\n{path}\n\n{canonical_headers}\n{signed_headers}\n{UNSIGNED}"
        scope = f"{day}/{self.region}/{self.service}/aws4_request"
        to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        signature = hmac.new(self._derived_key(day), to_sign.encode(), "sha256").hexdigest()
        headers["authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={self.access_key}/{scope}, "
            f"SignedHeaders={signed_headers}, Signature={signature}"
        )
        del headers["host"]
        return headers


def s3_path(bucket: str, key: str = "") -> str:
    """Path-style, URI-encoded request path as SigV4 wants it for S3 (slashes in the key kept)."""
    path = "/" + quote(bucket, safe="-_.~")
    if key:
        path += "/" + quote(key, safe="-_.~/")
    return path


# --------------------------------------------------------------------------------------------- responses


@dataclass
class Response:
    status: int
    nbytes: int = 0
    digest: bytes | None = None
    error_body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class Connection(Protocol):
    async def connect(self) -> None: ...

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: memoryview | None, want_digest: bool
    ) -> Response: ...

    async def close(self) -> None: ...


class _BodySink:
    """Counts body bytes, hashes them when asked, keeps the start of error bodies."""

    def __init__(self, status: int, want_digest: bool):
        self.nbytes = 0
        self.hasher = hashlib.sha256() if want_digest and 200 <= status < 300 else None
        self.keep = not 200 <= status < 300
        self.kept = bytearray()

    def feed(self, chunk: bytes | memoryview) -> None:
        self.nbytes += len(chunk)
        if self.hasher is not None:
            self.hasher.update(chunk)
        if self.keep and len(self.kept) < ERROR_BODY_KEEP:
            self.kept += chunk[: ERROR_BODY_KEEP - len(self.kept)]


# --------------------------------------------------------------------------------------------- raw client


class HttpError(Exception):
    pass


class _RawProtocol(asyncio.Protocol):
    """One HTTP/1.1 keep-alive connection; parses exactly one response per ``expect``."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._buf = bytearray()
        self._future: asyncio.Future[Response] | None = None
        self._want_digest = False
        self._no_body = False
        self._state = "idle"  # idle | head | length | chunked | eof
        self._remaining = 0
        self._resp: Response | None = None
        self._sink: _BodySink | None = None
        self._must_close = False
        self._drain: asyncio.Future[None] | None = None
        self._paused = False

    # --- asyncio callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports don't subclass it

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._state == "eof" and self._sink is not None:
            self._finish()
        elif self._future is not None and not self._future.done():
            self._future.set_exception(HttpError(f"connection lost in state {self._state}: {exc!r}"))
        self._wake_drain()

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self._wake_drain()

    def _wake_drain(self) -> None:
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    # --- request side
    def expect(self, future: asyncio.Future[Response], want_digest: bool, no_body: bool) -> None:
        self._future, self._want_digest, self._no_body = future, want_digest, no_body
        self._state, self._resp, self._sink, self._must_close = "head", None, None, False

    async def drain(self) -> None:
        if self._paused and not self.closed:
            self._drain = asyncio.get_running_loop().create_future()
            await self._drain

    @property
    def must_close(self) -> bool:
        return self._must_close

    def mark_close(self) -> None:
        self._must_close = True

    # --- response parsing
    def data_received(self, data: bytes) -> None:
        if self._state in ("length", "eof") and not self._buf:
            self._body_bytes(memoryview(data))
            return
        self._buf += data
        self._process_buffer()

    def _process_buffer(self) -> None:
        while self._state == "head":
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buf) > MAX_HEAD:
                    self._fail("response head too large")
                return
            head = bytes(self._buf[:end])
            del self._buf[: end + 4]
            self._parse_head(head)
        if self._state in ("length", "eof") and self._buf:
            data, self._buf = bytes(self._buf), bytearray()
            self._body_bytes(memoryview(data))
        elif self._state == "chunked":
            self._chunked()
        elif self._state == "idle" and self._buf:
            self._fail("unexpected bytes after response")

    def _parse_head(self, head: bytes) -> None:
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            self._fail(f"bad status line {lines[0]!r}")
            return
        status = int(parts[1])
        if 100 <= status < 200:  # interim response (100 Continue): the real one follows
            return
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        self._resp = Response(status=status, headers=headers)
        self._sink = _BodySink(status, self._want_digest)
        self._must_close = headers.get("connection", "").lower() == "close" or parts[0] == "HTTP/1.0"
        if self._no_body or status in (204, 304):
            self._finish()
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            self._state = "chunked"
        elif "content-length" in headers:
            self._remaining = int(headers["content-length"])
            self._state = "length"
            if self._remaining == 0:
                self._finish()
        else:
            self._state, self._must_close = "eof", True

    def _body_bytes(self, data: memoryview) -> None:
        assert self._sink is not None
        if self._state == "eof":
            self._sink.feed(data)
            return
        take = min(len(data), self._remaining)
        self._sink.feed(data[:take])
        self._remaining -= take
        if self._remaining == 0:
            if take < len(data):
                self._buf += data[take:]
            self._finish()

    def _chunked(self) -> None:
        assert self._sink is not None
        while self._state == "chunked":
            eol = self._buf.find(b"\r\n")
            if eol < 0:
                return
            size = int(bytes(self._buf[:eol]).split(b";")[0], 16)
            if size == 0:  # last chunk, then optional trailers, then an empty line
                if self._buf[eol + 2 : eol + 4] == b"\r\n":
                    end = eol + 4
                else:
                    found = self._buf.find(b"\r\n\r\n", eol + 2)
                    if found < 0:
                        return
                    end = found + 4
                del self._buf[:end]
                self._finish()
                return
            if len(self._buf) < eol + 2 + size + 2:
                return
            self._sink.feed(memoryview(bytes(self._buf[eol + 2 : eol + 2 + size])))
            del self._buf[: eol + 2 + size + 2]

    def _finish(self) -> None:
        resp, sink, fut = self._resp, self._sink, self._future
        self._state, self._future = "idle", None
        assert resp is not None and sink is not None
        resp.nbytes = sink.nbytes
        resp.digest = sink.hasher.digest() if sink.hasher is not None else None
        resp.error_body = bytes(sink.kept)
        if fut is not None and not fut.done():
            fut.set_result(resp)
        if self._buf:
            self._fail("unexpected bytes after response")

    def _fail(self, why: str) -> None:
        if self._future is not None and not self._future.done():
            self._future.set_exception(HttpError(why))
        self._must_close = True
        if self.transport is not None:
            self.transport.close()


class RawConnection:
    """A lean HTTP/1.1 keep-alive client connection (reconnects transparently when the server closed it)."""

    def __init__(self, host: str, port: int, timeout: float = 120.0):
        self.host, self.port, self.timeout = host, port, timeout
        self.host_header = f"{host}:{port}"
        self._proto: _RawProtocol | None = None

    async def connect(self) -> None:
        loop = asyncio.get_running_loop()
        _, proto = await loop.create_connection(_RawProtocol, self.host, self.port)
        self._proto = proto

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: memoryview | None, want_digest: bool
    ) -> Response:
        if self._proto is None or self._proto.closed or self._proto.must_close:
            await self.close()
            await self.connect()
        proto = self._proto
        assert proto is not None and proto.transport is not None
        size = len(body) if body is not None else 0
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host_header}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        if body is not None or method in ("PUT", "POST"):
            lines.append(f"Content-Length: {size}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        proto.expect(future, want_digest, no_body=method == "HEAD")
        async with asyncio.timeout(self.timeout):
            await self._send(proto, head, body, future)
            return await future

    @staticmethod
    async def _send(
        proto: _RawProtocol, head: bytes, body: memoryview | None, future: asyncio.Future[Response]
    ) -> None:
        transport = proto.transport
        assert transport is not None
        if body is None or len(body) <= 64 * 1024:
            transport.write(head + bytes(body) if body is not None else head)
            return
        transport.write(head)
        for offset in range(0, len(body), WRITE_SLICE):
            if proto.closed or future.done():  # server answered early (error) or hung up: stop sending
                break
            transport.write(body[offset : offset + WRITE_SLICE])
            await proto.drain()
        if future.done() and not proto.closed:
            proto.mark_close()  # body not fully sent: the connection's state is unknown

    async def close(self) -> None:
        if self._proto is not None and self._proto.transport is not None:
            self._proto.transport.close()
        self._proto = None


# --------------------------------------------------------------------------------------------- aiohttp


class AiohttpConnection:
    """The same interface through aiohttp (one session, one pooled connection, per worker)."""

    def __init__(self, host: str, port: int, timeout: float = 120.0):
        self.base = f"http://{host}:{port}"
        self.timeout = timeout
        self._session: Any = None

    async def connect(self) -> None:
        import aiohttp

        connector = aiohttp.TCPConnector(limit=1, force_close=False, enable_cleanup_closed=False)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self.timeout),
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),
        )
        async with self._session.head(self.base + "/") as resp:  # open the pooled connection now
            await resp.read()

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: memoryview | None, want_digest: bool
    ) -> Response:
        assert self._session is not None
        data: Any = body if body is not None else (b"" if method in ("PUT", "POST") else None)
        async with self._session.request(method, self.base + path, headers=headers, data=data) as resp:
            sink = _BodySink(resp.status, want_digest)
            async for chunk in resp.content.iter_chunked(1 << 20):
                sink.feed(chunk)
            return Response(
                status=resp.status,
                nbytes=sink.nbytes,
                digest=sink.hasher.digest() if sink.hasher is not None else None,
                error_body=bytes(sink.kept),
                headers={k.lower(): v for k, v in resp.headers.items()},
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        self._session = None


def make_connection(kind: str, host: str, port: int, timeout: float = 120.0) -> Connection:
    if kind == "raw":
        return RawConnection(host, port, timeout)
    if kind == "aiohttp":
        return AiohttpConnection(host, port, timeout)
    raise ValueError(f"unknown client kind {kind!r}")

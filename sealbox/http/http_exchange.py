"""The transport's ``Exchange`` (``sealbox.http.exchange``): one request on an ``HttpConnection``
and the response to it — the request body as httptools produced it, and the framing of the
response (status line and head, content-length kept honest, chunked bodies, HEAD, 204 and 304).
"""

from __future__ import annotations

import asyncio
import http
import logging
import re
import time
from collections.abc import Iterable
from email.utils import formatdate
from typing import TYPE_CHECKING

from sealbox.core.types import Buffer
from sealbox.http.exchange import BodyIncomplete, BodyTimeout, HeaderError, Refusal

if TYPE_CHECKING:
    from sealbox.http.connection import HttpConnection

log = logging.getLogger("sealbox.http")

BODY_BUFFER = 1024 * 1024  # request body bytes held per connection before reading pauses
TIMED_OUT_MESSAGE = ("Your socket connection to the server was not read from or written to within the"
                     " timeout period.")

_STATUS_LINES = {s.value: f"HTTP/1.1 {s.value} {s.phrase}\r\n" for s in http.HTTPStatus}
# Control characters (HTAB aside) in a response header would split or corrupt the head.
_BAD_HEADER_CHARS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class _Clock:
    """The Date header value, formatted at most once a second."""

    second = -1
    value = ""

    @classmethod
    def now(cls) -> str:
        second = int(time.time())
        if second != cls.second:
            cls.second, cls.value = second, formatdate(second, usegmt=True)
        return cls.value


class HttpExchange:
    """One request on a connection and the response to it: ``sealbox.http.exchange.Exchange``."""

    __slots__ = ("method", "raw_path", "raw_query", "headers", "secure", "tls_version", "client_ip", "keep_alive",
                 "complete", "started", "done", "refusal", "bytes_in", "bytes_out", "_conn", "_expect_continue",
                 "_pieces", "_buffered", "_waiter", "_chunked", "_no_body", "_left", "_misframed", "_malformed",
                 "_reserved", "_head")

    def __init__(self, conn: HttpConnection, method: str, raw_path: str, raw_query: str, headers: dict[str, str],
                 keep_alive: bool) -> None:
        self.method = method
        self.raw_path = raw_path
        self.raw_query = raw_query
        self.headers = headers
        self.secure = conn.secure
        self.tls_version = conn.tls_version
        self.client_ip = conn.client_ip
        self.keep_alive = keep_alive
        self.complete = False  # the whole request body has been received (so the framing is in step)
        self.started = False  # the status line has been written
        self.done = False  # the whole response has been written
        self.refusal: tuple[Refusal, str] | None = None  # answered by the transport, not the app
        self._conn = conn
        self._expect_continue = False
        self._pieces: list[bytes] = []
        self._buffered = 0
        self._waiter: asyncio.Future[None] | None = None
        self._chunked = False
        self._no_body = False  # HEAD, 204, 304: nothing of a body is written
        self._left: int | None = None  # body bytes the content-length still announces
        self._misframed = False
        self._malformed = False  # the request's own body could not be parsed
        self._reserved = 0  # bytes counted against the worker's max_body_memory
        self.bytes_in = 0  # body bytes received and sent (access log, metrics)
        self.bytes_out = 0
        self._head = 0  # bytes of its head, while it waits behind another request

    @property
    def client_gone(self) -> bool:
        return self._conn.lost

    # -- the request body --------------------------------------------------------------------------
    async def receive(self) -> bytes | None:
        conn = self._conn
        if self._expect_continue:
            self._expect_continue = False
            if not self.started and not conn.lost:
                conn.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        while not self._pieces:
            if self.complete:
                return None
            if conn.lost or conn.eof or self._malformed:
                raise BodyIncomplete
            conn.want_more()
            await self._wait(conn.timeout)
        pieces = self._pieces
        body = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        self._pieces = []
        self._buffered = 0
        conn.want_more()
        return body

    async def _wait(self, timeout: float) -> None:
        loop = self._conn.loop
        waiter = self._waiter = loop.create_future()
        timer = loop.call_later(timeout, _expire, waiter)
        try:
            await waiter
        except TimeoutError:
            raise BodyTimeout(TIMED_OUT_MESSAGE) from None
        finally:
            timer.cancel()
            self._waiter = None

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _add_body(self, piece: bytes) -> int:
        self._pieces.append(piece)
        self._buffered += len(piece)
        self.bytes_in += len(piece)
        self._wake()
        return self._buffered

    def _end_body(self) -> None:
        self.complete = True
        self._wake()

    def _release(self) -> None:
        """Give back this body's share of the worker's body memory (its request is over)."""
        if self._reserved:
            connections = self._conn.connections
            if connections is not None:
                connections.body_memory -= self._reserved
            self._reserved = 0

    # -- the response ------------------------------------------------------------------------------
    def start(self, status: int, headers: Iterable[tuple[str, str]], body: Buffer = b"", end: bool = True) -> None:
        lines = [_STATUS_LINES.get(status) or f"HTTP/1.1 {status} \r\n"]
        texts: list[str] = []
        framed = False
        length: str | None = None
        no_body = self.method == "HEAD"
        bodiless = status == 204 or status == 304  # RFC 9110 8.6, 15.3.5, 15.4.5: no content, no length
        # A body not (yet) read to its end leaves this connection out of step: it closes afterwards.
        close = not self.keep_alive or not self.complete
        for name, value in headers:
            if name == "content-length" or name == "transfer-encoding":
                if bodiless:
                    continue
                framed = True
                if name == "content-length":
                    length = value
            elif name == "connection" and "close" in value.lower():
                close = True
            lines.append(f"{name}: {value}\r\n")
            texts += (name, value)
        if _BAD_HEADER_CHARS.search("".join(texts)):
            raise HeaderError("a response header holds a control character")
        declared: int | None = None
        if length is not None and not no_body:
            try:
                declared = int(length)
            except ValueError:
                raise HeaderError(f"content-length {length!r} is not a number") from None
        lines.append(f"date: {_Clock.now()}\r\n")
        if close:
            self.keep_alive = False
            lines.append("connection: close\r\n")
        if bodiless:
            no_body = True
        elif not framed and not end and not no_body:
            self._chunked = True
            lines.append("transfer-encoding: chunked\r\n")
        lines.append("\r\n")
        self.started = True
        self._expect_continue = False
        self._no_body = no_body
        head = "".join(lines).encode("latin-1", "replace")
        if no_body:
            body = b""
        elif declared is not None:
            left = declared - len(body)
            if left < 0:
                self._bad_length("longer than")
                body = body[:declared]
                left = 0
            self._left = left
        self.bytes_out = len(body)
        if self._chunked and body:
            body = b"".join((b"%x\r\n" % len(body), body, b"\r\n"))
        self._conn.send(head, body)
        if end:
            self.finish()

    async def write(self, data: Buffer) -> None:
        conn = self._conn
        if conn.lost or self._no_body or not data:
            return
        if self._chunked:
            self.bytes_out += len(data)
            conn.send(b"%x\r\n" % len(data), data, b"\r\n")
        else:
            left = self._left
            if left is not None:
                if len(data) > left:
                    if not self._misframed:
                        self._bad_length("longer than")
                    data = data[:left]
                    if not data:
                        return
                self._left = left - len(data)
            self.bytes_out += len(data)
            conn.send(data)
        await conn.drained()

    def finish(self) -> None:
        if self.done:
            return
        if self._chunked:
            self._conn.send(b"0\r\n\r\n")
        elif self._left and not self._conn.lost:
            self._bad_length(f"{self._left} bytes short of")
        self.done = True
        self._conn.response_done(self)

    def _bad_length(self, what: str) -> None:
        """The body does not match its content-length: a bug of the app. The connection closes after
        this response: a client reading a keep-alive connection would otherwise wait for bytes that
        never come, or read the excess as the next response."""
        self._misframed = True
        self.keep_alive = False
        log.error("response to %s %s: body %s its content-length; closing the connection", self.method,
                  self.raw_path, what)

    def abort(self) -> None:
        self.done = True
        self._conn.transport.abort()


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())

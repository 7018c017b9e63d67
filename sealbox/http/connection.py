"""HTTP/1.1 connections, parsed by httptools, each request handed to a handler as an ``Exchange``.

sealbox serves its HTTP itself rather than through an ASGI server: for a 4 KiB GET the ASGI layer
(message dicts, a request cycle object, header lists converted back and forth) cost about as much
CPU as authenticating the request. What a public server needs is here, in one place:

- keep-alive, pipelined requests (answered in order, one at a time), ``Expect: 100-continue``
  (the interim answer goes out when the handler first asks for the body, so an early error reaches
  a client that has not sent it yet);
- flow control both ways: reading pauses while ``BODY_BUFFER`` bytes of a body wait for the
  handler, and a handler writing a response waits while the client does not read;
- limits: a request head larger than ``max_head_bytes`` gets 400 RequestHeaderSectionTooLarge, a
  head not complete ``timeout`` seconds after the connection opened or the request began gets 400
  RequestTimeout (slowloris), a body silent for ``timeout`` seconds fails the request with
  RequestTimeout, a client that reads nothing of a response for ``timeout`` seconds is dropped, and
  an idle keep-alive connection is closed after ``KEEP_ALIVE`` seconds;
- malformed HTTP gets a plain 400 and the connection is closed.

The response head is written together with the first body bytes: one system call and one TCP
segment, so the client wakes once for a small response.
"""

from __future__ import annotations

import asyncio
import http
import logging
import re
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from email.utils import formatdate
from typing import Any

import httptools

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.types import Buffer
from sealbox.http.errors import error_xml, status_of

log = logging.getLogger("sealbox.http")

MAX_HEAD_BYTES = 64 * 1024  # AWS allows 8 KB; presigned URLs and many x-amz-meta-* headers fit in 64 KB
BODY_BUFFER = 1024 * 1024  # request body bytes held per connection before reading pauses
KEEP_ALIVE = 30.0  # seconds an idle keep-alive connection stays open
_SMALL_WRITE = 16 * 1024  # below this a response head and its body are joined into one write

_STATUS_LINES = {s.value: f"HTTP/1.1 {s.value} {s.phrase}\r\n" for s in http.HTTPStatus}
# Control characters (HTAB aside) in a response header would split or corrupt the head.
_BAD_HEADER_CHARS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_TIMED_OUT_MESSAGE = ("Your socket connection to the server was not read from or written to within the"
                      " timeout period.")

Handler = Callable[["Exchange"], Awaitable[None]]


class HeaderError(ValueError):
    """A response header that cannot be written (a control character in it)."""


class _HeadRefused(Exception):
    """Raised from a parser callback to stop parsing a refused request head (httptools turns it into
    an HttpParserCallbackError)."""


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


class Exchange:
    """One request on a connection, and the response to it.

    The handler reads ``method``, ``raw_path`` (percent-encoded, as received), ``raw_query``,
    ``headers`` (lower-case names; repeated headers joined by commas), the body through ``receive()``,
    and answers with ``start()``, then ``write()`` and ``finish()`` for a body that follows in pieces.
    Strings hold the bytes received decoded as latin-1, so encoding them back gives those bytes.
    """

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
        self._conn = conn
        self._expect_continue = headers.get("expect", "").lower() == "100-continue"
        self._pieces: list[bytes] = []
        self._buffered = 0
        self._waiter: asyncio.Future[None] | None = None
        self._chunked = False
        self.bytes_in = 0  # body bytes received and sent (access log, metrics)
        self.bytes_out = 0

    @property
    def client_gone(self) -> bool:
        """The connection is closed or closing: nobody will read the rest of a response."""
        return self._conn.lost

    # -- the request body --------------------------------------------------------------------------
    async def receive(self) -> dict[str, Any]:
        """The next piece of the body: ``{"type": "http.request", "body": bytes, "more_body": bool}``,
        or ``{"type": "http.disconnect"}`` when the client went away before the end (the shape of ASGI
        receive events, which the body readers consume). Fails with RequestTimeout when the client
        sends nothing for the connection's timeout."""
        conn = self._conn
        if self._expect_continue:
            self._expect_continue = False
            if not self.started and not conn.lost:
                conn.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        while not self._pieces and not self.complete:
            if conn.lost or conn.eof:
                return {"type": "http.disconnect"}
            conn.want_more()
            await self._wait(conn.timeout)
        pieces = self._pieces
        body = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        self._pieces = []
        self._buffered = 0
        conn.want_more()
        return {"type": "http.request", "body": body, "more_body": not self.complete}

    async def _wait(self, timeout: float) -> None:
        loop = self._conn.loop
        waiter = self._waiter = loop.create_future()
        timer = loop.call_later(timeout, _expire, waiter)
        try:
            await waiter
        except TimeoutError:
            raise SealboxError(ErrorCode.REQUEST_TIMEOUT, _TIMED_OUT_MESSAGE) from None
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

    # -- the response ------------------------------------------------------------------------------
    def start(self, status: int, headers: Iterable[tuple[str, str]], body: Buffer = b"", end: bool = True) -> None:
        """Write the status line and headers, with ``body`` (the whole body when ``end``, else its first
        bytes). Without a content-length header a body that does not end here is sent chunked.
        Raises HeaderError, before anything is written, for a header value no HTTP head can carry."""
        lines = [_STATUS_LINES.get(status) or f"HTTP/1.1 {status} \r\n"]
        texts: list[str] = []
        framed = False
        # A body not (yet) read to its end leaves this connection out of step: it closes afterwards.
        close = not self.keep_alive or not self.complete
        for name, value in headers:
            if name == "content-length" or name == "transfer-encoding":
                framed = True
            elif name == "connection" and "close" in value.lower():
                close = True
            lines.append(f"{name}: {value}\r\n")
            texts += (name, value)
        if _BAD_HEADER_CHARS.search("".join(texts)):
            raise HeaderError("a response header holds a control character")
        lines.append(f"date: {_Clock.now()}\r\n")
        if close:
            self.keep_alive = False
            lines.append("connection: close\r\n")
        if not framed and not end and self.method != "HEAD" and status not in (204, 304):
            self._chunked = True
            lines.append("transfer-encoding: chunked\r\n")
        lines.append("\r\n")
        self.started = True
        self._expect_continue = False
        head = "".join(lines).encode("latin-1", "replace")
        if self.method == "HEAD":
            body = b""
        self.bytes_out += len(body)
        if self._chunked and body:
            body = b"".join((b"%x\r\n" % len(body), body, b"\r\n"))
        self._conn.send(head, body)
        if end:
            self.finish()

    async def write(self, data: Buffer) -> None:
        """More of the body; waits while the client is not reading (the socket's buffer is full)."""
        conn = self._conn
        if conn.lost or self.method == "HEAD" or not data:
            return
        self.bytes_out += len(data)
        if self._chunked:
            conn.send(b"%x\r\n" % len(data), data, b"\r\n")
        else:
            conn.send(data)
        await conn.drained()

    def finish(self) -> None:
        if self.done:
            return
        if self._chunked and self.method != "HEAD":
            self._conn.send(b"0\r\n\r\n")
        self.done = True
        self._conn.response_done(self)

    def abort(self) -> None:
        """Drop the connection mid-response: the client sees a truncated body, never a complete one."""
        self.done = True
        self._conn.transport.abort()


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class HttpConnection(asyncio.Protocol):
    """One client connection (see the module docstring)."""

    def __init__(self, handler: Handler, *, secure: bool, timeout: float, max_head_bytes: int = MAX_HEAD_BYTES,
                 connections: set[HttpConnection] | None = None) -> None:
        self.handler = handler
        self.secure = secure
        self.timeout = timeout
        self.max_head_bytes = max_head_bytes
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.client_ip = ""
        self.tls_version: str | None = None  # "1.2", "1.3": the negotiated TLS version (s3:TlsVersion)
        self.lost = False
        self.eof = False  # the client will send nothing more
        self.on_connection_lost: Callable[[], None] | None = None  # set by sealbox.accept (connection counts)
        self._connections = connections
        self._parser = httptools.HttpRequestParser(self)
        try:  # answer the first of pipelined requests even when it says "Connection: close"
            self._parser.set_dangerous_leniencies(lenient_data_after_close=True)
        except AttributeError:  # httptools < 0.6.3
            pass
        # Request being parsed
        self._url = b""
        self._raw_headers: list[tuple[bytes, bytes]] = []
        self._in_head = False
        self._head_bytes = 0  # raw bytes received while the head is incomplete
        self._head_size = 0  # bytes of the request line and headers, as parsed
        self._parsing: Exchange | None = None  # whose body the parser is producing
        # Requests being answered
        self._current: Exchange | None = None
        self._task: asyncio.Task[None] | None = None  # the handler answering _current
        self._queue: deque[Exchange] = deque()  # pipelined, waiting for the current one
        self._broken = False  # unparseable input after the current request: close once it is answered
        self._refused = False
        self._reading_paused = False
        self._write_paused = False
        self._drain: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_is_head = False
        self._write_timer: asyncio.TimerHandle | None = None

    # -- asyncio protocol ------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self.client_ip = peer[0] if isinstance(peer, tuple) else ""
        tls = transport.get_extra_info("ssl_object")
        if tls is not None:  # "TLSv1.3" -> "1.3"
            self.tls_version = str(tls.version() or "").removeprefix("TLSv") or None
        if self._connections is not None:
            self._connections.add(self)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._cancel_timer()
        self._stop_write_timer()
        if self._connections is not None:
            self._connections.discard(self)
        for exchange in (self._current, self._parsing):
            if exchange is not None:
                exchange._wake()
        self._release_drain()
        if self.on_connection_lost is not None:
            self.on_connection_lost()

    def data_received(self, data: bytes) -> None:
        if self._refused or self._broken:
            return
        try:
            self._feed(data)
        except httptools.HttpParserError:  # also what a callback's exception (_HeadRefused) becomes
            if not self._refused and not self._broken:
                self._bad_request()
            return
        if self._in_head:  # the head is still incomplete after this piece: count it against the limit
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head_bytes and not self.transport.is_closing():
                self._refuse_too_large()

    def _feed(self, data: bytes) -> None:
        while True:
            try:
                self._parser.feed_data(data)
                return
            except httptools.HttpParserUpgrade as exc:
                # "Upgrade: h2c" and the like: the request was answered as plain HTTP/1.1 (no upgrade
                # is offered), and whatever follows it is the next request.
                data = data[int(exc.args[0]):]
                if not data:
                    return

    def eof_received(self) -> bool:
        # The client has finished sending. A request in progress is still answered (a body cut short
        # gets its IncompleteBody) and the connection closes after it; an idle one closes now. TLS
        # cannot half-close, so there the connection closes at once.
        self.eof = True
        for exchange in (self._current, self._parsing):
            if exchange is not None:
                exchange._wake()
        return self._current is not None and not self.secure

    def pause_writing(self) -> None:
        self._write_paused = True
        if self._write_timer is None:
            self._write_timer = self.loop.call_later(self.timeout, self._write_stalled)

    def resume_writing(self) -> None:
        self._write_paused = False
        self._stop_write_timer()
        self._release_drain()

    # -- parser callbacks ------------------------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._in_head = True
        self._head_bytes = self._head_size = 0
        self._url = b""
        self._raw_headers = []
        if not self._timer_is_head:
            self._arm_head_timer()

    def on_url(self, url: bytes) -> None:
        self._head_size += len(url)
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_size += len(name) + len(value) + 4
        self._raw_headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._cancel_timer()
        if self._head_size > self.max_head_bytes:  # a big head that arrived in one piece
            self._refuse_too_large()
            raise _HeadRefused
        parser = self._parser
        headers = parse_headers(self._raw_headers)
        version = parser.get_http_version()
        if version != "1.0" and ("host" not in headers or "," in headers["host"]):
            # RFC 9112 3.2: an HTTP/1.1 request without exactly one Host header is refused with 400.
            self._bad_request(_error_reply(ErrorCode.INVALID_REQUEST, "An HTTP/1.1 request must carry exactly"
                                           " one Host header."))
            raise _HeadRefused
        exchange = Exchange(self, parser.get_method().decode("latin-1"), *_split_target(self._url), headers,
                            parser.should_keep_alive() and version != "1.0")
        self._parsing = exchange
        if self._current is None:
            self._begin(exchange)
        else:  # pipelined: answered after the current one; read no further meanwhile
            self._queue.append(exchange)
            self._pause_reading()

    def on_body(self, body: bytes) -> None:
        exchange = self._parsing
        if exchange is not None and exchange._add_body(body) >= BODY_BUFFER:
            self._pause_reading()

    def on_message_complete(self) -> None:
        exchange = self._parsing
        self._parsing = None
        if exchange is not None:
            exchange._end_body()

    # -- requests and responses ------------------------------------------------------------------------
    def _begin(self, exchange: Exchange) -> None:
        self._current = exchange
        self._task = self.loop.create_task(self._run(exchange))  # held: the loop keeps only a weak reference

    async def _run(self, exchange: Exchange) -> None:
        try:
            await self.handler(exchange)
        except Exception:
            log.exception("unhandled error answering %s %s", exchange.method, exchange.raw_path)
            self._fail(exchange)
            return
        if not exchange.done:
            log.error("no complete response to %s %s", exchange.method, exchange.raw_path)
            self._fail(exchange)

    def _fail(self, exchange: Exchange) -> None:
        if exchange.started or self.lost:
            exchange.abort()
            return
        exchange.keep_alive = False
        exchange.start(500, [("content-type", "text/plain; charset=utf-8")], b"Internal Server Error")

    def send(self, *parts: Buffer) -> None:
        if self.lost:
            return
        if len(parts) == 1:
            self.transport.write(parts[0])
        elif sum(map(len, parts)) <= _SMALL_WRITE:
            self.transport.write(b"".join(parts))
        else:
            self.transport.writelines(parts)  # no copy of a large body

    async def drained(self) -> None:
        """Returns once the client has read enough of what was written (at once if it has)."""
        if self._write_paused and not self.lost:
            if self._drain is None:
                self._drain = self.loop.create_future()
            await self._drain

    def response_done(self, exchange: Exchange) -> None:
        self._current = None
        if self.lost:
            return
        if not exchange.keep_alive or not exchange.complete or self._broken:
            # Not complete: answered before its body was read (an error without "100 Continue"); the
            # client may never send the body, so the framing of this connection is lost.
            self.transport.close()
        elif self._queue:
            self._begin(self._queue.popleft())
            self.want_more()
        elif self.eof:
            self.transport.close()
        else:
            self._arm_keep_alive_timer()
            self.want_more()

    def want_more(self) -> None:
        """Resume reading unless a pipelined request waits or a full body buffer is unread."""
        if not self._reading_paused or self._queue or self.lost:
            return
        parsing = self._parsing
        if parsing is not None and parsing._buffered >= BODY_BUFFER:
            return
        self._reading_paused = False
        self.transport.resume_reading()

    def shutdown(self) -> None:
        """The worker stops: close now when idle, else after the response in progress."""
        if self._current is None:
            self.transport.close()
        else:
            self._current.keep_alive = False
            self._queue.clear()

    # -- refusals ----------------------------------------------------------------------------------
    def _bad_request(self, reply: bytes | None = None) -> None:
        """Unusable input: answer 400 and close, or, behind a request still being answered, close
        after that answer."""
        if self._current is not None:
            self._broken = True
            self._current.keep_alive = False
            return
        self._refused = True
        self._cancel_timer()
        if reply is None:
            body = b"Invalid HTTP request received."
            reply = (b"HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\n"
                     b"content-length: %d\r\nconnection: close\r\n\r\n%b" % (len(body), body))
        self.transport.write(reply)
        self.transport.close()

    def _refuse(self, code: ErrorCode, message: str) -> None:
        self._refused = True
        self._cancel_timer()
        if self._current is None:
            self.transport.write(_error_reply(code, message))
        self.transport.close()

    def _refuse_too_large(self) -> None:
        self._refuse(ErrorCode.REQUEST_HEADER_SECTION_TOO_LARGE, "Your request header section exceeds the maximum"
                     f" allowed size ({self.max_head_bytes} bytes).")

    # -- timers and flow control -----------------------------------------------------------------------
    def _arm_head_timer(self) -> None:
        self._cancel_timer()
        self._timer = self.loop.call_later(self.timeout, self._head_timed_out)
        self._timer_is_head = True

    def _arm_keep_alive_timer(self) -> None:
        self._cancel_timer()
        self._timer = self.loop.call_later(KEEP_ALIVE, self.transport.close)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_is_head = False

    def _head_timed_out(self) -> None:
        self._timer = None
        self._timer_is_head = False
        if self.transport.is_closing():
            return
        if self._current is not None:
            # A pipelined head began while a long response is still going out: its time starts
            # when this connection is free to answer it.
            self._arm_head_timer()
            return
        if self._in_head and self._head_bytes + self._head_size:
            self._refuse(ErrorCode.REQUEST_TIMEOUT, _TIMED_OUT_MESSAGE)
        else:
            self.transport.close()

    def _write_stalled(self) -> None:
        # Nothing drained for the whole timeout: drop the connection (close() would wait for the
        # buffer to flush, i.e. forever). The handler sees client_gone and ends.
        self._write_timer = None
        self.transport.abort()

    def _stop_write_timer(self) -> None:
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None

    def _release_drain(self) -> None:
        drain, self._drain = self._drain, None
        if drain is not None and not drain.done():
            drain.set_result(None)

    def _pause_reading(self) -> None:
        if not self._reading_paused and not self.lost:
            self._reading_paused = True
            self.transport.pause_reading()


class ConnectionSet(set[HttpConnection]):
    """The open connections of a worker, for a graceful stop."""

    async def shutdown(self, grace: float) -> None:
        """Close idle connections, let requests in progress finish for up to ``grace`` seconds, then
        drop whatever is left."""
        for conn in list(self):
            conn.shutdown()
        deadline = time.monotonic() + grace
        while self and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for conn in list(self):
            conn.transport.abort()


def _split_target(url: bytes) -> tuple[str, str]:
    """The path and query of a request target, as received."""
    if url[:1] != b"/" or b"#" in url:  # absolute-form, or a fragment to drop
        parsed = httptools.parse_url(url)
        return (parsed.path or b"/").decode("latin-1"), (parsed.query or b"").decode("latin-1")
    path, _, query = url.partition(b"?")
    return path.decode("latin-1"), query.decode("latin-1")


def parse_headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """Header names lower-cased; a repeated header's values joined by commas (RFC 9110 5.3)."""
    headers: dict[str, str] = {}
    for name_b, value_b in raw:
        name = name_b.decode("latin-1").lower()
        value = value_b.decode("latin-1")
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    return headers


def _error_reply(code: ErrorCode, message: str) -> bytes:
    """An S3 error answer written straight to the transport, for a request that never reached a handler."""
    request_id = secrets.token_hex(8).upper()
    body = error_xml(code, message, "/", request_id, {})
    head = (f"HTTP/1.1 {status_of(code)} Bad Request\r\ncontent-type: application/xml\r\n"
            f"content-length: {len(body)}\r\nx-amz-request-id: {request_id}\r\nconnection: close\r\n\r\n")
    return head.encode("ascii") + body

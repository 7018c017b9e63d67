"""HTTP/1.1 connections, parsed by httptools, each request handed to an app as an ``Exchange``.

sealbox serves its HTTP itself rather than through an ASGI server: for a 4 KiB GET the ASGI layer
(message dicts, a request cycle object, header lists converted back and forth) cost about as much
CPU as authenticating the request. What a public server needs is here, in one place:

- keep-alive, pipelined requests (answered in order, one at a time; at most ``MAX_PIPELINED``,
  with ``max_head_bytes`` of heads in all, wait behind the one being answered);
- ``Expect: 100-continue`` (the interim answer goes out when the app first asks for the body, so an
  early error reaches a client that has not sent it yet; any other expectation gets 417);
- flow control both ways: reading pauses while ``BODY_BUFFER`` bytes of a body wait for the app,
  and an app writing a response waits while the client does not read;
- limits: a request head larger than ``max_head_bytes`` is refused, as is a head not complete
  ``timeout`` seconds after the connection opened or the request began (slowloris); a body silent
  for ``timeout`` seconds fails its request (``BodyTimeout``), a client that reads nothing of a
  response for ``timeout`` seconds is dropped, an idle keep-alive connection is closed after
  ``idle_timeout`` seconds;
- per worker (``ConnectionSet``): at most ``max_connections`` open connections are served, and
  request bodies in progress may reserve at most ``max_body_memory`` bytes (each up to
  ``BODY_RESERVE``); a request beyond either is refused as overloaded (S3: 503 SlowDown) and its
  connection closed;
- a response whose body is shorter or longer than its content-length is a logged server error that
  closes the connection; 204 and 304 go out without content-length or body;
- an answer that leaves request bytes unread is followed by a lingering close (``LINGER_SECONDS``).

The transport's own answers (refusals) are rendered by the app's ``refusal`` hook
(``sealbox.http.exchange``): the transport knows no S3. The response head is written together with
the first body bytes: one system call and one TCP segment, so the client wakes once for a small
response.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable

import httptools

from sealbox.core.types import Buffer
from sealbox.http.exchange import App, Exchange, HeaderError, Refusal, Reply, plain_refusal
from sealbox.http.http_exchange import BODY_BUFFER, TIMED_OUT_MESSAGE, HttpExchange

__all__ = ["BODY_BUFFER", "App", "ConnectionSet", "Exchange", "Handler", "HeaderError", "HttpConnection",
           "HttpExchange", "parse_headers"]

log = logging.getLogger("sealbox.http")

Handler = App  # the name sealbox.server knows the app by

MAX_HEAD_BYTES = 64 * 1024  # AWS allows 8 KB; presigned URLs and many x-amz-meta-* headers fit in 64 KB
# What one request body is counted for against a worker's max_body_memory (at most its length): up
# to BODY_BUFFER waiting here plus one socket read, and the ~1 MiB buffer the write pipeline
# coalesces it into (sealbox.service.pipeline), rounded up.
BODY_RESERVE = 2 * 1024 * 1024
MAX_PIPELINED = 16  # requests that may wait behind the one being answered
KEEP_ALIVE = 30.0  # seconds an idle keep-alive connection stays open
OVER_CAP_WAIT = 2.0  # seconds a connection over the cap has to send the head that is answered 503
# After an answer that leaves request bytes unread (a refusal, an error before the body was read),
# the connection shuts its sending side and reads and drops what still arrives, for at most this
# long and this much, before it closes: closing a socket with unread input sends a reset, which
# would destroy the answer in the client's receive buffer before it reads it (lingering close).
LINGER_SECONDS = 2.0
LINGER_BYTES = 4 * 1024 * 1024
_SMALL_WRITE = 16 * 1024  # below this a response head and its body are joined into one write
_WARN_EVERY = 10.0  # seconds between two log lines about refusals for overload

_BUSY_CONNECTIONS = "The server has too many open connections; retry shortly."
_BUSY_BODIES = "The server holds too many request bodies in progress; retry shortly."
_BUSY_PIPELINE = "Too many pipelined requests on one connection; retry on a new connection."


class _HeadRefused(Exception):
    """Raised from a parser callback to stop parsing for good (httptools turns it into an
    HttpParserCallbackError)."""


class ConnectionSet:
    """The open connections of a worker, its limits, and what they hold (for a graceful stop, the
    connection cap and the body-memory cap).

    ``max_connections`` (0: no cap) connections are served; a connection beyond it gets its first
    request refused as overloaded and is closed. Each request with a body reserves
    min(length, ``BODY_RESERVE``) bytes of ``max_body_memory`` (0: no cap) from its head until its
    handler ends; a request that does not fit is refused as overloaded. (A slotted class, not a set
    subclass: the counters are touched on every request with a body, and attributes of a set
    subclass's instance dict are not specialised by CPython 3.11.)
    """

    __slots__ = ("open", "max_connections", "max_body_memory", "admitted", "body_memory", "refused", "_warned")

    def __init__(self, max_connections: int = 0, max_body_memory: int = 0) -> None:
        self.open: set[HttpConnection] = set()
        self.max_connections = max_connections
        self.max_body_memory = max_body_memory
        self.admitted = 0  # connections served (those over the cap are not counted)
        self.body_memory = 0  # bytes reserved by request bodies in progress
        self.refused = 0  # requests refused as overloaded since the last log line
        self._warned = 0.0

    def __len__(self) -> int:
        return len(self.open)

    def overloaded(self, why: str) -> None:
        """Count a refusal; log at most one line per ``_WARN_EVERY`` seconds."""
        self.refused += 1
        now = time.monotonic()
        if now - self._warned >= _WARN_EVERY:
            log.warning("overloaded: refused %d request(s) with 503 (%s; %d connections open, %d MiB of request"
                        " bodies in progress)", self.refused, why, self.admitted, self.body_memory >> 20)
            self._warned, self.refused = now, 0

    async def shutdown(self, grace: float) -> None:
        """Close idle connections, let requests in progress finish for up to ``grace`` seconds, then
        drop whatever is left."""
        for conn in list(self.open):
            conn.shutdown()
        deadline = time.monotonic() + grace
        while self.open and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for conn in list(self.open):
            conn.transport.abort()


def _body_reservation(headers: dict[str, str]) -> int:
    """What a request's body is counted for against max_body_memory: its length, up to BODY_RESERVE
    (httptools has checked that a single content-length is digits; a repeated one is "5,5")."""
    length = headers.get("content-length")
    if length is None or not length.isdigit():
        return BODY_RESERVE  # chunked, or an odd content-length: the most a body can hold
    size = int(length)
    return size if size < BODY_RESERVE else BODY_RESERVE


def _unmet_expectation(expect: str) -> str | None:
    """The members of an Expect value other than 100-continue (RFC 9110 10.1.1), or None."""
    other = [m for m in (part.strip() for part in expect.split(",")) if m and m.lower() != "100-continue"]
    return ", ".join(other) if other else None


class HttpConnection(asyncio.Protocol):
    """One client connection (see the module docstring)."""

    # Slots, not an instance dict: with more than 30 attributes CPython 3.11 stops sharing an
    # instance dict's keys and every attribute access became a dict lookup (+6 % instructions
    # per 4 KiB GET, measured with bench/http_layer.py under callgrind).
    __slots__ = ("handler", "secure", "timeout", "idle_timeout", "max_head_bytes", "connections", "loop",
                 "transport", "client_ip", "tls_version", "lost", "eof", "on_connection_lost", "_parser", "_admitted",
                 "_over_cap", "_url", "_raw_headers", "_in_head", "_head_bytes", "_head_size", "_parsing", "_current",
                 "_task", "_queue", "_queued_head", "_refused", "_linger", "_reading_paused", "_write_paused", "_drain",
                 "_timer", "_timer_is_head", "_write_timer")

    def __init__(self, handler: App, *, secure: bool, timeout: float, max_head_bytes: int = MAX_HEAD_BYTES,
                 connections: ConnectionSet | None = None, idle_timeout: float = KEEP_ALIVE) -> None:
        self.handler = handler
        self.secure = secure
        self.timeout = timeout
        self.idle_timeout = idle_timeout
        self.max_head_bytes = max_head_bytes
        self.connections = connections
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.client_ip = ""
        self.tls_version: str | None = None  # "1.2", "1.3": the negotiated TLS version (s3:TlsVersion)
        self.lost = False
        self.eof = False  # the client will send nothing more
        self.on_connection_lost: Callable[[], None] | None = None  # set by sealbox.accept (connection counts)
        self._parser = httptools.HttpRequestParser(self)
        try:  # answer the first of pipelined requests even when it says "Connection: close"
            self._parser.set_dangerous_leniencies(lenient_data_after_close=True)
        except AttributeError:  # httptools < 0.6.3
            pass
        self._admitted = False  # counted in connections.admitted
        self._over_cap = False  # opened beyond max_connections: its first request is refused
        # Request being parsed
        self._url = b""
        self._raw_headers: list[tuple[bytes, bytes]] = []
        self._in_head = False
        self._head_bytes = 0  # raw bytes received while the head is incomplete
        self._head_size = 0  # bytes of the request line and headers, as parsed
        self._parsing: HttpExchange | None = None  # whose body the parser is producing
        # Requests being answered
        self._current: HttpExchange | None = None
        self._task: asyncio.Task[None] | None = None  # the handler answering _current
        self._queue: deque[HttpExchange] = deque()  # pipelined, waiting for the current one
        self._queued_head = 0  # bytes of the heads in _queue
        self._refused = False  # a refusal is answered (or queued): read nothing more, close after it
        self._linger = -1  # bytes still dropped while lingering before the close; -1: not lingering
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
        connections = self.connections
        if connections is not None:
            connections.open.add(self)
            if connections.max_connections and connections.admitted >= connections.max_connections:
                self._over_cap = True
            else:
                connections.admitted += 1
                self._admitted = True
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._cancel_timer()
        self._stop_write_timer()
        connections = self.connections
        if connections is not None:
            connections.open.discard(self)
            if self._admitted:
                self._admitted = False
                connections.admitted -= 1
        for exchange in (self._current, self._parsing):
            if exchange is not None:
                exchange._wake()
        self._drop_queue()
        self._release_drain()
        if self.on_connection_lost is not None:
            self.on_connection_lost()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            if self._linger >= 0:
                self._linger -= len(data)
                if self._linger < 0:
                    self.transport.close()
            return
        try:
            self._feed(data)
        except httptools.HttpParserError:  # also what a callback's exception (_HeadRefused) becomes
            if not self._refused:
                parsing = self._parsing
                if parsing is not None:  # its body cannot be parsed: it ends here
                    parsing._malformed = True
                    parsing._wake()
                self._refuse(Refusal.MALFORMED, "Invalid HTTP request received.")
            return
        if self._in_head:  # the head is still incomplete after this piece: count it against the limit
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head_bytes and not self._refused:
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
        return self._current is not None and not self.secure and self._linger < 0

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
        method = parser.get_method().decode("latin-1")
        if version != "1.0" and ("host" not in headers or "," in headers["host"]):
            # RFC 9112 3.2: an HTTP/1.1 request without exactly one Host header is refused with 400.
            self._refuse(Refusal.NO_HOST, "An HTTP/1.1 request must carry exactly one Host header.", method)
            raise _HeadRefused
        if self._over_cap:
            self._overloaded(_BUSY_CONNECTIONS, method, "connection cap")
            raise _HeadRefused
        if self._current is not None and (len(self._queue) >= MAX_PIPELINED
                                          or self._queued_head + self._head_size > self.max_head_bytes):
            # Waiting requests hold at most MAX_PIPELINED heads of max_head_bytes in all.
            self._overloaded(_BUSY_PIPELINE, method, "pipelined requests")
            raise _HeadRefused
        exchange = HttpExchange(self, method, *_split_target(self._url), headers,
                                parser.should_keep_alive() and version != "1.0")
        expect = headers.get("expect")
        if expect is not None:
            unmet = _unmet_expectation(expect)
            if unmet is not None:
                self._refuse(Refusal.EXPECTATION_FAILED, f"The expectation {unmet!r} cannot be met; this server"
                             " supports only 100-continue.", method)
                raise _HeadRefused
            # RFC 9110 10.1.1: a 100-continue expectation in an HTTP/1.0 request is ignored.
            exchange._expect_continue = version != "1.0" and expect.strip() != ""
        connections = self.connections
        if connections is not None and connections.max_body_memory and (
                "content-length" in headers or "transfer-encoding" in headers):
            need = _body_reservation(headers)
            if connections.body_memory + need > connections.max_body_memory:
                self._overloaded(_BUSY_BODIES, method, "body memory cap")
                raise _HeadRefused
            connections.body_memory += need
            exchange._reserved = need
        self._parsing = exchange
        if self._current is None:
            self._begin(exchange)
        else:  # pipelined: answered after the current one; read no further meanwhile
            exchange._head = self._head_size
            self._queued_head += self._head_size
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
    def _begin(self, exchange: HttpExchange) -> None:
        self._current = exchange
        if exchange.refusal is not None:
            self._answer_refusal(exchange)
        else:
            self._task = self.loop.create_task(self._run(exchange))  # held: the loop keeps only a weak reference

    async def _run(self, exchange: HttpExchange) -> None:
        try:
            await self.handler(exchange)
        except Exception:
            log.exception("unhandled error answering %s %s", exchange.method, exchange.raw_path)
            if not exchange.done:
                self._fail(exchange)
        else:
            if not exchange.done:
                log.error("no complete response to %s %s", exchange.method, exchange.raw_path)
                self._fail(exchange)
        finally:
            if exchange._reserved:
                exchange._release()

    def _fail(self, exchange: HttpExchange) -> None:
        if exchange.started or self.lost:
            exchange.abort()
            return
        exchange.refusal = (Refusal.INTERNAL_ERROR, "The server failed to answer this request; its log has"
                            " the details.")
        self._answer_refusal(exchange)

    def _answer_refusal(self, exchange: HttpExchange) -> None:
        """Write the app's rendering of ``exchange.refusal`` and close the connection after it."""
        assert exchange.refusal is not None
        kind, message = exchange.refusal
        exchange.keep_alive = False
        try:
            reply = self.handler.refusal(kind, message)
        except Exception:
            log.exception("the refusal hook failed for %s", kind.value)
            reply = plain_refusal(kind, message)
        try:
            exchange.start(reply.status, _with_length(reply), reply.body)
        except HeaderError:
            log.error("the refusal hook returned an unwritable header for %s", kind.value)
            reply = plain_refusal(kind, message)
            exchange.start(reply.status, _with_length(reply), reply.body)

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

    def response_done(self, exchange: HttpExchange) -> None:
        self._current = None
        if self.lost:
            return
        if not exchange.complete or exchange.refusal is not None:
            # Answered before its body was read (an error without "100 Continue"), or refused: the
            # client may never send the body, or still be sending it; the framing is lost.
            self._close_lingering()
        elif not exchange.keep_alive:
            self.transport.close()
        elif self._queue:
            waiting = self._queue.popleft()
            self._queued_head -= waiting._head
            self._begin(waiting)
            self.want_more()
        elif self.eof:
            self.transport.close()
        else:
            self._arm_keep_alive_timer()
            self.want_more()

    def want_more(self) -> None:
        """Resume reading unless a pipelined request waits, a full body buffer is unread, or a refusal
        ends this connection."""
        if not self._reading_paused or self._queue or self.lost or self._refused:
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
            self._drop_queue()

    def _close_lingering(self) -> None:
        """Close after the response, without a reset destroying it (see ``LINGER_SECONDS``)."""
        transport = self.transport
        if self.eof or self.secure or not transport.can_write_eof():  # TLS: close_notify, then close
            transport.close()
            return
        self._refused = True  # what still arrives is dropped
        self._linger = LINGER_BYTES
        self._cancel_timer()
        transport.write_eof()
        self._timer = self.loop.call_later(LINGER_SECONDS, transport.close)
        if self._reading_paused:
            self._reading_paused = False
            transport.resume_reading()

    def _drop_queue(self) -> None:
        for exchange in self._queue:
            exchange._release()
        self._queue.clear()
        self._queued_head = 0

    # -- refusals ----------------------------------------------------------------------------------
    def _refuse(self, kind: Refusal, message: str, method: str = "GET") -> None:
        """Answer the request being parsed with the app's rendering of ``kind``, in order (after the
        requests before it), read nothing more, and close the connection after that answer."""
        self._refused = True
        self._cancel_timer()
        self._pause_reading()
        self._parsing = None
        exchange = HttpExchange(self, method, "/", "", {}, False)
        exchange.refusal = (kind, message)
        if self._current is None:
            self._begin(exchange)
        else:
            self._queue.append(exchange)

    def _overloaded(self, message: str, method: str, why: str) -> None:
        if self.connections is not None:
            self.connections.overloaded(why)
        self._refuse(Refusal.OVERLOADED, message, method)

    def _refuse_too_large(self) -> None:
        self._refuse(Refusal.HEAD_TOO_LARGE, "Your request header section exceeds the maximum allowed size"
                     f" ({self.max_head_bytes} bytes).")

    # -- timers and flow control -----------------------------------------------------------------------
    def _arm_head_timer(self) -> None:
        self._cancel_timer()
        timeout = min(self.timeout, OVER_CAP_WAIT) if self._over_cap else self.timeout
        self._timer = self.loop.call_later(timeout, self._head_timed_out)
        self._timer_is_head = True

    def _arm_keep_alive_timer(self) -> None:
        self._cancel_timer()
        self._timer = self.loop.call_later(self.idle_timeout, self.transport.close)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_is_head = False

    def _head_timed_out(self) -> None:
        self._timer = None
        self._timer_is_head = False
        if self.transport.is_closing() or self._refused:
            return
        if self._current is not None:
            # A pipelined head began while a long response is still going out: its time starts
            # when this connection is free to answer it.
            self._arm_head_timer()
            return
        if not (self._in_head and self._head_bytes + self._head_size):
            self.transport.close()  # nothing of a request: just close
        elif self._over_cap:
            self._overloaded(_BUSY_CONNECTIONS, "GET", "connection cap")
        else:
            self._refuse(Refusal.HEAD_TIMEOUT, TIMED_OUT_MESSAGE)

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


def _with_length(reply: Reply) -> list[tuple[str, str]]:
    return [*((n.lower(), v) for n, v in reply.headers if n.lower() != "content-length"),
            ("content-length", str(len(reply.body)))]


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

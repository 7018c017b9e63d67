"""uvicorn's httptools protocol plus the two limits it lacks: how big and how slow a request head may be.

uvicorn buffers a request head of any size (httptools accumulates every header value) and waits for
it forever (its only timer is the keep-alive one, armed after a response). So one client could hold a
connection open with a never-finished head (slowloris) or grow a worker's memory with a 100 MB header.

``guarded_protocol`` makes a protocol class that

- closes a connection whose request head is not complete ``head_timeout`` seconds after the connection
  opened or the request began (answering 400 RequestTimeout when some of it had arrived), and
- refuses a head larger than ``max_head_bytes`` with 400 RequestHeaderSectionTooLarge and closes.
- aborts a connection whose client has not read any of a response for ``head_timeout`` seconds (its
  write buffer stayed above the high-water mark), so a stalled reader holds no task, file or buffer.

A stalled request body is timed out where it is read (``sealbox.http.app``).

It also receives request bodies without uvicorn's two copies of every byte (uvicorn appends each
piece to a bytearray, then copies that into a new bytes per ``receive()``): the pieces httptools
hands over are kept as they are and joined once, into buffers of up to ``BODY_BUFFER`` bytes, which
is what the write pipeline hashes, encrypts and writes (sealbox.service.pipeline).
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from sealbox.core.errors import ErrorCode
from sealbox.http.errors import error_xml, status_of

MAX_HEAD_BYTES = 64 * 1024  # AWS allows 8 KB; presigned URLs and many x-amz-meta-* headers fit in 64 KB
BODY_BUFFER = 1024 * 1024  # request body bytes held per connection before reading pauses


def _reply(code: ErrorCode, message: str) -> bytes:
    request_id = secrets.token_hex(8).upper()
    body = error_xml(code, message, "/", request_id, {})
    head = (f"HTTP/1.1 {status_of(code)} Bad Request\r\ncontent-type: application/xml\r\n"
            f"content-length: {len(body)}\r\nx-amz-request-id: {request_id}\r\nconnection: close\r\n\r\n")
    return head.encode("ascii") + body


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    head_timeout: float = 30.0
    max_head_bytes: int = MAX_HEAD_BYTES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = False  # between the first byte of a request and the end of its head
        self._head_bytes = 0  # raw bytes received while the head is incomplete
        self._head_size = 0  # bytes of the request line and headers, as parsed
        self._head_timer: asyncio.TimerHandle | None = None
        self._write_timer: asyncio.TimerHandle | None = None
        self._refused = False

    # -- the head timer ------------------------------------------------------------------------------
    def _arm(self) -> None:
        self._disarm()
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self._head_bytes:
            self._refuse(ErrorCode.REQUEST_TIMEOUT, "Your socket connection to the server was not read from or"
                         " written to within the timeout period.")
        else:
            self.transport.close()

    def _refuse(self, code: ErrorCode, message: str) -> None:
        self._refused = True
        self._disarm()
        self.transport.write(_reply(code, message))
        self.transport.close()

    # -- uvicorn protocol hooks ------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._stop_write_timer()
        super().connection_lost(exc)
        hook = getattr(self, "on_connection_lost", None)  # set by sealbox.accept, which counts connections
        if hook is not None:
            hook()

    # -- the write timer: a client that stops reading a response --------------------------------------
    def pause_writing(self) -> None:
        super().pause_writing()
        if self._write_timer is None:
            self._write_timer = self.loop.call_later(self.head_timeout, self._write_stalled)

    def resume_writing(self) -> None:
        self._stop_write_timer()
        super().resume_writing()

    def _stop_write_timer(self) -> None:
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None

    def _write_stalled(self) -> None:
        # Nothing drained for the whole timeout: drop the connection (abort: close() would wait for
        # the buffer to flush, i.e. forever). The response task sees the disconnect and ends.
        self._write_timer = None
        self.transport.abort()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        super().data_received(data)
        if self._in_head:  # the head is still incomplete after this piece: count it against the limit
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head_bytes and not self.transport.is_closing():
                self._refuse_too_large()

    def _refuse_too_large(self) -> None:
        self._refuse(ErrorCode.REQUEST_HEADER_SECTION_TOO_LARGE, "Your request header section exceeds the maximum"
                     f" allowed size ({self.max_head_bytes} bytes).")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = self._head_size = 0
        if self._head_timer is None:
            self._arm()

    def on_url(self, url: bytes) -> None:
        self._head_size += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_size += len(name) + len(value) + 4
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._disarm()
        if self._head_size > self.max_head_bytes:  # a big head that arrived in one piece
            self._refuse_too_large()
            raise _HeadRefused  # stops the parser: no request cycle starts
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and not isinstance(cycle, PiecewiseCycle):
            # uvicorn builds its own cycle class here; ours only changes how the body is buffered.
            # Its task has not run yet (it starts on the next loop turn), so no body was read.
            cycle.__class__ = PiecewiseCycle
            cycle.pieces = []
            cycle.pieces_size = 0
            cycle.held = None

    def on_body(self, body: bytes) -> None:
        cycle = self.cycle
        if not isinstance(cycle, PiecewiseCycle):
            super().on_body(body)
            return
        if (self.parser.should_upgrade() and self._should_upgrade()) or cycle.response_complete:
            return
        cycle.pieces.append(body)
        cycle.pieces_size += len(body)
        if cycle.pieces_size >= BODY_BUFFER:
            self.flow.pause_reading()
        cycle.message_event.set()

    def send_400_response(self, msg: str) -> None:
        if not self._refused:  # our own answer has gone out already
            super().send_400_response(msg)


class _HeadRefused(Exception):
    pass


class _Capture:
    """Stands in for the transport while uvicorn formats a response head: keeps what it writes."""

    def __init__(self, real: asyncio.Transport) -> None:
        self._real = real
        self.data: bytes | None = None

    def write(self, data: bytes) -> None:
        self.data = data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class _Prefixed:
    """Stands in for the transport for the first body write: the held head goes out with it."""

    def __init__(self, real: asyncio.Transport, head: bytes) -> None:
        self._real = real
        self._head: bytes | None = head

    def write(self, data: bytes) -> None:
        head, self._head = self._head, None
        if head is None:
            self._real.write(data)
        elif len(data) <= 16 * 1024:
            self._real.write(head + data)
        else:
            self._real.writelines((head, data))  # no copy of a large body

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class PiecewiseCycle(RequestResponseCycle):
    """uvicorn's request cycle, with the body kept as the list of pieces httptools produced, and the
    response head written together with the first body bytes (one system call and one TCP segment,
    so the client wakes once, not twice, for a small response)."""

    pieces: list[bytes]
    pieces_size: int
    held: bytes | None  # the status line and headers, until the first body message

    async def send(self, message: Any) -> None:
        kind = message["type"]
        if kind == "http.response.start" and not self.response_started and self.scope["method"] != "HEAD":
            real, capture = self.transport, _Capture(self.transport)
            self.transport = capture  # type: ignore[assignment]
            try:
                await super().send(message)
            finally:
                self.transport = real
            self.held = capture.data  # None if the client was gone and nothing was written
            return
        if kind == "http.response.body" and self.held is not None:
            real, self.transport = self.transport, _Prefixed(self.transport, self.held)  # type: ignore[assignment]
            self.held = None
            try:
                await super().send(message)
            finally:
                self.transport = real
            return
        await super().send(message)

    async def receive(self) -> Any:
        # As uvicorn's receive(), but the body is the pieces joined once (or the only piece itself).
        if self.waiting_for_100_continue and not self.transport.is_closing():
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.waiting_for_100_continue = False
        if not self.disconnected and not self.response_complete:
            self.flow.resume_reading()
            await self.message_event.wait()
            self.message_event.clear()
        if self.disconnected or self.response_complete:
            return {"type": "http.disconnect"}
        pieces = self.pieces
        body = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        self.pieces = []
        self.pieces_size = 0
        return {"type": "http.request", "body": body, "more_body": self.more_body}


def guarded_protocol(head_timeout: float, max_head_bytes: int = MAX_HEAD_BYTES) -> type[GuardedHttpToolsProtocol]:
    """A protocol class with these limits, for ``uvicorn.Config(http=...)``."""
    return type("SealboxHttpProtocol", (GuardedHttpToolsProtocol,),
                {"head_timeout": head_timeout, "max_head_bytes": max_head_bytes})

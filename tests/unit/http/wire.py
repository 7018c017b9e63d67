"""A fake transport that drives ``sealbox.http.connection.HttpConnection`` without sockets, an app
whose refusal hook marks what it rendered, and a parser of what the connection wrote."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httptools

from sealbox.http.connection import ConnectionSet, HttpConnection
from sealbox.http.exchange import PLAIN_STATUS, Exchange, Refusal, Reply

HandlerFn = Callable[[Exchange], Awaitable[None]]


class FakeTransport(asyncio.Transport):
    def __init__(self, protocol: asyncio.Protocol) -> None:
        super().__init__()
        self.protocol = protocol
        self.out = bytearray()
        self.closed = False
        self.aborted = False
        self.eof_sent = False
        self.reading = True

    def write(self, data: bytes | bytearray | memoryview) -> None:
        assert not self.closed and not self.eof_sent, "write after close"
        self.out += data

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.eof_sent = True

    @property
    def ended(self) -> bool:
        """The connection sends nothing more: closed, or its sending side shut (lingering)."""
        return self.closed or self.eof_sent

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            asyncio.get_running_loop().call_soon(self.protocol.connection_lost, None)

    def abort(self) -> None:
        self.aborted = True
        self.close()

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def is_reading(self) -> bool:
        return self.reading

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40000) if name == "peername" else default


class App:
    """Calls ``handler`` per request; its refusal hook answers the plain status with an
    ``x-refusal`` header, so a test sees that the app (not the transport) rendered it."""

    def __init__(self, handler: HandlerFn | None = None) -> None:
        self.handler = handler or ok_handler
        self.refusals: list[Refusal] = []
        self.calls = 0

    async def __call__(self, exchange: Exchange) -> None:
        self.calls += 1
        await self.handler(exchange)

    def refusal(self, refusal: Refusal, message: str) -> Reply:
        self.refusals.append(refusal)
        return Reply(PLAIN_STATUS[refusal], [("x-refusal", refusal.value)], message.encode())


async def ok_handler(exchange: Exchange) -> None:
    """Reads the whole body and answers 200 with ``method path body-length``."""
    size = 0
    while (piece := await exchange.receive()) is not None:
        size += len(piece)
    body = f"{exchange.method} {exchange.raw_path} {size}".encode()
    exchange.start(200, [("content-length", str(len(body)))], body)


@dataclass
class Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class Wire:
    """One connection over a fake transport."""

    def __init__(self, app: App, *, timeout: float = 30.0, connections: ConnectionSet | None = None,
                 **kwargs: Any) -> None:
        self.app = app
        self.conn = HttpConnection(app, secure=False, timeout=timeout, connections=connections, **kwargs)
        self.transport = FakeTransport(self.conn)
        self.conn.connection_made(self.transport)

    def send(self, data: bytes) -> None:
        self.conn.data_received(data)

    async def settle(self, rounds: int = 20) -> None:
        for _ in range(rounds):
            await asyncio.sleep(0)

    def responses(self) -> list[Response]:
        """Every complete response written so far (interim 1xx included)."""
        return parse_responses(bytes(self.transport.out))


def parse_responses(data: bytes) -> list[Response]:
    responses: list[Response] = []

    class Sink:
        current: Response | None = None

        def on_status(self, status: bytes) -> None:
            pass

        def on_header(self, name: bytes, value: bytes) -> None:
            assert self.current is not None
            self.current.headers[name.decode().lower()] = value.decode()

        def on_message_begin(self) -> None:
            self.current = Response(0)

        def on_headers_complete(self) -> None:
            assert self.current is not None
            self.current.status = parser.get_status_code()

        def on_body(self, body: bytes) -> None:
            assert self.current is not None
            self.current.body += body

        def on_message_complete(self) -> None:
            assert self.current is not None
            responses.append(self.current)
            self.current = None

    sink = Sink()
    parser = httptools.HttpResponseParser(sink)
    if data:
        parser.feed_data(data)
    return responses


def get(path: str = "/", extra: str = "") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: x\r\n{extra}\r\n".encode()


def put(path: str, body: bytes, extra: str = "", length: int | None = None) -> bytes:
    n = len(body) if length is None else length
    return f"PUT {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {n}\r\n{extra}\r\n".encode() + body

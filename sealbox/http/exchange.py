"""The seam between the HTTP transport and the applications it serves (the S3 API, the console).

``sealbox.http.connection`` parses HTTP/1.1 and hands every request to an ``App`` as an
``Exchange``; the app reads the request, takes the body with ``receive()`` and answers with
``start()`` / ``write()`` / ``finish()``. Nothing here knows S3: the transport's own answers (a head
too large, a head that never completed, bytes that are not HTTP, an unknown ``Expect``, a worker
over its limits, an app that failed without answering) are described as a ``Refusal`` and rendered
by the app's ``refusal()`` hook, so the S3 port answers S3 error XML and the console its own page.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from sealbox.core.types import Buffer


class HeaderError(ValueError):
    """A response header that cannot be written (a control character in it)."""


class BodyIncomplete(Exception):
    """The client closed or half-closed the connection before the end of the request body."""


class BodyTimeout(Exception):
    """The client sent nothing of the request body for the connection's timeout."""


class Exchange(Protocol):
    """One request and the response to it.

    ``raw_path`` and ``raw_query`` are percent-encoded, as received; ``headers`` has lower-case names
    and a repeated header's values joined by commas. Strings hold the bytes received decoded as
    latin-1, so encoding them back gives those bytes.
    """

    method: str
    raw_path: str
    raw_query: str
    headers: dict[str, str]
    secure: bool  # received on a TLS listener
    tls_version: str | None  # "1.2", "1.3": the negotiated TLS version (s3:TlsVersion); None over plain HTTP
    client_ip: str
    bytes_in: int  # body bytes received so far (access log, metrics)
    bytes_out: int  # body bytes sent so far (no chunk framing)

    @property
    def client_gone(self) -> bool:
        """The connection is closed or closing: nobody will read the rest of a response."""
        ...

    async def receive(self) -> bytes | None:
        """The next piece of the body (never empty), or None once it has all been received.

        Raises BodyIncomplete when the client stops sending before the end, BodyTimeout when it is
        silent for the connection's timeout. The first call answers ``Expect: 100-continue``."""
        ...

    def start(self, status: int, headers: Iterable[tuple[str, str]], body: Buffer = b"", end: bool = True) -> None:
        """The status line and headers (lower-case names), with ``body``: all of it when ``end``, else
        its first bytes. A body that does not end here and has no content-length is sent chunked;
        a body that turns out shorter or longer than its content-length is a logged server error
        that closes the connection. 204 and 304 carry neither a body nor a content-length.
        Raises HeaderError, before anything is written, for a header value no HTTP head can carry."""
        ...

    async def write(self, data: Buffer) -> None:
        """More of the body; waits while the client is not reading."""
        ...

    def finish(self) -> None:
        """The response is complete."""
        ...

    def abort(self) -> None:
        """Drop the connection mid-response: the client sees a truncated body, never a complete one."""
        ...


class Refusal(enum.Enum):
    """Why the transport answers a request itself, without the app's handler."""

    MALFORMED = "malformed"  # the bytes are not an HTTP/1.1 request
    NO_HOST = "no-host"  # an HTTP/1.1 request without exactly one Host header (RFC 9112 3.2)
    HEAD_TOO_LARGE = "head-too-large"  # request line and headers over the connection's limit
    HEAD_TIMEOUT = "head-timeout"  # the head did not complete within the timeout
    EXPECTATION_FAILED = "expectation-failed"  # an Expect other than 100-continue (RFC 9110 10.1.1)
    OVERLOADED = "overloaded"  # the worker is at its connection, body-memory or pipelining limit
    INTERNAL_ERROR = "internal-error"  # the app failed without answering


@dataclass(frozen=True)
class Reply:
    """A complete response the transport writes for a refusal; it adds content-length, date and
    ``connection: close`` itself."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


Responder = Callable[[Exchange], Awaitable[None]]  # answers an exchange, without the refusal hook (ops endpoints)


class App(Protocol):
    """What ``sealbox.http.connection`` serves: one call per request, and the refusal hook."""

    async def __call__(self, exchange: Exchange) -> None: ...

    def refusal(self, refusal: Refusal, message: str) -> Reply:
        """The answer to a request the transport refuses; ``message`` says why, in English."""
        ...


# Plain HTTP statuses for each refusal (an app with its own error vocabulary may choose others: S3
# answers 400 to a head too large or too slow).
PLAIN_STATUS = {
    Refusal.MALFORMED: 400,
    Refusal.NO_HOST: 400,
    Refusal.HEAD_TOO_LARGE: 431,
    Refusal.HEAD_TIMEOUT: 408,
    Refusal.EXPECTATION_FAILED: 417,
    Refusal.OVERLOADED: 503,
    Refusal.INTERNAL_ERROR: 500,
}


def plain_refusal(refusal: Refusal, message: str) -> Reply:
    """A text/plain answer with the plain HTTP status (what the console answers)."""
    headers = [("content-type", "text/plain; charset=utf-8")]
    if refusal is Refusal.OVERLOADED:
        headers.append(("retry-after", "1"))
    return Reply(PLAIN_STATUS[refusal], headers, message.encode("utf-8"))

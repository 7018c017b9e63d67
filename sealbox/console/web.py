"""A small web toolkit for the console: request parsing, responses, and a method+path router.

The console needs little — HTML pages, form posts, one streamed upload, streamed downloads, a
JSON status endpoint — so a few dozen lines replace a framework. Every response carries the same
hardening headers: a strict Content-Security-Policy (no inline script at all, so an object key that
slips past escaping still cannot run), no framing, no MIME sniffing.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.types import Buffer
from sealbox.http.exchange import BodyIncomplete, BodyTimeout, Exchange

MAX_FORM = 4 * 1024 * 1024  # a bulk selection of a thousand long keys still fits
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self';"
       " form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = [
    ("content-security-policy", CSP),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "same-origin"),
]


class BadRequest(Exception):
    """A malformed console request (not an S3 error): answered 400 with the message."""


class Forbidden(Exception):
    """A missing or wrong CSRF token, or a resource of another principal: answered 403."""


@dataclass
class Request:
    exchange: Exchange
    params: dict[str, str] = field(default_factory=dict)  # captured from the route's path
    session: Any = None  # the signed-in Session, set by the app before a non-public handler runs
    _form: dict[str, list[str]] | None = None

    @property
    def method(self) -> str:
        return self.exchange.method

    @property
    def path(self) -> str:
        """The path, percent-decoded (as UTF-8)."""
        return urllib.parse.unquote(self.exchange.raw_path)

    @property
    def raw_query(self) -> str:
        return self.exchange.raw_query

    @property
    def secure(self) -> bool:
        return self.exchange.secure

    @property
    def headers(self) -> dict[str, str]:
        return self.exchange.headers

    @property
    def query_all(self) -> dict[str, list[str]]:
        return urllib.parse.parse_qs(self.raw_query, keep_blank_values=True, encoding="utf-8", errors="strict")

    def query(self, name: str, default: str = "") -> str:
        values = self.query_all.get(name)
        return values[0] if values else default

    @property
    def cookies(self) -> dict[str, str]:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(self.headers.get("cookie", ""))
        except Exception:  # noqa: BLE001 - a garbled Cookie header is treated as no cookies
            return {}
        return {k: m.value for k, m in jar.items()}

    async def body(self, limit: int) -> bytes:
        parts: list[bytes] = []
        size = 0
        async for chunk in self.stream():
            size += len(chunk)
            if size > limit:
                raise BadRequest("The request body is too large.")
            parts.append(chunk)
        return b"".join(parts)

    async def stream(self) -> AsyncIterator[bytes]:
        while True:
            try:
                body = await self.exchange.receive()
            except BodyIncomplete:
                raise ConnectionAbortedError("client went away") from None
            except BodyTimeout:
                raise SealboxError(ErrorCode.REQUEST_TIMEOUT) from None
            if body is None:
                return
            yield body

    async def form(self) -> dict[str, list[str]]:
        """URL-encoded form fields (the console's forms never use multipart)."""
        if self._form is None:
            ctype = self.headers.get("content-type", "").split(";")[0].strip().lower()
            if ctype not in ("application/x-www-form-urlencoded", ""):
                raise BadRequest("Forms must be URL-encoded.")
            raw = (await self.body(MAX_FORM)).decode("utf-8", errors="strict")
            self._form = urllib.parse.parse_qs(raw, keep_blank_values=True, encoding="utf-8", errors="strict")
        return self._form

    async def field(self, name: str, default: str = "") -> str:
        values = (await self.form()).get(name)
        return values[0] if values else default


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    stream: AsyncIterator[Buffer] | None = None

    def set_cookie(self, name: str, value: str, *, max_age: int | None, secure: bool, path: str = "/") -> None:
        parts = [f"{name}={value}", f"Path={path}", "HttpOnly", "SameSite=Lax"]
        if max_age is not None:
            parts.append(f"Max-Age={max_age}")
        if secure:
            parts.append("Secure")
        self.headers.append(("set-cookie", "; ".join(parts)))

    def delete_cookie(self, name: str, *, secure: bool) -> None:
        self.set_cookie(name, "", max_age=0, secure=secure)

    async def send_to(self, exchange: Exchange) -> None:
        headers = [*SECURITY_HEADERS, *self.headers]
        if self.stream is None:
            if not any(h == "content-length" for h, _ in headers):
                headers.append(("content-length", str(len(self.body))))
            exchange.start(self.status, headers, self.body)
            return
        exchange.start(self.status, headers, end=False)
        try:
            async for chunk in self.stream:
                await exchange.write(chunk)
                if exchange.client_gone:
                    break
        finally:
            closer = getattr(self.stream, "aclose", None)
            if closer is not None:
                await closer()
        exchange.finish()


def html(text: str, status: int = 200) -> Response:
    return Response(status, text.encode("utf-8"), [("content-type", "text/html; charset=utf-8"),
                                                   ("cache-control", "no-store")])


def redirect(location: str, status: int = 303) -> Response:
    return Response(status, b"", [("location", location), ("cache-control", "no-store")])


def as_json(value: Any, status: int = 200) -> Response:
    body = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(status, body, [("content-type", "application/json; charset=utf-8"),
                                   ("cache-control", "no-store")])


def url(path: str, **params: str | int | None) -> str:
    """A console URL with its query string; keys are arbitrary UTF-8 and are percent-encoded here."""
    query = {k: str(v) for k, v in params.items() if v is not None and v != ""}
    return path + ("?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote) if query else "")


Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    public: bool = False  # reachable without a session (sign-in page, static files)


class Router:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, path: str, handler: Handler, *, public: bool = False) -> None:
        """``path`` may hold ``{name}`` segments; each matches one path segment."""
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path)
        self.routes.append(Route(method, re.compile(f"^{regex}$"), handler, public))

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None | bool:
        """The route and its captures; False when the path exists for another method; None if unknown."""
        other_method = False
        for route in self.routes:
            found = route.pattern.match(path)
            if not found:
                continue
            if route.method != method and not (route.method == "GET" and method == "HEAD"):
                other_method = True
                continue
            return route, {k: urllib.parse.unquote(v) for k, v in found.groupdict().items()}
        return False if other_method else None

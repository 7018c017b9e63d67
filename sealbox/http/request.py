"""The typed request and response values handlers work with."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from sealbox.http.body import MAX_PUT_SIZE, Receive, RequestPayload
from sealbox.http.sigv4 import AuthContext
from sealbox.service.identity import Principal


@dataclass
class Request:
    method: str
    raw_path: str
    raw_query: str
    query: dict[str, str]
    headers: dict[str, str]
    receive: Receive
    secure: bool
    client_ip: str
    request_id: str
    bucket: str | None = None
    key: str | None = None
    auth: AuthContext | None = None
    principal: Principal | None = None

    def payload(self, max_size: int = MAX_PUT_SIZE) -> RequestPayload:
        """The body, for a request that passed authentication (the only way handlers reach it)."""
        assert self.auth is not None, "body exposed before authentication"
        return RequestPayload(self.receive, self.headers, self.auth, max_size)

    @property
    def resource(self) -> str:
        if self.bucket is None:
            return "/"
        return f"/{self.bucket}/{self.key}" if self.key else f"/{self.bucket}"


def parse_query(raw_query: str) -> dict[str, str]:
    """First value wins, like S3; ``?uploads`` (no '=') maps to an empty value."""
    if not raw_query:
        return {}
    query: dict[str, str] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True, errors="surrogateescape"):
        query.setdefault(name, value)
    return query


@dataclass
class Response:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    stream: AsyncIterator[bytes] | None = None

    @classmethod
    def xml(cls, body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return cls(status, {"content-type": "application/xml", **(headers or {})}, body)

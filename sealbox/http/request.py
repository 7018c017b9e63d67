"""The typed request and response values handlers work with.

``Incoming`` is what the connection delivered, before anything is trusted; ``Request`` is what a
handler gets: a request that was routed once (``Route`` carries what routing parsed) and passed
authentication, so its principal is always known (anonymous included) and only it exposes the body
(principle 4).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from sealbox.core.types import Body, Buffer
from sealbox.http.body import MAX_PUT_SIZE, Receive, RequestPayload
from sealbox.http.router import Route
from sealbox.http.sigv4 import AuthContext
from sealbox.service.identity import Principal


@dataclass(slots=True)
class Incoming:
    """A request as received: not yet routed, not yet authenticated."""

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
    route: Route | None = None  # once routing succeeded (logs name the operation)
    tls_version: str | None = None  # "1.2", "1.3" (s3:TlsVersion); None over plain HTTP
    principal: Principal | None = None  # once authenticated (the access log names it)

    @property
    def resource(self) -> str:
        if self.bucket is None:
            return "/"
        return f"/{self.bucket}/{self.key}" if self.key else f"/{self.bucket}"


@dataclass(slots=True)
class Request:
    """A routed, authenticated request: what every handler receives."""

    incoming: Incoming
    route: Route
    auth: AuthContext
    principal: Principal
    method: str = field(init=False)
    headers: dict[str, str] = field(init=False)
    query: dict[str, str] = field(init=False)
    request_id: str = field(init=False)
    secure: bool = field(init=False)

    def __post_init__(self) -> None:
        # Copied, not properties: handlers read these many times per request.
        self.method = self.incoming.method
        self.headers = self.incoming.headers
        self.query = self.incoming.query
        self.request_id = self.incoming.request_id
        self.secure = self.incoming.secure

    @property
    def bucket(self) -> str:
        """The bucket of a bucket or object operation (routing guarantees one)."""
        bucket = self.route.bucket
        assert bucket is not None, f"{self.route.op.value} routed without a bucket"
        return bucket

    @property
    def key(self) -> str:
        """The key of an object operation (routing guarantees one)."""
        key = self.route.key
        assert key is not None, f"{self.route.op.value} routed without a key"
        return key

    @property
    def resource(self) -> str:
        return self.incoming.resource

    def payload(self, max_size: int = MAX_PUT_SIZE) -> RequestPayload:
        """The body, verified as the signature demands (the only way handlers reach it)."""
        return RequestPayload(self.incoming.receive, self.headers, self.auth, max_size)


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
    body: Buffer = b""
    stream: Body | None = None
    error_code: str | None = None  # the S3 error code of an error response (access log, metrics)

    @classmethod
    def xml(cls, body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return cls(status, {"content-type": "application/xml", **(headers or {})}, body)

"""In-process micro-benchmark: what authorization costs a small GET on a bucket with a policy.

Runs ``S3App`` (parse → route → authenticate → authorize → handler → render) on a fake exchange,
no sockets, against a fresh data directory, and times

* an anonymous GET of a 1 KiB object on a public-read bucket (policy: public read of ``pub/*``,
  deny non-TLS ``PutObject``, the classic deny-unencrypted-uploads pair),
* the same GET by the owner, SigV4-signed (botocore's signer),
* ``access.authorize`` alone for the anonymous GET (policy decision, condition keys, matching),

plus the wildcard matcher on hostile inputs (8 wildcards against a 60 KiB key). Usage::

    PYTHONPATH=. .venv/bin/python bench/authz.py [--rounds 5] [--requests 2000]

Prints the minimum and median over the rounds of the process's CPU time per request (µs). PYTHONPATH picks the tree measured
(e.g. a worktree of an older commit, for an A/B).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ACCESS_KEY = "SBBENCHROOTACCESSKY1"
SECRET_KEY = "bench-secret-key-0123456789abcdefghijklm"


class FakeExchange:
    """The part of ``sealbox.http.connection.Exchange`` that S3App uses."""

    def __init__(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes = b"") -> None:
        self.method, self.raw_path, self.raw_query, self.headers = method, path, query, headers
        self.secure, self.client_ip, self.tls_version = False, "127.0.0.1", None
        self.client_gone = False
        self.status = 0
        self._body = body

    async def receive(self) -> dict[str, Any]:
        body, self._body = self._body, b""
        return {"type": "http.request", "body": body, "more_body": False}

    def start(self, status: int, headers: Any, body: bytes = b"", end: bool = True) -> None:
        self.status = status

    async def write(self, data: bytes) -> None:
        pass

    def finish(self) -> None:
        pass

    def abort(self) -> None:
        pass


def _signed(method: str, path: str, body: bytes = b"") -> dict[str, str]:
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    req = AWSRequest(method=method, url="http://127.0.0.1:9000" + path, data=body)
    S3SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", "us-east-1").add_auth(req)
    return {k.lower(): v for k, v in req.prepare().headers.items()}


POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::bench/pub/*"},
        {"Sid": "TlsOnlyWrites", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
         "Resource": "arn:aws:s3:::bench/*", "Condition": {"Bool": {"aws:SecureTransport": "false"},
                                                            "StringEquals": {"s3:x-amz-acl": "public-read"}}},
        {"Sid": "DenyWrongSse", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
         "Resource": "arn:aws:s3:::bench/*",
         "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "AES256"}}},
        {"Sid": "DenyNoSse", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
         "Resource": "arn:aws:s3:::bench/*", "Condition": {"Null": {"s3:x-amz-server-side-encryption": "true"}}},
    ],
}


async def _call(app: Any, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> int:
    raw_path, _, query = path.partition("?")
    exchange = FakeExchange(method, raw_path, query, {"host": "127.0.0.1:9000", **headers}, body)
    await app(exchange)
    return exchange.status


async def _run(rounds: int, requests: int) -> dict[str, tuple[float, float]]:
    os.environ["SEALBOX_ACCESS_KEY"], os.environ["SEALBOX_SECRET_KEY"] = ACCESS_KEY, SECRET_KEY
    from sealbox.app import build_services
    from sealbox.bootstrap import initialize
    from sealbox.config import Settings
    from sealbox.http.app import S3App
    from sealbox.service import access
    from sealbox.service.identity import Principal

    data = Path(tempfile.mkdtemp(prefix="sealbox-authz-"))
    settings = Settings(data_dir=data / "data", console_port=None)
    initialize(settings)
    services = build_services(settings)
    app = S3App(services)
    body = b"x" * 1024
    assert await _call(app, "PUT", "/bench", _signed("PUT", "/bench")) == 200
    headers = _signed_with({"x-amz-server-side-encryption": "AES256"}, "PUT", "/bench/pub/a/b/c.jpg", body)
    assert await _call(app, "PUT", "/bench/pub/a/b/c.jpg", headers, body) == 200
    text = json.dumps(POLICY).encode()
    assert await _call(app, "PUT", "/bench?policy", _signed("PUT", "/bench?policy", text), text) in (200, 204)

    async def anonymous() -> None:
        assert await _call(app, "GET", "/bench/pub/a/b/c.jpg", {}) == 200

    signed_headers = _signed("GET", "/bench/pub/a/b/c.jpg")

    async def owner() -> None:
        assert await _call(app, "GET", "/bench/pub/a/b/c.jpg", dict(signed_headers)) == 200

    bucket = services.buckets._meta.get_bucket("bench")  # noqa: SLF001 - a benchmark may look inside
    assert bucket is not None
    principal = Principal.anonymous(_context())

    async def authorize_only() -> None:
        access.authorize(principal, "s3:GetObject", bucket, "pub/a/b/c.jpg")

    results: dict[str, tuple[float, float]] = {}
    cases = (("anonymous GET (whole request)", anonymous), ("owner SigV4 GET (whole request)", owner),
             ("access.authorize (anonymous GET)", authorize_only))
    samples: dict[str, list[float]] = {name: [] for name, _ in cases}
    for _ in range(rounds):  # rounds interleave the cases, so a burst of load elsewhere hits all alike
        for name, case in cases:
            await case()  # warm
            start = time.process_time()  # CPU time of this process: less noisy than wall time on a shared host
            for _ in range(requests):
                await case()
            samples[name].append((time.process_time() - start) / requests * 1e6)
    for name, values in samples.items():
        results[name] = (min(values), statistics.median(values))
    services.objects.pool.shutdown()
    return results


def _signed_with(headers: dict[str, str], method: str, path: str, body: bytes) -> dict[str, str]:
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    extra = {k: v for k, v in headers.items() if k == "x-amz-server-side-encryption"}
    req = AWSRequest(method=method, url="http://127.0.0.1:9000" + path, data=body, headers=extra)
    S3SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", "us-east-1").add_auth(req)
    return {k.lower(): v for k, v in req.prepare().headers.items()}


def _context() -> Any:
    from sealbox.service.policy import RequestContext

    return RequestContext(secure=False, source_ip="127.0.0.1", headers={"host": "127.0.0.1:9000"}, query={},
                          bucket="bench", key="pub/a/b/c.jpg")


def _matcher() -> dict[str, float]:
    from sealbox.service.policy import wildcard_match

    cases = {"8 wildcards vs 60 KiB key of '/'": ("pub/*/*/*/*/*/*/*/*.jpg", "pub/" + "/" * 61440),
             "'*a*a*a*a*b' vs 60 KiB of 'a'": ("*a*a*a*a*b", "a" * 61440)}
    out = {}
    for name, (pattern, text) in cases.items():
        start = time.perf_counter()
        wildcard_match(pattern, text)
        out[name] = (time.perf_counter() - start) * 1e6  # wall time of one match (old code: minutes)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--no-matcher", action="store_true", help="skip the hostile-pattern cases (old code: minutes)")
    args = parser.parse_args()
    results = asyncio.run(_run(args.rounds, args.requests))
    print(f"{'CPU µs per request':40s} {'min':>9s} {'median':>9s}")
    for name, (low, mid) in results.items():
        print(f"{name:40s} {low:9.1f} {mid:9.1f}")
    if not args.no_matcher:
        for name, micros in _matcher().items():
            print(f"{name:40s} {micros:9.1f} µs wall")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The policy context of what the console does: the facts bucket-policy conditions test
(``aws:SourceIp``, ``aws:SecureTransport``, ``aws:UserAgent``, ``aws:Referer``, other headers), taken
from the browser's request exactly as the S3 API takes them from an S3 request
(``sealbox.http.app``), so a policy that refuses an address, a client or plain HTTP refuses the
console too.

``request_context`` is the one place the console builds a ``RequestContext``; ``acting_on`` aims it
at the S3 operation a page performs (its bucket and key, the query an S3 client would send, the
headers an S3 request for the same change would carry).

Browser headers that would mean something else to the S3 edge are withheld: ``x-amz-*`` (the
console's request carries no S3 semantics: a browser must not claim ``x-amz-server-side-encryption``
for an upload the console stores in the clear), ``authorization`` (the S3 edge reads a signature
scheme from it), and the console's own secrets (the session cookie, the CSRF token), which must
not travel into a context that a job persists.

A bulk job acts in the background for the principal who started it, with the context of the
request that started it (persisted with the job, so a worker that resumes it carries the same).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping

from sealbox.console.web import Request
from sealbox.service.identity import Principal
from sealbox.service.policy import RequestContext

_WITHHELD = frozenset({"cookie", "authorization", "proxy-authorization", "x-csrf-token"})


def browser_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k not in _WITHHELD and not k.startswith("x-amz-")}


def request_context(req: Request) -> RequestContext:
    """The context of the browser's request, as the S3 API builds one for an S3 request."""
    return RequestContext(secure=req.secure, source_ip=req.exchange.client_ip, headers=browser_headers(req.headers))


def acting_on(principal: Principal, bucket: str | None, key: str | None = None,
              query: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None) -> Principal:
    """``principal`` with its context aimed at one operation: its target, the query parameters and
    the extra headers the equivalent S3 request would carry."""
    ctx = principal.context
    merged = {**ctx.headers, **headers} if headers else ctx.headers
    return dataclasses.replace(principal, context=dataclasses.replace(
        ctx, bucket=bucket, key=key, query=dict(query or {}), headers=merged))


def context_to_json(ctx: RequestContext) -> str:
    """What a job keeps of its starting request's context (its target differs item by item). All of
    its headers: dropping some (to save space) would let a padded request shed a header a Deny
    tests; the connection already bounds a request head to 64 KiB."""
    return json.dumps({"secure": ctx.secure, "source_ip": ctx.source_ip, "headers": dict(ctx.headers)},
                      ensure_ascii=False)


def context_from_json(text: str) -> RequestContext:
    raw = json.loads(text)
    return RequestContext(secure=bool(raw["secure"]), source_ip=str(raw["source_ip"]),
                          headers={str(k): str(v) for k, v in raw["headers"].items()})

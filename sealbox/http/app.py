"""The S3 application: parse → route → authenticate → handler → render, errors from one table.

CORS preflights (``OPTIONS``) are answered before authentication (``sealbox.http.cors``); a request
with an ``Origin`` header gets the CORS headers of the bucket's matching rule on whatever answers
it, errors included — added here, in one place.

Anything that escapes a handler without being a SealboxError is logged with its request id and
answered as InternalError; a stored object that fails authentication is logged as an integrity
event and never served.
"""

from __future__ import annotations

import errno
import logging
import time
from datetime import UTC, datetime
from email.utils import formatdate

from sealbox.core import ids
from sealbox.core.errors import ErrorCode, ErrorFacts, SealboxError
from sealbox.core.types import Buffer
from sealbox.http import cors
from sealbox.http.auth import authenticate
from sealbox.http import kms_api
from sealbox.http.errors import error_xml, status_of
from sealbox.http.exchange import Exchange, HeaderError, Refusal, Reply
from sealbox.http.handlers import HANDLERS, Services
from sealbox.http.refusals import s3_refusal
from sealbox.http.request import Incoming, Request, Response, parse_query
from sealbox.http.router import check_query_utf8, host_bucket, route, split_target
from sealbox.http.signing import SigningRequest
from sealbox.ops.observe import RequestObserver
from sealbox.service.identity import Principal
from sealbox.service.pipeline import IntegrityFailure
from sealbox.storage.meta.base import StoreUnavailable
from sealbox.service.policy import RequestContext

log = logging.getLogger("sealbox.http")
integrity_log = logging.getLogger("sealbox.integrity")


class S3App:
    """The S3 handler of ``sealbox.http.connection``: one call per request."""

    def __init__(self, services: Services, observer: RequestObserver | None = None) -> None:
        self.services = services
        self.domain = services.settings.domain
        self.observer = observer  # access log, metrics, audit; /_sealbox/ health and metrics

    async def __call__(self, exchange: Exchange) -> None:
        observer = self.observer
        if observer is not None:
            if exchange.raw_path.startswith("/_sealbox/"):  # never a bucket: bucket names hold no "_"
                await observer.endpoints.answer(exchange)
                return
            started, started_wall = time.perf_counter(), time.time()
            observer.started()
        request = Incoming(method=exchange.method, raw_path=exchange.raw_path, raw_query=exchange.raw_query,
                          query=parse_query(exchange.raw_query), headers=exchange.headers,
                          receive=exchange.receive, secure=exchange.secure, client_ip=exchange.client_ip,
                          request_id=ids.hex_id(8).upper(), tls_version=exchange.tls_version)
        origin = request.headers.get("origin")  # the whole cost of CORS for a request without one
        try:
            if kms_api.is_kms_request(request.method, request.raw_path, request.headers):
                # The AWS KMS API on the S3 port (JSON, its own signature scope and errors; never raises).
                response = await kms_api.handle(self.services, request)
            else:
                response = await self._handle(request)
        except SealboxError as exc:
            response = self._error(request, exc)
        except IntegrityFailure as exc:
            integrity_log.error("integrity failure serving %s %s (request %s): %s", request.method,
                                request.resource, request.request_id, exc)
            response = self._error(request, integrity_error())
        except StoreUnavailable as exc:
            # PostgreSQL restarting or unreachable (issue 19): nothing was written half (the transaction
            # rolled back), and the pool reconnects by itself; clients retry a 503 with backoff.
            log.warning("metadata store unavailable for %s (request %s): %s", describe(request),
                        request.request_id, exc)
            response = self._error(request, store_unavailable())
        except Exception as exc:
            full = storage_full(exc)
            if full is None:
                log.exception("unhandled error in %s %s (request %s)", request.method, request.resource,
                              request.request_id)
            response = self._error(request, full or SealboxError(ErrorCode.INTERNAL_ERROR))
        allow = self._cors_headers(request, origin) if origin is not None and request.method != "OPTIONS" else None
        if observer is None:
            await self._send(request, response, exchange, allow)
            return
        try:
            response = await self._send(request, response, exchange, allow)
        finally:
            observer.finished(request, response, exchange, started, started_wall)

    def refusal(self, refusal: Refusal, message: str) -> Reply:
        """The transport's own answers (a head too large or too slow, overload…), as S3 error XML."""
        return s3_refusal(refusal, message)

    def _cors_headers(self, request: Incoming, origin: str) -> dict[str, str] | None:
        """The CORS headers of an actual response (``sealbox.http.cors``); a failure to find them costs
        the browser its access to this answer, never the answer itself."""
        try:
            return cors.response_headers(self.services.cors, request.bucket, request.method, request.headers, origin)
        except Exception:
            log.exception("CORS lookup failed for %s (request %s)", describe(request), request.request_id)
            return None

    async def _handle(self, request: Incoming) -> Response:
        bucket, key = split_target(request.raw_path, request.headers.get("host", ""), self.domain)
        check_query_utf8(request.query)
        request.bucket, request.key = bucket, key
        if request.method == "OPTIONS":
            # A CORS preflight carries no credentials: answered before authentication, never routed.
            return cors.preflight(self.services.cors, request)
        auth = authenticate(
            SigningRequest(request.method, request.raw_path, request.raw_query, request.headers,
                           host_bucket(request.headers.get("host", ""), self.domain)),
            self.services.identity.secret_for, datetime.now(UTC), allow_sigv2=self.services.settings.sigv2,
            region=self.services.settings.region)
        if auth.presigned:
            _promote_query_headers(request)
        # Routed after authentication, as AWS answers: a bad signature is 403 whatever was asked.
        request.route = target = route(request.method, bucket, key, request.query, request.headers)
        # What bucket-policy conditions may test (aws:SecureTransport, aws:SourceIp, headers, query,
        # how the request was signed).
        context = RequestContext(secure=request.secure, source_ip=request.client_ip, headers=request.headers,
                                 query=request.query, bucket=bucket, key=key, tls_version=request.tls_version,
                                 signature_version=auth.signature_version, auth_type=auth.auth_type,
                                 signature_age_ms=auth.signature_age_ms, content_sha256=auth.content_sha256)
        if auth.access_key is not None:
            found = self.services.identity.lookup(auth.access_key)
            if found is None:
                raise SealboxError(ErrorCode.INVALID_ACCESS_KEY_ID, AWSAccessKeyId=auth.access_key)
            principal = Principal(found[0], auth.access_key, context)
        else:
            principal = Principal.anonymous(context)
        request.principal = principal
        return await HANDLERS[target.op](self.services, Request(request, target, auth, principal))

    def _error(self, request: Incoming, exc: SealboxError) -> Response:
        status = status_of(exc.code)
        headers = {"x-amz-request-id": request.request_id, **fact_headers(exc.facts)}
        if status == 304 or request.method == "HEAD":
            return Response(status, headers, error_code=None if status == 304 else exc.code.value)
        if status >= 500:
            log.warning("%s -> %s (request %s)", describe(request), exc.code.value, request.request_id)
        body = error_xml(exc.code, exc.message, request.resource, request.request_id, exc.extra)
        return Response(status, {**headers, "content-type": "application/xml"}, body, error_code=exc.code.value)

    async def _send(self, request: Incoming, response: Response, exchange: Exchange,
                    allow: dict[str, str] | None = None) -> Response:
        """Send the response (with the CORS headers ``allow``, if any); returns the one sent (an error in
        place of what failed to start)."""
        headers = response.headers
        if allow:
            headers.update(allow)
        headers.setdefault("x-amz-request-id", request.request_id)
        headers.setdefault("server", "sealbox")
        stream = response.stream
        first: Buffer = b""
        if stream is not None:
            # Pull the first buffer before the status line: a tampered object fails here, as a 500.
            try:
                first = await anext(stream, b"")
            except IntegrityFailure as exc:
                integrity_log.error("integrity failure serving %s (request %s): %s", request.resource,
                                    request.request_id, exc)
                await stream.aclose()
                response = self._error(request, integrity_error())
                headers, stream = response.headers, None
                headers.update(allow or {})
                headers.setdefault("x-amz-request-id", request.request_id)
        if "content-length" not in headers and stream is None:
            headers["content-length"] = str(len(response.body))
        try:
            exchange.start(response.status, headers.items(), first if stream is not None else response.body,
                           end=stream is None)
        except HeaderError:
            if stream is not None:
                await stream.aclose()
            # Only a value taken from the request can hold a control character (response-* overrides).
            return await self._send(request, self._error(request, SealboxError(
                ErrorCode.INVALID_ARGUMENT, "Header value cannot be represented in an HTTP response.")), exchange,
                allow)
        if stream is None:
            return response
        try:
            async for chunk in stream:
                await exchange.write(chunk)
                if exchange.client_gone:
                    # Disconnected, or dropped for not reading (sealbox.http.connection): stop reading
                    # and decrypting for nobody.
                    log.info("client went away during %s (request %s)", request.resource, request.request_id)
                    break
        except IntegrityFailure as exc:
            # Headers are gone already: abort the connection so the client sees a truncated body.
            integrity_log.error("integrity failure mid-body serving %s (request %s): %s", request.resource,
                                request.request_id, exc)
            exchange.abort()
            return response
        finally:
            await stream.aclose()
        exchange.finish()
        return response


# Query parameters of presigned URLs that are authentication, not request headers.
_AUTH_QUERY = {"x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-expires", "x-amz-signedheaders",
               "x-amz-signature", "x-amz-security-token"}


def integrity_error() -> SealboxError:
    """What a client is told when stored data fails authentication: S3 has no better code than a 500
    InternalError, but the message says that this is no passing fault."""
    return SealboxError(ErrorCode.INTERNAL_ERROR, "The stored data of this object failed authentication (it"
                        " was damaged or tampered with at rest) and was not served. Retrying will not help;"
                        " the server's integrity log names the object.")


def fact_headers(facts: ErrorFacts) -> dict[str, str]:
    """The headers AWS answers an error with, from the facts the service attached to it."""
    headers: dict[str, str] = {}
    if facts.delete_marker:
        headers["x-amz-delete-marker"] = "true"
    if facts.version_id is not None:
        headers["x-amz-version-id"] = facts.version_id
    if facts.last_modified is not None:
        headers["last-modified"] = formatdate(facts.last_modified, usegmt=True)
    if facts.allowed_methods:
        headers["allow"] = ", ".join(facts.allowed_methods)
    if facts.etag is not None:
        headers["etag"] = facts.etag
    return headers


def describe(request: Incoming) -> str:
    """A request as logs name it: method, resource, the query's parameter names (never their values:
    a presigned URL's signature is one), and the operation once routed, e.g.
    ``GET /bucket?tagging (not routed)`` or ``PUT /b/k?partNumber&uploadId (UploadPart)``."""
    names = "&".join(sorted({name for name in request.query}))
    op = request.route.op.value if request.route is not None else "not routed"
    return f"{request.method} {request.resource}{'?' + names if names else ''} ({op})"


def _promote_query_headers(request: Incoming) -> None:
    """A presigned URL may carry x-amz-* headers as (signed) query parameters, e.g.
    ``x-amz-server-side-encryption=AES256``; S3 applies them as if sent as headers. Ignoring them
    would silently store unencrypted what the URL's signer asked to encrypt."""
    for name, value in request.query.items():
        lower = name.lower()
        if lower.startswith("x-amz-") and lower not in _AUTH_QUERY and lower not in request.headers:
            request.headers[lower] = value


_SQLITE_FULL = 13  # sqlite3.SQLITE_FULL: "database or disk is full"


def store_unavailable() -> SealboxError:
    """503 ServiceUnavailable, AWS's answer when it cannot serve a request right now ("Reduce your
    request rate" is its message for both 503 codes); SDKs retry it with backoff."""
    return SealboxError(ErrorCode.SERVICE_UNAVAILABLE, "The metadata store is unavailable right now;"
                        " nothing was changed. Please retry.")


def storage_full(exc: BaseException) -> SealboxError | None:
    """A write that ran out of disk space (blob file or metadata database) is a 503, not a crash.

    Amazon S3 has no "disk full" error; ServiceUnavailable (503) is what it answers when it cannot take
    a write right now, and clients retry it with backoff. The temp file of the write is already gone
    (the write pipeline aborts on any exception), so freeing space is all it takes to recover.
    """
    seen: BaseException | None = exc
    for _ in range(8):  # the OSError may be the cause or context of what surfaced
        if seen is None:
            return None
        if (isinstance(seen, OSError) and seen.errno in (errno.ENOSPC, errno.EDQUOT)) or \
                getattr(seen, "sqlite_errorcode", None) == _SQLITE_FULL:
            return SealboxError(ErrorCode.SERVICE_UNAVAILABLE, "The server has no storage space left for this"
                                " write; nothing was stored. Retry after space has been freed.")
        seen = seen.__cause__ or seen.__context__
    return None

"""CORS at the HTTP edge: preflight ``OPTIONS`` answers, and the CORS headers of actual responses.

A browser asks before a cross-origin request that is not "simple" (a PUT, or a request with headers
such as ``x-amz-server-side-encryption``): ``OPTIONS`` on the same bucket or object URL with
``Origin``, ``Access-Control-Request-Method`` and perhaps ``Access-Control-Request-Headers``, and
never with credentials. So preflights are answered before authentication, from the bucket's CORS
configuration (``sealbox.service.cors``), as AWS answers them (its answers recorded against S3):

* no ``Origin``: 400 BadRequest "Insufficient information. Origin request header needed.";
* no such bucket: 403 AccessForbidden "CORSResponse: Bucket not found";
* no configuration: 403 AccessForbidden "CORSResponse: CORS is not enabled for this bucket.";
* no ``Access-Control-Request-Method``: 400 BadRequest;
* no rule matches: 403 AccessForbidden "CORSResponse: This CORS request is not allowed. ...";
  these errors name the requested method (``Method``) and ``ResourceType`` (BUCKET or OBJECT);
* else 200, empty, with the headers of the first matching rule (``rule_headers``).

Actual requests (any method but OPTIONS) with an ``Origin`` get the same headers on their response —
errors included — when a rule matches; nothing otherwise (not even ``Vary``, as AWS). The S3 app
asks ``response_headers`` only when the request has an ``Origin`` header: a request without one pays
one dict lookup.
"""

from __future__ import annotations

from collections.abc import Mapping

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.http.request import Incoming, Response
from sealbox.service.cors import CorsRule, CorsService, requested_headers

VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"
_NOT_ALLOWED = ("CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin,"
                " request method / Access-Control-Request-Method or Access-Control-Request-Headers are not"
                " whitelisted by the resource's CORS spec.")  # sic: AWS's spelling


def rule_headers(rule: CorsRule, origin: str, requested: tuple[str, ...]) -> dict[str, str]:
    """What AWS answers for a matching rule: a rule for every origin (``*``) gives ``*`` and no
    credentials; any other echoes the origin and allows credentials. All of the rule's methods; the
    requested headers (lowercased), when a request named some."""
    headers = {"access-control-allow-origin": "*" if rule.any_origin else origin}
    if not rule.any_origin:
        headers["access-control-allow-credentials"] = "true"
    headers["access-control-allow-methods"] = ", ".join(rule.allowed_methods)
    if requested:
        headers["access-control-allow-headers"] = ", ".join(requested)
    if rule.expose_headers:
        headers["access-control-expose-headers"] = ", ".join(rule.expose_headers)
    if rule.max_age_seconds is not None:
        headers["access-control-max-age"] = str(rule.max_age_seconds)
    headers["vary"] = VARY
    return headers


def _forbidden(message: str, method: str, resource_type: str) -> SealboxError:
    return SealboxError(ErrorCode.ACCESS_FORBIDDEN, message, Method=method, ResourceType=resource_type)


def preflight(service: CorsService, request: Incoming) -> Response:
    """Answer an ``OPTIONS`` request (unauthenticated; its body, if any, is never read)."""
    headers = request.headers
    origin = headers.get("origin")
    if not origin:
        raise SealboxError(ErrorCode.BAD_REQUEST, "Insufficient information. Origin request header needed.")
    method = headers.get("access-control-request-method")
    bucket = request.bucket
    if bucket is None or not service.bucket_exists(bucket):
        raise _forbidden("CORSResponse: Bucket not found", method or "OPTIONS", "BUCKET")
    config = service.configuration(bucket)
    if config is None:
        raise _forbidden("CORSResponse: CORS is not enabled for this bucket.", method or "OPTIONS", "BUCKET")
    if not method:
        raise SealboxError(ErrorCode.BAD_REQUEST, "Invalid Access-Control-Request-Method: null")
    requested = requested_headers(headers.get("access-control-request-headers"))
    rule = config.match(origin, method, requested)
    if rule is None:
        raise _forbidden(_NOT_ALLOWED, method, "OBJECT" if request.key else "BUCKET")
    return Response(200, {**rule_headers(rule, origin, requested), "content-length": "0"})


def response_headers(service: CorsService, bucket: str | None, method: str, headers: Mapping[str, str],
                     origin: str) -> dict[str, str] | None:
    """The CORS headers of an actual response to a request with ``Origin``: those of the first rule
    that matches, or None. As on AWS, ``Access-Control-Request-Method`` (and -Headers), when an
    actual request carries them, are matched instead of the request's own method."""
    if bucket is None:
        return None
    config = service.configuration(bucket)
    if config is None:
        return None
    requested = requested_headers(headers.get("access-control-request-headers"))
    rule = config.match(origin, headers.get("access-control-request-method") or method, requested)
    return rule_headers(rule, origin, requested) if rule is not None else None

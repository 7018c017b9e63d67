"""AWS Signature Version 2 verification (the legacy ``AWS key:signature`` scheme), server side.

Still sent by older SDKs, s3cmd's v2 mode, boto3's default presigner and many browser snippets::

    Signature    = Base64(HMAC-SHA1(secret, UTF-8(StringToSign)))
    StringToSign = Method \\n Content-MD5 \\n Content-Type \\n Date \\n
                   CanonicalizedAmzHeaders CanonicalizedResource

* Header form: ``Authorization: AWS <AccessKeyId>:<Signature>``; Date is the Date header, or empty
  when ``x-amz-date`` is sent (which then dates the request). The request must be within 15 minutes
  of the server's clock (RequestTimeTooSkewed).
* Query form: ``?AWSAccessKeyId=&Expires=&Signature=``; Date is the Expires value (epoch seconds),
  and the URL is refused once it has passed — and while it lies more than 7 days ahead
  (AuthorizationQueryParametersError): the URL does not say when it was signed, so this is how its
  life is capped at SigV4's limit (X-Amz-Expires ≤ 604800 s); a URL with ``Expires`` a year ahead
  no longer opens an object for a year. ``x-amz-*`` query parameters count as headers, since
  presigners move signed headers into the query.
* CanonicalizedAmzHeaders: every ``x-amz-*`` header, lowercase, sorted, ``name:value\\n`` with
  repeated values joined by commas. CanonicalizedResource: ``/bucket`` for virtual-hosted requests,
  then the path exactly as sent, then the sub-resources in the query (decoded, sorted by name).
* V2 never signs the body: the request's payload mode is UNSIGNED (Content-MD5, when sent, is
  verified by the body pipeline).
* ``sealbox serve --no-sigv2`` refuses all of this before it gets here (``sealbox.http.auth``).

Clients disagree on details, so several canonical forms are tried (each costs one HMAC-SHA1): with
and without the Date header when ``x-amz-date`` is present (the docs say empty, botocore signs the
Date), and botocore's own list of sub-resources besides the documented one.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import unquote

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.http.signing import (
    REST_HEADER,
    REST_QUERY_STRING,
    SIGV2,
    AuthContext,
    PayloadMode,
    SigningRequest,
    decode_component,
    iso,
    parse_amz_date,
    split_query,
    wire,
)

MAX_SKEW = timedelta(minutes=15)
# A query-string URL carries only its end of life (Expires), never when it was signed: it is accepted
# only within this long before Expires, the longest a SigV4 presigned URL lives (X-Amz-Expires).
MAX_QUERY_LIFETIME = timedelta(days=7)

# The documented sub-resources that are part of the CanonicalizedResource, plus the later ones.
SUB_RESOURCES = frozenset({
    "accelerate", "acl", "analytics", "cors", "delete", "encryption", "intelligent-tiering", "inventory",
    "legal-hold", "lifecycle", "location", "logging", "metrics", "notification", "object-lock",
    "ownershipControls", "partNumber", "policy", "policyStatus", "publicAccessBlock", "replication",
    "requestPayment", "response-cache-control", "response-content-disposition", "response-content-encoding",
    "response-content-language", "response-content-type", "response-expires", "restore", "retention", "select",
    "select-type", "tagging", "torrent", "uploadId", "uploads", "versionId", "versioning", "versions",
    "website",
})
# botocore's HmacV1Auth.QSAOfInterest: what Python clients actually sign.
BOTOCORE_SUB_RESOURCES = frozenset({
    "accelerate", "acl", "cors", "defaultObjectAcl", "location", "logging", "partNumber", "policy",
    "requestPayment", "torrent", "versioning", "versionId", "versions", "website", "uploads", "uploadId",
    "response-content-type", "response-content-language", "response-expires", "response-cache-control",
    "response-content-disposition", "response-content-encoding", "delete", "lifecycle", "tagging", "restore",
    "storageClass", "notification", "replication", "analytics", "metrics", "inventory", "select",
    "select-type", "object-lock",
})
_QUERY_AUTH = ("AWSAccessKeyId", "Signature", "Expires")
_SIGNATURE_MISMATCH = ("The request signature we calculated does not match the signature you provided. "
                       "Check your key and signing method.")


def sign(secret: str, string_to_sign: str | bytes) -> str:
    """Base64 HMAC-SHA1: the V2 signature of a request's string to sign, or of a POST policy."""
    data = string_to_sign.encode("utf-8") if isinstance(string_to_sign, str) else string_to_sign
    return base64.b64encode(hmac.digest(secret.encode("utf-8"), data, "sha1")).decode("ascii")


def canonical_amz_headers(amz: Mapping[str, str]) -> str:
    """``name:value\\n`` for each x-amz-* header (lowercase names), sorted by name."""
    return "".join(f"{name}:{amz[name].strip()}\n" for name in sorted(amz))


def canonical_resource(raw_path: str, pairs: Iterable[tuple[str, str]], host_bucket: str | None,
                       sub_resources: frozenset[str]) -> str:
    """``[/bucket]`` + the path as sent + ``?name[=value]&…`` for the sub-resources (values decoded)."""
    resource = f"/{host_bucket}{raw_path}" if host_bucket else raw_path or "/"
    subs = []
    for raw_name, raw_value in pairs:
        name = decode_component(raw_name)
        if name in sub_resources:
            value = decode_component(raw_value)
            subs.append((name, f"{name}={value}" if value else name))
    if subs:
        resource += "?" + "&".join(text for _, text in sorted(subs, key=lambda sub: sub[0]))
    return resource


def string_to_sign(method: str, content_md5: str, content_type: str, date: str, amz: Mapping[str, str],
                   resource: str) -> str:
    return f"{method.upper()}\n{content_md5.strip()}\n{content_type.strip()}\n{date}\n" \
           f"{canonical_amz_headers(amz)}{resource}"


# ----------------------------------------------------------------------------------- verification


def authenticate(req: SigningRequest, secret_for: Callable[[str], str | None], now: datetime,
                 max_skew: timedelta = MAX_SKEW) -> AuthContext:
    """Verify a V2-signed request (header or query form); raise SealboxError on any failure."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    pairs = split_query(req.raw_query)
    params: dict[str, str] = {}
    for raw_name, raw_value in pairs:
        params.setdefault(decode_component(raw_name), decode_component(raw_value))
    authorization = req.headers.get("authorization")
    amz = {name: value for name, value in req.headers.items() if name.startswith("x-amz-")}
    if authorization is not None:
        if "Signature" in params or "X-Amz-Signature" in params:
            raise SealboxError(ErrorCode.INVALID_ARGUMENT, "Only one auth mechanism allowed; only the X-Amz-Algorithm"
                               " query parameter, Signature query string parameter or the Authorization header"
                               " should be specified", ArgumentName="Authorization", ArgumentValue=authorization)
        access_key, signature = _parse_header(authorization)
        dates = _header_dates(req.headers, now, max_skew)
        presigned = False
    else:
        access_key, signature, expires = _query_claim(params, now)
        dates = [expires]
        presigned = True
        for name, value in params.items():  # presigners move signed x-amz-* headers into the query
            if name.lower().startswith("x-amz-"):
                amz.setdefault(name.lower(), value)
    secret = secret_for(access_key)
    if secret is None:
        raise SealboxError(ErrorCode.INVALID_ACCESS_KEY_ID, "The AWS Access Key Id you provided does not exist in"
                           " our records.", AWSAccessKeyId=access_key)
    _verify(req, pairs, amz, dates, secret, access_key, signature)
    # s3:signatureAge is 0 for Signature Version 2 (AWS), and documented for query-string URLs only.
    return AuthContext(access_key=access_key, payload_mode=PayloadMode.UNSIGNED, payload_sha256=None,
                       presigned=presigned, signing_key=None, seed_signature=None, amz_date=None, scope=None,
                       signature_version=SIGV2, auth_type=REST_QUERY_STRING if presigned else REST_HEADER,
                       signature_age_ms=0 if presigned else None)


def _parse_header(authorization: str) -> tuple[str, str]:
    access_key, colon, signature = authorization[len("AWS "):].strip().partition(":")
    if not colon or not access_key or not signature or ":" in signature:
        raise SealboxError(ErrorCode.INVALID_ARGUMENT, "AWS authorization header is invalid.  Expected"
                           " AwsAccessKeyId:signature", ArgumentName="Authorization", ArgumentValue=authorization)
    return access_key, signature


def _http_date(value: str) -> datetime | None:
    """An RFC 1123 date (what V2 clients send), or the ISO 8601 basic form some send in x-amz-date."""
    moment = parse_amz_date(value.strip())
    if moment is not None:
        return moment
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _header_dates(headers: Mapping[str, str], now: datetime, max_skew: timedelta) -> list[str]:
    """Candidate Date lines of the string to sign, after checking the request time against the clock."""
    amz_date, date = headers.get("x-amz-date"), headers.get("date")
    stated = amz_date if amz_date is not None else date
    moment = _http_date(stated) if stated else None
    if moment is None:
        raise SealboxError(ErrorCode.ACCESS_DENIED, "AWS authentication requires a valid Date or x-amz-date header")
    if abs(now - moment) > max_skew:
        raise SealboxError(ErrorCode.REQUEST_TIME_TOO_SKEWED, "The difference between the request time and the"
                           " current time is too large.", RequestTime=stated or "", ServerTime=iso(now),
                           MaxAllowedSkewMilliseconds=str(int(max_skew.total_seconds() * 1000)))
    if amz_date is None:
        return [(date or "").strip()]
    # The docs say an empty Date line when x-amz-date is sent; botocore and others still sign Date.
    return ["", (date or "").strip()] if date else [""]


def _query_claim(params: Mapping[str, str], now: datetime) -> tuple[str, str, str]:
    if not all(params.get(name) for name in _QUERY_AUTH):
        raise SealboxError(ErrorCode.ACCESS_DENIED, "Query-string authentication requires the Signature, Expires"
                           " and AWSAccessKeyId parameters")
    expires = params["Expires"]
    if not (expires.isascii() and expires.isdigit()):
        raise SealboxError(ErrorCode.ACCESS_DENIED, f"Invalid date (should be seconds since epoch): {expires}")
    if now.timestamp() > int(expires):
        expired = SealboxError(ErrorCode.ACCESS_DENIED, "Request has expired")
        expired.extra.update({"Expires": iso(datetime.fromtimestamp(min(int(expires), 2**37), UTC)),
                              "ServerTime": iso(now)})
        raise expired
    if int(expires) - now.timestamp() > MAX_QUERY_LIFETIME.total_seconds():
        raise SealboxError(ErrorCode.AUTHORIZATION_QUERY_PARAMETERS_ERROR,
                           "Expires must be less than a week (in seconds) from now; "
                           f"{int(MAX_QUERY_LIFETIME.total_seconds())}", Expires=expires, ServerTime=iso(now))
    # A '+' of the base64 signature left unencoded may arrive decoded as a space by some proxies.
    return params["AWSAccessKeyId"], params["Signature"].replace(" ", "+"), expires


def _paths(req: SigningRequest) -> list[str]:
    """The path as sent; for a request on a bucket itself (no key), also with/without the final slash.

    botocore signs ``/bucket/`` for ``PUT /bucket``; others sign ``/bucket`` for ``GET /`` on a
    virtual host. Both name the bucket alone, so neither variant can stand for another key.
    """
    path = req.raw_path or "/"
    if req.host_bucket:
        return [path, ""] if path == "/" else [path]
    decoded = unquote(path)  # the router splits bucket from key after decoding: so must this check
    if decoded.count("/") == 1 and len(decoded) > 1 and not path.endswith("/"):
        return [path, path + "/"]
    if decoded.count("/") == 2 and decoded.endswith("/") and path.endswith("/") and len(decoded) > 2:
        return [path, path[:-1]]
    return [path]


def _candidates(req: SigningRequest, pairs: list[tuple[str, str]], amz: Mapping[str, str],
                dates: list[str]) -> Iterable[str]:
    """Strings to sign, the documented form first, without repeats."""
    headers = req.headers
    resources = [canonical_resource(path, pairs, req.host_bucket, subs)
                 for path in _paths(req) for subs in (SUB_RESOURCES, BOTOCORE_SUB_RESOURCES)]
    seen: set[str] = set()
    for date in dates:
        for resource in resources:
            text = string_to_sign(req.method, headers.get("content-md5", ""), headers.get("content-type", ""),
                                  date, amz, resource)
            if text not in seen:
                seen.add(text)
                yield text


def _verify(req: SigningRequest, pairs: list[tuple[str, str]], amz: Mapping[str, str], dates: list[str],
            secret: str, access_key: str, provided: str) -> None:
    provided_bytes = provided.encode("utf-8", "surrogateescape")
    first: bytes | None = None
    for text in _candidates(req, pairs, amz, dates):
        # Wire strings are latin-1 decoded; clients sign either those bytes or their UTF-8 text.
        for data in dict.fromkeys((wire(text), text.encode("utf-8", "surrogateescape"))):
            if hmac.compare_digest(sign(secret, data).encode("ascii"), provided_bytes):
                return
            first = first or data
    assert first is not None
    raise SealboxError(ErrorCode.SIGNATURE_DOES_NOT_MATCH, _SIGNATURE_MISMATCH, AWSAccessKeyId=access_key,
                       StringToSign=first.decode("utf-8", "replace"), SignatureProvided=provided,
                       StringToSignBytes=first.hex(" "))

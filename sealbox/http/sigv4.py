"""AWS Signature Version 4 verification for S3 requests (server side).

``authenticate`` checks the ``Authorization: AWS4-HMAC-SHA256 ...`` header form and presigned query
strings, and returns an :class:`AuthContext` telling the caller who signed and how the body must be
treated (its claimed SHA-256, or one of the streaming modes decoded by ``sealbox.http.chunked``).
Requests come here through ``sealbox.http.auth``, which sends Signature Version 2 to
``sealbox.http.sigv2`` instead; the types and wire conventions both share are in
``sealbox.http.signing``.

S3 quirks honoured here (they differ from other AWS services):

* the path is never normalized (``.``, ``..`` and ``//`` are part of the key);
* the credential scope must name the server's region (``authenticate(..., region=)``), as on AWS:
  another is AuthorizationHeaderMalformed (AuthorizationQueryParametersError for a presigned URL)
  naming the expected region in ``<Region>``, which SDKs use to re-sign; without ``region`` any
  region is accepted (the region then only feeds the key derivation);
* every ``x-amz-*`` header present must be signed (``x-amz-content-sha256`` excepted), otherwise an
  unsigned header such as ``x-amz-copy-source`` could be added to a signed request.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import lru_cache
from urllib.parse import quote, unquote_to_bytes

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.http.signing import ANONYMOUS_CONTEXT as ANONYMOUS_CONTEXT
from sealbox.http.signing import REST_HEADER, REST_QUERY_STRING, SIGV4, age_ms, iso, parse_amz_date, wire
from sealbox.http.signing import AuthContext as AuthContext
from sealbox.http.signing import PayloadMode as PayloadMode
from sealbox.http.signing import SigningRequest as SigningRequest
from sealbox.http.signing import decode_component as decode_component
from sealbox.http.signing import split_query as split_query

ALGORITHM = SIGV4
SERVICE = "s3"
TERMINATOR = "aws4_request"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
MAX_PRESIGNED_EXPIRES = 604800  # one week, the AWS limit for X-Amz-Expires
MAX_SKEW = timedelta(minutes=15)
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"

_ALGORITHM_PREFIX = ALGORITHM + " "
_CHUNK_ALGORITHM = "AWS4-HMAC-SHA256-PAYLOAD"
_TRAILER_ALGORITHM = "AWS4-HMAC-SHA256-TRAILER"
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")

_SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your key and signing method."
)
_CREDENTIAL_FORM = 'expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'
_HEADER_MALFORMED = "The authorization header is malformed; "
_QUERY_CREDENTIAL = "Error parsing the X-Amz-Credential parameter; "
_PRESIGNED_REQUIRED = (
    "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
    "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."
)
_PRESIGNED_PARAMS = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Signature",
    "X-Amz-Date",
    "X-Amz-SignedHeaders",
    "X-Amz-Expires",
)
# The query parameter names authentication looks at; everything else is only canonicalized.
_AUTH_QUERY_NAMES = frozenset((*_PRESIGNED_PARAMS, "AWSAccessKeyId", "Signature", "Expires"))


_PAYLOAD_TOKENS: dict[str, PayloadMode] = {
    mode.value: mode
    for mode in (
        PayloadMode.UNSIGNED,
        PayloadMode.STREAMING_SIGNED,
        PayloadMode.STREAMING_SIGNED_TRAILER,
        PayloadMode.STREAMING_UNSIGNED_TRAILER,
    )
}


# ------------------------------------------------------------------------------------------ primitives


@lru_cache(maxsize=4096)
def derive_signing_key(secret: str, date: str, region: str, service: str = SERVICE) -> bytes:
    """kSigning for (secret, YYYYMMDD, region, service). Cached: it is constant for a whole day."""
    key = hmac.digest(("AWS4" + secret).encode("utf-8"), date.encode("ascii"), "sha256")
    for part in (region, service, TERMINATOR):
        key = hmac.digest(key, part.encode("utf-8"), "sha256")
    return key


def hmac_sha256_hex(key: bytes, message: str | bytes) -> str:
    """The lowercase hex HMAC-SHA256 SigV4 uses for every signature."""
    data = message.encode("utf-8") if isinstance(message, str) else message
    return hmac.digest(key, data, "sha256").hex()


def chunk_string_to_sign(amz_date: str, scope: str, previous_signature: str, chunk_sha256: str) -> str:
    """String to sign for one aws-chunked data chunk (the chunk's own hex SHA-256 goes last)."""
    return f"{_CHUNK_ALGORITHM}\n{amz_date}\n{scope}\n{previous_signature}\n{EMPTY_SHA256}\n{chunk_sha256}"


def trailer_string_to_sign(amz_date: str, scope: str, previous_signature: str, trailer_sha256: str) -> str:
    """String to sign for the trailing headers of an aws-chunked body.

    ``trailer_sha256`` is the hex SHA-256 of the trailers written as ``name:value\\n`` each.
    """
    return f"{_TRAILER_ALGORITHM}\n{amz_date}\n{scope}\n{previous_signature}\n{trailer_sha256}"


_CANONICAL_PATH_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~/")


def canonical_uri(raw_path: str) -> str:
    """S3's canonical URI: decode the path once, then encode every byte but A-Za-z0-9-._~ and '/'."""
    if not raw_path:
        return "/"
    if _CANONICAL_PATH_CHARS.issuperset(raw_path):
        return raw_path  # nothing to decode or encode (most paths): skip the two passes
    return quote(unquote_to_bytes(wire(raw_path)), safe="/")


def _encode_component(raw: str, plus_is_space: bool) -> str:
    if raw.isalnum() and raw.isascii():
        return raw  # the common case ("list-type=2" style values aside), already canonical
    if plus_is_space and "+" in raw:
        raw = raw.replace("+", " ")
    return quote(unquote_to_bytes(wire(raw)), safe="")


def canonical_query(pairs: Iterable[tuple[str, str]], *, plus_is_space: bool = False) -> str:
    """Names and values decoded then strictly re-encoded, sorted by encoded name, then value.

    A literal '+' is kept as '+' (encoded %2B) unless ``plus_is_space``: clients that send '+' build
    their signature either way, so the verifier tries both.
    """
    encoded = sorted(
        (_encode_component(name, plus_is_space), _encode_component(value, plus_is_space))
        for name, value in pairs
    )
    return "&".join([f"{name}={value}" for name, value in encoded])


def _raw_query(pairs: Iterable[tuple[str, str]]) -> str:
    # Some clients sign their own encoding verbatim (botocore does for URL queries): sort it as is.
    return "&".join([f"{name}={value}" for name, value in sorted(pairs)])


def _trim(value: str) -> str:
    # SigV4 Trimall: strip, and collapse inner whitespace runs into one space (botocore does the same).
    return " ".join(value.split())


def _is_hex64(value: str) -> bool:
    return len(value) == 64 and _HEX_DIGITS.issuperset(value)


# ------------------------------------------------------------------------------------------- parsing


@dataclass(frozen=True, slots=True)
class Credential:
    access_key: str
    date: str
    region: str
    service: str
    terminator: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/{self.terminator}"


@dataclass(frozen=True, slots=True)
class _Claim:
    """What the client asserts, whichever form (header or query) carried it."""

    credential: Credential
    signed_headers: str
    signature: str
    amz_date: str
    payload_hash: str
    payload_mode: PayloadMode
    presigned: bool
    signed_at: datetime
    # x-amz-content-sha256 as the signature covers it: always in the header form (the canonical
    # request ends with it), in a presigned URL only when signed; None otherwise.
    covered_sha256: str | None


@lru_cache(maxsize=256)  # one per access key and day, in practice (errors are raised, never cached)
def parse_credential(value: str, code: ErrorCode, prefix: str) -> Credential:
    # rsplit: the access key is whatever precedes the four scope fields, '/' included.
    parts = value.rsplit("/", 4)
    if len(parts) != 5 or not all(parts):
        raise SealboxError(code, f"{prefix}the Credential is mal-formed; {_CREDENTIAL_FORM}")
    credential = Credential(*parts)
    if credential.service != SERVICE:
        raise SealboxError(
            code, f'{prefix}incorrect service "{credential.service}". This endpoint belongs to "{SERVICE}".'
        )
    if credential.terminator != TERMINATOR:
        raise SealboxError(
            code, f'{prefix}incorrect terminal "{credential.terminator}". This endpoint uses "{TERMINATOR}".'
        )
    return credential


def _payload_mode(value: str) -> PayloadMode:
    """Classify an x-amz-content-sha256 value, refusing anything S3 would refuse."""
    mode = _PAYLOAD_TOKENS.get(value)
    if mode is not None:
        return mode
    if _is_hex64(value):
        return PayloadMode.SIGNED
    raise SealboxError(
        ErrorCode.INVALID_ARGUMENT,
        "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER "
        "or a valid sha256 value.",
        ArgumentName="x-amz-content-sha256",
        ArgumentValue=value,
    )


def _parse_authorization(value: str) -> dict[str, str]:
    """Credential/SignedHeaders/Signature of an ``AWS4-HMAC-SHA256 ...`` header (commas, optional spaces)."""
    fields: dict[str, str] = {}
    for component in value[len(_ALGORITHM_PREFIX) :].split(","):
        name, sep, field = component.strip().partition("=")
        if not sep:
            raise SealboxError(
                ErrorCode.AUTHORIZATION_HEADER_MALFORMED,
                f'{_HEADER_MALFORMED}the authorization component "{component.strip()}" is malformed.',
            )
        fields[name] = field.strip()
    if not all(fields.get(name) for name in ("Credential", "SignedHeaders", "Signature")):
        raise SealboxError(
            ErrorCode.AUTHORIZATION_HEADER_MALFORMED,
            f"{_HEADER_MALFORMED}the authorization header requires three components: "
            "Credential, SignedHeaders, and Signature.",
        )
    return fields


def _header_request_time(headers: Mapping[str, str]) -> tuple[str, datetime]:
    """(amz_date string for the string to sign, parsed time): x-amz-date, else the Date header."""
    amz_date = headers.get("x-amz-date")
    if amz_date is not None:
        moment = parse_amz_date(amz_date.strip())
        if moment is not None:
            return amz_date.strip(), moment
    else:
        http_date = headers.get("date")
        if http_date:
            try:
                moment = parsedate_to_datetime(http_date)
            except (TypeError, ValueError):
                moment = None
            if moment is not None:
                moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
                return moment.strftime(AMZ_DATE_FORMAT), moment
    raise SealboxError(
        ErrorCode.ACCESS_DENIED, "AWS authentication requires a valid Date or x-amz-date header"
    )


def _header_claim(
    authorization: str, headers: Mapping[str, str], now: datetime, max_skew: timedelta
) -> _Claim:
    fields = _parse_authorization(authorization)
    credential = parse_credential(
        fields["Credential"], ErrorCode.AUTHORIZATION_HEADER_MALFORMED, _HEADER_MALFORMED
    )
    payload_hash = headers.get("x-amz-content-sha256")
    if payload_hash is None:
        raise SealboxError(
            ErrorCode.INVALID_REQUEST, "Missing required header for this request: x-amz-content-sha256"
        )
    payload_mode = _payload_mode(payload_hash)
    amz_date, moment = _header_request_time(headers)
    if credential.date != amz_date[:8]:
        raise SealboxError(
            ErrorCode.AUTHORIZATION_HEADER_MALFORMED,
            f"{_HEADER_MALFORMED}Invalid credential date. Date is not the same as X-Amz-Date.",
        )
    if abs(now - moment) > max_skew:
        raise SealboxError(
            ErrorCode.REQUEST_TIME_TOO_SKEWED,
            "The difference between the request time and the current time is too large.",
            RequestTime=headers.get("x-amz-date") or headers.get("date") or amz_date,
            ServerTime=iso(now),
            MaxAllowedSkewMilliseconds=str(int(max_skew.total_seconds() * 1000)),
        )
    return _Claim(
        credential=credential,
        signed_headers=fields["SignedHeaders"],
        signature=fields["Signature"],
        amz_date=amz_date,
        payload_hash=payload_hash,
        payload_mode=payload_mode,
        presigned=False,
        signed_at=moment,
        covered_sha256=payload_hash,
    )


def _query_error(message: str) -> SealboxError:
    return SealboxError(ErrorCode.AUTHORIZATION_QUERY_PARAMETERS_ERROR, message)


def _presigned_expires(value: str) -> int:
    if value.isascii() and value.isdigit():
        expires = int(value)
        if expires > MAX_PRESIGNED_EXPIRES:
            raise _query_error(
                f"X-Amz-Expires must be less than a week (in seconds) that is; {MAX_PRESIGNED_EXPIRES}"
            )
        return expires
    if value.startswith("-") and value[1:].isascii() and value[1:].isdigit():
        raise _query_error("X-Amz-Expires must be non-negative")
    raise _query_error("X-Amz-Expires should be a number")


def _query_claim(
    params: Mapping[str, str], headers: Mapping[str, str], now: datetime, max_skew: timedelta
) -> _Claim:
    if not all(params.get(name) for name in _PRESIGNED_PARAMS):
        raise _query_error(_PRESIGNED_REQUIRED)
    if params["X-Amz-Algorithm"] != ALGORITHM:
        raise _query_error(f'X-Amz-Algorithm only supports "{ALGORITHM}"')
    credential = parse_credential(
        params["X-Amz-Credential"], ErrorCode.AUTHORIZATION_QUERY_PARAMETERS_ERROR, _QUERY_CREDENTIAL
    )
    amz_date = params["X-Amz-Date"]
    moment = parse_amz_date(amz_date)
    if moment is None:
        raise _query_error("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
    expires = _presigned_expires(params["X-Amz-Expires"])
    if credential.date != amz_date[:8]:
        raise _query_error("Invalid credential date. Date is not the same as X-Amz-Date.")
    if moment - now > max_skew:
        raise SealboxError(ErrorCode.ACCESS_DENIED, "Request is not valid yet")
    expiry = moment + timedelta(seconds=expires)
    if now > expiry:
        expired = SealboxError(ErrorCode.ACCESS_DENIED, "Request has expired")
        # "X-Amz-Expires" is not an identifier, so it cannot be passed as a keyword.
        expired.extra.update(
            {"X-Amz-Expires": str(expires), "Expires": iso(expiry), "ServerTime": iso(now)}
        )
        raise expired
    signed_headers = params["X-Amz-SignedHeaders"]
    # A presigned URL covers no body unless the signer chose to sign x-amz-content-sha256.
    payload_hash = PayloadMode.UNSIGNED.value
    claimed = headers.get("x-amz-content-sha256")
    covered = claimed is not None and "x-amz-content-sha256" in signed_headers.split(";")
    if claimed is not None and covered:
        payload_hash = claimed
    return _Claim(
        credential=credential,
        signed_headers=signed_headers,
        signature=params["X-Amz-Signature"],
        amz_date=amz_date,
        payload_hash=payload_hash,
        payload_mode=_payload_mode(payload_hash),
        presigned=True,
        signed_at=moment,
        covered_sha256=claimed if covered else None,
    )


def _check_signed_headers(names: list[str], headers: Mapping[str, str], claim: _Claim) -> None:
    """``host`` and every ``x-amz-*`` header present must be signed, as S3 requires."""
    malformed = not all(names)
    if malformed:
        message = "SignedHeaders contains an empty header name."
        if claim.presigned:
            raise _query_error(message)
        raise SealboxError(ErrorCode.AUTHORIZATION_HEADER_MALFORMED, _HEADER_MALFORMED + message)
    signed = set(names)
    unsigned = [] if "host" in signed else ["host"]
    unsigned.extend(
        name
        for name in headers
        if name.startswith("x-amz-") and name not in signed and name != "x-amz-content-sha256"
    )
    if unsigned:
        raise SealboxError(
            ErrorCode.ACCESS_DENIED,
            "There were headers present in the request which were not signed",
            HeadersNotSigned=", ".join(unsigned),
        )


# ------------------------------------------------------------------------------------------ verifying


def _header_blocks(names: list[str], headers: Mapping[str, str]) -> list[bytes]:
    """Canonical header lines, as wire bytes; plus their UTF-8 form when a value is not ASCII.

    Clients disagree on non-ASCII header values: some sign the bytes they send, botocore signs the
    UTF-8 of a string it then sends as latin-1. Both are tried; ASCII (the norm) yields one block.
    """
    text = "".join([f"{name}:{_trim(headers.get(name, ''))}\n" for name in names])
    if text.isascii():
        return [text.encode("ascii")]
    return [wire(text), text.encode("utf-8")]


def _path_query_variants(req: SigningRequest, pairs: list[tuple[str, str]]) -> Iterable[tuple[str, str]]:
    """(canonical URI, canonical query) candidates, strict form first, lazily and without repeats."""
    strict_path = canonical_uri(req.raw_path)
    paths = [strict_path]
    if req.raw_path and req.raw_path != strict_path:
        paths.append(req.raw_path)
    queries = [canonical_query(pairs)]
    seen: set[tuple[str, str]] = set()
    for index in range(3):
        if index == 1 and any("+" in name or "+" in value for name, value in pairs):
            queries.append(canonical_query(pairs, plus_is_space=True))
        elif index == 2 and pairs:
            queries.append(_raw_query(pairs))
        for path in paths:
            for query in queries:
                if (path, query) not in seen:
                    seen.add((path, query))
                    yield path, query


def _verify_signature(
    req: SigningRequest,
    pairs: list[tuple[str, str]],
    claim: _Claim,
    signed_names: list[str],
    signing_key: bytes,
) -> None:
    """Accept if any canonical form the client may have used matches; else SignatureDoesNotMatch."""
    provided = claim.signature
    provided_ok = provided.isascii()
    method = req.method.upper().encode("ascii", "replace")
    tail = b"\n" + claim.signed_headers.encode("latin-1", "replace") + b"\n" + wire(claim.payload_hash)
    sts_head = f"{ALGORITHM}\n{claim.amz_date}\n{claim.credential.scope}\n".encode("ascii", "replace")
    blocks = _header_blocks(signed_names, req.headers)
    first: tuple[bytes, bytes] | None = None
    for path, query in _path_query_variants(req, pairs):
        head = b"%s\n%s\n%s\n" % (method, wire(path), wire(query))
        for block in blocks:
            canonical = head + block + tail
            string_to_sign = sts_head + hashlib.sha256(canonical).hexdigest().encode("ascii")
            expected = hmac.digest(signing_key, string_to_sign, "sha256").hex()
            if provided_ok and hmac.compare_digest(expected, provided):
                return
            if first is None:
                first = (canonical, string_to_sign)
    assert first is not None
    canonical, string_to_sign = first
    raise SealboxError(
        ErrorCode.SIGNATURE_DOES_NOT_MATCH,
        _SIGNATURE_MISMATCH,
        AWSAccessKeyId=claim.credential.access_key,
        StringToSign=string_to_sign.decode("utf-8", "replace"),
        SignatureProvided=provided,
        StringToSignBytes=string_to_sign.hex(" "),
        CanonicalRequest=canonical.decode("utf-8", "replace"),
        CanonicalRequestBytes=canonical.hex(" "),
    )


# ------------------------------------------------------------------------------------- entry points


def auth_params(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Decoded values of the query parameters authentication cares about (first occurrence wins)."""
    params: dict[str, str] = {}
    for raw_name, raw_value in pairs:
        name = decode_component(raw_name)
        if name in _AUTH_QUERY_NAMES and name not in params:
            params[name] = decode_component(raw_value)
    return params


def authenticate(
    req: SigningRequest,
    secret_for: Callable[[str], str | None],
    now: datetime,
    max_skew: timedelta = MAX_SKEW,
    *,
    region: str | None = None,
) -> AuthContext:
    """Verify the request's SigV4 signature (header or presigned) and describe how its body is covered.

    ``secret_for`` maps an access key to its secret (None when unknown). ``now`` should be aware UTC;
    a naive value is taken as UTC. ``region``: the server's, which a credential scope must name.
    Requests carrying no credentials at all come back as the anonymous context; whether that is
    allowed is the caller's decision. Raises SealboxError on any failure.
    Signature Version 2 is not recognised here: ``sealbox.http.auth.authenticate`` tells them apart.
    """
    pairs = split_query(req.raw_query)
    return verify(req, pairs, auth_params(pairs) if pairs else {}, secret_for, now, max_skew, region=region)


def verify(
    req: SigningRequest,
    pairs: list[tuple[str, str]],
    params: Mapping[str, str],
    secret_for: Callable[[str], str | None],
    now: datetime,
    max_skew: timedelta = MAX_SKEW,
    *,
    region: str | None = None,
) -> AuthContext:
    """``authenticate`` for a query already split (``pairs``) and its auth parameters decoded (``params``)."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    headers = req.headers
    authorization = headers.get("authorization")
    query_signed = "X-Amz-Signature" in params or "X-Amz-Credential" in params or "X-Amz-Algorithm" in params
    if authorization is None and not query_signed:
        return ANONYMOUS_CONTEXT  # no credentials, or query parameters that merely look like auth ones
    if authorization is not None:
        if query_signed or "Signature" in params:
            raise SealboxError(
                ErrorCode.INVALID_ARGUMENT,
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
                "Signature query string parameter or the Authorization header should be specified",
                ArgumentName="Authorization",
                ArgumentValue=authorization,
            )
        if not authorization.startswith(_ALGORITHM_PREFIX):
            raise SealboxError(
                ErrorCode.INVALID_ARGUMENT,
                "Unsupported Authorization Type",
                ArgumentName="Authorization",
                ArgumentValue=authorization,
            )
        claim = _header_claim(authorization, headers, now, max_skew)
        _check_region(claim, region, ErrorCode.AUTHORIZATION_HEADER_MALFORMED, _HEADER_MALFORMED)
    else:
        claim = _query_claim(params, headers, now, max_skew)
        _check_region(claim, region, ErrorCode.AUTHORIZATION_QUERY_PARAMETERS_ERROR, _QUERY_CREDENTIAL)
        # X-Amz-Signature is the one parameter the canonical query leaves out.
        pairs = [pair for pair in pairs if decode_component(pair[0]) != "X-Amz-Signature"]
    return _finish(req, pairs, claim, secret_for, now)


def _check_region(claim: _Claim, region: str | None, code: ErrorCode, prefix: str) -> None:
    """AWS refuses a scope of another region and names the right one (SDKs re-sign for it)."""
    if region is not None and claim.credential.region != region:
        raise SealboxError(
            code, f"{prefix}the region '{claim.credential.region}' is wrong; expecting '{region}'", Region=region
        )


def _finish(
    req: SigningRequest,
    pairs: list[tuple[str, str]],
    claim: _Claim,
    secret_for: Callable[[str], str | None],
    now: datetime,
) -> AuthContext:
    credential = claim.credential
    secret = secret_for(credential.access_key)
    if secret is None:
        raise SealboxError(
            ErrorCode.INVALID_ACCESS_KEY_ID,
            "The AWS Access Key Id you provided does not exist in our records.",
            AWSAccessKeyId=credential.access_key,
        )
    signed_names = claim.signed_headers.split(";")
    _check_signed_headers(signed_names, req.headers, claim)
    signing_key = derive_signing_key(secret, credential.date, credential.region, credential.service)
    _verify_signature(req, pairs, claim, signed_names, signing_key)
    return AuthContext(
        access_key=credential.access_key,
        payload_mode=claim.payload_mode,
        payload_sha256=claim.payload_hash.lower() if claim.payload_mode is PayloadMode.SIGNED else None,
        presigned=claim.presigned,
        signing_key=signing_key,
        seed_signature=claim.signature,
        amz_date=claim.amz_date,
        scope=credential.scope,
        signature_version=SIGV4,
        auth_type=REST_QUERY_STRING if claim.presigned else REST_HEADER,
        # s3:signatureAge: for presigned URLs (AWS documents it for those and POST forms only).
        signature_age_ms=age_ms(claim.signed_at, now) if claim.presigned else None,
        content_sha256=claim.covered_sha256,
    )

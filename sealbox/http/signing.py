"""What Signature Version 2 and 4 share: the request as signed, the verdict, and wire-string helpers.

``sealbox.http.sigv4`` and ``sealbox.http.sigv2`` build on this module and never on each other;
``sealbox.http.auth`` tells the two apart and calls one. (The helpers live here rather than in
``auth`` so that ``auth`` can import both verifiers without an import cycle.)

Wire conventions: every string in :class:`SigningRequest` holds the bytes received on the wire
decoded as latin-1 (as sealbox.http.connection hands them over), so encoding back to latin-1 gives
the exact bytes the client sent. Strings holding characters above U+00FF are taken as UTF-8 instead.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from urllib.parse import unquote_to_bytes

SIGV2 = "AWS"  # s3:signatureversion of a Signature Version 2 request, as AWS reports it
SIGV4 = "AWS4-HMAC-SHA256"
REST_HEADER, REST_QUERY_STRING, POST = "REST-HEADER", "REST-QUERY-STRING", "POST"  # s3:authType values


class PayloadMode(enum.Enum):
    """How the request body is authenticated, as announced by ``x-amz-content-sha256``."""

    ANONYMOUS = "anonymous"  # no auth at all
    UNSIGNED = "UNSIGNED-PAYLOAD"
    SIGNED = "signed"  # x-amz-content-sha256 is a hex sha256 of the body
    STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
    STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
    STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"


@dataclass(frozen=True, slots=True)
class SigningRequest:
    """The parts of an HTTP request that a signature covers, as received (see the module docstring)."""

    method: str
    raw_path: str  # path exactly as received on the wire, percent-encoded, without '?query'
    raw_query: str  # query string exactly as received (may be '')
    headers: Mapping[str, str]  # lowercase header names -> value (repeated headers joined with ',')
    host_bucket: str | None = None  # bucket named by the Host header (virtual-hosted style); SigV2 signs it


@dataclass(frozen=True, slots=True)
class AuthContext:
    """Who signed the request, how, and what the body's integrity depends on.

    The last four fields are what bucket-policy conditions learn about the signature
    (``s3:signatureversion``, ``s3:authType``, ``s3:signatureAge``, ``s3:x-amz-content-sha256``);
    None where the key is absent for this request.
    """

    access_key: str | None  # None = anonymous
    payload_mode: PayloadMode
    payload_sha256: str | None  # the lowercase hex digest the client claims, in SIGNED mode
    presigned: bool
    signing_key: bytes | None  # derived kSigning, needed to verify streaming chunk signatures
    seed_signature: str | None
    amz_date: str | None  # e.g. 20261127T120000Z
    scope: str | None  # e.g. 20261127/us-east-1/s3/aws4_request
    signature_version: str | None = None  # SIGV2 or SIGV4
    auth_type: str | None = None  # REST_HEADER or REST_QUERY_STRING (POST forms: see post_policy)
    signature_age_ms: int | None = None  # presigned URLs only (AWS: "works for presigned URLs"); 0 for V2
    content_sha256: str | None = None  # x-amz-content-sha256 as the signature covered it (V4 only)


ANONYMOUS_CONTEXT = AuthContext(
    access_key=None,
    payload_mode=PayloadMode.ANONYMOUS,
    payload_sha256=None,
    presigned=False,
    signing_key=None,
    seed_signature=None,
    amz_date=None,
    scope=None,
)


def wire(text: str) -> bytes:
    """The bytes a latin-1-decoded wire string came from (UTF-8 if it cannot be latin-1)."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def decode_component(raw: str) -> str:
    """A percent-encoded query name or value, decoded (as UTF-8, invalid bytes replaced)."""
    if "%" not in raw:
        return raw
    return unquote_to_bytes(wire(raw)).decode("utf-8", "replace")


def split_query(raw_query: str) -> list[tuple[str, str]]:
    """(raw name, raw value) pairs of a query string; a parameter without '=' has an empty value."""
    if not raw_query:
        return []
    pairs = []
    for part in raw_query.split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs.append((name, value))
    return pairs


@lru_cache(maxsize=64)  # requests signed in the same second share it
def parse_amz_date(value: str) -> datetime | None:
    """Parse ``YYYYMMDDTHHMMSSZ`` without strptime (it is slow and locale-aware)."""
    if len(value) != 16 or value[8] != "T" or value[15] != "Z":
        return None
    digits = value[:8] + value[9:15]
    if not (digits.isascii() and digits.isdigit()):
        return None
    try:
        return datetime(
            int(value[0:4]),
            int(value[4:6]),
            int(value[6:8]),
            int(value[9:11]),
            int(value[11:13]),
            int(value[13:15]),
            tzinfo=UTC,
        )
    except ValueError:
        return None


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def age_ms(signed_at: datetime, now: datetime) -> int:
    """Milliseconds since a signature was made (s3:signatureAge); 0 for one dated a little ahead."""
    return max(0, int((now - signed_at).total_seconds() * 1000))

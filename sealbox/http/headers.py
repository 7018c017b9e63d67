"""Parsing of S3 request headers: Range, conditionals, stored content headers and user metadata."""

from __future__ import annotations

import base64
import binascii
import email.errors
import email.header
import email.utils
import re
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime

from sealbox.core.checksums import ALGORITHMS, HEADER_PREFIX, digest_size
from sealbox.core.errors import ErrorCode, SealboxError, invalid_argument
from sealbox.core.preconditions import DeleteCondition
from sealbox.service.conditions import ByteRange, Conditions

# Headers stored with the object and returned on GET/HEAD (and overridable with response-*).
CONTENT_HEADERS = ("content-type", "content-disposition", "content-encoding", "content-language",
                   "cache-control", "expires")
META_PREFIX = "x-amz-meta-"


def parse_http_date(value: str | None) -> float | None:
    """An HTTP date as epoch seconds; None when absent or unparseable (S3 ignores bad dates)."""
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def conditions(headers: Mapping[str, str], prefix: str = "") -> Conditions:
    """``If-Match`` & co. (``prefix`` ``x-amz-copy-source-`` for a copy's source)."""
    return Conditions(headers.get(f"{prefix}if-match"), headers.get(f"{prefix}if-none-match"),
                      parse_http_date(headers.get(f"{prefix}if-modified-since")),
                      parse_http_date(headers.get(f"{prefix}if-unmodified-since")))


def parse_timestamp(value: str, name: str) -> int:
    """A timestamp of a delete condition (an HTTP date, as SDKs send headers, or ISO 8601, as in XML bodies)
    as epoch seconds. Unlike a read's dates, a bad one is refused: ignoring it would delete unconditionally."""
    text = value.strip()
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            raise invalid_argument(f"Invalid {name}", name, value) from None
    return int((when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp())


def parse_size(value: str, name: str) -> int:
    text = value.strip()
    if not text.isascii() or not text.isdigit():
        raise invalid_argument(f"Invalid {name}", name, value)
    return int(text)


def delete_condition(headers: Mapping[str, str]) -> DeleteCondition:
    """``If-Match``, ``x-amz-if-match-last-modified-time``, ``x-amz-if-match-size`` of a DeleteObject."""
    match = headers.get("if-match")
    when = headers.get("x-amz-if-match-last-modified-time")
    size = headers.get("x-amz-if-match-size")
    return DeleteCondition(
        if_match=match.strip().strip('"') if match is not None else None,
        last_modified=parse_timestamp(when, "x-amz-if-match-last-modified-time") if when is not None else None,
        size=parse_size(size, "x-amz-if-match-size") if size is not None else None)


def content_headers(headers: Mapping[str, str]) -> dict[str, str]:
    stored = {h: headers[h] for h in CONTENT_HEADERS if h in headers}
    # aws-chunked is transfer framing, never a property of the stored object: AWS drops that coding
    # and keeps the value otherwise as sent ("gzip, br" stays "gzip, br", "identity" stays "identity").
    encoding = stored.get("content-encoding")
    if encoding is not None and "aws-chunked" in encoding.lower():
        codings = [c.strip() for c in encoding.split(",") if c.strip().lower() != "aws-chunked"]
        if codings:
            stored["content-encoding"] = ", ".join(codings)
        else:
            del stored["content-encoding"]
    stored.setdefault("content-type", "binary/octet-stream")
    return stored


def user_metadata(headers: Mapping[str, str]) -> dict[str, str]:
    """``x-amz-meta-*`` values as stored: RFC 2047 encoded-words decoded, as AWS does before storing
    (``=?UTF-8?B?YWJj?=`` is stored, and returned, as ``abc``). A raw byte outside US-ASCII stays the
    ISO-8859-1 character the connection read it as."""
    return {k[len(META_PREFIX):]: decode_rfc2047(v) for k, v in headers.items() if k.startswith(META_PREFIX)}


_ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")


def decode_rfc2047(value: str) -> str:
    """A header value with RFC 2047 encoded-words, decoded (charset as each word says); a value without
    any, or one that does not decode (bad base64, unknown charset), unchanged."""
    if "=?" not in value or not _ENCODED_WORD.search(value):
        return value
    try:
        words = email.header.decode_header(value)
        return "".join(part.decode(charset or "ascii") if isinstance(part, bytes) else part
                       for part, charset in words)
    except (email.errors.HeaderParseError, LookupError, UnicodeDecodeError, ValueError):
        return value


# Printable US-ASCII is returned as is; anything else as one UTF-8 encoded-word: "Q" (quoted-printable,
# these characters literal) for text, "B" (base64) when it holds a control character or U+FFFD — the
# forms AWS answers with (recorded against S3).
_Q_LITERAL = frozenset(range(0x21, 0x7F)) - {ord("="), ord("?"), ord("_")}


def encode_rfc2047(value: str) -> str:
    """A stored ``x-amz-meta-*`` value as AWS returns it: "mail-safe" (RFC 2047) unless printable ASCII."""
    if all(" " <= ch <= "~" or ch == "\t" for ch in value):
        return value
    raw = value.encode("utf-8", "surrogateescape")
    if "\ufffd" in value or any(unicodedata.category(ch).startswith("C") for ch in value):
        return f"=?UTF-8?B?{base64.b64encode(raw).decode('ascii')}?="
    text = "".join(chr(b) if b in _Q_LITERAL else "_" if b == 0x20 else f"={b:02X}" for b in raw)
    return f"=?UTF-8?Q?{text}?="


def parse_range(value: str | None) -> ByteRange | None:
    """``bytes=a-b`` / ``a-`` / ``-n``; None = whole object (absent or ignorable).

    Like S3: a syntactically invalid or multi-range header is ignored; a valid range that starts
    beyond the end (or any range of an empty object) is 416 InvalidRange, once the size is known
    (``ByteRange.span``).
    """
    if not value:
        return None
    unit, _, spec = value.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    if first == "":
        suffix = _digits(last)
        return ByteRange(suffix=suffix) if suffix is not None else None
    start, end = _digits(first), _digits(last) if last != "" else None
    if start is None or (last != "" and (end is None or end < start)):
        return None
    return ByteRange(first=start, last=end)


def _digits(text: str) -> int | None:
    """A non-negative decimal number, or None (digits like '²' that int() refuses included)."""
    if not text.isdigit():
        return None
    try:
        return int(text)
    except ValueError:
        return None


def content_md5(headers: Mapping[str, str]) -> bytes | None:
    value = headers.get("content-md5")
    if value is None:
        return None
    try:
        digest = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        digest = b""
    if len(digest) != 16:
        raise SealboxError(ErrorCode.INVALID_DIGEST, "The Content-MD5 you specified is not valid.",
                           ContentMD5=value)
    return digest


def checksum_request(headers: Mapping[str, str]) -> tuple[tuple[str, ...], dict[str, str], str | None]:
    """(algorithms to compute, expected values from headers, algorithm announced for a trailer)."""
    expected: dict[str, str] = {}
    for name, value in headers.items():
        if name.startswith(HEADER_PREFIX) and name not in ("x-amz-checksum-type", "x-amz-checksum-mode",
                                                         "x-amz-checksum-algorithm"):
            algorithm = name[len(HEADER_PREFIX):].upper()
            if algorithm not in ALGORITHMS:
                raise SealboxError(ErrorCode.INVALID_REQUEST, f"The header {name} is not supported.")
            _check_checksum_value(algorithm, value)
            expected[algorithm] = value
    if len(expected) > 1:
        raise SealboxError(ErrorCode.INVALID_REQUEST, "Expecting a single x-amz-checksum- header. Multiple"
                           " checksum Types are not allowed.")
    trailer = headers.get("x-amz-trailer", "").strip().lower()
    trailer_alg = None
    if trailer.startswith(HEADER_PREFIX):
        trailer_alg = trailer[len(HEADER_PREFIX):].upper()
        if trailer_alg not in ALGORITHMS:
            raise SealboxError(ErrorCode.INVALID_REQUEST, f"The value specified in the x-amz-trailer header is"
                               f" not supported: {trailer}")
    algorithms = set(expected)
    if trailer_alg:
        algorithms.add(trailer_alg)
    sdk = headers.get("x-amz-sdk-checksum-algorithm") or headers.get("x-amz-checksum-algorithm")
    if sdk:
        sdk_alg = sdk.strip().upper()
        if sdk_alg not in ALGORITHMS:
            raise SealboxError(ErrorCode.INVALID_REQUEST, "Checksum algorithm provided is unsupported. Please"
                               " try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]")
        algorithms.add(sdk_alg)
    return tuple(sorted(algorithms)), expected, trailer_alg


def _check_checksum_value(algorithm: str, value: str) -> None:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != digest_size(algorithm):
        raise SealboxError(ErrorCode.INVALID_REQUEST,
                           f"Value for x-amz-checksum-{algorithm.lower()} header is invalid.")


def trailer_checksum(trailers: Mapping[str, str], algorithm: str | None) -> dict[str, str]:
    """The checksum value sent in the aws-chunked trailer, validated like the header form."""
    if not algorithm:
        return {}
    value = trailers.get(f"{HEADER_PREFIX}{algorithm.lower()}")
    if value is None:
        return {}
    _check_checksum_value(algorithm, value)
    return {algorithm: value}

"""Parsing of S3 request headers: Range, conditionals, stored content headers and user metadata."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

from sealbox.core.checksums import ALGORITHMS, HEADER_PREFIX, digest_size
from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.service.conditions import (  # noqa: F401 - re-exported: parsed here, evaluated by the service
    Conditions,
    check_conditions,
    parse_http_date,
)

# Headers stored with the object and returned on GET/HEAD (and overridable with response-*).
CONTENT_HEADERS = ("content-type", "content-disposition", "content-encoding", "content-language",
                   "cache-control", "expires")
META_PREFIX = "x-amz-meta-"


def content_headers(headers: Mapping[str, str]) -> dict[str, str]:
    stored = {h: headers[h] for h in CONTENT_HEADERS if h in headers}
    # aws-chunked is transfer framing, never a property of the stored object.
    if "content-encoding" in stored:
        codings = [c.strip() for c in stored["content-encoding"].split(",") if c.strip() != "aws-chunked"]
        if codings:
            stored["content-encoding"] = ",".join(codings)
        else:
            del stored["content-encoding"]
    stored.setdefault("content-type", "binary/octet-stream")
    return stored


def user_metadata(headers: Mapping[str, str]) -> dict[str, str]:
    return {k[len(META_PREFIX):]: v for k, v in headers.items() if k.startswith(META_PREFIX)}


def parse_range(value: str | None, size: int) -> tuple[int, int] | None:
    """``bytes=a-b`` / ``a-`` / ``-n`` → (start, length). None = whole object (absent or ignorable).

    Like S3: a syntactically invalid or multi-range header is ignored; a valid range that starts
    beyond the end (or any range of an empty object) is 416 InvalidRange.
    """
    if not value:
        return None
    unit, _, spec = value.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    try:
        if first == "":
            suffix = int(last)
            if suffix < 0 or not last.isdigit():
                return None
            if suffix == 0 or size == 0:
                raise _invalid_range(size)
            start = max(0, size - suffix)
            return start, size - start
        start = int(first)
        if not first.isdigit():
            return None
        end = int(last) if last != "" else size - 1
        if last != "" and (not last.isdigit() or end < start):
            return None
    except ValueError:
        return None
    if start >= size:
        raise _invalid_range(size)
    end = min(end, size - 1)
    return start, end - start + 1


def _invalid_range(size: int) -> SealboxError:
    return SealboxError(ErrorCode.INVALID_RANGE, "The requested range is not satisfiable",
                        RangeRequested="", ActualObjectSize=str(size))


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

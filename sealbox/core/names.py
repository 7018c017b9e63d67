"""Validation of bucket names, object keys and metadata sizes, as Amazon S3 enforces them."""

from __future__ import annotations

import ipaddress
import re

from sealbox.core.errors import ErrorCode, SealboxError

MAX_KEY_BYTES = 1024
MAX_USER_METADATA_BYTES = 2048



_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", "--x-s3", "--table-s3")


def bucket_name_problem(name: str) -> str | None:
    """Which of S3's general-purpose bucket naming rules ``name`` breaks, in words; None if none."""
    if not 3 <= len(name) <= 63:
        return f"a bucket name must be 3 to 63 characters long, not {len(name)}"
    if not re.fullmatch(r"[a-z0-9.-]+", name):
        return "a bucket name may contain only lowercase letters, digits, dots (.) and hyphens (-)"
    if not (name[0].isalnum() and name[-1].isalnum()):
        return "a bucket name must begin and end with a lowercase letter or a digit"
    if ".." in name or ".-" in name or "-." in name:
        return "a bucket name must not contain two adjacent periods, or a period next to a hyphen"
    for prefix in _RESERVED_PREFIXES:
        if name.startswith(prefix):
            return f"a bucket name must not begin with the reserved prefix {prefix}"
    for suffix in _RESERVED_SUFFIXES:
        if name.endswith(suffix):
            return f"a bucket name must not end with the reserved suffix {suffix}"
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        return None
    return "a bucket name must not be formatted as an IP address"


def validate_bucket_name(name: str) -> str:
    """Apply S3's general-purpose bucket naming rules; raise InvalidBucketName naming the rule broken.

    AWS's message is only "The specified bucket is not valid."; the rule is added so that a user
    can act on it (the code, which clients branch on, stays the same).
    """
    problem = bucket_name_problem(name)
    if problem is not None:
        raise SealboxError(ErrorCode.INVALID_BUCKET_NAME, f"The specified bucket is not valid: {problem}.",
                           BucketName=name)
    return name


def validate_key(key: str) -> str:
    """Keys are any UTF-8 up to 1024 bytes; the empty key is not an object key."""
    if not key:
        raise SealboxError(ErrorCode.INVALID_ARGUMENT, "Object key must not be empty")
    if "\x00" in key:
        # S3 accepts NUL in keys in theory, but no client can round-trip it through a URL or XML 1.0.
        raise SealboxError(ErrorCode.INVALID_ARGUMENT, "Object key contains an invalid character",
                           ArgumentName="key", ArgumentValue=repr(key[:64]))
    try:
        encoded = key.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates from a broken percent-encoding
        raise SealboxError(ErrorCode.INVALID_ARGUMENT, "Object key is not valid UTF-8") from exc
    if len(encoded) > MAX_KEY_BYTES:
        raise SealboxError(ErrorCode.KEY_TOO_LONG, "Your key is too long", Size=str(len(encoded)),
                           MaxSizeAllowed=str(MAX_KEY_BYTES))
    return key


def validate_user_metadata(meta: dict[str, str]) -> dict[str, str]:
    """User metadata (x-amz-meta-*) may use at most 2 KB, names and values counted in UTF-8 bytes."""
    size = sum(len(k.encode()) + len(v.encode()) for k, v in meta.items())
    if size > MAX_USER_METADATA_BYTES:
        raise SealboxError(ErrorCode.METADATA_TOO_LARGE,
                           "Your metadata headers exceed the maximum allowed metadata size.",
                           Size=str(size), MaxSizeAllowed=str(MAX_USER_METADATA_BYTES))
    return meta

"""Validation of bucket names, object keys and metadata sizes, as Amazon S3 enforces them."""

from __future__ import annotations

import ipaddress
import re

from sealbox.core.errors import ErrorCode, SealboxError

MAX_KEY_BYTES = 1024
MAX_USER_METADATA_BYTES = 2048

_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def validate_bucket_name(name: str) -> str:
    """Apply S3's general-purpose bucket naming rules; raise InvalidBucketName otherwise."""
    if not _BUCKET_RE.match(name) or ".." in name or ".-" in name or "-." in name:
        raise SealboxError(ErrorCode.INVALID_BUCKET_NAME, "The specified bucket is not valid.", BucketName=name)
    if name.startswith(("xn--", "sthree-", "amzn-s3-demo-")) or name.endswith(("-s3alias", "--ol-s3", "--x-s3")):
        raise SealboxError(ErrorCode.INVALID_BUCKET_NAME, "The specified bucket is not valid.", BucketName=name)
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        return name
    raise SealboxError(ErrorCode.INVALID_BUCKET_NAME, "The specified bucket is not valid.", BucketName=name)


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

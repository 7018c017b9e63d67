"""Object and bucket tags: the rules Amazon S3 applies to a tag set (no HTTP here).

A tag set is an ordered ``dict`` of key -> value (S3 keeps the order a TagSet was put in).

Rules, as AWS states and answers them:

- at most 10 tags per object, 50 per bucket: 400 ``BadRequest`` ("Object tags cannot be greater
  than 10" / "Bucket tag count cannot be greater than 50");
- keys are unique: 400 ``InvalidTag`` "Cannot provide multiple Tags with the same key";
- keys may not begin with ``aws:`` (reserved for system tags): 400 ``InvalidTag``;
- a key is 1 to 128 Unicode characters, a value 0 to 256, made of letters, digits and white space
  (Unicode categories L, N, Z) and ``_ . : / = + - @``: else 400 ``InvalidTag`` "The TagKey (TagValue)
  you have provided is invalid".

The wire forms (the ``Tagging`` XML document, the ``x-amz-tagging`` query string) are parsed at the
HTTP edge (``sealbox.http.tagging``); a document that is not one (no Key or no Value) is MalformedXML
there.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Literal

from sealbox.core.errors import ErrorCode, SealboxError

MAX_OBJECT_TAGS = 10
MAX_BUCKET_TAGS = 50
MAX_KEY_LENGTH = 128
MAX_VALUE_LENGTH = 256
_PUNCTUATION = frozenset("_.:/=+-@")

TagKind = Literal["object", "bucket"]


def allowed_text(text: str) -> bool:
    """Letters, digits, white space (any script) and ``_ . : / = + - @``; no control characters."""
    return all(ch in _PUNCTUATION or unicodedata.category(ch)[0] in "LNZ" for ch in text)


def validate_tags(pairs: Iterable[tuple[str, str]], kind: TagKind) -> dict[str, str]:
    """The tag set of ``pairs`` (in their order), or the error AWS answers for the first rule it breaks."""
    items = list(pairs)
    if kind == "object" and len(items) > MAX_OBJECT_TAGS:
        raise SealboxError(ErrorCode.BAD_REQUEST, f"Object tags cannot be greater than {MAX_OBJECT_TAGS}")
    if kind == "bucket" and len(items) > MAX_BUCKET_TAGS:
        raise SealboxError(ErrorCode.BAD_REQUEST, f"Bucket tag count cannot be greater than {MAX_BUCKET_TAGS}")
    tags: dict[str, str] = {}
    for key, value in items:
        if key in tags:
            raise SealboxError(ErrorCode.INVALID_TAG, "Cannot provide multiple Tags with the same key", TagKey=key)
        if key.startswith("aws:"):
            message = ("Your TagKey cannot be prefixed with aws:" if kind == "object"
                       else "System tags cannot be added/updated by requester")
            raise SealboxError(ErrorCode.INVALID_TAG, message, TagKey=key)
        if not 1 <= len(key) <= MAX_KEY_LENGTH or not allowed_text(key):
            raise SealboxError(ErrorCode.INVALID_TAG, "The TagKey you have provided is invalid", TagKey=key)
        if len(value) > MAX_VALUE_LENGTH or not allowed_text(value):
            raise SealboxError(ErrorCode.INVALID_TAG, "The TagValue you have provided is invalid", TagKey=key,
                               TagValue=value)
        tags[key] = value
    return tags

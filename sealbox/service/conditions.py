"""Preconditions on an existing object version (If-Match & co.), as S3 evaluates them.

Shared by reads (GET/HEAD, where a failed If-None-Match/If-Modified-Since is 304) and by copies
(``x-amz-copy-source-if-*``, where every failed condition is 412). No HTTP here beyond the header
names ``from_headers`` reads; the edge re-exports these from ``sealbox.http.headers``.
"""

from __future__ import annotations

import email.utils
from collections.abc import Mapping
from dataclasses import dataclass

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.types import ObjectVersion


def parse_http_date(value: str | None) -> float | None:
    """An HTTP date as epoch seconds; None when absent or unparseable (S3 ignores bad dates)."""
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


@dataclass(frozen=True)
class Conditions:
    if_match: str | None = None
    if_none_match: str | None = None
    if_modified_since: float | None = None
    if_unmodified_since: float | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str], prefix: str = "") -> Conditions:
        return cls(headers.get(f"{prefix}if-match"), headers.get(f"{prefix}if-none-match"),
                   parse_http_date(headers.get(f"{prefix}if-modified-since")),
                   parse_http_date(headers.get(f"{prefix}if-unmodified-since")))


def _etag_matches(condition: str, etag: str) -> bool:
    return any(c.strip() in ("*", f'"{etag}"', etag) for c in condition.split(","))


def check_conditions(c: Conditions, v: ObjectVersion, *, for_read: bool = True) -> None:
    """RFC 7232 as S3 applies it: If-Match beats If-Unmodified-Since; If-None-Match beats If-Modified-Since.

    Raises PreconditionFailed (412) or NotModified (304; reads only).
    """
    modified = int(v.last_modified)  # HTTP dates have one-second resolution
    if c.if_match is not None:
        if not _etag_matches(c.if_match, v.etag):
            raise _failed("If-Match")
    elif c.if_unmodified_since is not None and modified > c.if_unmodified_since:
        raise _failed("If-Unmodified-Since")
    if c.if_none_match is not None:
        if _etag_matches(c.if_none_match, v.etag):
            if for_read:
                raise SealboxError(ErrorCode.NOT_MODIFIED, headers={"etag": v.quoted_etag})
            raise _failed("If-None-Match")
    elif c.if_modified_since is not None and modified <= c.if_modified_since:
        if for_read:
            raise SealboxError(ErrorCode.NOT_MODIFIED, headers={"etag": v.quoted_etag})
        raise _failed("If-Modified-Since")


def _failed(condition: str) -> SealboxError:
    return SealboxError(ErrorCode.PRECONDITION_FAILED, "At least one of the pre-conditions you specified did"
                        " not hold", Condition=condition)

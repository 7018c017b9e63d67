"""Preconditions on an existing object version (If-Match & co.), as S3 evaluates them.

Shared by reads (GET/HEAD, where a failed If-None-Match/If-Modified-Since is 304) and by copies
(``x-amz-copy-source-if-*``, where every failed condition is 412). No HTTP here: the edge parses
the headers (``sealbox.http.headers.conditions``) into a ``Conditions`` value.
"""

from __future__ import annotations

from dataclasses import dataclass

from sealbox.core.errors import ErrorCode, ErrorFacts, SealboxError
from sealbox.core.types import ObjectVersion


@dataclass(frozen=True)
class Conditions:
    """What a request makes its answer depend on: ETag lists as sent, dates as epoch seconds."""

    if_match: str | None = None
    if_none_match: str | None = None
    if_modified_since: float | None = None
    if_unmodified_since: float | None = None


NO_CONDITIONS = Conditions()


@dataclass(frozen=True)
class ByteRange:
    """A ``bytes=`` range as the client sent it, resolved against the object's size on read:
    ``first``-``last`` (``last`` None: to the end), or the final ``suffix`` bytes."""

    first: int | None = None
    last: int | None = None
    suffix: int | None = None

    def span(self, size: int) -> tuple[int, int]:
        """(start, length); 416 InvalidRange when it starts past the end (or the object is empty)."""
        if self.suffix is not None:
            if self.suffix == 0 or size == 0:
                raise _invalid_range(size)
            start = max(0, size - self.suffix)
            return start, size - start
        start = self.first or 0
        if start >= size:
            raise _invalid_range(size)
        end = size - 1 if self.last is None else min(self.last, size - 1)
        return start, end - start + 1


def _invalid_range(size: int) -> SealboxError:
    return SealboxError(ErrorCode.INVALID_RANGE, "The requested range is not satisfiable",
                        RangeRequested="", ActualObjectSize=str(size))


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
                raise SealboxError(ErrorCode.NOT_MODIFIED, facts=ErrorFacts(etag=v.quoted_etag))
            raise _failed("If-None-Match")
    elif c.if_modified_since is not None and modified <= c.if_modified_since:
        if for_read:
            raise SealboxError(ErrorCode.NOT_MODIFIED, facts=ErrorFacts(etag=v.quoted_etag))
        raise _failed("If-Modified-Since")


def _failed(condition: str) -> SealboxError:
    return SealboxError(ErrorCode.PRECONDITION_FAILED, "At least one of the pre-conditions you specified did"
                        " not hold", Condition=condition)

"""Conditional writes and deletes: what must hold of a key's current version for a write to commit.

Reads (GET/HEAD, copy sources) have their own rules (``sealbox.service.conditions``). These are the
writes' rules, as Amazon S3 answers them for general purpose buckets, checked twice: once when the
request arrives (so a write that cannot succeed fails before its body is read) and again inside the
metadata store's write transaction, atomically with the write (``MetaStore.put_version``,
``finish_upload``, ``delete``), so two conflicting conditional writes can never both succeed.

Writes (PutObject, CopyObject, CompleteMultipartUpload) — ``WriteCondition``:

- ``If-None-Match: *``: the key has no current object (a delete marker does not count), else 412
  PreconditionFailed. If an object was current when the write began (``base_seq``) and is gone
  now, a conflicting delete ran during the write: 409 ConditionalRequestConflict.
- ``If-Match: <ETag>``: the current object has that ETag. No current object: 404 NoSuchKey; another
  ETag: 412 PreconditionFailed; the same ETag but another version than the one current when the
  write began (rewritten meanwhile, even with the same bytes): 409 ConditionalRequestConflict.

  For a simple PUT or a copy "when the write began" is when the request arrived; for a multipart
  upload it is CreateMultipartUpload (``Upload.base_seq``): AWS answers a Complete whose key was
  written or deleted after the upload began with 409, and one restarts the upload.

Deletes (DeleteObject, DeleteObjects) — ``DeleteCondition``:

- ``If-Match`` (an ETag or ``*``) concerns the current version: no current object, or a delete marker,
  is 404 NoSuchKey; another ETag is 412. (AWS refuses it together with a version id: the edge answers
  501 NotImplemented.)
- ``x-amz-if-match-last-modified-time`` and ``x-amz-if-match-size`` concern the version the request
  deletes (the named one, or the current one), compared to the second and the byte. Amazon S3 evaluates
  them only in directory buckets, whose documented rule sealbox follows: a version that does not exist
  satisfies them (the delete is then what it would be anyway); one that does not match is 412; a delete
  marker has neither a size nor contents, so against one they never hold (412).
"""

from __future__ import annotations

from dataclasses import dataclass

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.types import ObjectVersion

_FAILED = "At least one of the pre-conditions you specified did not hold"
_CONFLICT = "The conditional request cannot succeed due to a conflicting operation against this resource."


@dataclass(frozen=True)
class WriteCondition:
    if_none_match: bool = False  # If-None-Match: *
    if_match: str | None = None  # If-Match: an ETag, without quotes
    # ObjectVersion.seq of the key's current object when the write began; None: there was none.
    base_seq: int | None = None

    @property
    def active(self) -> bool:
        return self.if_none_match or self.if_match is not None


@dataclass(frozen=True)
class DeleteCondition:
    if_match: str | None = None  # an ETag without quotes, or "*"
    last_modified: int | None = None  # epoch seconds
    size: int | None = None

    @property
    def active(self) -> bool:
        return self.if_match is not None or self.last_modified is not None or self.size is not None


def failed(condition: str) -> SealboxError:
    return SealboxError(ErrorCode.PRECONDITION_FAILED, _FAILED, Condition=condition)


def conflict(condition: str, key: str) -> SealboxError:
    return SealboxError(ErrorCode.CONDITIONAL_REQUEST_CONFLICT, _CONFLICT, Condition=condition, Key=key)


def no_such_key(key: str) -> SealboxError:
    return SealboxError(ErrorCode.NO_SUCH_KEY, "The specified key does not exist.", Key=key)


def live(version: ObjectVersion | None) -> ObjectVersion | None:
    """The version if it is an object, None if there is none or it is a delete marker."""
    return version if version is not None and not version.is_delete_marker else None


def check_write(condition: WriteCondition, current: ObjectVersion | None, key: str) -> None:
    """Raise unless ``condition`` holds of ``current`` (the key's latest version, delete marker or not)."""
    obj = live(current)
    if condition.if_none_match:
        if obj is not None:
            raise failed("If-None-Match")
        if condition.base_seq is not None:
            raise conflict("If-None-Match", key)
    if condition.if_match is not None:
        if obj is None:
            raise no_such_key(key)
        if obj.etag != condition.if_match:
            raise failed("If-Match")
        if obj.seq != condition.base_seq:
            raise conflict("If-Match", key)


def base_of(current: ObjectVersion | None) -> int | None:
    """The ``base_seq`` a write that begins now records."""
    obj = live(current)
    return obj.seq if obj is not None else None


def check_delete(condition: DeleteCondition, current: ObjectVersion | None, target: ObjectVersion | None,
                 key: str) -> None:
    """Raise unless ``condition`` holds. ``current``: the key's latest version; ``target``: the version the
    delete removes (the named one, or the latest), None if there is none."""
    if condition.if_match is not None:
        obj = live(current)
        if obj is None:
            raise no_such_key(key)
        if condition.if_match != "*" and obj.etag != condition.if_match:
            raise failed("If-Match")
    if target is None:
        return
    if condition.last_modified is not None and \
            (target.is_delete_marker or int(target.last_modified) != condition.last_modified):
        raise failed("x-amz-if-match-last-modified-time")
    if condition.size is not None and (target.is_delete_marker or target.size != condition.size):
        raise failed("x-amz-if-match-size")

"""The rules of conditional writes and deletes (core.preconditions), case by case."""

from __future__ import annotations

import dataclasses

import pytest

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.preconditions import DeleteCondition, WriteCondition, base_of, check_delete, check_write
from sealbox.core.types import ObjectVersion

OBJ = ObjectVersion(bucket="b", key="k", version_id="v", object_uid=b"", size=3, etag="abc", last_modified=1000.7,
                    owner="o", seq=7)
MARKER = dataclasses.replace(OBJ, is_delete_marker=True, etag="", size=0, seq=8)


def outcome(call: object, *args: object) -> ErrorCode | None:
    try:
        call(*args)  # type: ignore[operator]
    except SealboxError as exc:
        return exc.code
    return None


F, C, N = ErrorCode.PRECONDITION_FAILED, ErrorCode.CONDITIONAL_REQUEST_CONFLICT, ErrorCode.NO_SUCH_KEY


@pytest.mark.parametrize(("condition", "current", "expected"), [
    (WriteCondition(), OBJ, None),
    (WriteCondition(if_none_match=True), None, None),
    (WriteCondition(if_none_match=True), MARKER, None),  # a delete marker is no object
    (WriteCondition(if_none_match=True), OBJ, F),
    (WriteCondition(if_none_match=True, base_seq=7), None, C),  # deleted while the write was under way
    (WriteCondition(if_none_match=True, base_seq=7), OBJ, F),
    (WriteCondition(if_match="abc", base_seq=7), OBJ, None),
    (WriteCondition(if_match="abd", base_seq=7), OBJ, F),
    (WriteCondition(if_match="abc", base_seq=6), OBJ, C),  # rewritten (same ETag) while under way
    (WriteCondition(if_match="abc", base_seq=7), None, N),
    (WriteCondition(if_match="abc", base_seq=7), MARKER, N),
])
def test_check_write(condition: WriteCondition, current: ObjectVersion | None, expected: ErrorCode | None) -> None:
    assert outcome(check_write, condition, current, "k") is expected


def test_base_of() -> None:
    assert base_of(OBJ) == 7 and base_of(MARKER) is None and base_of(None) is None
    assert not WriteCondition(base_seq=3).active and WriteCondition(if_match="x").active


@pytest.mark.parametrize(("condition", "current", "target", "expected"), [
    (DeleteCondition(if_match="*"), OBJ, OBJ, None),
    (DeleteCondition(if_match="abc"), OBJ, OBJ, None),
    (DeleteCondition(if_match="abd"), OBJ, OBJ, F),
    (DeleteCondition(if_match="*"), None, None, N),
    (DeleteCondition(if_match="abc"), MARKER, MARKER, N),
    (DeleteCondition(size=3, last_modified=1000), OBJ, OBJ, None),  # whole seconds
    (DeleteCondition(size=4), OBJ, OBJ, F),
    (DeleteCondition(last_modified=1001), OBJ, OBJ, F),
    (DeleteCondition(size=4, last_modified=1), None, None, None),  # nothing to delete satisfies them
    (DeleteCondition(size=0), MARKER, MARKER, F),  # a marker has no size
    (DeleteCondition(last_modified=1000), MARKER, OBJ, None),  # a version by id, under a marker
    (DeleteCondition(if_match="abc", size=4), OBJ, OBJ, F),
])
def test_check_delete(condition: DeleteCondition, current: ObjectVersion | None, target: ObjectVersion | None,
                      expected: ErrorCode | None) -> None:
    assert outcome(check_delete, condition, current, target, "k") is expected


def test_errors_say_which_condition() -> None:
    with pytest.raises(SealboxError) as info:
        check_delete(DeleteCondition(size=1), OBJ, OBJ, "k")
    assert info.value.extra == {"Condition": "x-amz-if-match-size"}
    with pytest.raises(SealboxError) as info:
        check_write(WriteCondition(if_match="abc", base_seq=1), OBJ, "k")
    assert info.value.extra == {"Condition": "If-Match", "Key": "k"}

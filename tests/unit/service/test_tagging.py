"""Tagging, GetObjectAttributes and conditional writes in-process (the service layer, no HTTP)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.preconditions import DeleteCondition
from sealbox.core.types import SSE_AES256, Versioning
from sealbox.crypto.keyring import Keyring, generate_master_key
from sealbox.service import attributes, tagging
from sealbox.service.conditions import Conditions
from sealbox.service.copy import CopyParams, copy_object
from sealbox.service.objects import ObjectService, WriteParams
from tests.support import run_async
from tests.unit.service.test_objects import ROOT_USER, Body, _service


@pytest.fixture
def objects(tmp_path: Path) -> Iterator[ObjectService]:
    key = generate_master_key()
    pool = ThreadPoolExecutor(4)
    service = _service(tmp_path, Keyring([key], key.key_id), pool)
    service.buckets.create(ROOT_USER, "bkt", None)
    yield service
    service.meta.close()
    pool.shutdown()


def _code(call: object, *args: object, **kw: object) -> ErrorCode:
    with pytest.raises(SealboxError) as info:
        result = call(*args, **kw)  # type: ignore[operator]
        if hasattr(result, "__await__"):
            run_async(result)
    return info.value.code


def test_tags_round_trip_and_belong_to_a_version(objects: ObjectService) -> None:
    run_async(objects.put(ROOT_USER, "bkt", "k", Body(b"x"), WriteParams(tags={"b": "2", "a": "1"})))
    _, v = tagging.get_object_tags(objects, ROOT_USER, "bkt", "k", None)
    assert list(v.tags.items()) == [("b", "2"), ("a", "1")]
    _, tagged = run_async(tagging.put_object_tags(objects, ROOT_USER, "bkt", "k", None, {"c": "3"}))
    assert tagged.tags == {"c": "3"} and tagged.etag == v.etag and tagged.last_modified == v.last_modified
    run_async(objects.put(ROOT_USER, "bkt", "k", Body(b"y"), WriteParams()))
    assert tagging.get_object_tags(objects, ROOT_USER, "bkt", "k", None)[1].tags == {}
    assert _code(tagging.get_object_tags, objects, ROOT_USER, "bkt", "nope", None) is ErrorCode.NO_SUCH_KEY


def test_tags_of_encrypted_objects_survive_a_copy(objects: ObjectService) -> None:
    run_async(objects.put(ROOT_USER, "bkt", "src", Body(b"secret"), WriteParams(sse=SSE_AES256, tags={"t": "1"})))
    copied = run_async(copy_object(objects, ROOT_USER, "bkt", "src", None, "bkt", "dst", CopyParams()))
    assert copied.version.tags == {"t": "1"}
    replaced = run_async(copy_object(objects, ROOT_USER, "bkt", "src", None, "bkt", "dst2",
                                     CopyParams(tagging_directive="REPLACE", tags={"n": "2"}, sse=SSE_AES256)))
    assert objects.meta.get_version("bkt", "dst2") is not None
    assert tagging.get_object_tags(objects, ROOT_USER, "bkt", "dst2", None)[1].tags == {"n": "2"} == \
        replaced.version.tags
    assert _code(copy_object, objects, ROOT_USER, "bkt", "src", None, "bkt", "d3",
                 CopyParams(tagging_directive="MERGE")) is ErrorCode.INVALID_ARGUMENT


def test_tagging_a_delete_marker_is_refused(objects: ObjectService) -> None:
    objects.buckets.set_versioning(ROOT_USER, "bkt", Versioning.ENABLED)
    run_async(objects.put(ROOT_USER, "bkt", "k", Body(b"x"), WriteParams()))
    marker = run_async(objects.delete(ROOT_USER, "bkt", "k", None)).version_id
    for version_id in (None, marker):
        assert _code(tagging.delete_object_tags, objects, ROOT_USER, "bkt", "k", version_id) is \
            ErrorCode.METHOD_NOT_ALLOWED


def test_bucket_tags(objects: ObjectService) -> None:
    assert _code(tagging.get_bucket_tags, objects, ROOT_USER, "bkt") is ErrorCode.NO_SUCH_TAG_SET
    run_async(tagging.put_bucket_tags(objects, ROOT_USER, "bkt", {"env": "dev"}))
    assert tagging.get_bucket_tags(objects, ROOT_USER, "bkt") == {"env": "dev"}
    run_async(tagging.put_bucket_tags(objects, ROOT_USER, "bkt", {}))  # empty: removed
    assert _code(tagging.get_bucket_tags, objects, ROOT_USER, "bkt") is ErrorCode.NO_SUCH_TAG_SET


def test_attributes_of_a_simple_object(objects: ObjectService) -> None:
    run_async(objects.put(ROOT_USER, "bkt", "k", Body(b"hello"), WriteParams(sse=SSE_AES256)))
    got = attributes.get_attributes(objects, ROOT_USER, "bkt", "k", None, Conditions())
    assert got.version.size == 5 and got.parts is None and got.checksum is None
    assert _code(attributes.get_attributes, objects, ROOT_USER, "bkt", "k", None,
                 Conditions(if_match='"nope"')) is ErrorCode.PRECONDITION_FAILED
    assert _code(attributes.get_attributes, objects, ROOT_USER, "bkt", "k", None,
                 Conditions(if_none_match=f'"{got.version.etag}"')) is ErrorCode.NOT_MODIFIED


def test_conditional_put_and_delete(objects: ObjectService) -> None:
    first = run_async(objects.put(ROOT_USER, "bkt", "k", Body(b"1"), WriteParams(if_none_match_star=True)))
    assert _code(objects.put, ROOT_USER, "bkt", "k", Body(b"2"), WriteParams(if_none_match_star=True)) is \
        ErrorCode.PRECONDITION_FAILED
    assert _code(objects.put, ROOT_USER, "bkt", "k", Body(b"2"), WriteParams(if_match="0" * 32)) is \
        ErrorCode.PRECONDITION_FAILED
    second = run_async(objects.put(ROOT_USER, "bkt", "k", Body(b"2"), WriteParams(if_match=first.etag)))
    assert _code(objects.delete, ROOT_USER, "bkt", "k", None, condition=DeleteCondition(if_match=first.etag)) is \
        ErrorCode.PRECONDITION_FAILED
    run_async(objects.delete(ROOT_USER, "bkt", "k", None, condition=DeleteCondition(if_match=second.etag)))
    assert _code(objects.delete, ROOT_USER, "bkt", "k", None, condition=DeleteCondition(if_match="*")) is \
        ErrorCode.NO_SUCH_KEY

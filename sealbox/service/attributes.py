"""GetObjectAttributes: an object's ETag, checksum, parts, storage class and size without its body.

As Amazon S3 answers it:

- The version is looked up as for HeadObject: a current delete marker is 404 NoSuchKey (with
  ``x-amz-delete-marker``), a version id naming a delete marker 405 MethodNotAllowed, and a
  requester without s3:ListBucket gets 403 for what does not exist. ``If-Match``/``If-Unmodified-Since``
  that fail are 412, ``If-None-Match``/``If-Modified-Since`` that fail 304 — the rules of GET.
- Permissions: s3:GetObject and s3:GetObjectAttributes (with a version id: s3:GetObjectVersion and
  s3:GetObjectVersionAttributes).
- Checksum: the object's checksum and its type; a COMPOSITE checksum of a multipart object without
  its ``-N`` part count.
- ObjectParts, for multipart objects only: with a FULL_OBJECT checksum just the parts count; otherwise
  a page of parts (number, size, checksum of each) after ``part-number-marker``, at most ``max-parts``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sealbox.core.types import Bucket, ObjectVersion
from sealbox.service.conditions import Conditions, check_conditions
from sealbox.service.identity import Principal
from sealbox.service.sse_c import CustomerKey
from sealbox.service.objects import ObjectService

ATTRIBUTES = ("ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize")
MAX_PARTS = 1000


@dataclass(frozen=True)
class ObjectPart:
    number: int
    size: int
    checksum: str | None  # of the version's checksum algorithm, if its upload had one


@dataclass(frozen=True)
class ObjectParts:
    total: int
    listed: bool  # False: the parts are not listed (a FULL_OBJECT checksum), only counted
    marker: int = 0
    next_marker: int = 0
    max_parts: int = MAX_PARTS
    is_truncated: bool = False
    parts: tuple[ObjectPart, ...] = ()
    algorithm: str | None = None  # the algorithm of the parts' checksums


@dataclass(frozen=True)
class ObjectAttributes:
    bucket: Bucket
    version: ObjectVersion
    checksum: tuple[str, str, str | None] | None  # (algorithm, value, type), if the object has one
    parts: ObjectParts | None  # multipart objects only


def get_attributes(objects: ObjectService, principal: Principal, bucket_name: str, key: str, version_id: str | None,
                   conditions: Conditions, max_parts: int = MAX_PARTS, marker: int = 0,
                   customer: CustomerKey | None = None) -> ObjectAttributes:
    read, attributes = ("s3:GetObjectVersion", "s3:GetObjectVersionAttributes") if version_id else \
        ("s3:GetObject", "s3:GetObjectAttributes")
    bucket, version = objects.lookup_in(principal, bucket_name, key, version_id, attributes)
    objects.buckets.get(principal, bucket_name, read, key, existing_tags=lambda _: version.tags)
    objects.customer_data_key(version, customer)  # SSE-C: the object's key, as for HEAD (AWS requires it)
    check_conditions(conditions, version)
    return ObjectAttributes(bucket, version, _checksum(version), _parts(version, max_parts, marker))


def _checksum(v: ObjectVersion) -> tuple[str, str, str | None] | None:
    if not v.checksums:
        return None
    algorithm, value = sorted(v.checksums.items())[0]
    if v.part_count and v.checksum_type == "COMPOSITE":
        value = value.rsplit("-", 1)[0]
    return algorithm, value, v.checksum_type


def _parts(v: ObjectVersion, max_parts: int, marker: int) -> ObjectParts | None:
    if not v.part_count:
        return None
    if v.checksum_type == "FULL_OBJECT":
        return ObjectParts(total=v.part_count, listed=False)
    sums = v.part_checksums if len(v.part_checksums) == len(v.extents) else (None,) * len(v.extents)
    after = [ObjectPart(e.index, e.size, s or None) for e, s in zip(v.extents, sums, strict=True) if e.index > marker]
    page = tuple(after[:max_parts])
    return ObjectParts(total=v.part_count, listed=True, marker=marker,
                       next_marker=page[-1].number if page else 0, max_parts=max_parts,
                       is_truncated=len(after) > len(page), parts=page, algorithm=next(iter(v.checksums), None))

"""Bucket lifecycle rules (issue 17): the model, AWS's validation, and when a rule expires a version.

A configuration is stored as JSON on the bucket row, with every element as it was put (an absent
``Filter`` stays absent, an empty ``<Prefix/>`` stays empty), so GetBucketLifecycleConfiguration
renders exactly what PutBucketLifecycleConfiguration received (Terraform reads it back and compares).

sealbox has one storage class: Transition and NoncurrentVersionTransition are refused, not stored.
A Tag filter (or the tags of an And) matches a version that has every one of those tags with that
value (issue 16: its own tag set, ``ObjectVersion.tags``; the worker sees them as it lists versions).

A lifecycle "day" is ``day_seconds`` long (86400; ``--lifecycle-day-seconds`` shortens it for tests).
As on AWS, an object becomes due at the first day boundary (midnight UTC) after its age reached the
rule's days: ``due = ceil((last_modified + days * day) / day) * day``.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import json
import math
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.types import Bucket, ObjectVersion
from sealbox.service.identity import Principal

if TYPE_CHECKING:
    from sealbox.service.objects import ObjectService

DAY = 86400
MAX_RULES = 1000
FORMAT = 2  # the stored JSON's version (2 added "min_size"; 1 is read as the default)
# x-amz-transition-default-minimum-object-size: AWS's two values, and its default since September 2024.
# sealbox has no transitions, so the value changes nothing here; it is kept so that a client reads
# back what it put (Terraform compares it after every put, issue 17).
MIN_SIZES = ("all_storage_classes_128K", "varies_by_storage_class")
DEFAULT_MIN_SIZE = MIN_SIZES[0]


@dataclass(frozen=True)
class Filter:
    """``<Filter>``: one of Prefix, Tag, And (prefix, tags, sizes), or ObjectSize*; ``kind`` says which."""

    kind: str  # "empty" | "prefix" | "tag" | "and" | "gt" | "lt"
    prefix: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    size_gt: int | None = None
    size_lt: int | None = None


@dataclass(frozen=True)
class Rule:
    id: str
    status: str  # Enabled | Disabled
    prefix: str | None = None  # the legacy top-level <Prefix>
    filter: Filter | None = None
    expiration_days: int | None = None
    expiration_date: str | None = None  # as given (ISO 8601, midnight UTC)
    expired_object_delete_marker: bool | None = None
    noncurrent_days: int | None = None
    newer_noncurrent: int | None = None
    abort_days: int | None = None
    # elements seen, for a faithful rendering (e.g. Expiration with ExpiredObjectDeleteMarker false)
    has_expiration: bool = False
    has_noncurrent: bool = False

    @property
    def enabled(self) -> bool:
        return self.status == "Enabled"

    def key_prefix(self) -> str:
        if self.filter is not None:
            return self.filter.prefix or ""
        return self.prefix or ""

    def tags(self) -> tuple[tuple[str, str], ...]:
        return self.filter.tags if self.filter is not None else ()

    def matches(self, key: str, size: int, tags: dict[str, str] | None = None) -> bool:
        if not key.startswith(self.key_prefix()):
            return False
        f = self.filter
        if f is not None:
            if f.size_gt is not None and not size > f.size_gt:
                return False
            if f.size_lt is not None and not size < f.size_lt:
                return False
            if f.tags:
                have = tags or {}
                if any(have.get(k) != v for k, v in f.tags):
                    return False
        return True


def _bad(message: str, name: str = "", value: str = "") -> SealboxError:
    return SealboxError(ErrorCode.INVALID_ARGUMENT, message, ArgumentName=name, ArgumentValue=value)


def validate(rules: list[Rule]) -> list[Rule]:
    """AWS's checks of a configuration; returns the rules with generated IDs where none was given."""
    if not rules or len(rules) > MAX_RULES:
        raise SealboxError(ErrorCode.MALFORMED_XML)
    out: list[Rule] = []
    seen: set[str] = set()
    for rule in rules:
        if not rule.id:
            rule = dataclasses.replace(rule, id=secrets.token_urlsafe(24))
        if len(rule.id) > 255:
            raise _bad("ID length should not exceed allowed limit of 255", "ID", rule.id)
        if rule.id in seen:
            raise _bad("Rule ID must be unique. Found same ID for more than one rule", "ID", rule.id)
        seen.add(rule.id)
        if rule.status not in ("Enabled", "Disabled"):
            raise SealboxError(ErrorCode.MALFORMED_XML)
        if rule.prefix is not None and rule.filter is not None:
            raise SealboxError(ErrorCode.MALFORMED_XML)
        _check_actions(rule)
        out.append(rule)
    _check_overlaps(out)
    return out


def _check_actions(rule: Rule) -> None:
    if not (rule.has_expiration or rule.has_noncurrent or rule.abort_days is not None):
        raise SealboxError(ErrorCode.INVALID_REQUEST, "At least one action needs to be specified in a rule")
    if rule.has_expiration:
        given = [rule.expiration_days is not None, rule.expiration_date is not None,
                 rule.expired_object_delete_marker is not None]
        if sum(given) != 1:
            raise SealboxError(ErrorCode.MALFORMED_XML)
        if rule.expiration_days is not None and rule.expiration_days <= 0:
            raise _bad("'Days' for Expiration action must be a positive integer", "Days",
                       str(rule.expiration_days))
        if rule.expiration_date is not None:
            date_seconds(rule.expiration_date)
        if rule.expired_object_delete_marker is not None and rule.tags():
            raise _bad("ExpiredObjectDeleteMarker cannot be specified with tags.", "ExpiredObjectDeleteMarker",
                       "true")
    if rule.has_noncurrent:
        if rule.noncurrent_days is None or rule.noncurrent_days <= 0:
            raise _bad("'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer",
                       "NoncurrentDays", str(rule.noncurrent_days))
        if rule.newer_noncurrent is not None and not 1 <= rule.newer_noncurrent <= 100:
            raise _bad("NewerNoncurrentVersions must be between 1 and 100", "NewerNoncurrentVersions",
                       str(rule.newer_noncurrent))
    if rule.abort_days is not None:
        if rule.abort_days <= 0:
            raise _bad("'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive"
                       " integer", "DaysAfterInitiation", str(rule.abort_days))
        if rule.tags():
            raise SealboxError(ErrorCode.INVALID_REQUEST, "AbortIncompleteMultipartUpload cannot be specified with"
                               " Tags.")
    f = rule.filter
    if f is not None and f.size_gt is not None and f.size_lt is not None and f.size_gt >= f.size_lt:
        raise _bad("ObjectSizeGreaterThan must be less than ObjectSizeLessThan", "ObjectSizeGreaterThan",
                   str(f.size_gt))


def _actions(rule: Rule) -> list[str]:
    kinds = []
    if rule.has_expiration:
        kinds.append("ExpirationAction")
    if rule.has_noncurrent:
        kinds.append("NoncurrentVersionExpirationAction")
    if rule.abort_days is not None:
        kinds.append("AbortIncompleteMultipartUploadAction")
    return kinds


def _check_overlaps(rules: list[Rule]) -> None:
    """AWS refuses two enabled prefix-only rules whose prefixes overlap with the same action type."""
    plain = [r for r in rules if r.enabled and (r.filter is None or r.filter.kind in ("prefix", "empty"))]
    for i, a in enumerate(plain):
        for b in plain[i + 1:]:
            pa, pb = a.key_prefix(), b.key_prefix()
            if not (pa.startswith(pb) or pb.startswith(pa)):
                continue
            common = set(_actions(a)) & set(_actions(b))
            if common:
                raise SealboxError(ErrorCode.INVALID_REQUEST, f"Found overlapping prefixes '{pa}' and '{pb}' for"
                                   f" same action type '{sorted(common)[0]}'")


def date_seconds(text: str) -> float:
    try:
        value = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        raise _bad("Invalid date: the Date must be in ISO 8601 format", "Date", text) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    value = value.astimezone(datetime.timezone.utc)
    if (value.hour, value.minute, value.second, value.microsecond) != (0, 0, 0, 0):
        raise _bad("'Date' must be at midnight GMT", "Date", text)
    return value.timestamp()


# -- storage ---------------------------------------------------------------------------------


def dumps(rules: list[Rule], min_size: str = DEFAULT_MIN_SIZE) -> str:
    return json.dumps({"v": FORMAT, "rules": [dataclasses.asdict(r) for r in rules], "min_size": min_size},
                      separators=(",", ":"))


def min_size_of(text: str | None) -> str:
    """The stored transition default minimum object size (format 1 had none: AWS's default)."""
    if not text:
        return DEFAULT_MIN_SIZE
    value: str = json.loads(text).get("min_size", DEFAULT_MIN_SIZE)
    return value


def loads(text: str | None) -> list[Rule]:
    if not text:
        return []
    data: dict[str, Any] = json.loads(text)
    rules = []
    for item in data["rules"]:
        f = item.pop("filter")
        flt = Filter(f["kind"], f["prefix"], tuple((k, v) for k, v in f["tags"]), f["size_gt"], f["size_lt"]) \
            if f is not None else None
        rules.append(Rule(filter=flt, **item))
    return rules


# -- when ------------------------------------------------------------------------------------


def due(start: float, days: int, day_seconds: float) -> float:
    """The first day boundary at or after ``start + days`` days (AWS: midnight UTC)."""
    return math.ceil((start + days * day_seconds) / day_seconds) * day_seconds


def current_expiry(rules: list[Rule], v: ObjectVersion, day_seconds: float,
                   tags: dict[str, str] | None = None) -> tuple[float, str] | None:
    """(when, rule id) the earliest enabled rule expires the current version ``v``, or None."""
    best: tuple[float, str] | None = None
    for rule in rules:
        if not rule.enabled or not rule.matches(v.key, v.size, tags):
            continue
        when: float | None = None
        if rule.expiration_days is not None:
            when = due(v.last_modified, rule.expiration_days, day_seconds)
        elif rule.expiration_date is not None:
            when = date_seconds(rule.expiration_date)
        if when is not None and (best is None or when < best[0]):
            best = (when, rule.id)
    return best


@dataclass
class Summary:
    expired: int = 0  # current versions expired (delete markers added / objects deleted)
    noncurrent_deleted: int = 0
    markers_removed: int = 0
    uploads_aborted: int = 0
    kept_locked: int = 0  # due, but protected by Object Lock
    versions_seen: int = 0
    errors: list[str] = field(default_factory=list)


# -- the S3 operations -------------------------------------------------------------------------


def get_rules(objects: ObjectService, principal: Principal, bucket_name: str) -> list[Rule]:
    return get_configuration(objects, principal, bucket_name)[0]


def get_configuration(objects: ObjectService, principal: Principal, bucket_name: str) -> tuple[list[Rule], str]:
    """The rules and the transition default minimum object size."""
    bucket = objects.buckets.get(principal, bucket_name, "s3:GetLifecycleConfiguration")
    rules = loads(bucket.lifecycle)
    if not rules:
        raise SealboxError(ErrorCode.NO_SUCH_LIFECYCLE_CONFIG, "The lifecycle configuration does not exist",
                           BucketName=bucket_name)
    return rules, min_size_of(bucket.lifecycle)


async def put_rules(objects: ObjectService, principal: Principal, bucket_name: str, rules: list[Rule],
                    min_size: str | None = None) -> str:
    """Store the rules; returns the transition default minimum object size in force. ``min_size`` None
    keeps the stored one (the console edits rules only); PutBucketLifecycleConfiguration passes the
    header's value, or AWS's default when it has none."""
    bucket = objects.buckets.get(principal, bucket_name, "s3:PutLifecycleConfiguration")
    if min_size is None:
        min_size = min_size_of(bucket.lifecycle)
    elif min_size not in MIN_SIZES:
        raise _bad("Invalid TransitionDefaultMinimumObjectSize", "x-amz-transition-default-minimum-object-size",
                   min_size)
    text = dumps(validate(rules), min_size)
    await objects.run(objects.meta.set_bucket_lifecycle, bucket.name, text)
    return min_size


async def delete_rules(objects: ObjectService, principal: Principal, bucket_name: str) -> None:
    bucket = objects.buckets.get(principal, bucket_name, "s3:PutLifecycleConfiguration")
    await objects.run(objects.meta.set_bucket_lifecycle, bucket.name, None)


def expiration_of(bucket: Bucket, v: ObjectVersion, day_seconds: float) -> tuple[float, str] | None:
    """What ``x-amz-expiration`` says about the current version ``v`` (None: no rule expires it)."""
    if not bucket.lifecycle or not v.is_latest or v.is_delete_marker:
        return None
    return current_expiry(cached_rules(bucket.lifecycle), v, day_seconds, v.tags)


@functools.lru_cache(maxsize=256)
def _cached(text: str) -> tuple[Rule, ...]:
    return tuple(loads(text))


def cached_rules(text: str | None) -> list[Rule]:
    """The rules of a stored configuration, parsed once per worker (keyed by the text)."""
    return list(_cached(text)) if text else []

"""Object Lock (issue 17): bucket configuration, per-version retention and legal hold, and who may bypass.

The rules themselves are pure and live in ``sealbox.core.object_lock``; the metadata store applies
them inside the transaction that removes a version (every path: DeleteObject(s), lifecycle, the
console, maintenance commands all end in ``MetaStore.delete``). This module decides what a write
gets (its explicit lock or the bucket's default retention) and whether a request may bypass
GOVERNANCE: the ``x-amz-bypass-governance-retention: true`` header *and* the
``s3:BypassGovernanceRetention`` permission (the bucket owner and root have it, others need a policy
Allow). What it cannot protect against: anyone with write access to the data directory's files.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sealbox.core.errors import ErrorCode, ErrorFacts, SealboxError
from sealbox.core.object_lock import check_retention_change
from sealbox.core.types import LOCK_MODES, NO_LOCK, Bucket, ObjectLock, ObjectVersion
from sealbox.service.access import allowed
from sealbox.service.identity import Principal

if TYPE_CHECKING:
    from sealbox.service.objects import ObjectService

DAY = 86400.0
MAX_DAYS = 36500  # AWS: at most 100 years
MAX_YEARS = 100


@dataclass(frozen=True)
class DefaultRetention:
    mode: str  # GOVERNANCE | COMPLIANCE
    days: int | None = None
    years: int | None = None

    def text(self) -> str:
        return f"{self.mode}:Days:{self.days}" if self.days is not None else f"{self.mode}:Years:{self.years}"

    def until(self, now: float) -> float:
        days = self.days if self.days is not None else (self.years or 0) * 365
        return now + days * DAY

    @staticmethod
    def parse(text: str | None) -> DefaultRetention | None:
        if not text:
            return None
        mode, unit, n = text.split(":")
        return DefaultRetention(mode, int(n), None) if unit == "Days" else DefaultRetention(mode, None, int(n))


def not_lock_bucket() -> SealboxError:
    return SealboxError(ErrorCode.INVALID_REQUEST, "Bucket is missing Object Lock Configuration")


def check_default(rule: DefaultRetention) -> DefaultRetention:
    if rule.mode not in LOCK_MODES or (rule.days is None) == (rule.years is None):
        raise SealboxError(ErrorCode.MALFORMED_XML)
    value = rule.days if rule.days is not None else rule.years
    assert value is not None
    if value <= 0:
        raise SealboxError(ErrorCode.INVALID_RETENTION_PERIOD, "Default retention period must be a positive"
                           " integer value.")
    if value > (MAX_DAYS if rule.days is not None else MAX_YEARS):
        raise SealboxError(ErrorCode.INVALID_RETENTION_PERIOD, "Default retention period is too large.")
    return rule


def for_write(bucket: Bucket, requested: ObjectLock | None, now: float | None = None) -> ObjectLock:
    """The lock a new version of ``bucket`` gets: what the request asked for, else the bucket's default
    retention. Asking for a lock in a bucket without Object Lock is InvalidRequest, as on AWS."""
    if not bucket.object_lock:
        if requested is not None and requested != NO_LOCK:
            raise not_lock_bucket()
        return NO_LOCK
    requested = requested or NO_LOCK
    if requested.mode is not None:
        return requested
    default = DefaultRetention.parse(bucket.lock_default)
    if default is None:
        return requested
    return ObjectLock(default.mode, default.until(time.time() if now is None else now), requested.legal_hold)


def may_bypass(principal: Principal, bucket: Bucket, key: str, asked: bool) -> bool:
    """GOVERNANCE may be bypassed when the request asks (the header) and may (the permission)."""
    return asked and allowed(principal, "s3:BypassGovernanceRetention", bucket, key)


# -- bucket configuration ----------------------------------------------------------------------


def get_configuration(objects: ObjectService, principal: Principal, bucket_name: str) -> DefaultRetention | None:
    """The default retention of a bucket with Object Lock (None: enabled, no default)."""
    bucket = objects.buckets.get(principal, bucket_name, "s3:GetBucketObjectLockConfiguration")
    if not bucket.object_lock:
        raise SealboxError(ErrorCode.OBJECT_LOCK_CONFIG_NOT_FOUND, "Object Lock configuration does not exist"
                           " for this bucket", BucketName=bucket_name)
    return DefaultRetention.parse(bucket.lock_default)


async def put_configuration(objects: ObjectService, principal: Principal, bucket_name: str,
                            rule: DefaultRetention | None) -> None:
    """Enable Object Lock (an existing bucket needs versioning Enabled: InvalidBucketState otherwise, as
    AWS answers since it allows enabling it later) and set or clear the default retention."""
    bucket = objects.buckets.get(principal, bucket_name, "s3:PutBucketObjectLockConfiguration")
    text = check_default(rule).text() if rule is not None else None
    await objects.run(objects.meta.set_bucket_object_lock, bucket.name, text)


# -- per version -------------------------------------------------------------------------------


def _version(objects: ObjectService, principal: Principal, bucket_name: str, key: str, version_id: str | None,
             action: str) -> tuple[Bucket, ObjectVersion]:
    bucket = objects.buckets.get(principal, bucket_name, action, key)
    if not bucket.object_lock:
        raise not_lock_bucket()
    return objects.lookup_in(principal, bucket_name, key, version_id, action)


def get_retention(objects: ObjectService, principal: Principal, bucket_name: str, key: str,
                  version_id: str | None) -> ObjectLock:
    _, version = _version(objects, principal, bucket_name, key, version_id, "s3:GetObjectRetention")
    if version.lock.mode is None:
        raise SealboxError(ErrorCode.NO_SUCH_OBJECT_LOCK_CONFIG, "The specified object does not have a"
                           " ObjectLock configuration")
    return version.lock


def get_legal_hold(objects: ObjectService, principal: Principal, bucket_name: str, key: str,
                   version_id: str | None) -> bool:
    _, version = _version(objects, principal, bucket_name, key, version_id, "s3:GetObjectLegalHold")
    return bool(version.lock.legal_hold)


def _not_a_version(version: ObjectVersion, key: str, version_id: str | None) -> None:
    if version.is_delete_marker:
        raise SealboxError(ErrorCode.METHOD_NOT_ALLOWED, "The specified method is not allowed against this"
                           " resource.", facts=ErrorFacts(delete_marker=True, version_id=version.version_id),
                           Method="PUT", ResourceType="DeleteMarker")


async def put_retention(objects: ObjectService, principal: Principal, bucket_name: str, key: str,
                        version_id: str | None, mode: str | None, until: float | None, bypass: bool) -> ObjectVersion:
    """Set (or, with neither, remove) a version's retention. The change is checked against the lock the
    row holds inside the store's transaction (``core.object_lock.check_retention_change``)."""
    bucket, found = _version(objects, principal, bucket_name, key, version_id, "s3:PutObjectRetention")
    now = time.time()
    if until is not None and until <= now:
        raise SealboxError(ErrorCode.INVALID_ARGUMENT, "The retain until date must be in the future!",
                           ArgumentName="RetainUntilDate", ArgumentValue=str(until))
    may = may_bypass(principal, bucket, key, bypass)

    def update(current: ObjectVersion) -> ObjectLock:
        _not_a_version(current, key, version_id)
        check_retention_change(current.lock, mode, until, time.time(), may)
        return ObjectLock(mode, until, current.lock.legal_hold)

    return await _update(objects, bucket, key, found.version_id, update)


async def put_legal_hold(objects: ObjectService, principal: Principal, bucket_name: str, key: str,
                         version_id: str | None, on: bool) -> ObjectVersion:
    bucket, found = _version(objects, principal, bucket_name, key, version_id, "s3:PutObjectLegalHold")

    def update(current: ObjectVersion) -> ObjectLock:
        _not_a_version(current, key, version_id)
        return ObjectLock(current.lock.mode, current.lock.retain_until, on)

    return await _update(objects, bucket, key, found.version_id, update)


async def _update(objects: ObjectService, bucket: Bucket, key: str, version_id: str,
                  update: Callable[[ObjectVersion], ObjectLock]) -> ObjectVersion:
    updated = await objects.run(objects.meta.update_lock, bucket.name, key, version_id, update)
    if updated is None:  # deleted since the lookup
        raise SealboxError(ErrorCode.NO_SUCH_VERSION, "The specified version does not exist.", Key=key,
                           VersionId=version_id)
    return updated

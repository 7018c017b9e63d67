"""Object semantics: write (with SSE-S3 decided per the spec), read, ranged read, delete, list.

No HTTP here: the edge hands over a ``Payload`` and typed parameters, and renders what comes back.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import re
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sealbox.core import ids
from sealbox.core.errors import ErrorCode, ErrorFacts, SealboxError
from sealbox.core.names import validate_key, validate_user_metadata
from sealbox.core.preconditions import DeleteCondition, WriteCondition, base_of, check_write
from sealbox.core.types import (
    NO_LOCK,
    NULL_VERSION,
    SSE_AES256,
    SSE_C,
    Body,
    Bucket,
    Buffer,
    Extent,
    ListPage,
    ObjectLock,
    ObjectVersion,
    Versioning,
)
from sealbox.core.acl import Acl
from sealbox.crypto.envelope import object_context
from sealbox.service import object_lock, permissions
from sealbox.service.access import access_denied, allowed
from sealbox.service.acl import AclRequest
from sealbox.service.buckets import BucketService
from sealbox.service.conditions import NO_CONDITIONS, ByteRange, Conditions, check_conditions
from sealbox.service.identity import Principal
from sealbox.service.policy_conditions import request_tag_values
from sealbox.service.kms_sse import KMS_CONDITION, KMS_MODES, KmsChoice, KmsEncryption, KmsRequest, etag_of
from sealbox.service.pipeline import (
    ON_LOOP_LIMIT,
    EncryptionTarget,
    ExtentSlice,
    IntegrityFailure,
    Payload,
    WrittenExtent,
    open_stored,
    read_slices,
    read_whole,
    write_extent,
)
from sealbox.service.sealing import Sealer
from sealbox.service.sse_c import CustomerKey, CustomerKeys
from sealbox.storage.data.base import BlobNotFound, BlobStore, BlobWriter
from sealbox.storage.meta.base import DeleteResult, MetaStore, StoreUnavailable, WriteResult

log = logging.getLogger("sealbox.objects")
T = TypeVar("T")
MAX_LIST_KEYS = 1000
# A read that raced an overwrite (its stored bytes removed between lookup and open) looks the key up
# again; a third miss in a row is no race but lost data.
OPEN_ATTEMPTS = 3
_VERSION_ID_RE = re.compile(r"^[A-Za-z0-9_-]{32}$")


@dataclass(frozen=True)
class WriteParams:
    content_headers: dict[str, str] = field(default_factory=dict)
    user_meta: dict[str, str] = field(default_factory=dict)
    sse: str | None = None  # as requested by x-amz-server-side-encryption
    storage_class: str = "STANDARD"
    if_none_match_star: bool = False
    if_match: str | None = None  # an ETag, without quotes
    tags: dict[str, str] | None = None  # x-amz-tagging (validated); None: the request sets no tags
    acl: AclRequest | None = None  # x-amz-acl / x-amz-grant-* (the POST form's acl field)
    lock: ObjectLock | None = None  # x-amz-object-lock-* as requested; the bucket's default otherwise
    kms: KmsRequest | None = None  # the SSE-KMS headers, when sent
    customer: CustomerKey | None = None  # SSE-C: the request's customer key (checked at the edge)


def new_version_id() -> str:
    return ids.urlsafe_id(24)


def check_version_id(version_id: str | None) -> str | None:
    if version_id is None or version_id == NULL_VERSION or _VERSION_ID_RE.match(version_id):
        return version_id
    raise SealboxError(ErrorCode.INVALID_ARGUMENT, "Invalid version id specified",
                       ArgumentName="versionId", ArgumentValue=version_id)


def check_sse_value(value: str | None) -> str | None:
    """AES256 (SSE-S3), aws:kms (SSE-KMS) and aws:kms:dsse (DSSE-KMS); anything else is refused before writing."""
    if value is None or value == SSE_AES256 or value in KMS_MODES:
        return value
    raise SealboxError(ErrorCode.INVALID_ARGUMENT, "The encryption method specified is not supported",
                       ArgumentName="x-amz-server-side-encryption", ArgumentValue=value)


async def _single(data: Buffer) -> Body:
    yield data


@dataclass(frozen=True)
class ReadSpec:
    """What a GET or HEAD asks for, parsed at the edge."""

    version_id: str | None = None
    conditions: Conditions = NO_CONDITIONS
    part_number: int = 0  # 0: the whole object (or ``byte_range``)
    byte_range: ByteRange | None = None
    body: bool = True  # False for HEAD: nothing is opened
    customer: CustomerKey | None = None  # SSE-C: the key the object was stored with


@dataclass(frozen=True)
class ObjectRead:
    """A version and the plaintext span a read answers with: ``body`` when it was small enough to
    read whole (authenticated before a byte is sent), else ``stream``; neither for HEAD."""

    bucket: Bucket
    version: ObjectVersion
    partial: bool  # a range or a part: 206
    start: int
    length: int
    body: Buffer | None = None
    stream: Body | None = None


class ObjectService:
    def __init__(self, meta: MetaStore, blobs: BlobStore, sealer: Sealer, buckets: BucketService,
                 pool: Executor, kms: KmsEncryption | None = None, ssec: CustomerKeys | None = None) -> None:
        self.meta = meta
        self.blobs = blobs
        self.sealer = sealer
        self.buckets = buckets
        self.pool = pool
        self.kms = kms  # SSE-KMS (None: refused)
        self.ssec = ssec  # SSE-C (None: refused)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Blocking storage work (fsync, SQLite commits) runs in the worker pool."""
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    # -- write ---------------------------------------------------------------------------------
    def effective_sse(self, bucket: Bucket, requested: str | None, customer: CustomerKey | None = None) -> str | None:
        """Encrypt when asked (SSE-C: a customer key was sent, whatever the bucket's default, as on AWS), or
        when the bucket (or the server) has default encryption."""
        if customer is not None:
            if self.ssec is None:
                raise SealboxError(ErrorCode.NOT_IMPLEMENTED, "SSE-C is not configured on this server")
            return SSE_C
        if check_sse_value(requested):
            return requested
        rule = self.buckets.default_encryption(bucket)
        return rule[0] if rule else None

    def kms_choice(self, bucket: Bucket, sse: str | None, params: WriteParams) -> KmsChoice | None:
        """The SSE-KMS key, context and bucket-key use of a write whose encryption is ``sse``."""
        if sse not in KMS_MODES:
            return None
        if self.kms is None:
            raise SealboxError(ErrorCode.NOT_IMPLEMENTED, "SSE-KMS is not configured on this server")
        return self.kms.choose(bucket, sse, params.kms, params.sse is not None)

    def kms_conditions(self, params: WriteParams) -> dict[str, str | None]:
        """Bucket-policy condition values of a write's SSE-KMS key: the key ARN, whichever form was sent."""
        if self.kms is None or params.kms is None or params.kms.key_id is None:
            return {}
        return {KMS_CONDITION: self.kms.condition_key(params.kms.key_id)}

    def encryption_for(self, bucket: str, key: str, sse: str | None, kms: KmsChoice | None = None,
                       principal: Principal | None = None,
                       customer: CustomerKey | None = None) -> tuple[bytes, str | None, bytes | None]:
        """A new object uid, and for SSE a fresh data key with its sealed form (SSE-KMS, SSE-C: its key record)."""
        uid = Sealer.new_object_uid()
        if not sse:
            return uid, None, None
        if sse == SSE_C:
            assert self.ssec is not None and customer is not None
            data_key, record = self.ssec.seal_new(customer, object_context(bucket, key, uid))
            return uid, record, data_key
        if kms is not None:
            assert self.kms is not None and principal is not None
            data_key, record = self.kms.seal_new(principal, kms, bucket, key, object_context(bucket, key, uid))
            return uid, record, data_key
        data_key, sealed = self.sealer.new_data_key(bucket, key, uid)
        return uid, sealed, data_key

    async def encryption(self, principal: Principal, bucket: str, key: str, sse: str | None,
                         kms: KmsChoice | None, customer: CustomerKey | None = None
                         ) -> tuple[bytes, str | None, bytes | None]:
        """``encryption_for``, in a worker thread when the key service is a remote one."""
        if kms is not None and self.kms is not None and self.kms.backend.blocking:
            return await self.run(self.encryption_for, bucket, key, sse, kms, principal)
        return self.encryption_for(bucket, key, sse, kms, principal, customer)

    async def put(self, principal: Principal, bucket_name: str, key: str, payload: Payload,
                  params: WriteParams) -> ObjectVersion:
        bucket = self.buckets.get(principal, bucket_name, "s3:PutObject", key,
                                  extra={**request_tag_values(params.tags), **self.kms_conditions(params)})
        validate_key(key)
        validate_user_metadata(params.user_meta)
        condition = self.write_condition(bucket.name, key, params)
        access = permissions.for_write(self.buckets, bucket, principal, key, params.acl)
        sse = self.effective_sse(bucket, params.sse, params.customer)
        params = dataclasses.replace(params, lock=object_lock.for_write(bucket, params.lock))
        kms = self.kms_choice(bucket, sse, params)
        uid, sealed, data_key = await self.encryption(principal, bucket.name, key, sse, kms, params.customer)
        await self.store_acl(uid, access.acl)
        target = EncryptionTarget(data_key, uid, 0) if data_key else None
        written, writer = await write_extent(self.blobs, self.pool, payload, target, commit=False, inline=True)
        version = self.new_version(bucket.name, key, principal, uid, written, params, sse, sealed, access.owner,
                                   data_key=data_key)
        return await self.commit(writer, version, condition)

    def write_condition(self, bucket: str, key: str, params: WriteParams) -> WriteCondition | None:
        """A conditional write's condition, checked now, before the body is read (a write that cannot
        succeed fails at once); the commit checks it again against what it saw (``core.preconditions``)."""
        if not params.if_none_match_star and params.if_match is None:
            return None
        current = self.meta.get_version(bucket, key, fresh=True)
        condition = WriteCondition(params.if_none_match_star, params.if_match, base_of(current))
        check_write(condition, current, key)
        return condition

    async def store_acl(self, uid: bytes, acl: Acl | None) -> None:
        """A new object's ACL, stored under its uid before the version is visible (none: private)."""
        if acl is not None:
            await self.run(self.meta.set_object_acl, uid, acl)

    @staticmethod
    def etag(sse: str | None, data_key: bytes | None, md5: bytes) -> str:
        """The plaintext MD5, except for SSE-KMS and SSE-C (as on AWS): a keyed digest of it (``kms_sse.etag_of``)."""
        if (sse in KMS_MODES or sse == SSE_C) and data_key is not None:
            return etag_of(data_key, md5)
        return md5.hex()

    def new_version(self, bucket: str, key: str, principal: Principal, uid: bytes, written: WrittenExtent,
                    params: WriteParams, sse: str | None, sealed: str | None,
                    owner: str | None = None, *, data_key: bytes | None = None) -> ObjectVersion:
        from sealbox.core.checksums import b64

        return ObjectVersion(
            bucket=bucket, key=key, version_id=new_version_id(), object_uid=uid, size=written.extent.size,
            etag=self.etag(sse, data_key, written.md5), last_modified=time.time(), owner=owner or principal.name,
            content_headers=params.content_headers, user_meta=params.user_meta,
            checksums={a: b64(d) for a, d in written.checksums.items()},
            checksum_type="FULL_OBJECT" if written.checksums else None, sse=sse, sealed_key=sealed,
            extents=(written.extent,), storage_class=params.storage_class, lock=params.lock or NO_LOCK,
            tags=dict(params.tags or {}),
        )

    async def commit(self, writer: BlobWriter | None, version: ObjectVersion,
                     condition: WriteCondition | None = None) -> ObjectVersion:
        """Make the data durable, then the metadata: one transaction makes the version visible (if
        ``condition`` still holds then)."""
        result = await self.run(self._commit_blocking, writer, version, condition)
        if result.orphaned:
            await self.run(self.blobs.delete, [e.blob_id for e in result.orphaned])
        return dataclasses.replace(version, version_id=result.version_id)

    def _commit_blocking(self, writer: BlobWriter | None, version: ObjectVersion,
                         condition: WriteCondition | None) -> WriteResult:
        # current_seal: a key rotation may have finished while the body was arriving.
        return self.commit_blob_then(writer, lambda: self.meta.put_version(
            self.sealer.current_seal(version), condition, writer.inline_data if writer else None))

    def commit_blob_then(self, writer: BlobWriter | None, record: Callable[[], T]) -> T:
        """Make the blob durable, then run the metadata write that references it (blocking).

        The write state machine of every upload: a blob that fails to commit is removed; a blob
        whose metadata write fails is removed too, since nothing references it — except when the
        store was lost mid-write (``StoreUnavailable``): a PostgreSQL COMMIT whose answer was lost
        with the connection may have landed, and then the new row references this blob. Its outcome
        is unknown, so the blob stays; if nothing references it, ``sealbox gc`` removes it later.
        (Deleting it here made such a committed version unreadable:
        tests/faults/test_postgres_outage.py, 1 run in about 3.)
        """
        if writer is not None:
            try:
                writer.commit()
            except BaseException:
                writer.abort()
                raise
        try:
            return record()
        except StoreUnavailable:
            raise
        except BaseException:
            if writer is not None:
                self.blobs.delete([writer.blob_id])
            raise

    # -- read ----------------------------------------------------------------------------------
    def lookup(self, principal: Principal, bucket_name: str, key: str, version_id: str | None,
               action: str = "s3:GetObject") -> ObjectVersion:
        return self.lookup_in(principal, bucket_name, key, version_id, action)[1]

    def lookup_in(self, principal: Principal, bucket_name: str, key: str, version_id: str | None,
                  action: str = "s3:GetObject", *, fresh: bool = False) -> tuple[Bucket, ObjectVersion]:
        """The bucket and the version a read names (the bucket, to answer without a second query).
        ``fresh``: from the store itself, not from this worker's memo of lookups."""
        found: list[ObjectVersion | None] = []

        def existing_tags(bucket: Bucket) -> dict[str, str]:
            # s3:ExistingObjectTag: the object is looked up before the policy is evaluated (and only then).
            found.append(self.meta.get_version(bucket.name, key, version_id, fresh=fresh))
            return found[0].tags if found[0] is not None else {}

        bucket = self.buckets.get(principal, bucket_name, action, key, existing_tags=existing_tags)
        check_version_id(version_id)
        version = found[0] if found else self.meta.get_version(bucket.name, key, version_id, fresh=fresh)
        if (version is None or version.is_delete_marker) and not allowed(principal, "s3:ListBucket", bucket):
            raise access_denied()  # AWS: without s3:ListBucket, a missing key is 403, not 404 (no probing)
        if version is None:
            if version_id is not None:
                raise SealboxError(ErrorCode.NO_SUCH_VERSION, "The specified version does not exist.",
                                   Key=key, VersionId=version_id)
            raise SealboxError(ErrorCode.NO_SUCH_KEY, "The specified key does not exist.", Key=key)
        if version.is_delete_marker:
            if version_id is not None:
                # AWS: 405 with the marker's Last-Modified (GetObject/HeadObject "delete marker" notes).
                facts = ErrorFacts(delete_marker=True, version_id=version.version_id,
                                   last_modified=version.last_modified, allowed_methods=("DELETE",))
                raise SealboxError(ErrorCode.METHOD_NOT_ALLOWED,
                                   "The specified method is not allowed against this resource.",
                                   facts=facts, Method="GET", ResourceType="DeleteMarker")
            raise SealboxError(ErrorCode.NO_SUCH_KEY, "The specified key does not exist.",
                               facts=ErrorFacts(delete_marker=True, version_id=version.version_id), Key=key)
        return bucket, version

    def read(self, principal: Principal, bucket_name: str, key: str, spec: ReadSpec) -> ObjectRead:
        """GetObject / HeadObject: authorize, look up, check the conditions, resolve the span, open it."""
        action = "s3:GetObjectVersion" if spec.version_id else "s3:GetObject"

        def span(version: ObjectVersion) -> tuple[int, int, bool]:
            check_conditions(spec.conditions, version)
            if spec.part_number:
                return (*part_span(version, spec.part_number), True)
            if spec.byte_range is not None:
                return (*spec.byte_range.span(version.size), True)
            return 0, version.size, False

        return self.open_read(principal, bucket_name, key, spec.version_id, action, span, body=spec.body,
                              customer=spec.customer)

    def open_read(self, principal: Principal, bucket_name: str, key: str, version_id: str | None, action: str,
                  span: Callable[[ObjectVersion], tuple[int, int, bool]], *, body: bool = True,
                  whole_ok: bool = True, customer: CustomerKey | None = None) -> ObjectRead:
        """Look a version up and open the plaintext span ``span`` picks (and checks) for it.

        The version's stored bytes may be removed between the lookup and the open, by an overwrite
        or delete that committed meanwhile (the open descriptor of a read already under way keeps
        its bytes, so only this gap matters). The lookup is then repeated from the store itself:
        this worker's memo of lookups may still name the removed bytes until the writer's commit
        notice arrives, and a retry against it would fail the same way (issue #13: ~3 % of GETs
        of a small key under overwrites answered 500 that way). ``whole_ok``: a small span may be
        read whole into ``body``; otherwise it is always a ``stream``. ``customer``: the SSE-C key sent,
        checked (HEAD too) before the conditions and the span, so neither answers for a wrong key.
        """
        fresh = False
        for attempt in range(OPEN_ATTEMPTS):
            bucket, version = self.lookup_in(principal, bucket_name, key, version_id, action, fresh=fresh)
            if version.sse in KMS_MODES:
                version = self._kms_usable(principal, version, body)
            data_key = self.customer_data_key(version, customer)
            start, length, partial = span(version)
            if not body:
                return ObjectRead(bucket, version, partial, start, length)
            try:
                small = self.read_small(version, start, length, data_key) if whole_ok else None
                if small is not None:
                    return ObjectRead(bucket, version, partial, start, length, body=small)
                return ObjectRead(bucket, version, partial, start, length,
                                  stream=self.open_reader(version, start, length, data_key))
            except BlobNotFound as exc:
                if attempt == OPEN_ATTEMPTS - 1:
                    raise IntegrityFailure(f"stored data of {version.bucket}/{version.key} (version"
                                           f" {version.version_id}) is missing: {exc}") from exc
                fresh = True
        raise AssertionError("unreachable")

    def customer_data_key(self, version: ObjectVersion, customer: CustomerKey | None) -> bytes | None:
        """An SSE-C version's data key from the request's key (400 without one, 403 for another key); None for
        other versions, which refuse SSE-C parameters (400, as on AWS)."""
        if version.sse == SSE_C:
            assert self.ssec is not None, "SSE-C objects exist, so the server has SSE-C"
            return self.ssec.open(customer, version.sealed_key or "",
                                  object_context(version.bucket, version.key, version.object_uid))
        if customer is not None:
            raise SealboxError(ErrorCode.INVALID_REQUEST, "The encryption parameters are not applicable to this"
                               " object.")
        return None

    def _kms_usable(self, principal: Principal, version: ObjectVersion, body: bool) -> ObjectVersion:
        """An SSE-KMS version a GET or HEAD may answer with: the caller may decrypt under its key (for a
        body), and the key is usable now, checked on every read (HEAD too: the object's metadata is
        sealed under its data key), so a disabled key refuses on every worker at once. A version read
        while its key was refused (metadata unopened) is read again once the key opens."""
        if self.kms is None or not version.sealed_key:
            return version
        if body:
            self.kms.authorize_read(principal, version.sealed_key, version.bucket, version.key)
        self._data_key(version)  # SealboxError KMS.DisabledException etc. when the key refuses
        if version.sealed_meta is not None:  # its key was refused when the row was read, usable now
            again = self.meta.get_version(version.bucket, version.key, version.version_id, fresh=True)
            if again is not None and again.sealed_meta is None:
                return again
        return version

    @staticmethod
    def names_null_version(bucket: Bucket) -> bool:
        """Whether reads of the "null" version say ``x-amz-version-id: null``: AWS does once the bucket has
        had versioning (Enabled or Suspended); a never-versioned bucket's objects carry no version id."""
        return bucket.versioning is not Versioning.UNVERSIONED

    def slices(self, version: ObjectVersion, start: int, length: int) -> list[ExtentSlice]:
        """Open the extent blobs that cover plaintext [start, start+length)."""
        slices: list[ExtentSlice] = []
        offset = 0
        try:
            for index, extent in enumerate(version.extents):
                lo, hi = max(start, offset), min(start + length, offset + extent.size)
                if lo < hi or (length == 0 and index == 0):
                    blob = self.blobs.open(extent.blob_id)
                    slices.append(ExtentSlice(blob, extent, extent.index, lo - offset, max(0, hi - lo)))
                offset += extent.size
        except BaseException:
            for s in slices:
                s.blob.close()
            raise
        return slices

    def read_small(self, version: ObjectVersion, start: int, length: int,
                   data_key: bytes | None = None) -> Buffer | None:
        """Plaintext of [start, start+length) of a one-extent object small enough to read whole (one
        system call or query, no stream), else None. Raises BlobNotFound if the data vanished
        (retry lookup) and IntegrityFailure, before any byte is sent, if it does not authenticate.
        ``data_key``: an SSE-C version's (``customer_data_key``)."""
        if len(version.extents) != 1 or version.size > ON_LOOP_LIMIT:
            return None
        extent = version.extents[0]
        key = data_key if data_key is not None else self._data_key(version)
        if not extent.inline:
            return read_whole(self.blobs, extent, key, version.object_uid, start, length)
        stored = self.meta.read_inline(extent.blob_id)
        if stored is None:  # the version was replaced or deleted since the lookup
            raise BlobNotFound(f"inline extent {extent.blob_id}")
        return open_stored(stored, extent, key, version.object_uid, start, length)

    def _data_key(self, version: ObjectVersion) -> bytes | None:
        if not version.sse:
            return None
        if version.sse == SSE_C:  # never the metadata key the Sealer gives for its record
            return self.customer_data_key(version, None)
        if not version.sealed_key:
            raise IntegrityFailure(f"{version.bucket}/{version.key} is marked encrypted but has no key")
        try:
            return self.sealer.open_data_key(version.bucket, version.key, version.object_uid, version.sealed_key)
        except SealboxError:
            raise  # the key service refused (SSE-KMS: KMS.DisabledException…), not damaged data
        except Exception as exc:
            raise IntegrityFailure(f"data key of {version.bucket}/{version.key} does not open: {exc}") from exc

    def open_reader(self, version: ObjectVersion, start: int, length: int, data_key: bytes | None = None) -> Body:
        """Plaintext of [start, start+length); raises BlobNotFound if a blob vanished (retry lookup)."""
        if any(e.inline for e in version.extents):
            # Only simple PUTs are inlined, and read_small always takes them: one buffer.
            small = self.read_small(version, start, length, data_key)
            assert small is not None, "an inline extent is always small enough to read whole"
            return _single(small)
        if data_key is None:
            data_key = self._data_key(version)
        slices = self.slices(version, start, length)
        return read_slices(self.pool, slices, data_key, version.object_uid, length)

    # -- delete --------------------------------------------------------------------------------
    async def delete(self, principal: Principal, bucket_name: str, key: str,
                     version_id: str | None, bypass_governance: bool = False, *,
                     condition: DeleteCondition | None = None) -> DeleteResult:
        """Delete a version (or add a delete marker). Object Lock is enforced by the store, inside the
        delete's transaction; ``bypass_governance`` (the request's header) counts only with the
        s3:BypassGovernanceRetention permission (``object_lock.may_bypass``). ``condition`` is checked in
        that transaction too (``core.preconditions``)."""
        action = "s3:DeleteObjectVersion" if version_id else "s3:DeleteObject"
        bucket = self.buckets.get(principal, bucket_name, action, key)
        check_version_id(version_id)
        if condition is not None and condition.if_match not in (None, "*"):
            # AWS: a delete conditional on an ETag needs s3:GetObject too (the answer reveals the ETag).
            self.buckets.get(principal, bucket_name, "s3:GetObject", key)
        marker = ObjectVersion(bucket=bucket.name, key=key, version_id=new_version_id(), object_uid=b"",
                               size=0, etag="", last_modified=time.time(), owner=principal.name,
                               is_delete_marker=True)
        bypass = object_lock.may_bypass(principal, bucket, key, bypass_governance)
        result = await self.run(functools.partial(self.meta.delete, bucket.name, key, version_id, marker,
                                                  bypass_governance=bypass, condition=condition))
        if result.orphaned:
            await self.run(self.blobs.delete, [e.blob_id for e in result.orphaned])
        return result

    async def delete_bucket(self, principal: Principal, bucket_name: str) -> None:
        """DeleteBucket, with the part files of the unfinished uploads that went with the bucket."""
        orphaned = self.buckets.delete(principal, bucket_name)
        if orphaned:
            await self.run(self.blobs.delete, [e.blob_id for e in orphaned])

    # -- list ----------------------------------------------------------------------------------
    def list(self, principal: Principal, bucket_name: str, prefix: str, delimiter: str, after: str,
             max_keys: int) -> ListPage:
        bucket = self.buckets.get(principal, bucket_name, "s3:ListBucket")
        return self.meta.list_objects(bucket.name, prefix, delimiter, after, min(max_keys, MAX_LIST_KEYS))

    def list_versions(self, principal: Principal, bucket_name: str, prefix: str, delimiter: str,
                      key_marker: str, version_id_marker: str, max_keys: int) -> ListPage:
        bucket = self.buckets.get(principal, bucket_name, "s3:ListBucketVersions")
        return self.meta.list_versions(bucket.name, prefix, delimiter, key_marker, version_id_marker,
                                       min(max_keys, MAX_LIST_KEYS))


def extents_size(extents: tuple[Extent, ...]) -> int:
    return sum(e.size for e in extents)


def part_span(v: ObjectVersion, part_number: int) -> tuple[int, int]:
    """(start, length) of part ``part_number`` (GetObject ``partNumber``); a simple object is part 1."""
    if v.part_count == 0:
        if part_number == 1:
            return 0, v.size
        raise SealboxError(ErrorCode.INVALID_PART, "The requested partnumber is not satisfiable",
                           PartNumberRequested=str(part_number), ActualPartCount="1")
    # A multipart object keeps its parts' numbers (Extent.index): Complete may use 1, 3, 7.
    start = 0
    for extent in v.extents:
        if extent.index == part_number:
            return start, extent.size
        start += extent.size
    raise SealboxError(ErrorCode.INVALID_PART, "The requested partnumber is not satisfiable",
                       PartNumberRequested=str(part_number), ActualPartCount=str(len(v.extents)))

"""CopyObject semantics: read a source version, write a new object — encryption per the spec.

The spec's rule: the copy is encrypted only if the copy request asks for it (``sse``) or the
destination bucket has default encryption, whatever the source was. The data therefore always
streams through the ordinary pipeline: the source's extents are decrypted (if sealed) buffer by
buffer and re-encrypted under a fresh data key bound to the destination's bucket, key and object
uid. Ciphertext is never reused: its AAD names the source object, and reusing it would leave the
copy's encryption state tied to the source's.

The result is a single-extent, non-multipart object whose ETag is the MD5 of its bytes (a copy of
a multipart object is not itself multipart) and whose checksums — the source's algorithms, or the
one requested — are computed over the whole copy (FULL_OBJECT).

Tags: ``x-amz-tagging-directive`` COPY (the default) gives the copy the source version's tags — which
needs s3:GetObjectTagging on the source as well, when it has any — and REPLACE the request's
``x-amz-tagging`` (none without it). ``If-None-Match``/``If-Match`` are conditions on the destination
(``core.preconditions``), checked before the source is read and again when the copy commits.

This module is also the web console's "change the encryption of an object": a copy in place with
``sse`` set (or not) makes a new object, or a new version under versioning, owned by the caller.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sealbox.core.checksums import ALGORITHMS
from sealbox.core.errors import NO_FACTS, ErrorCode, SealboxError
from sealbox.core.names import validate_key, validate_user_metadata
from sealbox.service import object_lock, permissions
from sealbox.service.acl import AclRequest
from sealbox.core.types import Body, Buffer, ObjectLock, ObjectVersion
from sealbox.service.conditions import Conditions, check_conditions
from sealbox.service.identity import Principal
from sealbox.service.kms_sse import KmsRequest
from sealbox.service.objects import ObjectService, WriteParams, check_sse_value
from sealbox.service.pipeline import EncryptionTarget, PayloadChecks, write_extent
from sealbox.service.policy_conditions import request_tag_values
from sealbox.service.sse_c import CustomerKey

MAX_COPY_SOURCE = 5 * 1024**3  # CopyObject and UploadPartCopy copy at most 5 GiB per request
DIRECTIVES = ("COPY", "REPLACE")
_SELF_COPY = ("This copy request is illegal because it is trying to copy an object to itself without changing the"
              " object's metadata, storage class, website redirect location or encryption attributes.")


@dataclass(frozen=True)
class CopyParams:
    metadata_directive: str = "COPY"
    write: WriteParams | None = None  # content headers and user metadata, used when REPLACE
    sse: str | None = None  # requested encryption of the copy (x-amz-server-side-encryption)
    storage_class: str | None = None  # requested storage class; None = STANDARD
    conditions: Conditions | None = None  # x-amz-copy-source-if-* on the source
    checksum_algorithm: str | None = None  # x-amz-checksum-algorithm; default: the source's algorithms
    acl: AclRequest | None = None  # x-amz-acl / x-amz-grant-*: the copy's ACL (never the source's)
    lock: ObjectLock | None = None  # x-amz-object-lock-* of the copy (never the source's), issue 17
    tagging_directive: str = "COPY"  # x-amz-tagging-directive
    tags: dict[str, str] | None = None  # x-amz-tagging: the copy's tags when REPLACE
    if_none_match_star: bool = False  # If-None-Match: * (on the destination)
    if_match: str | None = None  # If-Match (on the destination), without quotes
    kms: KmsRequest | None = None  # SSE-KMS key, context, bucket key of the copy (the source's are not copied)
    customer: CustomerKey | None = None  # SSE-C key of the copy (x-amz-server-side-encryption-customer-*)
    source_customer: CustomerKey | None = None  # SSE-C key of the source (x-amz-copy-source-server-side-…)


@dataclass(frozen=True)
class CopyResult:
    version: ObjectVersion  # the new object (or version)
    source: ObjectVersion  # the version that was read


@dataclass
class SourceRead:
    """An opened copy source: the version and a plaintext stream of [start, start+length)."""

    version: ObjectVersion
    start: int
    length: int
    stream: Body


class SourcePayload:
    """A source stream presented to ``write_extent`` as a payload: nothing to verify, digests to compute."""

    def __init__(self, stream: Body, algorithms: tuple[str, ...]) -> None:
        self._stream = stream
        self.checks = PayloadChecks(algorithms=algorithms)

    def chunks(self) -> AsyncIterator[Buffer]:
        return self._stream


def open_source(objects: ObjectService, principal: Principal, bucket: str, key: str,
                version_id: str | None, conditions: Conditions | None,
                byte_range: tuple[int, int] | None = None, customer: CustomerKey | None = None) -> SourceRead:
    """Look the source up, readable by ``principal`` and satisfying the copy-source conditions (else
    412), and open its plaintext; ``byte_range`` is (first, last), inclusive. A source overwritten
    between lookup and open is looked up again (``ObjectService.open_read``)."""
    action = "s3:GetObjectVersion" if version_id else "s3:GetObject"

    def span(source: ObjectVersion) -> tuple[int, int, bool]:
        if conditions is not None:
            check_conditions(conditions, source, for_read=False)  # on a copy every failed condition is 412
        return (*_source_span(source, byte_range), byte_range is not None)

    try:
        read = objects.open_read(principal, bucket, key, version_id, action, span, whole_ok=False, customer=customer)
    except SealboxError as exc:
        if exc.code is ErrorCode.METHOD_NOT_ALLOWED:  # a version id naming a delete marker
            raise SealboxError(ErrorCode.INVALID_REQUEST, "The source of a copy request may not specifically"
                               " refer to a delete marker by version id.") from None
        exc.facts = NO_FACTS  # the delete-marker facts describe a GET of the source, not this copy
        raise
    assert read.stream is not None  # whole_ok=False: always a stream
    return SourceRead(read.version, read.start, read.length, read.stream)


def _source_span(source: ObjectVersion, byte_range: tuple[int, int] | None) -> tuple[int, int]:
    if byte_range is None:
        if source.size > MAX_COPY_SOURCE:
            raise SealboxError(ErrorCode.INVALID_REQUEST, "The specified copy source is larger than the maximum"
                               f" allowable size for a copy source: {MAX_COPY_SOURCE}")
        return 0, source.size
    first, last = byte_range
    if last >= source.size:
        raise SealboxError(ErrorCode.INVALID_ARGUMENT, "Range specified is not valid for source object of size:"
                           f" {source.size}", ArgumentName="x-amz-copy-source-range",
                           ArgumentValue=f"bytes={first}-{last}")
    return first, last - first + 1


def check_directive(value: str) -> str:
    if value not in DIRECTIVES:
        raise SealboxError(ErrorCode.INVALID_ARGUMENT, "Unknown metadata directive.",
                           ArgumentName="x-amz-metadata-directive", ArgumentValue=value)
    return value


def check_tagging_directive(value: str) -> str:
    if value not in DIRECTIVES:
        raise SealboxError(ErrorCode.INVALID_ARGUMENT, "Unknown tagging directive.",
                           ArgumentName="x-amz-tagging-directive", ArgumentValue=value)
    return value


def check_checksum_algorithm(value: str | None) -> str | None:
    if value is None or value.upper() in ALGORITHMS:
        return value.upper() if value else None
    raise SealboxError(ErrorCode.INVALID_REQUEST, "Checksum algorithm provided is unsupported. Please try again"
                       " with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]")


def _destination_params(source: ObjectVersion, params: CopyParams) -> WriteParams:
    """What the copy stores besides the bytes: the source's metadata (COPY) or the request's (REPLACE)."""
    storage_class = params.storage_class or "STANDARD"
    tags = dict(params.tags or {}) if params.tagging_directive == "REPLACE" else dict(source.tags)
    if params.metadata_directive == "REPLACE":
        given = params.write or WriteParams()
        return WriteParams(content_headers=dict(given.content_headers), user_meta=dict(given.user_meta),
                           storage_class=storage_class, tags=tags)
    return WriteParams(content_headers=dict(source.content_headers), user_meta=dict(source.user_meta),
                       storage_class=storage_class, tags=tags)


def _refuse_noop_self_copy(source: ObjectVersion, dst_bucket: str, dst_key: str, params: CopyParams,
                           sse: str | None) -> None:
    """Copying the current version onto itself must change something; the SSE header counts as a change."""
    if (source.bucket, source.key) != (dst_bucket, dst_key) or not source.is_latest:
        return
    changes = (
        params.metadata_directive == "REPLACE",
        params.sse is not None,
        params.kms is not None,
        params.customer is not None,
        sse != source.sse,
        params.storage_class is not None and params.storage_class != source.storage_class,
    )
    if not any(changes):
        raise SealboxError(ErrorCode.INVALID_REQUEST, _SELF_COPY)


async def copy_object(objects: ObjectService, principal: Principal, src_bucket: str, src_key: str,
                      src_version_id: str | None, dst_bucket: str, dst_key: str, params: CopyParams) -> CopyResult:
    """Copy one version to ``dst_bucket/dst_key``; the caller becomes the owner of the new object (the
    bucket owner under BucketOwnerEnforced: ``service.ownership``), with the ACL the request asks for
    (private by default: an ACL is never copied, as on AWS)."""
    check_directive(params.metadata_directive)
    check_tagging_directive(params.tagging_directive)
    check_sse_value(params.sse)
    algorithm = check_checksum_algorithm(params.checksum_algorithm)
    requested = WriteParams(sse=params.sse, kms=params.kms)
    replace_tags = params.tagging_directive == "REPLACE"
    destination = objects.buckets.get(principal, dst_bucket, "s3:PutObject", dst_key,
                                      extra={**request_tag_values(params.tags if replace_tags else None),
                                             **objects.kms_conditions(requested)})
    validate_key(dst_key)
    condition = objects.write_condition(destination.name, dst_key, WriteParams(
        if_none_match_star=params.if_none_match_star, if_match=params.if_match))
    sse = objects.effective_sse(destination, params.sse, params.customer)
    kms = objects.kms_choice(destination, sse, requested)
    read = open_source(objects, principal, src_bucket, src_key, src_version_id, params.conditions,
                       customer=params.source_customer)
    try:
        source = read.version
        if not replace_tags and source.tags:
            tagging = "s3:GetObjectVersionTagging" if src_version_id else "s3:GetObjectTagging"
            objects.buckets.get(principal, src_bucket, tagging, src_key)
        _refuse_noop_self_copy(source, destination.name, dst_key, params, sse)
        write = dataclasses.replace(_destination_params(source, params),
                                    lock=object_lock.for_write(destination, params.lock))
        validate_user_metadata(write.user_meta)
        access = permissions.for_write(objects.buckets, destination, principal, dst_key, params.acl)
        uid, sealed, data_key = await objects.encryption(principal, destination.name, dst_key, sse, kms,
                                                         params.customer)
        await objects.store_acl(uid, access.acl)
        target = EncryptionTarget(data_key, uid, 0) if data_key else None
        algorithms = (algorithm,) if algorithm else tuple(sorted(source.checksums))
        written, writer = await write_extent(objects.blobs, objects.pool, SourcePayload(read.stream, algorithms),
                                             target, commit=False, inline=True)
    finally:
        await read.stream.aclose()
    version = objects.new_version(destination.name, dst_key, principal, uid, written, write, sse, sealed,
                                  access.owner,
                                  data_key=data_key)
    return CopyResult(await objects.commit(writer, version, condition), source)

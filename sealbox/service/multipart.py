"""Multipart upload semantics: create, upload parts (or copy them), complete, abort, list.

Encryption is decided once, at CreateMultipartUpload: requested or the bucket default, as for a
PUT. The upload then owns an object uid and a sealed data key bound to bucket/key/uid, and every
part is encrypted as it arrives, under that key, with ``extent_index`` = part number — so parts
are never on disk in plaintext and Complete does not rewrite data: the new version's extents are
the chosen parts' files (``Extent.index`` keeps each part's number for decryption and for GET
?partNumber). Parts superseded by a re-upload, parts Complete does not use and the parts of an
aborted upload are deleted from disk.

ETag of the result: ``hex(md5(concat(part md5 digests)))-N``. With a checksum algorithm the
object carries a COMPOSITE checksum (checksum of the part checksums, ``-N``) or, for CRCs, a
FULL_OBJECT one (the part CRCs combined, as if computed over the whole object).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import itertools
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from awscrt import checksums as crt

from sealbox.core.checksums import b64, combine_composite
from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.names import validate_key, validate_user_metadata
from sealbox.core.preconditions import WriteCondition
from sealbox.core.types import SSE_C, Bucket, Buffer, Extent, ObjectVersion
from sealbox.crypto.envelope import object_context
from sealbox.service import object_lock, permissions
from sealbox.service.conditions import Conditions
from sealbox.service.copy import SourcePayload, check_checksum_algorithm, open_source
from sealbox.service.identity import Principal
from sealbox.service.objects import ObjectService, WriteParams, new_version_id
from sealbox.service.pipeline import EncryptionTarget, IntegrityFailure, Payload, PayloadChecks, write_extent
from sealbox.service.policy_conditions import request_tag_values
from sealbox.service.sse_c import CustomerKey
from sealbox.storage.data.base import BlobWriter
from sealbox.storage.meta.base import Part, Upload

MIN_PART_SIZE = 5 * 1024 * 1024  # every part but the last
MAX_PART_NUMBER = 10_000
MAX_PART_COPY = 5 * 1024**3
MAX_LIST = 1000
COMPOSITE = "COMPOSITE"
FULL_OBJECT = "FULL_OBJECT"

# CRCs can be combined from the parts' values; cryptographic hashes cannot.
_CRC_COMBINE: dict[str, tuple[Callable[[int, int, int], int], int]] = {
    "CRC32": (crt.combine_crc32, 4),
    "CRC32C": (crt.combine_crc32c, 4),
    "CRC64NVME": (crt.combine_crc64nvme, 8),
}


@dataclass(frozen=True)
class UploadParams:
    write: WriteParams = field(default_factory=WriteParams)  # content headers, metadata, sse, storage class
    checksum_algorithm: str | None = None  # x-amz-checksum-algorithm
    checksum_type: str | None = None  # x-amz-checksum-type: COMPOSITE | FULL_OBJECT


@dataclass(frozen=True)
class CompletedPart:
    """One <Part> of a CompleteMultipartUpload request."""

    part_number: int
    etag: str
    checksums: dict[str, str] = field(default_factory=dict)  # algorithm -> base64, as sent


@dataclass(frozen=True)
class CompleteParams:
    parts: list[CompletedPart]
    expected_checksums: dict[str, str] = field(default_factory=dict)  # x-amz-checksum-* of the whole object
    expected_size: int | None = None  # x-amz-mp-object-size
    if_none_match_star: bool = False  # If-None-Match: *
    if_match: str | None = None  # If-Match, without quotes
    customer: CustomerKey | None = None  # SSE-C headers, when sent (optional on Complete; checked if sent)


@dataclass(frozen=True)
class PartCopyResult:
    part: Part
    source: ObjectVersion
    upload: Upload


@dataclass(frozen=True)
class PartsPage:
    upload: Upload
    parts: list[Part]
    is_truncated: bool
    next_marker: int


@dataclass(frozen=True)
class UploadsPage:
    uploads: list[Upload]
    common_prefixes: list[str]
    is_truncated: bool
    next_key_marker: str | None
    next_upload_id_marker: str | None


def no_such_upload(upload_id: str) -> SealboxError:
    return SealboxError(ErrorCode.NO_SUCH_UPLOAD, "The specified upload does not exist. The upload ID may be"
                        " invalid, or the upload may have been aborted or completed.", UploadId=upload_id)


def check_part_number(value: int) -> int:
    if not 1 <= value <= MAX_PART_NUMBER:
        raise SealboxError(ErrorCode.INVALID_ARGUMENT, "Part number must be an integer between 1 and 10000,"
                           " inclusive", ArgumentName="partNumber", ArgumentValue=str(value))
    return value


def _checksum_type(algorithm: str | None, requested: str | None) -> str | None:
    """AWS: CRC64NVME is full-object only, SHA-1/SHA-256 composite only; CRC32(C) default to composite."""
    if requested is not None and requested not in (COMPOSITE, FULL_OBJECT):
        raise SealboxError(ErrorCode.INVALID_REQUEST, "Value for x-amz-checksum-type header is invalid.")
    if algorithm is None:
        if requested is not None:
            raise SealboxError(ErrorCode.INVALID_REQUEST, "The x-amz-checksum-type header can only be used with"
                               " the x-amz-checksum-algorithm header.")
        return None
    chosen = requested or (FULL_OBJECT if algorithm == "CRC64NVME" else COMPOSITE)
    if (chosen == FULL_OBJECT and algorithm not in _CRC_COMBINE) or (chosen == COMPOSITE and algorithm == "CRC64NVME"):
        raise SealboxError(ErrorCode.INVALID_REQUEST, f"The {chosen} checksum type cannot be used with the"
                           f" {algorithm.lower()} checksum algorithm.")
    return chosen


# -- create ------------------------------------------------------------------------------------


async def create_upload(objects: ObjectService, principal: Principal, bucket_name: str, key: str,
                        params: UploadParams) -> Upload:
    bucket = objects.buckets.get(principal, bucket_name, "s3:PutObject", key,
                                 extra={**request_tag_values(params.write.tags),
                                        **objects.kms_conditions(params.write)})
    validate_key(key)
    validate_user_metadata(params.write.user_meta)
    algorithm = check_checksum_algorithm(params.checksum_algorithm)
    checksum_type = _checksum_type(algorithm, params.checksum_type)
    sse = objects.effective_sse(bucket, params.write.sse, params.write.customer)
    kms = objects.kms_choice(bucket, sse, params.write)
    access = permissions.for_write(objects.buckets, bucket, principal, key, params.write.acl)
    # reopened per part (SSE-C: from each part's key, which must be the upload's)
    uid, sealed, _ = await objects.encryption(principal, bucket.name, key, sse, kms, params.write.customer)
    await objects.store_acl(uid, access.acl)  # the completed object keeps this uid, and so this ACL
    upload = Upload(upload_id=secrets.token_urlsafe(48), bucket=bucket.name, key=key, object_uid=uid,
                    initiated=time.time(), owner=access.owner, content_headers=dict(params.write.content_headers),
                    user_meta=dict(params.write.user_meta), sse=sse, sealed_key=sealed,
                    checksum_algorithm=algorithm, checksum_type=checksum_type,
                    storage_class=params.write.storage_class, lock=object_lock.for_write(bucket, params.write.lock),
                    tags=dict(params.write.tags or {}))
    await objects.run(objects.meta.create_upload, upload)
    return upload


def get_upload(objects: ObjectService, bucket: Bucket, key: str, upload_id: str) -> Upload:
    """The upload, if it exists and belongs to this bucket and key (else NoSuchUpload, as on AWS)."""
    upload = objects.meta.get_upload(upload_id) if upload_id else None
    if upload is None or upload.bucket != bucket.name or upload.key != key:
        raise no_such_upload(upload_id)
    return upload


# -- parts -------------------------------------------------------------------------------------


class _PartPayload:
    """The request body, also hashed with the upload's checksum algorithm (needed at Complete)."""

    def __init__(self, inner: Payload, algorithm: str | None) -> None:
        self._inner = inner
        claimed = inner.checks
        if algorithm and any(a != algorithm for a in claimed.algorithms):
            other = next(a for a in claimed.algorithms if a != algorithm)
            raise SealboxError(ErrorCode.INVALID_REQUEST, "Checksum Type mismatch occurred, expected checksum"
                               f" Type: {algorithm.lower()}, actual checksum Type: {other.lower()}")
        algorithms = tuple(sorted({*claimed.algorithms, *([algorithm] if algorithm else [])}))
        self.checks = PayloadChecks(content_md5=claimed.content_md5, sha256_hex=claimed.sha256_hex,
                                    algorithms=algorithms, expected=claimed.expected)

    def chunks(self) -> AsyncIterator[Buffer]:
        return self._inner.chunks()


def upload_data_key(objects: ObjectService, upload: Upload, customer: CustomerKey | None) -> bytes | None:
    """An SSE-C upload's data key from a part's (or Complete's) key; None for other uploads. As AWS: a part
    without the key is 400 InvalidRequest, with another key 400 InvalidArgument; SSE-C parameters on an
    upload that is not SSE-C are 400 InvalidRequest."""
    if upload.sse != SSE_C:
        if customer is not None:
            raise SealboxError(ErrorCode.INVALID_REQUEST, "The encryption parameters are not applicable to this"
                               " object.")
        return None
    if customer is None:
        raise SealboxError(ErrorCode.INVALID_REQUEST, "The multipart upload initiate requested encryption."
                           " Subsequent part requests must include the appropriate encryption parameters.")
    assert objects.ssec is not None
    data_key = objects.ssec.data_key(customer, upload.sealed_key or "",
                                     object_context(upload.bucket, upload.key, upload.object_uid))
    if data_key is None:
        raise SealboxError(ErrorCode.INVALID_ARGUMENT, "The provided encryption parameters did not match the ones"
                           " used originally.", ArgumentName="x-amz-server-side-encryption-customer-key")
    return data_key


def _encryption_target(objects: ObjectService, upload: Upload, part_number: int,
                       customer: CustomerKey | None = None) -> EncryptionTarget | None:
    ssec_key = upload_data_key(objects, upload, customer)
    if ssec_key is not None:
        return EncryptionTarget(ssec_key, upload.object_uid, part_number)
    if not upload.sse:
        return None
    if not upload.sealed_key:
        raise IntegrityFailure(f"upload {upload.upload_id} is marked encrypted but has no key")
    try:
        data_key = objects.sealer.open_data_key(upload.bucket, upload.key, upload.object_uid, upload.sealed_key)
    except SealboxError:
        raise  # the key service refused (SSE-KMS), not damaged data
    except Exception as exc:
        raise IntegrityFailure(f"data key of upload {upload.upload_id} does not open: {exc}") from exc
    return EncryptionTarget(data_key, upload.object_uid, part_number)


async def _store_part(objects: ObjectService, upload: Upload, part_number: int, payload: Payload,
                      customer: CustomerKey | None = None) -> Part:
    """Stream (and encrypt) one part into its own file, then record it; the part it replaces is deleted."""
    target = _encryption_target(objects, upload, part_number, customer)
    written, writer = await write_extent(objects.blobs, objects.pool, payload, target, commit=False)
    etag = objects.etag(upload.sse, target.data_key if target else None, written.md5)
    part = Part(part_number, Extent(writer.blob_id, written.extent.size, part_number), etag,
                {a: b64(d) for a, d in written.checksums.items()}, time.time())
    superseded = await objects.run(_record_part_blocking, objects, writer, upload.upload_id, part)
    if superseded:
        await objects.run(objects.blobs.delete, [e.blob_id for e in superseded])
    return part


def _record_part_blocking(objects: ObjectService, writer: BlobWriter, upload_id: str, part: Part) -> list[Extent]:
    # If the upload was aborted meanwhile, put_part fails and the part's blob is removed.
    return objects.commit_blob_then(writer, lambda: objects.meta.put_part(upload_id, part))


async def upload_part(objects: ObjectService, principal: Principal, bucket_name: str, key: str,
                      upload_id: str, part_number: int, payload: Payload,
                      customer: CustomerKey | None = None) -> tuple[Part, Upload]:
    bucket = objects.buckets.get(principal, bucket_name, "s3:PutObject")
    check_part_number(part_number)
    upload = get_upload(objects, bucket, key, upload_id)
    part = await _store_part(objects, upload, part_number, _PartPayload(payload, upload.checksum_algorithm),
                             customer)
    return part, upload


async def upload_part_copy(objects: ObjectService, principal: Principal, bucket_name: str, key: str,
                           upload_id: str, part_number: int, src_bucket: str, src_key: str,
                           src_version_id: str | None, byte_range: tuple[int, int] | None,
                           conditions: Conditions | None, customer: CustomerKey | None = None,
                           source_customer: CustomerKey | None = None) -> PartCopyResult:
    """A part whose bytes come from (a range of) an existing object, decrypted and re-encrypted as needed
    (``customer``: the upload's SSE-C key; ``source_customer``: the source's)."""
    bucket = objects.buckets.get(principal, bucket_name, "s3:PutObject")
    check_part_number(part_number)
    upload = get_upload(objects, bucket, key, upload_id)
    upload_data_key(objects, upload, customer)  # the part's key is checked before the source is read
    read = open_source(objects, principal, src_bucket, src_key, src_version_id, conditions, byte_range,
                       source_customer)
    try:
        if read.length > MAX_PART_COPY:
            raise SealboxError(ErrorCode.INVALID_REQUEST, "The specified copy range is larger than the maximum"
                               f" allowable size for a part: {MAX_PART_COPY}")
        algorithms = (upload.checksum_algorithm,) if upload.checksum_algorithm else ()
        part = await _store_part(objects, upload, part_number, SourcePayload(read.stream, algorithms), customer)
    finally:
        await read.stream.aclose()
    return PartCopyResult(part, read.version, upload)


# -- complete / abort --------------------------------------------------------------------------


def _choose_parts(upload: Upload, stored: list[Part], requested: list[CompletedPart]) -> list[Part]:
    """The stored parts the request names, checked as AWS checks them."""
    if not requested:
        raise SealboxError(ErrorCode.MALFORMED_XML, "The XML you provided was not well-formed or did not validate"
                           " against our published schema")
    numbers = [p.part_number for p in requested]
    if any(b <= a for a, b in itertools.pairwise(numbers)):
        raise SealboxError(ErrorCode.INVALID_PART_ORDER, "The list of parts was not in ascending order. Parts must"
                           " be ordered by part number.", UploadId=upload.upload_id)
    by_number = {p.part_number: p for p in stored}
    chosen: list[Part] = []
    for want in requested:
        have = by_number.get(want.part_number)
        if have is None or want.etag.strip().strip('"') != have.etag:
            raise SealboxError(ErrorCode.INVALID_PART, "One or more of the specified parts could not be found. "
                               " The part may not have been uploaded, or the specified entity tag may not match"
                               " the part's entity tag.", UploadId=upload.upload_id,
                               PartNumber=str(want.part_number), ETag=want.etag)
        _check_part_checksum(upload, want, have)
        chosen.append(have)
    for part in chosen[:-1]:
        if part.extent.size < MIN_PART_SIZE:
            raise SealboxError(ErrorCode.ENTITY_TOO_SMALL, "Your proposed upload is smaller than the minimum"
                               " allowed size", ProposedSize=str(part.extent.size),
                               MinSizeAllowed=str(MIN_PART_SIZE), PartNumber=str(part.part_number),
                               ETag=part.etag)
    return chosen


def _check_part_checksum(upload: Upload, want: CompletedPart, have: Part) -> None:
    algorithm = upload.checksum_algorithm
    if algorithm is None:
        return
    sent = want.checksums.get(algorithm)
    if sent is None:
        if upload.checksum_type == COMPOSITE:
            raise SealboxError(ErrorCode.INVALID_REQUEST, f"The upload was created using a {algorithm.lower()}"
                               " checksum. The complete request must include the checksum for each part. It was"
                               f" missing for part {want.part_number} in the request.")
        return
    if sent != have.checksums.get(algorithm):
        raise SealboxError(ErrorCode.INVALID_PART, f"The {algorithm.lower()} checksum of part {want.part_number}"
                           " does not match the stored part's checksum.", UploadId=upload.upload_id,
                           PartNumber=str(want.part_number))


def _part_extent(part: Part) -> Extent:
    """The part's file as an extent of the object; its index is the part number sealed in its header."""
    return Extent(part.extent.blob_id, part.extent.size, part.part_number)


def _part_checksums(upload: Upload, parts: list[Part]) -> tuple[str, ...]:
    """Each part's checksum of the upload's algorithm (GetObjectAttributes lists them), if it has one."""
    algorithm = upload.checksum_algorithm
    if algorithm is None:
        return ()
    return tuple(p.checksums.get(algorithm, "") for p in parts)


def multipart_etag(parts: list[Part]) -> str:
    digest = hashlib.md5(b"".join(bytes.fromhex(p.etag) for p in parts))
    return f"{digest.hexdigest()}-{len(parts)}"


def _combined_checksum(upload: Upload, parts: list[Part]) -> dict[str, str]:
    algorithm = upload.checksum_algorithm
    if algorithm is None:
        return {}
    digests = [base64.b64decode(p.checksums[algorithm]) for p in parts]
    if upload.checksum_type == COMPOSITE:
        return {algorithm: combine_composite(algorithm, digests)}
    combine, width = _CRC_COMBINE[algorithm]
    value = int.from_bytes(digests[0], "big")
    for part, digest in zip(parts[1:], digests[1:], strict=True):
        value = combine(value, int.from_bytes(digest, "big"), part.extent.size)
    return {algorithm: b64(value.to_bytes(width, "big"))}


def _verify_whole(params: CompleteParams, checksums: dict[str, str], size: int) -> None:
    """What the client claimed about the whole object on the Complete request."""
    if params.expected_size is not None and params.expected_size != size:
        raise SealboxError(ErrorCode.INVALID_REQUEST, f"The provided 'x-amz-mp-object-size' header value"
                           f" {params.expected_size} does not match what was computed: {size}")
    for algorithm, claimed in params.expected_checksums.items():
        computed = checksums.get(algorithm)
        if computed is None or not hmac.compare_digest(claimed.split("-")[0], computed.split("-")[0]):
            raise SealboxError(ErrorCode.BAD_DIGEST, f"The {algorithm} you specified did not match the calculated"
                               " checksum.")


async def complete_upload(objects: ObjectService, principal: Principal, bucket_name: str, key: str,
                          upload_id: str, params: CompleteParams) -> ObjectVersion:
    bucket = objects.buckets.get(principal, bucket_name, "s3:PutObject", key)
    upload = objects.meta.get_upload(upload_id) if upload_id else None
    if upload is None:
        # A client that retries a Complete whose answer it lost gets the same answer (AWS does).
        return _completed_before(objects, bucket, key, upload_id, params)
    upload = get_upload(objects, bucket, key, upload_id)
    if params.customer is not None:
        upload_data_key(objects, upload, params.customer)
    parts = _choose_parts(upload, objects.meta.list_parts(upload_id), params.parts)
    checksums = _combined_checksum(upload, parts)
    size = sum(p.extent.size for p in parts)
    _verify_whole(params, checksums, size)
    version = ObjectVersion(
        bucket=bucket.name, key=key, version_id=new_version_id(), object_uid=upload.object_uid, size=size,
        etag=multipart_etag(parts), last_modified=time.time(), owner=upload.owner,
        content_headers=upload.content_headers, user_meta=upload.user_meta, checksums=checksums,
        checksum_type=upload.checksum_type if checksums else None, sse=upload.sse, sealed_key=upload.sealed_key,
        extents=tuple(_part_extent(p) for p in parts), part_count=len(parts), storage_class=upload.storage_class,
        lock=upload.lock,
        tags=dict(upload.tags), part_checksums=_part_checksums(upload, parts),
    )
    # The conditions concern the key's object when the upload began (core.preconditions).
    condition = WriteCondition(params.if_none_match_star, params.if_match, upload.base_seq)
    result = await objects.run(objects.meta.finish_upload, upload_id, version, condition)
    if result.orphaned:  # parts not used, and the data of a replaced null version
        await objects.run(objects.blobs.delete, [e.blob_id for e in result.orphaned])
    return dataclasses.replace(version, version_id=result.version_id)


def _completed_before(objects: ObjectService, bucket: Bucket, key: str, upload_id: str,
                      params: CompleteParams) -> ObjectVersion:
    """The version an earlier Complete of this upload made, if this request names the same parts and that
    version is still there (same uid: a later overwrite of a "null" version is another object); else
    NoSuchUpload, as for any finished upload."""
    done = objects.meta.get_completed_upload(upload_id) if upload_id else None
    if done is None or done.bucket != bucket.name or done.key != key or \
            tuple(p.part_number for p in params.parts) != done.part_numbers:
        raise no_such_upload(upload_id)
    version = objects.meta.get_version(bucket.name, key, done.version_id)
    if version is None or version.is_delete_marker or version.object_uid != done.object_uid:
        raise no_such_upload(upload_id)
    # No part ETag is kept: the request's ETags must give the object's multipart ETag.
    digest = hashlib.md5()
    try:
        for part in params.parts:
            digest.update(bytes.fromhex(part.etag.strip().strip('"')))
    except ValueError:
        raise no_such_upload(upload_id) from None
    if f"{digest.hexdigest()}-{len(params.parts)}" != version.etag:
        raise no_such_upload(upload_id)
    return version


async def abort_upload(objects: ObjectService, principal: Principal, bucket_name: str, key: str,
                       upload_id: str) -> None:
    bucket = objects.buckets.get(principal, bucket_name, "s3:AbortMultipartUpload")
    get_upload(objects, bucket, key, upload_id)
    result = await objects.run(objects.meta.finish_upload, upload_id, None)
    if result.orphaned:
        await objects.run(objects.blobs.delete, [e.blob_id for e in result.orphaned])


# -- listings ----------------------------------------------------------------------------------


def list_parts(objects: ObjectService, principal: Principal, bucket_name: str, key: str, upload_id: str,
               max_parts: int, marker: int) -> PartsPage:
    bucket = objects.buckets.get(principal, bucket_name, "s3:ListMultipartUploadParts")
    upload = get_upload(objects, bucket, key, upload_id)
    after = [p for p in objects.meta.list_parts(upload_id) if p.part_number > marker]
    page = after[: min(max_parts, MAX_LIST)]
    truncated = len(after) > len(page)
    return PartsPage(upload, page, truncated, page[-1].part_number if page else 0)


def list_uploads(objects: ObjectService, principal: Principal, bucket_name: str, prefix: str,
                 delimiter: str, key_marker: str, upload_id_marker: str, max_uploads: int) -> UploadsPage:
    bucket = objects.buckets.get(principal, bucket_name, "s3:ListBucketMultipartUploads")
    limit = min(max_uploads, MAX_LIST)
    uploads: list[Upload] = []
    prefixes: list[str] = []
    last: tuple[str, str | None] | None = None
    for upload in _after_markers(objects.meta.list_uploads(bucket.name), key_marker, upload_id_marker):
        if not upload.key.startswith(prefix):
            continue
        common = _common_prefix(upload.key, prefix, delimiter)
        if common is not None and (common <= key_marker or (prefixes and prefixes[-1] == common)):
            continue
        if len(uploads) + len(prefixes) >= limit:
            return UploadsPage(uploads, prefixes, True, last[0] if last else None, last[1] if last else None)
        if common is not None:
            prefixes.append(common)
            last = (common, None)
        else:
            uploads.append(upload)
            last = (upload.key, upload.upload_id)
    return UploadsPage(uploads, prefixes, False, None, None)


def _after_markers(uploads: list[Upload], key_marker: str, upload_id_marker: str) -> list[Upload]:
    """Uploads after (key-marker, upload-id-marker); uploads of one key are in initiation order."""
    if not key_marker:
        return uploads
    if not upload_id_marker:
        return [u for u in uploads if u.key > key_marker]
    same = [u for u in uploads if u.key == key_marker]
    ids = [u.upload_id for u in same]
    later = same[ids.index(upload_id_marker) + 1:] if upload_id_marker in ids else []
    return later + [u for u in uploads if u.key > key_marker]


def _common_prefix(key: str, prefix: str, delimiter: str) -> str | None:
    if not delimiter:
        return None
    at = key.find(delimiter, len(prefix))
    return key[: at + len(delimiter)] if at >= 0 else None


"""Object and bucket tagging: Get/Put/DeleteObjectTagging (with ``versionId``), Get/Put/DeleteBucketTagging.

Tags are set too by PutObject, CreateMultipartUpload, CopyObject (``x-amz-tagging-directive``) and
POST Object (its ``tagging`` field): those write paths carry them in ``WriteParams.tags``; this module
changes the tag set of a version that exists. The rules of a tag set are ``sealbox.core.tags``.

Semantics, as Amazon S3 answers them:

- A tag set belongs to one version; a new version (an overwrite, a copy) starts with its own.
  Put replaces the whole set (an empty one removes every tag); Delete removes it. Neither makes
  a new version or changes Last-Modified or the ETag.
- On a delete marker — named by version id, or the current version — every object tagging
  operation is 405 MethodNotAllowed (a marker has no tags). A missing key is 404 NoSuchKey, a
  missing version 404 NoSuchVersion — or 403 for a requester without s3:ListBucket, as for GetObject.
- Policies: the version actions (s3:GetObjectVersionTagging…) apply with a version id; a request
  that sets tags carries s3:RequestObjectTag/<key> and s3:RequestObjectTagKeys, one on an existing
  object s3:ExistingObjectTag/<key> (``service.policy``). DeleteBucketTagging is s3:PutBucketTagging.
- A bucket without tags answers GetBucketTagging with 404 NoSuchTagSet; putting an empty TagSet
  removes the bucket's tags.

Tags of encrypted objects. Tags are user-chosen metadata, like ``x-amz-meta-*``. They are stored in
the version row (``versions.tags``) and read with it, so policy evaluation (s3:ExistingObjectTag is
needed before the request is authorized) and ``x-amz-tagging-count`` cost no second lookup. Where
the metadata store seals an SSE object's metadata under its data key, the tag set belongs in that
sealed blob too: the store opens rows as it reads them, so the service — policy evaluation included
— still sees the tags, and PutObjectTagging re-seals the row in its transaction. (The sealed-metadata
store is not on this branch's base; until it is, tags are stored like the user metadata: in the clear.)
"""

from __future__ import annotations

from sealbox.core.errors import ErrorCode, ErrorFacts, SealboxError
from sealbox.core.types import Bucket, ObjectVersion
from sealbox.service.access import access_denied, allowed
from sealbox.service.identity import Principal
from sealbox.service.objects import ObjectService, check_version_id
from sealbox.service.policy_conditions import request_tag_values


def _on_delete_marker(version: ObjectVersion, method: str) -> SealboxError:
    return SealboxError(ErrorCode.METHOD_NOT_ALLOWED, "The specified method is not allowed against this resource.",
                        facts=ErrorFacts(delete_marker=True, version_id=version.version_id),
                        Method=method, ResourceType="DeleteMarker")


def _missing(bucket: Bucket, key: str, version_id: str | None) -> SealboxError:
    if version_id is not None:
        return SealboxError(ErrorCode.NO_SUCH_VERSION, "The specified version does not exist.", Key=key,
                            VersionId=version_id)
    return SealboxError(ErrorCode.NO_SUCH_KEY, "The specified key does not exist.", Key=key)


def _found(principal: Principal, bucket: Bucket, key: str, version_id: str | None,
           version: ObjectVersion | None, method: str) -> ObjectVersion:
    """The version a tagging request names, or the error S3 answers for what it found instead."""
    if (version is None or version.is_delete_marker) and not allowed(principal, "s3:ListBucket", bucket):
        raise access_denied()  # as GetObject: without s3:ListBucket a missing key is 403 (no probing)
    if version is None:
        raise _missing(bucket, key, version_id)
    if version.is_delete_marker:
        raise _on_delete_marker(version, method)
    return version


def _authorized(objects: ObjectService, principal: Principal, bucket_name: str, key: str, version_id: str | None,
                action: str, tags: dict[str, str] | None = None) -> tuple[Bucket, ObjectVersion | None]:
    """The bucket, once ``principal`` may perform ``action``, and the version as looked up then."""
    found: list[ObjectVersion | None] = []

    def existing_tags(bucket: Bucket) -> dict[str, str]:
        found.append(objects.meta.get_version(bucket.name, key, version_id))
        return found[0].tags if found[0] is not None else {}

    bucket = objects.buckets.get(principal, bucket_name, action, key, extra=request_tag_values(tags),
                                 existing_tags=existing_tags)
    check_version_id(version_id)
    return bucket, found[0] if found else None


def get_object_tags(objects: ObjectService, principal: Principal, bucket_name: str, key: str,
                    version_id: str | None) -> tuple[Bucket, ObjectVersion]:
    """GetObjectTagging: the bucket and the version (its ``tags``)."""
    action = "s3:GetObjectVersionTagging" if version_id else "s3:GetObjectTagging"
    bucket, version = _authorized(objects, principal, bucket_name, key, version_id, action)
    if version is None:
        version = objects.meta.get_version(bucket.name, key, version_id)
    return bucket, _found(principal, bucket, key, version_id, version, "GET")


async def put_object_tags(objects: ObjectService, principal: Principal, bucket_name: str, key: str,
                          version_id: str | None, tags: dict[str, str]) -> tuple[Bucket, ObjectVersion]:
    """PutObjectTagging (``tags`` validated): the bucket and the version, with its new tags."""
    action = "s3:PutObjectVersionTagging" if version_id else "s3:PutObjectTagging"
    bucket, _ = _authorized(objects, principal, bucket_name, key, version_id, action, tags)
    version = await objects.run(objects.meta.set_object_tags, bucket.name, key, version_id, tags)
    return bucket, _found(principal, bucket, key, version_id, version, "PUT")


async def delete_object_tags(objects: ObjectService, principal: Principal, bucket_name: str, key: str,
                             version_id: str | None) -> tuple[Bucket, ObjectVersion]:
    """DeleteObjectTagging: the bucket and the version, now without tags."""
    action = "s3:DeleteObjectVersionTagging" if version_id else "s3:DeleteObjectTagging"
    bucket, _ = _authorized(objects, principal, bucket_name, key, version_id, action)
    version = await objects.run(objects.meta.set_object_tags, bucket.name, key, version_id, {})
    return bucket, _found(principal, bucket, key, version_id, version, "DELETE")


# -- buckets -------------------------------------------------------------------------------------


def get_bucket_tags(objects: ObjectService, principal: Principal, bucket_name: str) -> dict[str, str]:
    bucket = objects.buckets.get(principal, bucket_name, "s3:GetBucketTagging")
    tags = objects.meta.get_bucket_tags(bucket.name)
    if not tags:
        raise SealboxError(ErrorCode.NO_SUCH_TAG_SET, "The TagSet does not exist", BucketName=bucket.name)
    return tags


async def put_bucket_tags(objects: ObjectService, principal: Principal, bucket_name: str,
                          tags: dict[str, str]) -> None:
    """PutBucketTagging (``tags`` validated); an empty tag set removes the bucket's tags, as on AWS."""
    bucket = objects.buckets.get(principal, bucket_name, "s3:PutBucketTagging")
    await objects.run(objects.meta.set_bucket_tags, bucket.name, tags or None)


async def delete_bucket_tags(objects: ObjectService, principal: Principal, bucket_name: str) -> None:
    """DeleteBucketTagging: idempotent; authorized as s3:PutBucketTagging (AWS has no delete action)."""
    bucket = objects.buckets.get(principal, bucket_name, "s3:PutBucketTagging")
    await objects.run(objects.meta.set_bucket_tags, bucket.name, None)

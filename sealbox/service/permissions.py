"""The S3 operations on access-control configuration: bucket and object ACLs, OwnershipControls,
PublicAccessBlock, PolicyStatus — and the ACL a write (PUT, POST, copy, multipart) stores.

The rules themselves live in ``service.acl`` (grants), ``service.ownership`` (Object Ownership) and
``service.public_access`` (Block Public Access, "public"); authorization in ``service.access``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sealbox.core.acl import Acl, Ownership, PublicAccessBlock
from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.types import Bucket, ObjectVersion
from sealbox.service.access import authorize
from sealbox.service.acl import (
    AclRequest,
    bucket_acl,
    cached_canonical_id,
    is_private_for,
    object_acl,
    resolve_acl,
)
from sealbox.service.buckets import BucketService
from sealbox.service.identity import Principal
from sealbox.service.ownership import check_acl_allowed, effective_owner, new_object_owner
from sealbox.service.public_access import bucket_policy_is_public, check_acl_write


@dataclass(frozen=True)
class ObjectWriteAcl:
    """Who owns an object being written, and the ACL to store for it (None: the private default)."""

    owner: str
    acl: Acl | None


def _resolve(buckets: BucketService, request: AclRequest, owner: str, bucket: Bucket, *, for_bucket: bool) -> Acl:
    return resolve_acl(request, owner, bucket.owner, for_bucket=for_bucket,
                       resolve_id=buckets.resolve_canonical_id, resolve_email=buckets.resolve_email)


def for_write(buckets: BucketService, bucket: Bucket, principal: Principal, key: str,
              request: AclRequest | None) -> ObjectWriteAcl:
    """The owner and ACL of a new object (PutObject, POST, CopyObject, CreateMultipartUpload)."""
    owner = new_object_owner(bucket, principal, request)
    if request is None:
        return ObjectWriteAcl(owner, None)
    acl = _resolve(buckets, request, owner, bucket, for_bucket=False)
    check_acl_allowed(bucket, request, acl)
    check_acl_write(bucket, acl)
    if not acl.only_owner(cached_canonical_id(bucket.owner)):
        # Granting a third party is an ACL write: it needs s3:PutObjectAcl, as on AWS.
        authorize(principal, "s3:PutObjectAcl", bucket, key)
    owner_id = cached_canonical_id(owner)
    if is_private_for(acl, owner_id) or bucket.ownership is Ownership.BUCKET_OWNER_ENFORCED:
        return ObjectWriteAcl(owner, None)
    return ObjectWriteAcl(owner, acl)


def for_new_bucket(buckets: BucketService, principal: Principal, name: str, request: AclRequest | None,
                   ownership: Ownership | None) -> tuple[Ownership, Acl | None]:
    """CreateBucket's x-amz-acl/x-amz-grant-* and x-amz-object-ownership, checked as AWS does."""
    chosen = ownership or buckets.default_ownership
    if request is None:
        return chosen, None
    probe = Bucket(name=name, owner=principal.name, created=0.0, region=buckets.region, ownership=chosen)
    acl = _resolve(buckets, request, principal.name, probe, for_bucket=True)
    if chosen is Ownership.BUCKET_OWNER_ENFORCED and not acl.only_owner(acl.owner):
        raise SealboxError(ErrorCode.INVALID_BUCKET_ACL_WITH_OBJECT_OWNERSHIP, "Bucket cannot have ACLs set"
                           " with ObjectOwnership's BucketOwnerEnforced setting")
    return chosen, None if is_private_for(acl, acl.owner) else acl


# -- bucket ACL ---------------------------------------------------------------------------------------------


def get_bucket_acl(buckets: BucketService, principal: Principal, name: str) -> Acl:
    return bucket_acl(buckets.get(principal, name, "s3:GetBucketAcl"))


def put_bucket_acl(buckets: BucketService, principal: Principal, name: str, request: AclRequest) -> None:
    bucket = buckets.get(principal, name, "s3:PutBucketAcl")
    acl = _resolve(buckets, request, bucket.owner, bucket, for_bucket=True)
    check_acl_allowed(bucket, request, acl)
    check_acl_write(bucket, acl)
    buckets.meta.set_bucket_acl(name, None if is_private_for(acl, acl.owner) else acl)


# -- object ACL ---------------------------------------------------------------------------------------------


def _version(buckets: BucketService, principal: Principal, name: str, key: str, version_id: str | None,
             action: str) -> tuple[Bucket, ObjectVersion]:
    from sealbox.service.objects import check_version_id

    bucket = buckets.get(principal, name, action, key)
    check_version_id(version_id)
    version = buckets.meta.get_version(name, key, version_id)
    if version is None or version.is_delete_marker:
        if version_id is not None and version is None:
            raise SealboxError(ErrorCode.NO_SUCH_VERSION, "The specified version does not exist.",
                               Key=key, VersionId=version_id)
        if version is not None and version_id is not None:
            raise SealboxError(ErrorCode.METHOD_NOT_ALLOWED, "The specified method is not allowed against this"
                               " resource.", Method="GET", ResourceType="DeleteMarker")
        raise SealboxError(ErrorCode.NO_SUCH_KEY, "The specified key does not exist.", Key=key)
    return bucket, version


def get_object_acl(buckets: BucketService, principal: Principal, name: str, key: str,
                   version_id: str | None) -> Acl:
    action = "s3:GetObjectVersionAcl" if version_id else "s3:GetObjectAcl"
    bucket, version = _version(buckets, principal, name, key, version_id, action)
    return object_acl(bucket, effective_owner(bucket, version.owner), buckets.meta.get_object_acl(version.object_uid))


def put_object_acl(buckets: BucketService, principal: Principal, name: str, key: str, version_id: str | None,
                   request: AclRequest) -> ObjectVersion:
    action = "s3:PutObjectVersionAcl" if version_id else "s3:PutObjectAcl"
    bucket, version = _version(buckets, principal, name, key, version_id, action)
    owner = effective_owner(bucket, version.owner)
    acl = _resolve(buckets, request, owner, bucket, for_bucket=False)
    check_acl_allowed(bucket, request, acl)
    check_acl_write(bucket, acl)
    stored = None if is_private_for(acl, acl.owner) or bucket.ownership is Ownership.BUCKET_OWNER_ENFORCED else acl
    buckets.meta.set_object_acl(version.object_uid, stored)
    return version


# -- Object Ownership ---------------------------------------------------------------------------------------


def get_ownership(buckets: BucketService, principal: Principal, name: str) -> Ownership:
    bucket = buckets.get(principal, name, "s3:GetBucketOwnershipControls")
    if bucket.ownership is None:
        raise SealboxError(ErrorCode.OWNERSHIP_CONTROLS_NOT_FOUND_ERROR, "The bucket ownership controls were"
                           " not found", BucketName=name)
    return bucket.ownership


def put_ownership(buckets: BucketService, principal: Principal, name: str, ownership: Ownership | None) -> None:
    """Set (None: delete) the bucket's OwnershipControls. BucketOwnerEnforced is refused while the
    bucket's ACL grants anyone but its owner (AWS: migrate the bucket ACL first)."""
    bucket = buckets.get(principal, name, "s3:PutBucketOwnershipControls")
    if ownership is Ownership.BUCKET_OWNER_ENFORCED and bucket.acl is not None \
            and not bucket.acl.only_owner(cached_canonical_id(bucket.owner)):
        raise SealboxError(ErrorCode.INVALID_BUCKET_ACL_WITH_OBJECT_OWNERSHIP, "Bucket cannot have ACLs set"
                           " with ObjectOwnership's BucketOwnerEnforced setting")
    buckets.meta.set_bucket_ownership(name, ownership)


# -- Block Public Access and policy status --------------------------------------------------------------------


def get_public_access_block(buckets: BucketService, principal: Principal, name: str) -> PublicAccessBlock:
    bucket = buckets.get(principal, name, "s3:GetBucketPublicAccessBlock")
    if bucket.public_access_block is None:
        raise SealboxError(ErrorCode.NO_SUCH_PUBLIC_ACCESS_BLOCK_CONFIGURATION, "The public access block"
                           " configuration was not found", BucketName=name)
    return bucket.public_access_block


def put_public_access_block(buckets: BucketService, principal: Principal, name: str,
                            block: PublicAccessBlock | None) -> None:
    buckets.get(principal, name, "s3:PutBucketPublicAccessBlock")
    buckets.meta.set_public_access_block(name, block)


def policy_status(buckets: BucketService, principal: Principal, name: str) -> bool:
    """GetBucketPolicyStatus: IsPublic, AWS's definition (``service.public_access``)."""
    bucket = buckets.get(principal, name, "s3:GetBucketPolicyStatus")
    if bucket.policy is None:
        raise SealboxError(ErrorCode.NO_SUCH_BUCKET_POLICY, "The bucket policy does not exist", BucketName=name)
    return bucket_policy_is_public(bucket)


def bucket_is_public(bucket: Bucket) -> bool:
    """For the console's Buckets list: public through its policy or its ACL, after Block Public Access."""
    block = bucket.public_access_block
    policy_public = bucket_policy_is_public(bucket) and not (block and block.restrict_public_buckets)
    acl_public = bucket.ownership is not Ownership.BUCKET_OWNER_ENFORCED and bucket.acl is not None \
        and bucket.acl.is_public and not (block and block.ignore_public_acls)
    return policy_public or bool(acl_public)


class AccessLevel(enum.Enum):
    """The AWS console's Access column ("Viewing access level of buckets")."""

    PUBLIC = "public"  # anyone may list, read or write through the policy or the ACL
    OBJECTS_CAN_BE_PUBLIC = "objects-can-be-public"  # not public, but an ACL or a policy could make it so
    NOT_PUBLIC = "not-public"  # Block Public Access closes every way to public access
    AUTHORIZED_ONLY = "authorized-only"  # a public policy, restricted by RestrictPublicBuckets


def access_level(bucket: Bucket) -> AccessLevel:
    """Whether ``bucket`` is public, could become so, or cannot. A way stays open while: ACLs are
    enabled and IgnorePublicAcls is off (a public object ACL would count), or neither
    RestrictPublicBuckets nor BlockPublicPolicy is on (a public policy could be set and would count)."""
    if bucket_is_public(bucket):
        return AccessLevel.PUBLIC
    block = bucket.public_access_block or PublicAccessBlock()
    if block.restrict_public_buckets and bucket_policy_is_public(bucket):
        return AccessLevel.AUTHORIZED_ONLY
    acl_way = bucket.ownership is not Ownership.BUCKET_OWNER_ENFORCED and not block.ignore_public_acls
    policy_way = not (block.restrict_public_buckets or block.block_public_policy)
    return AccessLevel.OBJECTS_CAN_BE_PUBLIC if acl_way or policy_way else AccessLevel.NOT_PUBLIC

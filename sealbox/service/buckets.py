"""Bucket semantics: create (name rules, ownership conflicts), delete, versioning, encryption, policy."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from sealbox.core.acl import Acl, Ownership
from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.names import validate_bucket_name
from sealbox.core.types import SSE_AES256, SSE_C, Bucket, Extent, Versioning
from sealbox.service.access import authorize, require_principal
from sealbox.service.acl import ObjectAclLoader
from sealbox.service.identity import ROOT, Principal, canonical_id
from sealbox.service.kms_sse import KMS_MODES, kms_info
from sealbox.service.policy import parse_policy
from sealbox.service.policy_conditions import EXISTING_TAG_ACTIONS, ExtraValues, existing_tag_values, \
    mentions_existing_tags
from sealbox.service.public_access import check_policy_write
from sealbox.storage.meta.base import MetaStore


def no_such_bucket(name: str) -> SealboxError:
    return SealboxError(ErrorCode.NO_SUCH_BUCKET, "The specified bucket does not exist", BucketName=name)


class BucketService:
    def __init__(self, meta: MetaStore, region: str, server_default_sse: str | None,
                 default_ownership: Ownership = Ownership.BUCKET_OWNER_ENFORCED) -> None:
        self._meta = meta
        self.region = region
        self.server_default_sse = server_default_sse
        self.default_ownership = default_ownership  # of new buckets (AWS since 2023: ACLs disabled)

    @property
    def meta(self) -> MetaStore:
        return self._meta

    def get(self, principal: Principal, name: str, action: str, key: str | None = None, *,
            extra: ExtraValues | None = None,
            existing_tags: Callable[[Bucket], Mapping[str, str]] | None = None) -> Bucket:
        """The bucket, if it exists and ``principal`` may perform ``action`` on it (on its object ``key``
        for object actions; see ``service.access``). ``existing_tags`` gives the tags of the object the
        request concerns, asked only when the bucket's policy may test s3:ExistingObjectTag."""
        bucket = self._meta.get_bucket(name)
        if bucket is None:
            require_principal(principal)
            raise no_such_bucket(name)
        if bucket.policy and principal is not None:
            upload = self._upload_encryption(principal, action)
            if upload:
                extra = {**upload, **(extra or {})}
            if existing_tags is not None and action.lower() in EXISTING_TAG_ACTIONS and \
                    mentions_existing_tags(bucket.policy):
                extra = {**existing_tag_values(existing_tags(bucket)), **(extra or {})}
        authorize(principal, action, bucket, key, extra=extra, load_object=self._object_loader(principal, bucket, key))
        return bucket

    def _object_loader(self, principal: Principal, bucket: Bucket, key: str | None) -> ObjectAclLoader:
        """The owner and stored ACL of the object an object-ACL check is about (the request's own
        version when it names one), looked up only if the ACLs must decide."""
        def load() -> tuple[str, Acl | None] | None:
            ctx = principal.context
            own_target = ctx.bucket == bucket.name and (key is None or key == ctx.key)
            name = key if key is not None else (ctx.key if own_target else None)
            if name is None:
                return None
            version_id = ctx.query.get("versionId") if own_target else None
            version = self._meta.get_version(bucket.name, name, version_id or None)
            if version is None or version.is_delete_marker:
                return None
            return version.owner, self._meta.get_object_acl(version.object_uid)
        return load

    def _upload_encryption(self, principal: Principal, action: str) -> dict[str, str | tuple[str, ...] | None] | None:
        """UploadPart, UploadPartCopy and CompleteMultipartUpload are s3:PutObject requests whose
        encryption was chosen by CreateMultipartUpload: for policy conditions their
        s3:x-amz-server-side-encryption is the upload's, so "deny unencrypted uploads" lets an
        encrypted multipart upload finish (as on AWS) and stops an unencrypted one."""
        ctx = principal.context
        upload_id = ctx.query.get("uploadId")
        if action != "s3:PutObject" or not upload_id:
            return None
        upload = self._meta.get_upload(upload_id)
        if upload is None or upload.bucket != ctx.bucket or upload.key != ctx.key:
            return None
        info = kms_info(upload.sealed_key)
        # SSE-C: no x-amz-server-side-encryption on its writes, so none on its parts either
        return {"s3:x-amz-server-side-encryption": upload.sse if upload.sse != SSE_C else None,
                "s3:x-amz-server-side-encryption-aws-kms-key-id": info.key_arn if info else None}

    def existing(self, principal: Principal, name: str) -> Bucket:
        """The bucket if it exists, for operations that authorize per key afterwards (DeleteObjects)."""
        bucket = self._meta.get_bucket(name)
        if bucket is None:
            require_principal(principal)
            raise no_such_bucket(name)
        return bucket

    # -- bucket policy (issue #5) ---------------------------------------------------------------
    def get_policy(self, principal: Principal, name: str) -> str:
        bucket = self.get(principal, name, "s3:GetBucketPolicy")
        if bucket.policy is None:
            raise SealboxError(ErrorCode.NO_SUCH_BUCKET_POLICY, "The bucket policy does not exist",
                               BucketName=name)
        return bucket.policy

    def put_policy(self, principal: Principal, name: str, text: str) -> None:
        """Validate (MalformedPolicy with AWS's messages; named users must exist) and store as given."""
        bucket = self.get(principal, name, "s3:PutBucketPolicy")
        check_policy_write(bucket, parse_policy(text, name, self._resolve_principal))
        self._meta.set_bucket_policy(name, text)

    def delete_policy(self, principal: Principal, name: str) -> None:
        """Idempotent, as on AWS: deleting a policy that is not there succeeds."""
        self.get(principal, name, "s3:DeleteBucketPolicy")
        self._meta.set_bucket_policy(name, None)

    def resolve_email(self, address: str) -> str | None:
        """sealbox keeps no e-mail addresses: a user is found by e-mail only when that is its name."""
        if address == ROOT:
            return None
        return address if any(u.name == address for u in self._meta.list_users()) else None

    def resolve_canonical_id(self, ref: str) -> str | None:
        """The principal whose canonical id ``ref`` is (ACL grantees and owners are named so)."""
        if len(ref) != 64:
            return None
        return self._resolve_principal(ref)

    def _resolve_principal(self, ref: str) -> str | None:
        if ref == ROOT or ref == canonical_id(ROOT):
            return ROOT
        for user in self._meta.list_users():
            if ref in (user.name, canonical_id(user.name)):
                return user.name
        return None

    def list(self, principal: Principal, prefix: str = "", region: str | None = None, after: str = "",
             limit: int | None = None) -> tuple[list[Bucket], bool]:
        """The buckets ``principal`` owns (root: all), by name, after ``after``: at most ``limit`` of
        them, and whether more follow."""
        who = require_principal(principal)
        found = [b for b in self._meta.list_buckets()
                 if (who.is_root or b.owner == who.name) and b.name.startswith(prefix) and b.name > after
                 and (region is None or b.region == region)]
        found.sort(key=lambda b: b.name)
        if limit is None or len(found) <= limit:
            return found, False
        return found[:limit], True

    def create(self, principal: Principal, name: str, location: str | None, *,
               ownership: Ownership | None = None, acl: Acl | None = None,
               object_lock: bool = False) -> Bucket:
        """``ownership`` None: the server's default; ``acl`` None: private (``service.permissions``
        checks a requested ACL against the ownership first)."""
        who = require_principal(principal)
        validate_bucket_name(name)
        if location and location != self.region and not (location == "US" and self.region == "us-east-1"):
            raise SealboxError(ErrorCode.INVALID_LOCATION_CONSTRAINT,
                               f"The specified location-constraint is not valid for this endpoint"
                               f" ({self.region}).", LocationConstraint=location)
        # Object Lock at creation (x-amz-bucket-object-lock-enabled) turns versioning on, for good.
        bucket = Bucket(name=name, owner=who.name, created=time.time(), region=self.region, acl=acl,
                        ownership=ownership or self.default_ownership, object_lock=object_lock,
                        versioning=Versioning.ENABLED if object_lock else Versioning.UNVERSIONED)
        existing = self._meta.create_bucket(bucket)
        if existing is not None:
            if existing.owner == who.name:
                if self.region == "us-east-1":
                    # AWS: "If you re-create an existing bucket that you already own in the North
                    # Virginia Region, Amazon S3 returns 200 OK"; every other region answers 409.
                    return existing
                raise SealboxError(ErrorCode.BUCKET_ALREADY_OWNED_BY_YOU, BucketName=name)
            raise SealboxError(ErrorCode.BUCKET_ALREADY_EXISTS, BucketName=name)
        return bucket

    def delete(self, principal: Principal, name: str) -> tuple[Extent, ...]:
        """Delete a bucket without versions; its unfinished multipart uploads go with it (AWS deletes a
        bucket whose only content is unfinished uploads). Returns their part files, which the caller
        deletes (``ObjectService.delete_bucket``)."""
        self.get(principal, name, "s3:DeleteBucket")
        orphaned = self._meta.delete_bucket(name)
        if orphaned is None:
            raise no_such_bucket(name)
        return tuple(orphaned)

    def set_versioning(self, principal: Principal, name: str, state: Versioning) -> None:
        bucket = self.get(principal, name, "s3:PutBucketVersioning")
        if state is Versioning.UNVERSIONED and bucket.versioning is not Versioning.UNVERSIONED:
            raise SealboxError(ErrorCode.ILLEGAL_VERSIONING_CONFIGURATION,
                               "A versioned bucket cannot be returned to the unversioned state.")
        self._meta.set_bucket_versioning(name, state)

    def default_encryption(self, bucket: Bucket) -> tuple[str, bool] | None:
        """The bucket's effective default encryption rule, or None when unset (spec mode)."""
        if bucket.default_sse:
            return bucket.default_sse, bucket.bucket_key_enabled
        if self.server_default_sse:
            return self.server_default_sse, False
        return None

    def set_encryption(self, principal: Principal, name: str, sse: str | None,
                       bucket_key_enabled: bool = False, kms_key_id: str | None = None) -> None:
        """Default encryption: AES256 (SSE-S3), aws:kms (SSE-KMS; ``kms_key_id`` None: aws/s3) or
        aws:kms:dsse, with S3 Bucket Keys for SSE-KMS when ``bucket_key_enabled``."""
        self.get(principal, name, "s3:PutEncryptionConfiguration")
        if sse is not None and sse != SSE_AES256 and sse not in KMS_MODES:
            raise SealboxError(ErrorCode.INVALID_ARGUMENT, "The encryption method specified is not supported",
                               ArgumentName="SSEAlgorithm", ArgumentValue=sse)
        self._meta.set_bucket_encryption(name, sse, bucket_key_enabled, kms_key_id if sse in KMS_MODES else None)

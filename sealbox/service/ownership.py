"""Object Ownership: who owns a new object, and which ACL writes a bucket accepts.

AWS ("Controlling ownership of objects and disabling ACLs for your bucket"):

BucketOwnerEnforced
    ACLs are disabled. The bucket owner owns every object in the bucket — the ones written before the
    setting too — and is the only grantee of any ACL. Writes that specify an ACL succeed only with the
    ``bucket-owner-full-control`` canned ACL (or ``private``, or explicit grants equivalent to it);
    any other ACL write fails with 400 AccessControlListNotSupported. Reading ACLs still works.
BucketOwnerPreferred
    The writer owns a new object, unless it was written with ``bucket-owner-full-control``: then
    the bucket owner owns it.
ObjectWriter (and a bucket without OwnershipControls)
    The writer owns a new object.

So "the principal that writes an object becomes its owner" holds under ObjectWriter (and under
BucketOwnerPreferred without ``bucket-owner-full-control``); under BucketOwnerEnforced the owner of
every new object is the bucket owner, whoever wrote it, as on AWS. ``effective_owner`` applies the
same rule when an object is read, so objects written before a switch to BucketOwnerEnforced show
the bucket owner too.
"""

from __future__ import annotations

from sealbox.core.acl import Acl, Ownership
from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.types import Bucket
from sealbox.service.acl import AclRequest, cached_canonical_id
from sealbox.service.identity import Principal

OWNER_ONLY_CANNED = frozenset({"private", "bucket-owner-full-control"})


def acls_not_supported() -> SealboxError:
    return SealboxError(ErrorCode.ACCESS_CONTROL_LIST_NOT_SUPPORTED, "The bucket does not allow ACLs")


def effective_ownership(bucket: Bucket) -> Ownership:
    return bucket.ownership or Ownership.OBJECT_WRITER


def check_acl_allowed(bucket: Bucket, request: AclRequest, acl: Acl) -> None:
    """Under BucketOwnerEnforced, only ACLs that give nothing beyond the bucket owner's full control."""
    if bucket.ownership is not Ownership.BUCKET_OWNER_ENFORCED:
        return
    if request.canned is not None:
        if request.canned in OWNER_ONLY_CANNED:
            return
        raise acls_not_supported()
    owner = cached_canonical_id(bucket.owner)
    if not all(g.kind == "user" and g.grantee == owner and g.permission.value == "FULL_CONTROL"
               for g in acl.grants):
        raise acls_not_supported()


def new_object_owner(bucket: Bucket, principal: Principal, request: AclRequest | None) -> str:
    """The owner (a principal name) of an object ``principal`` writes into ``bucket``."""
    ownership = effective_ownership(bucket)
    if ownership is Ownership.BUCKET_OWNER_ENFORCED:
        return bucket.owner
    if (ownership is Ownership.BUCKET_OWNER_PREFERRED and request is not None
            and request.canned == "bucket-owner-full-control"):
        return bucket.owner
    return principal.name


def effective_owner(bucket: Bucket, stored_owner: str) -> str:
    return bucket.owner if bucket.ownership is Ownership.BUCKET_OWNER_ENFORCED else stored_owner

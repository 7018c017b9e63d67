"""ACLs in authorization, and the ACLs a request asks for, resolved into stored ``Acl`` values.

What a grant allows (AWS, "Access control list (ACL) overview", mapping of ACL permissions to
access policy permissions): on a bucket READ → ListBucket, ListBucketVersions,
ListBucketMultipartUploads; WRITE → PutObject (and the deletes and aborts of objects in it);
READ_ACP → GetBucketAcl; WRITE_ACP → PutBucketAcl. On an object READ → GetObject, GetObjectVersion
(HEAD included); READ_ACP → GetObjectAcl, GetObjectVersionAcl; WRITE_ACP → PutObjectAcl,
PutObjectVersionAcl. FULL_CONTROL is all of them. The owner of an object may always read and write
its ACL (and, through the private default, read it).

Grantees: a canonical user is the principal whose ``canonical_id`` it is; AllUsers is everyone,
anonymous requests included; AuthenticatedUsers is every principal of this server (any signed
request); LogDelivery is nobody here. Under BucketOwnerEnforced no ACL is consulted; under
IgnorePublicAcls grants to AllUsers and AuthenticatedUsers are skipped (``service.access``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sealbox.core.acl import (
    ALL_USERS,
    AUTHENTICATED_USERS,
    CANNED_ACLS,
    GROUPS,
    MAX_GRANTS,
    Acl,
    Grant,
    Ownership,
    Permission,
    canned_acl,
    private_acl,
)
from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.types import Bucket
from sealbox.service.identity import Principal, canonical_id

P = Permission
BUCKET_ACL_ACTIONS: dict[str, Permission] = {
    "s3:ListBucket": P.READ, "s3:ListBucketVersions": P.READ, "s3:ListBucketMultipartUploads": P.READ,
    "s3:PutObject": P.WRITE, "s3:DeleteObject": P.WRITE, "s3:DeleteObjectVersion": P.WRITE,
    "s3:AbortMultipartUpload": P.WRITE,
    "s3:GetBucketAcl": P.READ_ACP, "s3:PutBucketAcl": P.WRITE_ACP,
}
OBJECT_ACL_ACTIONS: dict[str, Permission] = {
    "s3:GetObject": P.READ, "s3:GetObjectVersion": P.READ,
    "s3:GetObjectAcl": P.READ_ACP, "s3:GetObjectVersionAcl": P.READ_ACP,
    "s3:PutObjectAcl": P.WRITE_ACP, "s3:PutObjectVersionAcl": P.WRITE_ACP,
}
_OWNER_IMPLICIT = frozenset({P.READ_ACP, P.WRITE_ACP})

# The object an object-ACL check is about: (owner's name, its stored ACL or None for private), or
# None when there is no such object. Called only when neither ownership nor the policy decided.
ObjectAclLoader = Callable[[], tuple[str, Acl | None] | None]


@functools.lru_cache(maxsize=4096)
def cached_canonical_id(name: str) -> str:
    return canonical_id(name)


def grant_matches(grant: Grant, who: Principal, who_id: str | None, ignore_public: bool) -> bool:
    if grant.kind == "user":
        return who_id is not None and grant.grantee == who_id
    if ignore_public and grant.is_public:
        return False
    if grant.grantee == ALL_USERS:
        return True
    return grant.grantee == AUTHENTICATED_USERS and not who.is_anonymous


def acl_grants(acl: Acl, who: Principal, permission: Permission, ignore_public: bool) -> bool:
    who_id = None if who.is_anonymous else cached_canonical_id(who.name)
    return any(g.permission in (permission, P.FULL_CONTROL) and grant_matches(g, who, who_id, ignore_public)
               for g in acl.grants)


def acls_enabled(bucket: Bucket) -> bool:
    return bucket.ownership is not Ownership.BUCKET_OWNER_ENFORCED


def bucket_acl(bucket: Bucket) -> Acl:
    """The bucket's ACL in force (private for the owner when none was set, or when ACLs are disabled)."""
    owner = cached_canonical_id(bucket.owner)
    if bucket.acl is None or not acls_enabled(bucket):
        return private_acl(owner)
    return Acl(owner, bucket.acl.grants)


def object_acl(bucket: Bucket, owner: str, stored: Acl | None) -> Acl:
    """An object's ACL in force: under BucketOwnerEnforced, the bucket owner's full control only."""
    if not acls_enabled(bucket):
        return private_acl(cached_canonical_id(bucket.owner))
    owner_id = cached_canonical_id(owner)
    return private_acl(owner_id) if stored is None else Acl(owner_id, stored.grants)


def acl_permits(who: Principal, action: str, bucket: Bucket, load_object: ObjectAclLoader | None) -> bool:
    """Whether the bucket's or the object's ACL grants ``action`` to ``who`` (BucketOwnerEnforced: never)."""
    if not acls_enabled(bucket):
        return False
    ignore_public = bucket.public_access_block is not None and bucket.public_access_block.ignore_public_acls
    needed = BUCKET_ACL_ACTIONS.get(action)
    if needed is not None:
        return bucket.acl is not None and acl_grants(bucket.acl, who, needed, ignore_public)
    needed = OBJECT_ACL_ACTIONS.get(action)
    if needed is None or load_object is None:
        return False
    found = load_object()
    if found is None:
        return False
    owner, stored = found
    if not who.is_anonymous and owner == who.name:
        return True  # the private default, and the ACP rights an owner always has
    return stored is not None and acl_grants(stored, who, needed, ignore_public)


# -- the ACL a request asks for --------------------------------------------------------------------------


@dataclass(frozen=True)
class GranteeSpec:
    """A grantee as a request names it: ``id``, ``uri`` or ``emailAddress`` (x-amz-grant-* or XML)."""

    kind: str  # "id", "uri" or "email"
    value: str


@dataclass(frozen=True)
class AclRequest:
    """An ACL as a request gives it: a canned ACL name, or explicit grants (headers or XML body)."""

    canned: str | None = None
    grants: tuple[tuple[Permission, GranteeSpec], ...] = ()
    owner_id: str | None = None  # the Owner/ID of an AccessControlPolicy document


def invalid_argument(message: str, name: str, value: str) -> SealboxError:
    return SealboxError(ErrorCode.INVALID_ARGUMENT, message, ArgumentName=name, ArgumentValue=value)


def check_canned(name: str) -> str:
    if name not in CANNED_ACLS:
        raise invalid_argument("Argument x-amz-acl must be one of the canned ACLs", "x-amz-acl", name)
    return name


# A canonical id or e-mail address -> the principal's name, or None when nobody has it.
UserResolver = Callable[[str], str | None]


def resolve_acl(request: AclRequest, owner: str, bucket_owner: str, *, for_bucket: bool,
                resolve_id: UserResolver, resolve_email: UserResolver) -> Acl:
    """The ``Acl`` a request asks for, for a resource owned by ``owner`` (a principal name): canned
    ACLs expanded, grantees checked (InvalidArgument for an unknown one, as AWS answers), e-mail
    grantees turned into canonical users (UnresolvableGrantByEmailAddress when nobody has it)."""
    owner_id = cached_canonical_id(owner)
    if request.canned is not None:
        return canned_acl(request.canned, owner_id, cached_canonical_id(bucket_owner), for_bucket=for_bucket)
    if len(request.grants) > MAX_GRANTS:
        raise SealboxError(ErrorCode.MALFORMED_ACL_ERROR, "The XML you provided was not well-formed or did not"
                           " validate against our published schema")
    grants: list[Grant] = []
    for permission, spec in request.grants:
        grants.append(_grant(permission, spec, resolve_id, resolve_email))
    return Acl(owner_id, tuple(dict.fromkeys(grants)))


def _grant(permission: Permission, spec: GranteeSpec, resolve_id: UserResolver,
           resolve_email: UserResolver) -> Grant:
    if spec.kind == "uri":
        if spec.value not in GROUPS:
            raise invalid_argument("Invalid group uri", "uri", spec.value)
        return Grant("group", spec.value, permission)
    if spec.kind == "email":
        name = resolve_email(spec.value)
        if name is None:
            raise SealboxError(ErrorCode.UNRESOLVABLE_GRANT_BY_EMAIL_ADDRESS, "The e-mail address you provided"
                               " does not match any account on record.", EmailAddress=spec.value)
        return Grant("user", cached_canonical_id(name), permission)
    if resolve_id(spec.value) is None:
        raise invalid_argument("Invalid id", "CanonicalUser/ID", spec.value)
    return Grant("user", spec.value, permission)


def is_private_for(acl: Acl, owner_id: str) -> bool:
    """Exactly the default (owner FULL_CONTROL): nothing needs storing."""
    return acl.grants == (Grant("user", owner_id, P.FULL_CONTROL),)


def display_names(ids: Iterable[str], resolve_id: UserResolver) -> dict[str, str]:
    names: dict[str, str] = {}
    for i in ids:
        name = resolve_id(i)
        if name is not None:
            names[i] = name
    return names

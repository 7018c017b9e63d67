"""Block Public Access and the meaning of "public" (AWS, "Blocking public access to your Amazon S3 storage").

A policy is public unless every Allow statement that names everyone (``Principal: "*"`` or a
``NotPrincipal``) and allows a "bad action" (``s3:Get*``, ``s3:List*``, ``s3:Put*``, ``s3:Delete*``,
``s3:AbortMultipartUpload``, ``s3:RestoreObject``) is fixed by a condition: ``aws:SourceIp`` limited
to a set of CIDRs (``IpAddress``; a ``/0`` is no limit), or a fixed (wildcard-free, positive
``String*``/``Arn*``) value of ``aws:PrincipalArn``, ``aws:username``, ``aws:userid`` (outside
``AROLEID:*``) or ``s3:x-amz-server-side-encryption-aws-kms-key-id``. An ACL is public if it grants
anything to AllUsers or AuthenticatedUsers (``core.acl``).

The flags, as AWS enforces them on a bucket:
    BlockPublicAcls      PutBucketAcl, PutObjectAcl, and writes (PutObject, CopyObject,
                         CreateMultipartUpload, POST) carrying a public ACL → AccessDenied.
    IgnorePublicAcls     public grants on the bucket and its objects are ignored (``service.acl``).
    BlockPublicPolicy    PutBucketPolicy with a public policy → AccessDenied.
    RestrictPublicBuckets  while the policy is public, its Allows count only for the bucket owner
                         (and root): anonymous and other users' access through it stops.
"""

from __future__ import annotations

from sealbox.core.acl import NO_PUBLIC_ACCESS_BLOCK, Acl, PublicAccessBlock
from sealbox.core.errors import ErrorCode, SealboxError
from sealbox.core.types import Bucket
from sealbox.service import policy as pol
from sealbox.service.policy_conditions import Condition
from sealbox.service.policy_match import wildcard_match

BAD_ACTIONS = ("s3:get*", "s3:list*", "s3:put*", "s3:delete*", "s3:abortmultipartupload", "s3:restoreobject")
_FIXING_KEYS = frozenset({"aws:principalarn", "aws:username", "aws:userid",
                          "s3:x-amz-server-side-encryption-aws-kms-key-id"})
_FIXING_OPERATORS = frozenset({"StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike"})


def block_of(bucket: Bucket) -> PublicAccessBlock:
    return bucket.public_access_block or NO_PUBLIC_ACCESS_BLOCK


def _bad(pattern: str, not_action: bool) -> bool:
    if not_action:
        return True  # everything but some actions: bad actions remain
    return any(wildcard_match(pattern, a) or wildcard_match(a, pattern) for a in BAD_ACTIONS)


def _fixed(cond: Condition) -> bool:
    if cond.if_exists or cond.qualifier == "ForAllValues":
        return False  # holds when the key is absent: no limit
    if cond.key == "aws:sourceip":
        return cond.operator == "IpAddress" and not any(v.endswith("/0") for v in cond.values)
    if cond.key not in _FIXING_KEYS or cond.operator not in _FIXING_OPERATORS:
        return False
    if any("*" in v or "?" in v or "${" in v for v in cond.values):
        return False
    return not (cond.key == "aws:userid" and any(v.startswith("AROLEID:") for v in cond.values))


def statement_is_public(st: pol.Statement) -> bool:
    if st.effect is not pol.Effect.ALLOW:
        return False
    if not (st.principals.everyone or st.not_principal):
        return False
    if not any(_bad(a, st.not_action) for a in st.actions):
        return False
    return not any(_fixed(c) for c in st.conditions)


def policy_is_public(policy: pol.Policy) -> bool:
    return any(statement_is_public(st) for st in policy.statements)


def bucket_policy_is_public(bucket: Bucket) -> bool:
    if not bucket.policy:
        return False
    try:
        return policy_is_public(pol.stored_policy(bucket.policy, bucket.name))
    except SealboxError:
        return False


def restricted(bucket: Bucket) -> bool:
    """RestrictPublicBuckets is on and the policy is public: its Allows serve the owner only."""
    block = bucket.public_access_block
    return block is not None and block.restrict_public_buckets and bucket_policy_is_public(bucket)


def check_acl_write(bucket: Bucket, acl: Acl) -> None:
    """BlockPublicAcls: a request that would store a public ACL is refused."""
    if acl.is_public and block_of(bucket).block_public_acls:
        raise SealboxError(ErrorCode.ACCESS_DENIED, "Access Denied")


def check_policy_write(bucket: Bucket, policy: pol.Policy) -> None:
    if block_of(bucket).block_public_policy and policy_is_public(policy):
        raise SealboxError(ErrorCode.ACCESS_DENIED, "Access Denied")
